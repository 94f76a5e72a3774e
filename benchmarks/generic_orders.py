"""Fast, deterministic writer of order files in the generic interchange format.

Used by the benchmarks (a million lines, ~680 MB of CSV, in about ten seconds and bounded
memory) and to make the committed demo sample in ``pipelines/sample_landing/``
(:func:`write_demo_sample`). Reference files (products, inventory, lead times, FX rates) for
the same catalogue come from :func:`write_reference`.

Everything is generated with vectorised numpy/polars code, one chunk of orders at a time; faker
only builds small pools of names, streets and cities once. The same arguments give the same
bytes (for the locked numpy/polars/pyarrow/faker versions).

What the data looks like:

* a catalogue of ~300 SKUs (apparel, home, beauty, pantry, gift cards) with Zipf-like
  popularity and a price per currency (USD, EUR, GBP, CAD; JPY has no minor unit);
* 1-4 lines per order; order-level fields are repeated on every line of the order (or, with
  ``repeat_order_fields=False``, only the first line carries them, like a Shopify export);
* customers who come back, with their e-mail's case and their phone's format varying between
  orders; guest and most POS orders have no e-mail; anonymous POS orders no customer at all;
* client IP, user agent and device id on web and app orders, blank on POS and marketplace;
* card payments carry brand, last four digits, sometimes the BIN and a processor token, never
  a card number;
* ``total = subtotal - total_discounts + shipping + total_tax`` and
  ``subtotal = sum(quantity * unit_price - line_discount)`` hold exactly on every order, and
  ``total_tax`` is the sum of ``line_tax`` (prices exclude tax: ``taxes_included`` is false);
* statuses follow time: as of the end of the window, recent orders are unfulfilled or in
  transit, older ones delivered; shipped and delivered times come after the order;
* timestamps are ISO 8601 in the store's time zone with its UTC offset (so a DST change shows);
* a few order notes contain a comma, quotes or a line break (a quoted multi-line CSV field).

CLI::

    uv run python -m benchmarks.generic_orders OUT.csv --lines 1000000 --seed 7
    uv run python -m benchmarks.generic_orders OUT.parquet --lines 50000 --reference REF_DIR
    uv run python -m benchmarks.generic_orders --demo pipelines/sample_landing
"""

from __future__ import annotations

import argparse
import csv
import functools
import io
import json
import math
import re
import sys
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Literal
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from faker import Faker

from orderlens.contracts import (
    GENERIC_FIELD_NAMES,
    GENERIC_FIELDS,
    GENERIC_LINE_FIELDS,
    GENERIC_ORDER_FIELDS,
    REFERENCE_INPUTS,
)

Format = Literal["csv", "parquet"]

CURRENCIES: tuple[str, ...] = ("USD", "EUR", "GBP", "CAD", "JPY")
"""Currencies the writer prices orders in (the order's currency follows its country)."""
CURRENCY_EXPONENT: dict[str, int] = {"USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "JPY": 0}
USD_PER_UNIT: dict[str, float] = {"USD": 1.0, "EUR": 1.09, "GBP": 1.28, "CAD": 0.72, "JPY": 0.0066}
"""Base exchange rates: prices are set from them; ``fx_rates.csv`` walks randomly around them."""

DEFAULT_CHANNEL_MIX: dict[str, float] = {
    "online_store": 0.55,
    "marketplace": 0.15,
    "mobile_app": 0.15,
    "pos": 0.15,
}
DEFAULT_COUNTRY_MIX: dict[str, float] = {
    "US": 0.56,
    "CA": 0.12,
    "GB": 0.12,
    "DE": 0.07,
    "FR": 0.05,
    "NL": 0.03,
    "JP": 0.05,
}
DEFAULT_START = date(2026, 10, 1)
DEFAULT_DAYS = 31
DEFAULT_SKUS = 300
CATALOG_SEED = 7
"""The catalogue does not depend on the orders' seed: every file of a landing sells the same."""

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"
CHUNK_ORDERS = 50_000
"""Orders generated and written at a time (~80k lines): bounds memory whatever ``n_lines``."""
MAX_CUSTOMERS = 500_000
"""Registered customers at most (beyond ~1M lines, customers just order more often)."""
MAX_GUESTS = 100_000
"""Guest identities at most (beyond that, guests check out as guests again)."""

WAREHOUSE_NA = "Warehouse NJ"
WAREHOUSE_EU = "Warehouse Rotterdam"


@dataclass(frozen=True)
class PosStore:
    """A shop whose tills export POS orders."""

    name: str
    country: str
    tax_rate: float


POS_STORES: tuple[PosStore, ...] = (
    PosStore("NYC Flagship", "US", 0.08875),
    PosStore("Brooklyn", "US", 0.08875),
    PosStore("Toronto Queen St", "CA", 0.13),
)
LOCATIONS: tuple[str, ...] = (WAREHOUSE_NA, WAREHOUSE_EU, *(s.name for s in POS_STORES))
"""Every ``fulfillment_location`` the writer uses; ``inventory.csv`` has rows for them."""


# --------------------------------------------------------------------------------------------
# Countries


@dataclass(frozen=True)
class _Country:
    code: str
    locale: str
    currency: str
    dial: str
    nanp: bool
    phone_prefixes: tuple[str, ...]
    nsn_len: int
    tax: float
    email_domains: tuple[str, ...]
    carriers: tuple[tuple[str, float], ...]
    warehouse: str
    tax_by_province: tuple[tuple[str, float], ...] = ()


_US_AREAS = ("212", "646", "718", "415", "510", "312", "773", "617", "206", "512", "213", "305")
# fmt: off
COUNTRIES: tuple[_Country, ...] = (
    _Country(
        "US", "en_US", "USD", "1", True, _US_AREAS, 10, 0.06,
        ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com"),
        (("UPS", 0.4), ("USPS", 0.35), ("FedEx", 0.25)), WAREHOUSE_NA,
        (("CA", 0.0725), ("NY", 0.08875), ("TX", 0.0625), ("WA", 0.065), ("FL", 0.06),
         ("IL", 0.0625), ("MA", 0.0625), ("NJ", 0.06625), ("OR", 0.0), ("MT", 0.0),
         ("NH", 0.0), ("DE", 0.0), ("AK", 0.0)),
    ),
    _Country(
        "CA", "en_CA", "CAD", "1", True, ("416", "647", "604", "514", "403", "613", "902"), 10,
        0.05, ("gmail.com", "hotmail.com", "yahoo.ca", "outlook.com", "shaw.ca"),
        (("Canada Post", 0.7), ("UPS", 0.3)), WAREHOUSE_NA,
        (("ON", 0.13), ("QC", 0.14975), ("BC", 0.12), ("NS", 0.15), ("NB", 0.15),
         ("NL", 0.15), ("PE", 0.15), ("MB", 0.12), ("SK", 0.11)),
    ),
    _Country(
        "GB", "en_GB", "GBP", "44", False, ("74", "75", "77", "78", "79"), 10, 0.20,
        ("gmail.com", "hotmail.co.uk", "btinternet.com", "yahoo.co.uk", "outlook.com"),
        (("Royal Mail", 0.6), ("DPD", 0.4)), WAREHOUSE_EU,
    ),
    _Country(
        "DE", "de_DE", "EUR", "49", False, ("151", "160", "170", "171", "172", "176", "178"),
        10, 0.19, ("gmx.de", "web.de", "gmail.com", "t-online.de"),
        (("DHL", 0.8), ("DPD", 0.2)), WAREHOUSE_EU,
    ),
    _Country(
        "FR", "fr_FR", "EUR", "33", False, ("6", "7"), 9, 0.20,
        ("orange.fr", "gmail.com", "free.fr", "laposte.net", "sfr.fr"),
        (("Colissimo", 0.7), ("DPD", 0.3)), WAREHOUSE_EU,
    ),
    _Country(
        "NL", "nl_NL", "EUR", "31", False, ("6",), 9, 0.21,
        ("gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl"),
        (("PostNL", 0.8), ("DHL", 0.2)), WAREHOUSE_EU,
    ),
    _Country(
        "JP", "ja_JP", "JPY", "81", False, ("90", "80", "70"), 10, 0.10,
        ("gmail.com", "yahoo.co.jp", "docomo.ne.jp", "icloud.com"),
        (("Japan Post", 0.5), ("Yamato", 0.5)), WAREHOUSE_EU,
    ),
)
# fmt: on
_COUNTRY_INDEX = {c.code: i for i, c in enumerate(COUNTRIES)}
_CURRENCY_INDEX = {c: i for i, c in enumerate(CURRENCIES)}

# carrier: (tracking prefix, random digits, suffix). No tracking number is 13-19 bare digits
# starting with 2-6, so none can be mistaken for a card number.
_CARRIERS: dict[str, tuple[str, int, str]] = {
    "UPS": ("1Z", 16, ""),
    "USPS": ("9400", 18, ""),
    "FedEx": ("", 12, ""),
    "Canada Post": ("7", 15, ""),
    "Royal Mail": ("RM", 9, "GB"),
    "DPD": ("0", 13, ""),
    "DHL": ("JJD", 18, ""),
    "Colissimo": ("6A", 11, ""),
    "PostNL": ("3S", 13, ""),
    "Japan Post": ("", 12, ""),
    "Yamato": ("", 12, ""),
}
_CARRIER_NAMES = tuple(_CARRIERS)

_FREE_SHIPPING_FROM = {"USD": 7500, "EUR": 7000, "GBP": 6000, "CAD": 10000, "JPY": 8000}
_SHIPPING_RATES = {  # (standard, express) in minor units
    "USD": (795, 1995),
    "EUR": (695, 1695),
    "GBP": (495, 1295),
    "CAD": (1295, 2495),
    "JPY": (800, 2000),
}
_DISCOUNT_CODES = (("WELCOME10", 0.10), ("FALL15", 0.15), ("VIP20", 0.20), ("FRIENDS10", 0.10))

_WEB_USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
)
_APP_USER_AGENTS = (
    "OrderLensShop/5.12.0 (iPhone; iOS 18.1; Scale/3.00)",
    "OrderLensShop/5.12.0 (Android 15; Pixel 8)",
    "OrderLensShop/5.11.2 (iPhone; iOS 17.6; Scale/3.00)",
    "OrderLensShop/5.11.2 (Android 14; SM-S921B)",
)
_MARKETING_SOURCES = (
    ("google / cpc", 0.22),
    ("google / organic", 0.18),
    ("instagram / social", 0.12),
    ("facebook / paid_social", 0.08),
    ("newsletter / email", 0.12),
    ("tiktok / social", 0.05),
    ("direct", 0.13),
    ("", 0.10),
)
_NOTES = (
    "Please leave the parcel with the concierge.",
    "Gift - please don't include the invoice",
    'Ring twice, the "back door" bell is broken',
    "Please leave at the back door.\nGate code 4411",
    "Deliver after 5pm please, nobody home before",
    "Birthday present!\nCould you add a small card saying: Happy 30th, Sam",
    "Same address as last time",
    "Leave with neighbour at no. 12 if I'm out.\nThanks!",
)
_CARD_BRANDS = (("visa", 0.55, ("4",)), ("mastercard", 0.3, ("51", "52", "53", "54", "55")),
                ("amex", 0.1, ("34", "37")), ("discover", 0.05, ("6011",)))  # fmt: skip

_FINANCIAL = (
    ("paid", 0.85),
    ("pending", 0.03),
    ("authorized", 0.03),
    ("partially_refunded", 0.03),
    ("refunded", 0.04),
    ("voided", 0.02),
)

_FINANCIAL_NAMES = tuple(s for s, _ in _FINANCIAL)
_PAID, _PENDING, _AUTHORIZED, _PARTIALLY_REFUNDED, _REFUNDED, _VOIDED = range(6)
_FULFILLMENT_NAMES = ("unfulfilled", "partial", "fulfilled", "delivered")
_UNFULFILLED, _PARTIAL, _FULFILLED, _DELIVERED = range(4)
_PAYMENT_NAMES = ("card", "paypal", "voucher", "bank_transfer", "marketplace", "cash")
_CARD, _PAYPAL, _VOUCHER, _BANK, _MARKET_PAY, _CASH = range(6)
_SHIPPING_METHODS = ("Standard", "Express", "Free Shipping", "Expedited")
_STANDARD, _EXPRESS, _FREE, _EXPEDITED = range(4)
_DISCOUNT_CODE_TEXT = (
    *(c for c, _ in _DISCOUNT_CODES),
    *(f"{c};FREESHIP" for c, _ in _DISCOUNT_CODES),
    "FREESHIP",
)

# --------------------------------------------------------------------------------------------
# Catalogue

_APPAREL_COLORS = (("NAV", "Navy"), ("BLK", "Black"), ("OLV", "Olive"), ("SND", "Sand"),
                   ("GRY", "Heather Grey"), ("RST", "Rust"))  # fmt: skip
_SIZES = ("XS", "S", "M", "L", "XL")
_FINISHES = (("WHT", "White"), ("SPK", "Speckled"), ("CHR", "Charcoal"), ("SAG", "Sage"))
_SCENTS = (("LAV", "Lavender"), ("CIT", "Citrus"), ("UNS", "Unscented"), ("FIG", "Fig"))
_COFFEES = tuple(
    (f"{o}-{g}", f"{on}, {gn}")
    for o, on in (
        ("ETH", "Ethiopia"),
        ("COL", "Colombia"),
        ("GUA", "Guatemala"),
        ("SUM", "Sumatra"),
    )
    for g, gn in (("WB", "Whole Bean"), ("GR", "Ground"))
)
_CATEGORY = {"APP": "Apparel", "HOM": "Home", "BEA": "Beauty", "PAN": "Pantry", "GFT": "Gift Cards"}
_VENDOR_COST_CURRENCY = {
    "Northwind Apparel": "USD",
    "Fjord & Pine": "EUR",
    "Kobo Ceramics": "USD",
    "Maison Lumière": "EUR",
    "Harbor Pantry Co.": "USD",
}
_VENDOR_LEAD_DAYS = {
    "Northwind Apparel": 21,
    "Fjord & Pine": 35,
    "Kobo Ceramics": 28,
    "Maison Lumière": 42,
    "Harbor Pantry Co.": 10,
}
# (category, name, USD price in cents, vendor, variants)
_BASE_PRODUCTS: tuple[tuple[str, str, int, str, str], ...] = (
    ("APP", "Organic Cotton Tee", 2800, "Northwind Apparel", "color_size"),
    ("APP", "Merino Crew Sweater", 9800, "Fjord & Pine", "color_size"),
    ("APP", "Linen Button-Down Shirt", 6800, "Northwind Apparel", "color_size"),
    ("APP", "Packable Rain Jacket", 12800, "Fjord & Pine", "color_size"),
    ("APP", "Wool Beanie", 3200, "Fjord & Pine", "color_size"),
    ("APP", "Hiking Socks 2-Pack", 2200, "Northwind Apparel", "color_size"),
    ("APP", "Fleece Quarter-Zip", 7400, "Northwind Apparel", "color_size"),
    ("APP", "Canvas Chore Coat", 14800, "Northwind Apparel", "color_size"),
    ("APP", "Relaxed Chino", 7800, "Northwind Apparel", "color_size"),
    ("APP", "Cotton Hoodie", 6400, "Northwind Apparel", "color_size"),
    ("HOM", "Café Au Lait Mug", 2400, "Kobo Ceramics", "finish"),
    ("HOM", "Stoneware Dinner Plate", 1800, "Kobo Ceramics", "finish"),
    ("HOM", "Stoneware Pasta Bowl", 2200, "Kobo Ceramics", "finish"),
    ("HOM", "Ceramic Planter, Small", 3400, "Kobo Ceramics", "finish"),
    ("HOM", "Ceramic Planter, Large", 5200, "Kobo Ceramics", "finish"),
    ("HOM", "Crème Brûlée Ramekins, Set of 2", 2600, "Kobo Ceramics", "finish"),
    ("HOM", "Espresso Cup & Saucer", 1900, "Kobo Ceramics", "finish"),
    ("HOM", "Pour-Over Coffee Dripper", 3200, "Kobo Ceramics", "finish"),
    ("HOM", "Linen Napkins, Set of 4", 3600, "Maison Lumière", "none"),
    ("HOM", "Scented Candle \u2013 Fig & Cedar", 4200, "Maison Lumière", "none"),
    ("HOM", "Waffle Bath Towel", 3800, "Fjord & Pine", "none"),
    ("HOM", "Olive Wood Serving Board", 5400, "Maison Lumière", "none"),
    ("HOM", "Glass Carafe 1 L", 2900, "Fjord & Pine", "none"),
    ("HOM", "Wool Throw Blanket", 12000, "Fjord & Pine", "none"),
    ("BEA", "Crème Hand Soap 300 ml", 1600, "Maison Lumière", "scent"),
    ("BEA", "Shea Body Butter", 2400, "Maison Lumière", "scent"),
    ("BEA", "Hand Cream 75 ml", 1400, "Maison Lumière", "scent"),
    ("BEA", "Bath Salts 500 g", 2200, "Maison Lumière", "scent"),
    ("BEA", "Body Oil \u2013 Néroli", 3800, "Maison Lumière", "none"),
    ("BEA", "Lip Balm Trio", 1400, "Maison Lumière", "none"),
    ("BEA", "Bamboo Toothbrush 4-Pack", 1200, "Harbor Pantry Co.", "none"),
    ("PAN", "Single-Origin Coffee Beans 250 g", 1800, "Harbor Pantry Co.", "coffee"),
    ("PAN", "Jalapeño Hot Sauce", 900, "Harbor Pantry Co.", "none"),
    ("PAN", "Matcha Powder 30 g", 2600, "Harbor Pantry Co.", "none"),
    ("PAN", "Sea Salt Caramels", 1200, "Harbor Pantry Co.", "none"),
    ("PAN", "Wildflower Honey 500 g", 1500, "Harbor Pantry Co.", "none"),
    ("PAN", "Earl Grey Tea Tin", 1400, "Harbor Pantry Co.", "none"),
    ("PAN", "Dark Chocolate Bar 85%", 600, "Harbor Pantry Co.", "none"),
    ("PAN", "Smoked Paprika 60 g", 800, "Harbor Pantry Co.", "none"),
    ("PAN", "Extra Virgin Olive Oil 500 ml", 2400, "Harbor Pantry Co.", "none"),
)
_GIFT_CARD_VALUES = (25, 50, 100)
_PACK_SIZES = {"APP": (1,), "HOM": (4, 6), "BEA": (6, 12), "PAN": (12, 24), "GFT": (1,)}


@dataclass(frozen=True, eq=False)
class Catalog:
    """The products every file sells: one entry per SKU, arrays aligned by position."""

    skus: tuple[str, ...]
    names: tuple[str, ...]
    categories: tuple[str, ...]
    vendors: tuple[str, ...]
    usd_cents: np.ndarray
    prices: np.ndarray
    """Price of one unit in minor units, shape (len(skus), len(CURRENCIES))."""
    popularity: np.ndarray
    """Probability that a line sells the SKU (Zipf-like, sums to 1)."""
    requires_shipping: np.ndarray
    taxable: np.ndarray
    pack_sizes: np.ndarray
    unit_costs: np.ndarray
    """Cost of one unit in minor units of ``cost_currencies`` (-1: unknown)."""
    cost_currencies: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.skus)


def _price_in(usd_cents: int, currency: str, *, face_value: bool) -> int:
    """The shop's price in ``currency`` (minor units) of an item costing ``usd_cents``.

    Converted prices end in .99 (JPY: rounded to 100 yen). A gift card keeps its face value:
    the "25" card costs 25.00 in every currency, and 2,500 yen.
    """
    if currency == "USD" or face_value:
        return usd_cents
    amount = usd_cents / USD_PER_UNIT[currency] / 100  # in major units
    if CURRENCY_EXPONENT[currency] == 0:
        return int(round(amount / 100) * 100)
    return math.ceil(amount) * 100 - 1


@functools.cache
def build_catalog(n_skus: int = DEFAULT_SKUS, seed: int = CATALOG_SEED) -> Catalog:
    """The product catalogue: ``n_skus`` SKUs (4 to 376), deterministic for a seed."""
    rows: list[tuple[str, str, str, str, int]] = []  # sku, name, category, vendor, usd cents
    for number, (cat, base, cents, vendor, kind) in enumerate(_BASE_PRODUCTS, start=1):
        prefix = f"{cat}-{number:02d}"
        if kind == "color_size":
            for code, color in _APPAREL_COLORS:
                for size in _SIZES:
                    extra = 200 if size == "XL" else 0
                    name = f"{base} - {color} / {size}"
                    rows.append((f"{prefix}-{code}-{size}", name, cat, vendor, cents + extra))
        elif kind in ("finish", "scent", "coffee"):
            variants = {"finish": _FINISHES, "scent": _SCENTS, "coffee": _COFFEES}[kind]
            for code, label in variants:
                rows.append((f"{prefix}-{code}", f"{base} - {label}", cat, vendor, cents))
        else:
            rows.append((prefix, base, cat, vendor, cents))
    gift_cards = [
        (f"GFT-{v:03d}", f"Digital Gift Card \u2013 {v}", "GFT", "OrderLens Gift Cards", v * 100)
        for v in _GIFT_CARD_VALUES
    ]
    if not len(gift_cards) < n_skus <= len(rows) + len(gift_cards):
        raise ValueError(f"n_skus must be between 4 and {len(rows) + len(gift_cards)}")
    rng = np.random.default_rng(seed)
    # Weighted sampling without replacement: every non-apparel product before apparel variants.
    weights = np.array([1.0 if r[2] == "APP" else 20.0 for r in rows])
    keys = np.log(rng.random(len(rows))) / weights
    keep = np.sort(np.argsort(-keys, kind="stable")[: n_skus - len(gift_cards)])
    chosen = [rows[i] for i in keep] + gift_cards
    n = len(chosen)
    gift = np.array([r[2] == "GFT" for r in chosen])
    ranks = rng.permutation(n)
    popularity = 1.0 / (ranks + 1.0) ** 1.07
    popularity[gift] *= 0.3
    popularity /= popularity.sum()
    prices = np.array(
        [[_price_in(r[4], c, face_value=r[2] == "GFT") for c in CURRENCIES] for r in chosen],
        dtype=np.int64,
    )
    pack_sizes = np.array([int(rng.choice(_PACK_SIZES[r[2]])) for r in chosen], dtype=np.int64)
    cost_currencies = tuple(_VENDOR_COST_CURRENCY.get(r[3], "") for r in chosen)
    cost_fraction = rng.uniform(0.32, 0.55, n)
    unit_costs = np.array(
        [
            -1 if not cur else round(r[4] * f / USD_PER_UNIT[cur])
            for r, cur, f in zip(chosen, cost_currencies, cost_fraction, strict=True)
        ],
        dtype=np.int64,
    )
    return Catalog(
        skus=tuple(r[0] for r in chosen),
        names=tuple(r[1] for r in chosen),
        categories=tuple(_CATEGORY[r[2]] for r in chosen),
        vendors=tuple(r[3] for r in chosen),
        usd_cents=np.array([r[4] for r in chosen], dtype=np.int64),
        prices=prices,
        popularity=popularity,
        requires_shipping=~gift,
        taxable=~gift,
        pack_sizes=pack_sizes,
        unit_costs=unit_costs,
        cost_currencies=cost_currencies,
    )


# --------------------------------------------------------------------------------------------
# Pools built once with faker


@dataclass(frozen=True, eq=False)
class _Pool:
    """Strings of every country, concatenated; ``off[c]``/``size[c]`` locate country ``c``."""

    columns: dict[str, pl.Series]
    off: np.ndarray
    size: np.ndarray

    def pick(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        return self.off[country] + (rng.random(len(country)) * self.size[country]).astype(np.int64)


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _make_pool(per_country: list[dict[str, list[object]]]) -> _Pool:
    sizes = np.array([len(next(iter(d.values()))) for d in per_country], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    names = list(per_country[0])
    columns = {
        name: pl.Series(name, [v for d in per_country for v in d[name]], strict=False)
        for name in names
    }
    return _Pool(columns, off, sizes)


@dataclass(frozen=True, eq=False)
class _Pools:
    names: _Pool  # first, last, first_ascii, last_ascii
    streets: _Pool  # street
    cities: _Pool  # city, province, zip, tax_rate
    domains: _Pool  # domain
    address2: pl.Series  # US/CA-style secondary addresses


@functools.cache
def _pools() -> _Pools:
    names: list[dict[str, list[object]]] = []
    streets: list[dict[str, list[object]]] = []
    cities: list[dict[str, list[object]]] = []
    domains: list[dict[str, list[object]]] = []
    for number, country in enumerate(COUNTRIES):
        fake = Faker(country.locale)
        fake.seed_instance(1000 + number)
        first: list[object] = []
        last: list[object] = []
        first_a: list[object] = []
        last_a: list[object] = []
        for _ in range(120):
            if country.code == "JP":
                f_kanji, _kana, f_roman = fake.first_name_pair()  # type: ignore[attr-defined]
                l_kanji, _kana, l_roman = fake.last_name_pair()  # type: ignore[attr-defined]
                first.append(f_kanji)
                last.append(l_kanji)
                first_a.append(_ascii(f_roman))
                last_a.append(_ascii(l_roman))
            else:
                f, la = fake.first_name(), fake.last_name()
                first.append(f)
                last.append(la)
                first_a.append(_ascii(f) or "customer")
                last_a.append(_ascii(la) or "shop")
        names.append({"first": first, "last": last, "first_ascii": first_a, "last_ascii": last_a})
        if country.code == "JP":
            street_list: list[object] = [
                f"{fake.town()}{fake.chome()}{fake.ban()}"  # type: ignore[attr-defined]
                for _ in range(150)
            ]
        else:
            street_list = [fake.street_name() for _ in range(150)]
        streets.append({"street": street_list})
        city: list[object] = []
        province: list[object] = []
        zips: list[object] = []
        tax: list[object] = []
        rates = dict(country.tax_by_province)
        for _ in range(150):
            if country.code == "US":
                prov, z = fake.state_abbr(include_territories=False), fake.zipcode()  # type: ignore[attr-defined]
            elif country.code == "CA":
                prov, z = fake.province_abbr(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "GB":
                prov, z = fake.county(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "DE":
                prov, z = fake.state(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "FR":
                prov, z = fake.department_name(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "NL":
                prov, z = fake.province(), fake.postcode()  # type: ignore[attr-defined]
            else:
                prov, z = fake.prefecture(), fake.zipcode()  # type: ignore[attr-defined]
            city.append(fake.city())
            province.append(prov)
            zips.append(z)
            tax.append(rates.get(str(prov), country.tax))
        cities.append({"city": city, "province": province, "zip": zips, "tax_rate": tax})
        domains.append({"domain": list(country.email_domains)})
    us = Faker("en_US")
    us.seed_instance(999)
    address2 = pl.Series("address2", [us.secondary_address() for _ in range(60)])  # type: ignore[attr-defined]
    return _Pools(
        names=_make_pool(names),
        streets=_make_pool(streets),
        cities=_make_pool(cities),
        domains=_make_pool(domains),
        address2=address2,
    )


# --------------------------------------------------------------------------------------------
# Vectorised helpers


def _digits(rng: np.random.Generator, k: int | np.ndarray, n: int) -> pl.Series:
    """``n`` random zero-padded strings of ``k`` digits (k <= 18, scalar or per row)."""
    high = np.power(10, np.broadcast_to(np.asarray(k, dtype=np.int64), (n,)))
    values = high + rng.integers(0, high)
    return pl.Series(values).cast(pl.String).str.slice(1)


def _hex(rng: np.random.Generator, n: int, n_bytes: int) -> pl.Series:
    """``n`` random lowercase hex strings of ``2 * n_bytes`` characters."""
    raw = rng.bytes(n * n_bytes)
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(n_bytes), n, [None, pa.py_buffer(raw)])
    series = pl.from_arrow(arr)
    assert isinstance(series, pl.Series)
    return series.cast(pl.Binary).bin.encode("hex")


def _choice(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int8)


def _pick(options: Sequence[str], idx: np.ndarray) -> pl.Series:
    """``options[idx]`` for every index; a negative index gives a blank (null)."""
    picked = pl.Series(list(options), dtype=pl.String).gather(np.maximum(idx, 0))
    if (idx < 0).any():
        return picked.zip_with(
            pl.Series(idx >= 0), pl.repeat(None, len(idx), dtype=pl.String, eager=True)
        )
    return picked


def _utc(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def _money(col: str) -> pl.Expr:
    """Minor units (Int64, -1 for blank) as decimal text in the row's currency (``_exp``)."""
    c = pl.col(col)
    two = (c // 100).cast(pl.String) + "." + (c % 100).cast(pl.String).str.zfill(2)
    return (
        pl.when(c < 0)
        .then(pl.lit(None, pl.String))
        .when(pl.col("_exp") == 0)
        .then(c.cast(pl.String))
        .otherwise(two)
        .alias(col)
    )


def _timestamp(col: str, tz: str) -> pl.Expr:
    """Unix seconds (-1 for blank) as ISO 8601 text with the UTC offset of ``tz``."""
    c = pl.col(col)
    text = (
        (c * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(tz)
        .dt.strftime(TIMESTAMP_FORMAT)
    )
    return pl.when(c >= 0).then(text).alias(col)


def _after(base: np.ndarray, delay: np.ndarray, limit: int) -> np.ndarray:
    """``base + delay``, pulled back before ``limit`` (but still after ``base``)."""
    room = np.maximum((limit - base) // 2, 1)
    return base + np.minimum(delay.astype(np.int64), room)


# --------------------------------------------------------------------------------------------
# Whole-file plan: orders, their times, channels and customers


@dataclass(frozen=True, eq=False)
class _Plan:
    n_orders: int
    lines: np.ndarray  # lines per order
    created: np.ndarray  # unix seconds, sorted
    channel: np.ndarray  # index into _CHANNELS
    customer: np.ndarray  # row of `customers`, -1 for anonymous POS orders
    store: np.ndarray  # index into POS_STORES, -1 when not POS
    customers: pl.DataFrame
    as_of: int
    window_start: int
    n_registered: int


_CHANNELS: tuple[str, ...] = ("online_store", "marketplace", "mobile_app", "pos")
_POS = _CHANNELS.index("pos")
_WEB = _CHANNELS.index("online_store")
_APP = _CHANNELS.index("mobile_app")
_MARKETPLACE = _CHANNELS.index("marketplace")

_HOUR_WEIGHTS_WEB = np.array(
    [0.15, 0.08, 0.05, 0.04, 0.04, 0.08, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0,
     1.05, 1.0, 0.95, 0.95, 1.0, 1.05, 1.1, 1.2, 1.25, 1.1, 0.8, 0.4]
)  # fmt: skip
_HOUR_WEIGHTS_POS = np.array(
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0.9, 1.2, 1.3, 1.0, 0.9, 1.0, 1.2, 1.3, 1.1, 0.6, 0, 0, 0]
)
_WEEKDAY_WEIGHTS_WEB = np.array([1.0, 1.0, 0.98, 1.0, 1.02, 0.92, 1.05])
_WEEKDAY_WEIGHTS_POS = np.array([0.8, 0.85, 0.9, 0.95, 1.1, 1.45, 1.2])


def _arrival_times(
    rng: np.random.Generator, n: int, start: int, hours: int, tz: str, pos: bool
) -> np.ndarray:
    """``n`` order times (unix seconds) following local hour-of-day and weekday patterns."""
    edges = start + 3600 * np.arange(hours + 1, dtype=np.int64)
    local = (
        pl.Series(edges[:-1] * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(tz)
        .to_frame("t")
        .select(pl.col("t").dt.hour().alias("h"), (pl.col("t").dt.weekday() - 1).alias("d"))
    )
    hour = local["h"].to_numpy()
    weekday = local["d"].to_numpy()
    if pos:
        weights = _HOUR_WEIGHTS_POS[hour] * _WEEKDAY_WEIGHTS_POS[weekday]
    else:
        weights = _HOUR_WEIGHTS_WEB[hour] * _WEEKDAY_WEIGHTS_WEB[weekday]
    weights = weights * (1.0 + 0.25 * np.arange(hours) / max(hours, 1))  # the shop grows
    cdf = np.concatenate([[0.0], np.cumsum(weights)])
    cdf /= cdf[-1]
    return np.floor(np.interp(rng.random(n), cdf, edges.astype(np.float64))).astype(np.int64)


def _plan(
    n_lines: int,
    seed: int,
    start: date,
    days: int,
    tz: str,
    channel_mix: Mapping[str, float],
    country_mix: Mapping[str, float],
) -> _Plan:
    rng = np.random.default_rng([seed, 0])
    zone = ZoneInfo(tz)
    window_start = _utc(start, zone)
    as_of = _utc(start + timedelta(days=days), zone)
    hours = (as_of - window_start) // 3600

    # Lines per order: exactly n_lines in all (the last order may be cut short).
    estimate = int(n_lines / 1.6) + 100
    lines = (_choice(rng, (0.58, 0.27, 0.10, 0.05), estimate) + 1).astype(np.int64)
    while lines.sum() < n_lines:
        more = _choice(rng, (0.58, 0.27, 0.10, 0.05), estimate) + 1
        lines = np.concatenate([lines, more.astype(np.int64)])
    total = np.cumsum(lines)
    n_orders = int(np.searchsorted(total, n_lines) + 1)
    lines = lines[:n_orders].copy()
    lines[-1] -= int(total[n_orders - 1] - n_lines)

    mix = [float(channel_mix.get(c, 0.0)) for c in _CHANNELS]
    channel = _choice(rng, mix, n_orders)
    created = np.empty(n_orders, dtype=np.int64)
    for is_pos in (False, True):
        mask = (channel == _POS) == is_pos
        created[mask] = _arrival_times(rng, int(mask.sum()), window_start, hours, tz, is_pos)
    order = np.argsort(created, kind="stable")
    created = created[order]
    channel = channel[order]

    # Customers: registered ones come back (heavy-tailed), online guests are one-offs.
    countries = [c.code for c in COUNTRIES]
    cmix = [float(country_mix.get(c, 0.0)) for c in countries]
    guest = (channel == _WEB) & (rng.random(n_orders) < 0.08)
    registered_orders = (channel != _POS) & ~guest
    # Capped so that memory stays bounded however many lines are asked for.
    n_registered = min(max(10, int(registered_orders.sum())), MAX_CUSTOMERS)
    n_guest_orders = int(guest.sum())
    n_guests = min(n_guest_orders, MAX_GUESTS)
    appetite = rng.lognormal(0.0, 1.0, n_registered)
    customer = np.full(n_orders, -1, dtype=np.int64)
    k = int(registered_orders.sum())
    customer[registered_orders] = rng.choice(n_registered, size=k, p=appetite / appetite.sum())
    customer[guest] = n_registered + np.arange(n_guest_orders) % max(n_guests, 1)
    cust_country = np.concatenate(
        [_choice(rng, cmix, n_registered), _choice(rng, cmix, n_guests)]
    ).astype(np.int64)

    # POS: a store per order; a quarter of POS buyers are known customers of that country.
    store = np.full(n_orders, -1, dtype=np.int64)
    pos = np.flatnonzero(channel == _POS)
    store[pos] = _choice(rng, (0.45, 0.3, 0.25), len(pos))
    known = pos[rng.random(len(pos)) < 0.25]
    for s, shop in enumerate(POS_STORES):
        members = np.flatnonzero(cust_country[:n_registered] == _COUNTRY_INDEX[shop.country])
        here = known[store[known] == s]
        if len(members) and len(here):
            customer[here] = members[rng.integers(0, len(members), len(here))]

    # When each customer signed up: long before the window, or just before their first order.
    first_seen = np.full(n_registered + n_guests, -1, dtype=np.int64)
    seen, first_index = np.unique(customer[customer >= 0], return_index=True)
    first_seen[seen] = created[customer >= 0][first_index]
    signed_up = window_start - rng.integers(86_400, 1_200 * 86_400, n_registered + n_guests)
    new = (rng.random(n_registered + n_guests) < 0.3) & (first_seen >= 0)
    signed_up = np.where(new, first_seen - rng.integers(60, 1_800, len(new)), signed_up)
    signed_up[n_registered:] = -1  # guests have no account
    customers = _customers(rng, cust_country, n_registered, signed_up)
    return _Plan(
        n_orders=n_orders,
        lines=lines,
        created=created,
        channel=channel,
        customer=customer,
        store=store,
        customers=customers,
        as_of=as_of,
        window_start=window_start,
        n_registered=n_registered,
    )


def _customers(
    rng: np.random.Generator, country: np.ndarray, n_registered: int, signed_up: np.ndarray
) -> pl.DataFrame:
    """One row per customer (registered first, then guests), with everything orders reuse."""
    pools = _pools()
    n = len(country)
    names = pools.names.pick(rng, country)
    last_names = pools.names.pick(rng, country)
    cities = pools.cities.pick(rng, country)
    streets = pools.streets.pick(rng, country)
    domains = pools.domains.pick(rng, country)
    spec_nanp = np.array([c.nanp for c in COUNTRIES])[country]
    nsn_len = np.array([c.nsn_len for c in COUNTRIES])[country]

    # Phone: national significant number = country prefix + random digits.
    prefixes: list[str] = []
    prefix_off = []
    for c in COUNTRIES:
        prefix_off.append(len(prefixes))
        prefixes.extend(c.phone_prefixes)
    prefix_count = np.array([len(c.phone_prefixes) for c in COUNTRIES])[country]
    prefix_idx = np.array(prefix_off)[country] + (rng.random(n) * prefix_count).astype(np.int64)
    prefix = _pick(prefixes, prefix_idx)
    prefix_len = prefix.str.len_chars().to_numpy()
    exchange = rng.integers(200, 1000, n)
    exchange = np.where(exchange == 555, 556, exchange)
    nanp_rest = pl.Series(exchange * 10_000 + rng.integers(0, 10_000, n)).cast(pl.String)
    other_rest = _digits(rng, np.maximum(nsn_len - prefix_len, 1), n)

    # House number and address line 1 in each country's style.
    house = pl.Series(rng.integers(1, 400, n) * np.where(rng.random(n) < 0.3, 7, 1)).cast(pl.String)
    code = _pick([c.code for c in COUNTRIES], country)
    df = pl.DataFrame(
        {
            "country": code,
            "dial": _pick([c.dial for c in COUNTRIES], country),
            "nanp": spec_nanp,
            "first": pools.names.columns["first"].gather(names),
            "last": pools.names.columns["last"].gather(last_names),
            "first_ascii": pools.names.columns["first_ascii"].gather(names),
            "last_ascii": pools.names.columns["last_ascii"].gather(last_names),
            "street": pools.streets.columns["street"].gather(streets),
            "house": house,
            "city": pools.cities.columns["city"].gather(cities),
            "province": pools.cities.columns["province"].gather(cities),
            "zip": pools.cities.columns["zip"].gather(cities),
            "tax_rate": pools.cities.columns["tax_rate"].gather(cities).cast(pl.Float64),
            "domain": pools.domains.columns["domain"].gather(domains),
            "prefix": prefix,
            "nanp_rest": nanp_rest,
            "other_rest": other_rest,
            "email_style": rng.integers(0, 5, n),
            "email_number": rng.integers(1, 100, n),
            "phone_style": rng.integers(0, 4, n),
            "has_address2": rng.random(n),
            "address2_pick": pools.address2.gather(rng.integers(0, len(pools.address2), n)),
            "flat": pl.Series(rng.integers(1, 40, n)).cast(pl.String),
            "signed_up": signed_up,
            "registered": np.arange(n) < n_registered,
            "card_brand": _choice(rng, [b[1] for b in _CARD_BRANDS], n),
            "card_last4": _digits(rng, 4, n),
            "card_token": "tok_" + _hex(rng, n, 12),
            "web_ua": _pick(_WEB_USER_AGENTS, rng.integers(0, len(_WEB_USER_AGENTS), n)),
            "app_ua": _pick(_APP_USER_AGENTS, rng.integers(0, len(_APP_USER_AGENTS), n)),
            "web_device": _hex(rng, n, 16),
            "app_device": _hex(rng, n, 16).str.to_uppercase(),
            "ip": _ipv4(rng, n),
        }
    )
    fa, la = pl.col("first_ascii"), pl.col("last_ascii")
    number = pl.col("email_number").cast(pl.String)
    style = pl.col("email_style")
    local = (
        pl.when(style == 0)
        .then(fa + "." + la)
        .when(style == 1)
        .then(fa + la + number)
        .when(style == 2)
        .then(fa.str.slice(0, 1) + la)
        .when(style == 3)
        .then(fa + "_" + la + number)
        .otherwise(la + "." + fa)
    )
    app = pl.col("app_device")
    df = df.with_columns(
        local.alias("local"),
        pl.when(pl.col("nanp"))
        .then(pl.col("prefix") + pl.col("nanp_rest"))
        .otherwise(pl.col("prefix") + pl.col("other_rest"))
        .alias("nsn"),
        pl.when(pl.col("country") == "JP")
        .then(pl.col("street") + pl.col("house") + "号")
        .when(pl.col("country").is_in(["DE", "NL"]))
        .then(pl.col("street") + " " + pl.col("house"))
        .when(pl.col("country") == "FR")
        .then(pl.col("house") + ", " + pl.col("street"))
        .otherwise(pl.col("house") + " " + pl.col("street"))
        .alias("address1"),
        pl.when(pl.col("country").is_in(["US", "CA"]) & (pl.col("has_address2") < 0.15))
        .then(pl.col("address2_pick"))
        .when((pl.col("country") == "GB") & (pl.col("has_address2") < 0.12))
        .then("Flat " + pl.col("flat"))
        .alias("address2"),
        (
            app.str.slice(0, 8)
            + "-"
            + app.str.slice(8, 4)
            + "-"
            + app.str.slice(12, 4)
            + "-"
            + app.str.slice(16, 4)
            + "-"
            + app.str.slice(20, 12)
        ).alias("app_device"),
        pl.when(pl.col("registered"))
        .then("C" + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(7))
        .alias("customer_id"),
    )
    # The same e-mail never belongs to two customers.
    email = pl.col("local") + "@" + pl.col("domain")
    unique = pl.col("local") + pl.int_range(0, pl.len()).cast(pl.String) + "@" + pl.col("domain")
    df = df.with_columns(
        pl.when(~pl.col("registered"))
        .then(pl.lit(None, pl.String))
        .when(email.is_first_distinct())
        .then(email)
        .otherwise(unique)
        .alias("email")
    )
    return df.drop(
        "prefix",
        "nanp_rest",
        "other_rest",
        "has_address2",
        "address2_pick",
        "flat",
        "local",
        "first_ascii",
        "last_ascii",
        "street",
        "house",
        "domain",
        "email_style",
        "email_number",
    )


def _ipv4(rng: np.random.Generator, n: int) -> pl.Series:
    first = np.array([24, 50, 67, 71, 73, 76, 82, 86, 90, 92, 98, 99, 104, 108, 109, 126,
                      174, 184, 188, 203, 212, 217])  # fmt: skip
    parts = [
        pl.Series(first[rng.integers(0, len(first), n)]),
        pl.Series(rng.integers(0, 256, n)),
        pl.Series(rng.integers(0, 256, n)),
        pl.Series(rng.integers(1, 255, n)),
    ]
    df = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return df.select(pl.concat_str([pl.col(f"p{i}") for i in range(4)], separator="."))[
        "p0"
    ].rename("ip")


# --------------------------------------------------------------------------------------------
# One chunk of orders -> one DataFrame of text columns, one row per line


@dataclass(frozen=True)
class _Options:
    seed: int
    tz: str
    source_label: str
    catalog: Catalog
    first_order_number: int
    order_id_prefix: str
    order_id_base: int
    repeat_order_fields: bool


_ORDER_FIELD_NAMES = tuple(f.name for f in GENERIC_ORDER_FIELDS)
_ALWAYS_ON_LINES = ("source_order_id", "order_number")


def _chunk(plan: _Plan, opts: _Options, lo: int, hi: int, chunk_no: int) -> _Chunk:
    rng = np.random.default_rng([opts.seed, 1, chunk_no])
    cat = opts.catalog
    m = hi - lo
    seq = np.arange(lo, hi, dtype=np.int64)
    n_lines = plan.lines[lo:hi]
    created = plan.created[lo:hi]
    channel = plan.channel[lo:hi].astype(np.int64)
    cust = plan.customer[lo:hi]
    store = plan.store[lo:hi]
    pos = channel == _POS
    web = channel == _WEB
    app = channel == _APP
    market = channel == _MARKETPLACE
    has_cust = cust >= 0

    customers = plan.customers[np.maximum(cust, 0)]
    store_country = np.array([_COUNTRY_INDEX[s.country] for s in POS_STORES])[np.maximum(store, 0)]
    cust_country = (
        customers["country"].replace_strict(_COUNTRY_INDEX, return_dtype=pl.Int64).to_numpy()
    )
    country = np.where(pos, store_country, cust_country)
    currency_of_country = np.array([_CURRENCY_INDEX[c.currency] for c in COUNTRIES])
    currency = currency_of_country[country]
    exponent = np.array([CURRENCY_EXPONENT[c] for c in CURRENCIES])[currency]

    # ---- lines
    n_total = int(n_lines.sum())
    starts = np.concatenate([[0], np.cumsum(n_lines)[:-1]]).astype(np.int64)
    order_of_line = np.repeat(np.arange(m), n_lines)
    line_number = np.arange(n_total) - starts[order_of_line] + 1
    sku = rng.choice(len(cat), size=n_total, p=cat.popularity)
    qty = (_choice(rng, (0.74, 0.16, 0.05, 0.03, 0.01, 0.01), n_total) + 1).astype(np.int64)
    price = cat.prices[sku, currency[order_of_line]]
    gross = qty * price
    line_pct = np.array([0.0, 0.10, 0.15, 0.20, 0.25])[
        _choice(rng, (0.93, 0.025, 0.02, 0.015, 0.01), n_total)
    ]
    line_disc = np.floor(gross * line_pct + 0.5).astype(np.int64)
    net = gross - line_disc
    tax_rate = np.where(
        pos,
        np.array([s.tax_rate for s in POS_STORES])[np.maximum(store, 0)],
        customers["tax_rate"].to_numpy(),
    )
    taxable = cat.taxable[sku]
    line_tax = np.where(taxable, np.floor(net * tax_rate[order_of_line] + 0.5), 0).astype(np.int64)
    ships = cat.requires_shipping[sku] & ~pos[order_of_line]

    # ---- order amounts
    subtotal = np.add.reduceat(net, starts)
    total_tax = np.add.reduceat(line_tax, starts)
    needs_shipping = np.maximum.reduceat(ships.astype(np.int8), starts) > 0
    code_pick = _choice(rng, [1.0] * len(_DISCOUNT_CODES), m)
    has_code = ~pos & (rng.random(m) < 0.12)
    free_ship_code = ~pos & needs_shipping & (rng.random(m) < 0.03)
    pct = np.where(has_code, np.array([p for _, p in _DISCOUNT_CODES])[code_pick], 0.0)
    discounts = np.floor(subtotal * pct + 0.5).astype(np.int64)
    express = needs_shipping & (rng.random(m) < 0.18)
    rates = np.array([_SHIPPING_RATES[c] for c in CURRENCIES])[currency]
    free_from = np.array([_FREE_SHIPPING_FROM[c] for c in CURRENCIES])[currency]
    free = ~express & (subtotal - discounts >= free_from)
    shipping = np.where(express, rates[:, 1], rates[:, 0])
    shipping = np.where(~needs_shipping | free | free_ship_code, 0, shipping).astype(np.int64)
    total = subtotal - discounts + shipping + total_tax
    # discount_codes: a code, the code and FREESHIP, FREESHIP alone, or nothing
    discount_codes = np.where(
        has_code,
        code_pick + np.where(free_ship_code, len(_DISCOUNT_CODES), 0),
        np.where(free_ship_code, 2 * len(_DISCOUNT_CODES), -1),
    )
    shipping_method = np.where(
        ~needs_shipping,
        -1,
        np.where(
            market,
            np.where(express, _EXPEDITED, _STANDARD),
            np.where(express, _EXPRESS, np.where(free | free_ship_code, _FREE, _STANDARD)),
        ),
    )

    # ---- payment
    method = np.where(
        pos,
        np.where(rng.random(m) < 0.72, _CARD, _CASH),
        np.where(
            market,
            _MARKET_PAY,
            np.array([_CARD, _PAYPAL, _VOUCHER, _BANK])[_choice(rng, (0.74, 0.16, 0.04, 0.06), m)],
        ),
    )
    card = method == _CARD
    registered = has_cust & customers["registered"].to_numpy()
    saved_card = registered & (rng.random(m) < 0.75)  # guests have no saved card
    brand = np.where(
        saved_card,
        customers["card_brand"].to_numpy(),
        _choice(rng, [b[1] for b in _CARD_BRANDS], m),
    ).astype(np.int64)
    bin_prefixes: list[str] = []
    bin_off = []
    for _, _, prefixes in _CARD_BRANDS:
        bin_off.append(len(bin_prefixes))
        bin_prefixes.extend(prefixes)
    n_pref = np.array([len(b[2]) for b in _CARD_BRANDS])[brand]
    bin_pick = np.array(bin_off)[brand] + (rng.random(m) * n_pref).astype(np.int64)
    bin_prefix = _pick(bin_prefixes, bin_pick)
    card_bin = bin_prefix + _digits(rng, 6 - bin_prefix.str.len_chars().to_numpy(), m)

    # ---- statuses and their times
    status = _choice(rng, [p for _, p in _FINANCIAL], m).astype(np.int64)
    status = np.where(pos & np.isin(status, [_PENDING, _AUTHORIZED]), _PAID, status)
    pay_delay = np.where(
        method == _BANK, rng.integers(6 * 3600, 3 * 86_400, m), rng.integers(2, 90, m)
    )
    paid_at = created + pay_delay
    captured = [_PAID, _PARTIALLY_REFUNDED, _REFUNDED]
    status = np.where(np.isin(status, captured) & (paid_at > plan.as_of), _PENDING, status)
    paid = np.isin(status, captured)
    paid_at = np.where(paid, paid_at, -1)
    refunded = np.isin(status, [_PARTIALLY_REFUNDED, _REFUNDED])
    refunded_at = np.where(
        refunded, _after(created, rng.integers(86_400, 20 * 86_400, m), plan.as_of), -1
    )
    refund_share = rng.uniform(0.1, 0.6, m)
    refunded_amount = np.where(
        status == _REFUNDED,
        total,
        np.where(status == _PARTIALLY_REFUNDED, np.maximum(np.floor(total * refund_share), 1), -1),
    ).astype(np.int64)
    voided = status == _VOIDED
    cancelled = voided | ((status == _REFUNDED) & (rng.random(m) < 0.5))
    cancelled_at = np.where(
        voided,
        _after(created, rng.integers(600, 2 * 86_400, m), plan.as_of),
        np.where(cancelled, refunded_at, -1),
    )

    ship_delay = (rng.lognormal(np.log(20 * 3600), 0.6, m)).astype(np.int64) + 3600
    international = (country == _COUNTRY_INDEX["JP"]) | (
        (country == _COUNTRY_INDEX["CA"]) & (rng.random(m) < 0.5)
    )
    transit_days = np.where(express, rng.uniform(0.8, 2.5, m), rng.uniform(1.5, 6.0, m))
    transit_days = np.where(international, transit_days + 3, transit_days)
    shipped_at = created + ship_delay
    delivered_at = shipped_at + (transit_days * 86_400).astype(np.int64)
    shippable = needs_shipping & ~cancelled & paid
    shipped = shippable & (shipped_at <= plan.as_of)
    delivered = shipped & (delivered_at <= plan.as_of)
    partial = shipped & ~delivered & (n_lines > 1) & (rng.random(m) < 0.15)
    handed_over = (pos | (~needs_shipping & paid)) & ~cancelled  # sold over the counter, digital
    fulfillment = np.where(
        handed_over | (shipped & ~delivered & ~partial),
        _FULFILLED,
        np.where(delivered, _DELIVERED, np.where(partial, _PARTIAL, _UNFULFILLED)),
    )
    shipped_at = np.where(shipped, shipped_at, -1)
    delivered_at = np.where(delivered, delivered_at, -1)
    carrier_pick = np.zeros(m, dtype=np.int64)
    for ci, c in enumerate(COUNTRIES):
        here = np.flatnonzero(country == ci)
        names = [_CARRIER_NAMES.index(name) for name, _ in c.carriers]
        carrier_pick[here] = np.array(names)[_choice(rng, [w for _, w in c.carriers], len(here))]
    tracking_digits = np.array([_CARRIERS[c][1] for c in _CARRIER_NAMES])[carrier_pick]
    tracking = (
        _pick([_CARRIERS[c][0] for c in _CARRIER_NAMES], carrier_pick)
        + _digits(rng, tracking_digits, m)
        + _pick([_CARRIERS[c][2] for c in _CARRIER_NAMES], carrier_pick)
    )
    promise_days = np.where(express, 2, 5) + np.where(international, 4, 0)
    promised = ~pos & needs_shipping & (market | (rng.random(m) < 0.8))

    # ---- web details
    online = web | app
    same_ip = has_cust & (rng.random(m) < 0.65)
    same_ua = has_cust & (rng.random(m) < 0.9)
    note_pick = rng.integers(0, len(_NOTES), m)
    has_note = ~pos & (rng.random(m) < 0.04)
    marketing = _choice(rng, [w for _, w in _MARKETING_SOURCES], m)
    email_variant = _choice(rng, (0.82, 0.11, 0.03, 0.04), m)
    phone_style = np.where(
        rng.random(m) < 0.75, customers["phone_style"].to_numpy(), rng.integers(0, 4, m)
    )
    pos_email = rng.random(m) < 0.3
    gift_recipient = ~pos & has_cust & (rng.random(m) < 0.05)
    recipient_columns = ["first", "last", "address1", "address2", "city", "province", "zip"]
    recipient_pool = plan.customers.select(*recipient_columns, "country")[
        rng.integers(0, plan.customers.height, m)
    ]
    same_country = recipient_pool["country"].to_numpy() == customers["country"].to_numpy()
    gift_recipient &= same_country

    orders = pl.DataFrame(
        {
            "_exp": exponent,
            "_seq": seq,
            "_has_cust": has_cust,
            "_pos": pos,
            "_online": online,
            "_app": app,
            "_registered": registered,
            "_show_email": pl.Series(~pos | pos_email),
            "_email_variant": email_variant,
            "_phone_style": phone_style,
            "_gift": gift_recipient,
            "_needs_ship": needs_shipping,
            "customer_created_at": np.where(has_cust, customers["signed_up"].to_numpy(), -1),
            "channel": _pick(_CHANNELS, channel),
            "created_at": created,
            "currency": _pick(CURRENCIES, currency),
            "subtotal": subtotal,
            "total_discounts": discounts,
            "discount_codes": _pick(_DISCOUNT_CODE_TEXT, discount_codes),
            "shipping": shipping,
            "shipping_method": _pick(_SHIPPING_METHODS, shipping_method),
            "total_tax": total_tax,
            "total": total,
            "financial_status": _pick(_FINANCIAL_NAMES, status),
            "fulfillment_status": _pick(_FULFILLMENT_NAMES, fulfillment),
            "paid_at": paid_at,
            "cancelled_at": cancelled_at,
            "_promise": np.where(promised, promise_days, -1),
            "_note": _pick(_NOTES, np.where(has_note, note_pick, -1)),
            "_marketing": _pick([s for s, _ in _MARKETING_SOURCES], marketing),
            "_method": _pick(_PAYMENT_NAMES, method),
            "_card": card,
            "_saved_card": saved_card,
            "_brand": _pick([b[0] for b in _CARD_BRANDS], brand),
            "_last4": _digits(rng, 4, m),
            "_token": "tok_" + _hex(rng, m, 12),
            "_bin": card_bin,
            "_show_bin": rng.random(m) < 0.6,
            "refunded_amount": refunded_amount,
            "refunded_at": refunded_at,
            "carrier": _pick(_CARRIER_NAMES, carrier_pick),
            "tracking_number": tracking,
            "shipped_at": shipped_at,
            "delivered_at": delivered_at,
            "_same_ip": same_ip,
            "_ip": _ipv4(rng, m),
            "_same_ua": same_ua,
            "_web_ua": _pick(_WEB_USER_AGENTS, rng.integers(0, len(_WEB_USER_AGENTS), m)),
            "_app_ua": _pick(_APP_USER_AGENTS, rng.integers(0, len(_APP_USER_AGENTS), m)),
            "_web_device": _hex(rng, m, 16),
            "_store_name": _pick([s.name for s in POS_STORES], np.maximum(store, 0)),
            "_country": _pick([c.code for c in COUNTRIES], country),
            "_warehouse": _pick([c.warehouse for c in COUNTRIES], country),
            "_r_first": recipient_pool["first"],
            "_r_last": recipient_pool["last"],
            "_r_address1": recipient_pool["address1"],
            "_r_address2": recipient_pool["address2"],
            "_r_city": recipient_pool["city"],
            "_r_province": recipient_pool["province"],
            "_r_zip": recipient_pool["zip"],
        }
    )
    orders = pl.concat([orders, customers.select(pl.all().name.prefix("c_"))], how="horizontal")
    orders = orders.select(_order_columns(opts))

    # ---- one row per line
    line_frame = pl.DataFrame(
        {
            "line_number": pl.Series(line_number).cast(pl.String),
            "sku": _pick(cat.skus, sku),
            "product_name": _pick(cat.names, sku),
            "quantity": pl.Series(qty).cast(pl.String),
            "unit_price": price,
            "line_discount": line_disc,
            "line_tax": line_tax,
            "vendor": _pick(cat.vendors, sku),
            "requires_shipping": _pick(("false", "true"), ships.astype(np.int64)),
            # digital gift cards bought online come from no location; at a till, the shop's
            "_digital": ~cat.requires_shipping[sku] & ~pos[order_of_line],
            "_exp": exponent[order_of_line],
            "_location": orders["_location"].gather(order_of_line),
        }
    )
    lines = line_frame.select(
        "line_number",
        "sku",
        "product_name",
        "quantity",
        _money("unit_price"),
        _money("line_discount"),
        _money("line_tax"),
        "vendor",
        "requires_shipping",
        pl.when(~pl.col("_digital")).then(pl.col("_location")).alias("fulfillment_location"),
    )
    return _Chunk(
        orders=orders.drop("_location"),
        lines=lines,
        order_of_line=order_of_line,
        first_line=line_number == 1,
        repeat_order_fields=opts.repeat_order_fields,
    )


_PLAIN_COLUMNS = frozenset(
    {
        "source_order_id", "order_number", "channel", "created_at", "currency", "subtotal",
        "total_discounts", "discount_codes", "shipping", "shipping_method", "total_tax",
        "taxes_included", "total", "financial_status", "fulfillment_status", "paid_at",
        "cancelled_at", "promised_delivery_date", "customer_id", "customer_email",
        "customer_phone", "customer_created_at", "billing_country", "shipping_country",
        "shipping_phone", "client_ip", "device_id", "payment_method", "payment_token",
        "card_brand", "card_last4", "card_bin", "refunded_amount", "refunded_at", "carrier",
        "tracking_number", "shipped_at", "delivered_at", "line_number", "sku", "quantity",
        "unit_price", "line_discount", "line_tax", "requires_shipping",
    }
)  # fmt: skip
"""Columns the writer fills from fixed formats (digits, codes, ISO text): never quoted."""


def _csv_field(name: str) -> pl.Expr:
    """A text column as CSV fields: quoted when it holds a comma, a quote or a line break."""
    c = pl.col(name)
    if name in _PLAIN_COLUMNS:
        return c.fill_null("")
    quoted = '"' + c.str.replace_all('"', '""', literal=True) + '"'
    return pl.when(c.str.contains(r'[,"\r\n]')).then(quoted).otherwise(c).fill_null("")


def _csv_record(names: Sequence[str]) -> pl.Expr:
    return pl.concat_str([_csv_field(n) for n in names], separator=",")


@dataclass(frozen=True, eq=False)
class _Chunk:
    """Orders (one row each) and their lines, as text columns of the generic format."""

    orders: pl.DataFrame
    lines: pl.DataFrame
    order_of_line: np.ndarray
    first_line: np.ndarray
    repeat_order_fields: bool

    def frame(self) -> pl.DataFrame:
        """One row per line, every column of the format, in the contract's order."""
        order_part = self.orders[self.order_of_line]
        if not self.repeat_order_fields:
            first = pl.Series(self.first_line)
            order_part = order_part.with_columns(
                pl.when(first).then(pl.col(c)).alias(c)
                for c in _ORDER_FIELD_NAMES
                if c not in _ALWAYS_ON_LINES
            )
        both = pl.concat([order_part, self.lines], how="horizontal")
        return both.select(GENERIC_FIELD_NAMES)

    def csv_records(self) -> pl.Series:
        """One CSV record per line (no line terminator), fields in the contract's order.

        Order-level fields are rendered once per order, then repeated: much cheaper than
        gathering every order column onto every line.
        """
        order_text = self.orders.select(_csv_record(_ORDER_FIELD_NAMES).alias("o"))["o"]
        per_line = order_text.gather(self.order_of_line)
        if not self.repeat_order_fields:
            blanks = "," * (len(_ORDER_FIELD_NAMES) - len(_ALWAYS_ON_LINES))
            ids_only = self.orders.select((_csv_record(_ALWAYS_ON_LINES) + blanks).alias("o"))[
                "o"
            ].gather(self.order_of_line)
            per_line = per_line.zip_with(pl.Series(self.first_line), ids_only)
        line_names = [f.name for f in GENERIC_LINE_FIELDS]
        line_text = self.lines.select(_csv_record(line_names).alias("l"))["l"]
        return per_line + "," + line_text

    def physical_lines(self) -> int:
        """Lines this chunk takes in a CSV file (a multi-line note adds its line breaks)."""
        breaks = self.orders["note"].str.count_matches("\n").fill_null(0).to_numpy()
        shown = breaks[self.order_of_line]
        if not self.repeat_order_fields:
            shown = np.where(self.first_line, shown, 0)
        return len(self.order_of_line) + int(shown.sum())


def _order_columns(opts: _Options) -> list[pl.Expr]:
    tz = opts.tz
    c = pl.col
    has_cust, pos, online = c("_has_cust"), c("_pos"), c("_online")
    email = c("c_email")
    domain = email.str.extract(r"@(.*)$", 1)
    email_out = (
        pl.when(~c("_registered") | ~c("_show_email"))
        .then(pl.lit(None, pl.String))
        .when(c("_email_variant") == 1)
        .then(email.str.slice(0, 1).str.to_uppercase() + email.str.slice(1))
        .when(c("_email_variant") == 2)
        .then(email.str.to_uppercase())
        .when(c("_email_variant") == 3)
        .then(email.str.extract(r"^(.*@)", 1) + domain.str.to_titlecase())
        .otherwise(email)
    )
    nsn, dial, style = c("c_nsn"), c("c_dial"), c("_phone_style")
    spaced = nsn.str.slice(0, 3) + " " + nsn.str.slice(3, 3) + " " + nsn.str.slice(6)
    phone = (
        pl.when(~has_cust)
        .then(pl.lit(None, pl.String))
        .when(style == 0)
        .then("+" + dial + nsn)
        .when(style == 1)
        .then("+" + dial + " " + spaced)
        .when(c("c_nanp") & (style == 2))
        .then("(" + nsn.str.slice(0, 3) + ") " + nsn.str.slice(3, 3) + "-" + nsn.str.slice(6))
        .when(c("c_nanp"))
        .then(nsn.str.slice(0, 3) + "-" + nsn.str.slice(3, 3) + "-" + nsn.str.slice(6))
        .when(style == 2)
        .then("0" + nsn.str.slice(0, 3) + " " + nsn.str.slice(3))
        .otherwise("0" + nsn)
    )
    jp = c("c_country") == "JP"
    full_name = (
        pl.when(jp)
        .then(c("c_last") + " " + c("c_first"))
        .otherwise(c("c_first") + " " + c("c_last"))
    )
    recipient = (
        pl.when(jp)
        .then(c("_r_last") + " " + c("_r_first"))
        .otherwise(c("_r_first") + " " + c("_r_last"))
    )
    addressed = has_cust & ~pos  # POS orders carry no addresses
    gift = c("_gift")

    def billing(col: str) -> pl.Expr:
        return pl.when(addressed).then(c(f"c_{col}"))

    def shipping(col: str) -> pl.Expr:
        own = c(f"c_{col}")
        return pl.when(addressed & c("_needs_ship")).then(
            pl.when(gift).then(c(f"_r_{col}")).otherwise(own)
        )

    card = c("_card")
    online_ua = pl.when(c("_app")).then(c("c_app_ua")).otherwise(c("c_web_ua"))
    prefix = opts.order_id_prefix
    created = c("created_at")
    promised = (
        (created * 1_000_000).cast(pl.Datetime("us", "UTC")).dt.convert_time_zone(tz).dt.date()
        + pl.duration(days=c("_promise"))
    ).dt.strftime("%Y-%m-%d")
    return [
        (pl.lit(prefix) + (c("_seq") + opts.order_id_base).cast(pl.String)).alias(
            "source_order_id"
        ),
        ("#" + (c("_seq") + opts.first_order_number).cast(pl.String)).alias("order_number"),
        pl.lit(opts.source_label).alias("store"),
        c("channel"),
        _timestamp("created_at", tz),
        c("currency"),
        _money("subtotal"),
        _money("total_discounts"),
        c("discount_codes"),
        _money("shipping"),
        c("shipping_method"),
        _money("total_tax"),
        pl.lit("false").alias("taxes_included"),
        _money("total"),
        c("financial_status"),
        c("fulfillment_status"),
        _timestamp("paid_at", tz),
        _timestamp("cancelled_at", tz),
        pl.when(c("_promise") >= 0).then(promised).alias("promised_delivery_date"),
        c("_note").alias("note"),
        c("c_customer_id").alias("customer_id"),
        email_out.alias("customer_email"),
        phone.alias("customer_phone"),
        pl.when(has_cust).then(c("c_first")).alias("customer_first_name"),
        pl.when(has_cust).then(c("c_last")).alias("customer_last_name"),
        _timestamp("customer_created_at", tz),
        pl.when(addressed).then(full_name).alias("billing_name"),
        billing("address1").alias("billing_address1"),
        billing("address2").alias("billing_address2"),
        billing("city").alias("billing_city"),
        billing("province").alias("billing_province"),
        billing("zip").alias("billing_zip"),
        pl.when(pos)
        .then(c("_country"))
        .when(addressed)
        .then(c("c_country"))
        .alias("billing_country"),
        pl.when(addressed & c("_needs_ship"))
        .then(pl.when(gift).then(recipient).otherwise(full_name))
        .alias("shipping_name"),
        shipping("address1").alias("shipping_address1"),
        shipping("address2").alias("shipping_address2"),
        shipping("city").alias("shipping_city"),
        shipping("province").alias("shipping_province"),
        shipping("zip").alias("shipping_zip"),
        pl.when(addressed & c("_needs_ship")).then(c("c_country")).alias("shipping_country"),
        pl.when(addressed & c("_needs_ship") & ~gift).then(phone).alias("shipping_phone"),
        pl.when(online)
        .then(pl.when(c("_same_ip")).then(c("c_ip")).otherwise(c("_ip")))
        .alias("client_ip"),
        pl.when(online)
        .then(
            pl.when(c("_same_ua"))
            .then(online_ua)
            .otherwise(pl.when(c("_app")).then(c("_app_ua")).otherwise(c("_web_ua")))
        )
        .alias("user_agent"),
        pl.when(online & has_cust)
        .then(pl.when(c("_app")).then(c("c_app_device")).otherwise(c("c_web_device")))
        .when(online)
        .then(c("_web_device"))
        .alias("device_id"),
        pl.when(online)
        .then(pl.when(c("_marketing") != "").then(c("_marketing")))
        .alias("marketing_source"),
        c("_method").alias("payment_method"),
        pl.when(card)
        .then(pl.when(c("_saved_card")).then(c("c_card_token")).otherwise(c("_token")))
        .alias("payment_token"),
        pl.when(card).then(c("_brand")).alias("card_brand"),
        pl.when(card)
        .then(pl.when(c("_saved_card")).then(c("c_card_last4")).otherwise(c("_last4")))
        .alias("card_last4"),
        pl.when(card & c("_show_bin")).then(c("_bin")).alias("card_bin"),
        _money("refunded_amount"),
        _timestamp("refunded_at", tz),
        pl.when(c("shipped_at") >= 0).then(c("carrier")).alias("carrier"),
        pl.when(c("shipped_at") >= 0).then(c("tracking_number")).alias("tracking_number"),
        _timestamp("shipped_at", tz),
        _timestamp("delivered_at", tz),
        pl.when(pos).then(c("_store_name")).otherwise(c("_warehouse")).alias("_location"),
    ]


# --------------------------------------------------------------------------------------------
# Writing order files


@dataclass(frozen=True)
class WriteStats:
    """What :func:`write_generic_orders` wrote."""

    path: Path
    fmt: str
    n_lines: int
    n_orders: int
    n_customers: int
    """Distinct registered customers who placed at least one order."""
    n_bytes: int
    physical_lines: int | None
    """CSV only: lines in the file, header and the extra lines of multi-line notes included."""
    seconds: float


@dataclass(frozen=True, eq=False)
class _Job:
    plan: _Plan
    opts: _Options

    def chunks(self) -> Iterator[_Chunk]:
        for number, lo in enumerate(range(0, self.plan.n_orders, CHUNK_ORDERS)):
            hi = min(lo + CHUNK_ORDERS, self.plan.n_orders)
            yield _chunk(self.plan, self.opts, lo, hi, number)

    @property
    def n_customers(self) -> int:
        c = self.plan.customer
        return len(np.unique(c[(c >= 0) & (c < self.plan.n_registered)]))


def _job(
    n_lines: int,
    seed: int,
    *,
    start: date,
    days: int,
    source_label: str,
    channel_mix: Mapping[str, float] | None,
    country_mix: Mapping[str, float] | None,
    timezone: str,
    catalog: Catalog | None,
    first_order_number: int,
    order_id_prefix: str,
    order_id_base: int,
    repeat_order_fields: bool,
) -> _Job:
    if n_lines < 1:
        raise ValueError("n_lines must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    mix = dict(DEFAULT_CHANNEL_MIX if channel_mix is None else channel_mix)
    unknown = set(mix) - set(_CHANNELS)
    if unknown:
        valid = ", ".join(_CHANNELS)
        raise ValueError(f"unknown channel(s) {sorted(unknown)}; use {valid}")
    if sum(mix.values()) <= 0:
        raise ValueError("channel_mix must give some channel a positive weight")
    countries = dict(DEFAULT_COUNTRY_MIX if country_mix is None else country_mix)
    unknown = set(countries) - set(_COUNTRY_INDEX)
    if unknown:
        raise ValueError(f"unknown country code(s) {sorted(unknown)}; use {list(_COUNTRY_INDEX)}")
    plan = _plan(n_lines, seed, start, days, timezone, mix, countries)
    opts = _Options(
        seed=seed,
        tz=timezone,
        source_label=source_label,
        catalog=catalog if catalog is not None else build_catalog(),
        first_order_number=first_order_number,
        order_id_prefix=order_id_prefix,
        order_id_base=order_id_base,
        repeat_order_fields=repeat_order_fields,
    )
    return _Job(plan, opts)


def _csv_header() -> bytes:
    return (",".join(GENERIC_FIELD_NAMES) + "\n").encode("utf-8")


def _write_records(out: BinaryIO, records: pl.Series) -> None:
    """Write CSV records (already quoted) one per line, each ended by a line feed."""
    records.to_frame("r").write_csv(
        out, include_header=False, quote_style="never", line_terminator="\n"
    )


def _arrow_type(duckdb_type: str) -> pa.DataType:
    if duckdb_type.startswith("DECIMAL"):
        precision, scale = (int(x) for x in re.findall(r"\d+", duckdb_type))
        return pa.decimal128(precision, scale)
    return {
        "VARCHAR": pa.string(),
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
    }[duckdb_type]


PARQUET_SCHEMA = pa.schema([pa.field(f.name, _arrow_type(f.type)) for f in GENERIC_FIELDS])
"""Parquet files are typed as the contract says (timestamps stay text to keep their offset)."""


def _typed(df: pl.DataFrame) -> pa.Table:
    casts: list[pl.Expr] = []
    for f in GENERIC_FIELDS:
        col = pl.col(f.name)
        if f.type.startswith("DECIMAL"):
            dtype = _arrow_type(f.type)
            assert isinstance(dtype, pa.Decimal128Type)
            casts.append(col.cast(pl.Decimal(dtype.precision, dtype.scale)))
        elif f.type == "INTEGER":
            casts.append(col.cast(pl.Int32))
        elif f.type == "BOOLEAN":
            casts.append(col == "true")
        elif f.type == "DATE":
            casts.append(col.str.to_date("%Y-%m-%d"))
        else:
            casts.append(col)
    return df.select(casts).to_arrow().cast(PARQUET_SCHEMA)


def _format_of(path: Path, fmt: str | None) -> Format:
    chosen = fmt or path.suffix.lstrip(".").lower()
    if chosen == "csv":
        return "csv"
    if chosen == "parquet":
        return "parquet"
    raise ValueError(f"format must be csv or parquet, not {chosen!r} (from {path.name})")


def write_generic_orders(
    path: Path,
    n_lines: int,
    seed: int = 7,
    *,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    fmt: Format | None = None,
    source_label: str = "online_store",
    channel_mix: Mapping[str, float] | None = None,
    country_mix: Mapping[str, float] | None = None,
    timezone: str = "America/New_York",
    catalog: Catalog | None = None,
    first_order_number: int = 1001,
    order_id_prefix: str = "",
    order_id_base: int = 7_230_000_000_000,
    repeat_order_fields: bool = True,
) -> WriteStats:
    """Write ``n_lines`` order lines in the generic format to ``path`` (CSV or Parquet).

    Orders are placed over ``days`` days from ``start`` (local days of ``timezone``, the store's
    time zone in which every timestamp is written); statuses are as of the end of that window.
    ``channel_mix`` weighs online_store/marketplace/mobile_app/pos; ``country_mix`` weighs the
    customers' countries (US, CA, GB, DE, FR, NL, JP), which decide each order's currency.
    ``fmt`` defaults to the file's suffix. The same arguments always give the same bytes.
    """
    began = time.perf_counter()
    kind = _format_of(path, fmt)
    job = _job(
        n_lines,
        seed,
        start=start,
        days=days,
        source_label=source_label,
        channel_mix=channel_mix,
        country_mix=country_mix,
        timezone=timezone,
        catalog=catalog,
        first_order_number=first_order_number,
        order_id_prefix=order_id_prefix,
        order_id_base=order_id_base,
        repeat_order_fields=repeat_order_fields,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    physical: int | None = None
    if kind == "csv":
        physical = 1
        with path.open("wb") as out:
            out.write(_csv_header())
            for chunk in job.chunks():
                _write_records(out, chunk.csv_records())
                physical += chunk.physical_lines()
    else:
        with pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd") as writer:
            for chunk in job.chunks():
                writer.write_table(_typed(chunk.frame()))
    return WriteStats(
        path=path,
        fmt=kind,
        n_lines=n_lines,
        n_orders=job.plan.n_orders,
        n_customers=job.n_customers,
        n_bytes=path.stat().st_size,
        physical_lines=physical,
        seconds=round(time.perf_counter() - began, 3),
    )


# --------------------------------------------------------------------------------------------
# Reference files


def _reference_header(stem: str) -> list[str]:
    return next([f.name for f in r.fields] for r in REFERENCE_INPUTS if r.file_stem == stem)


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _decimal_text(minor: int, exponent: int) -> str:
    if exponent == 0:
        return str(minor)
    return f"{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"


def write_reference(
    folder: Path,
    *,
    catalog: Catalog | None = None,
    currencies: Sequence[str] = CURRENCIES,
    end: date = date(2026, 11, 20),
    days: int = 60,
    reporting_currency: str = "USD",
    locations: Sequence[str] = LOCATIONS,
    seed: int = 7,
) -> dict[str, Path]:
    """Write products, inventory, lead_times and fx_rates CSVs for ``catalog`` into ``folder``.

    ``fx_rates.csv`` has a rate for every currency (the reporting one at 1) on each of the
    ``days`` days up to ``end``; the inventory snapshot is as of ``end``. Returns the paths by
    file stem.
    """
    cat = catalog if catalog is not None else build_catalog()
    unknown = set(currencies) - set(USD_PER_UNIT)
    if unknown or reporting_currency not in USD_PER_UNIT:
        raise ValueError(f"currencies must be among {list(USD_PER_UNIT)}")
    rng = np.random.default_rng([seed, 99])
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    selling = [i for i in range(len(cat)) if cat.requires_shipping[i]]

    products = []
    for i in range(len(cat)):
        cur = cat.cost_currencies[i]
        cost = "" if cat.unit_costs[i] < 0 else _decimal_text(int(cat.unit_costs[i]), 2)
        products.append(
            [cat.skus[i], cat.names[i], cat.categories[i], str(cat.pack_sizes[i]), cost, cur]
        )
    paths["products"] = _write_rows(
        folder / "products.csv", _reference_header("products"), products
    )

    inventory = []
    top = float(cat.popularity.max())
    share = {WAREHOUSE_NA: 1.0, WAREHOUSE_EU: 0.5}
    for i in selling:
        demand = 30 + 600 * float(cat.popularity[i]) / top
        for location in locations:
            if rng.random() >= share.get(location, 0.15):
                continue
            scale = 1.0 if location.startswith("Warehouse") else 0.1
            on_hand = 0 if rng.random() < 0.06 else int(rng.poisson(demand * scale))
            pack = int(cat.pack_sizes[i])
            on_order = pack * int(rng.integers(1, 20)) if rng.random() < 0.3 else 0
            inventory.append([cat.skus[i], location, str(on_hand), str(on_order), end.isoformat()])
    paths["inventory"] = _write_rows(
        folder / "inventory.csv", _reference_header("inventory"), inventory
    )

    lead_times = [
        [
            cat.skus[i],
            cat.vendors[i],
            str(_VENDOR_LEAD_DAYS[cat.vendors[i]] + int(rng.integers(-3, 9))),
        ]
        for i in selling
    ]
    paths["lead_times"] = _write_rows(
        folder / "lead_times.csv", _reference_header("lead_times"), lead_times
    )

    first = end - timedelta(days=days - 1)
    walks = {
        c: USD_PER_UNIT[c] * np.exp(np.cumsum(rng.normal(0.0, 0.004, days)))
        if c != "USD"
        else np.ones(days)
        for c in USD_PER_UNIT
    }
    fx = []
    for d in range(days):
        day = (first + timedelta(days=d)).isoformat()
        for c in currencies:
            rate = 1.0 if c == reporting_currency else walks[c][d] / walks[reporting_currency][d]
            fx.append([day, c, f"{rate:.8f}"])
    paths["fx_rates"] = _write_rows(folder / "fx_rates.csv", _reference_header("fx_rates"), fx)
    return paths


# --------------------------------------------------------------------------------------------
# The committed demo sample

DEMO_START = date(2026, 10, 1)
DEMO_DAYS = 31
DEMO_REFERENCE_END = date(2026, 11, 20)
DEMO_REFERENCE_DAYS = 60
DEMO_SKUS = 240


@dataclass(frozen=True)
class Defect:
    """A deliberately broken record of the demo sample."""

    path: Path
    line: int
    """Physical line in the file (header is line 1, a multi-line note counts its lines)."""
    source_order_id: str
    description: str


@dataclass(frozen=True)
class DemoSample:
    files: tuple[Path, ...]
    defects: tuple[Defect, ...]


def _demo_job(n_lines: int, seed: int, **kwargs: object) -> _Job:
    defaults: dict[str, object] = {
        "start": DEMO_START,
        "days": DEMO_DAYS,
        "country_mix": None,
        "timezone": "America/New_York",
        "catalog": build_catalog(),
        "first_order_number": 1001,
        "order_id_prefix": "",
        "order_id_base": 7_230_000_000_000,
        "repeat_order_fields": True,
    }
    defaults.update(kwargs)
    return _job(n_lines, seed, **defaults)  # type: ignore[arg-type]


def write_demo_sample(folder: Path) -> DemoSample:
    """(Re)make the demo landing folder: three sources, reference files and three defects.

    Deterministic: running it twice gives byte-identical files.
    """
    catalog = build_catalog(DEMO_SKUS)
    online_path = folder / "online_store" / "orders_2026-10.csv"
    online = _demo_job(
        300,
        seed=2026_10_1,
        source_label="online_store",
        channel_mix={"online_store": 0.7, "mobile_app": 0.3},
        catalog=catalog,
    )
    chunks = list(online.chunks())
    frame = pl.concat([c.frame() for c in chunks])
    records = pl.concat([c.csv_records() for c in chunks])
    broken = _defect_orders(frame)
    keep = ~frame["source_order_id"].is_in(broken["source_order_id"].implode())
    kept = frame.filter(keep)
    body = bytearray(_csv_header())
    body += ("\n".join(records.filter(keep).to_list()) + "\n").encode("utf-8")
    line = 1 + kept.height + int(kept["note"].str.count_matches("\n").fill_null(0).sum())
    defects: list[Defect] = []
    fields = list(GENERIC_FIELD_NAMES)
    for number, row in enumerate(broken.iter_rows(named=True)):
        one = pl.DataFrame([row], schema=frame.schema)
        if number == 0:
            one = one.with_columns(pl.lit("two").alias("quantity"))
            text = one.select(_csv_record(fields))[0, 0].encode("utf-8")
            what = 'quantity is the word "two" instead of a number'
        elif number == 1:
            short = [f for f in fields if f != "billing_address2"]
            text = one.select(_csv_record(short))[0, 0].encode("utf-8")
            what = (
                f"ragged row: {len(short)} fields instead of {len(fields)} (the empty "
                "billing_address2 field is missing, so every later value shifts left)"
            )
        else:
            product = str(row["product_name"])
            text = one.select(_csv_record(fields))[0, 0].encode("utf-8")
            text = text.replace(product.encode("utf-8"), product.encode("cp1252"), 1)
            what = f"product_name {product!r} is encoded in Windows-1252: invalid UTF-8 bytes"
        body += text + b"\n"
        line += 1
        defects.append(Defect(online_path, line, str(row["source_order_id"]), what))
    online_path.parent.mkdir(parents=True, exist_ok=True)
    online_path.write_bytes(bytes(body))

    market_path = folder / "marketplace" / "orders_2026-10.csv"
    _write_job_csv(
        market_path,
        _demo_job(
            180,
            seed=2026_10_2,
            source_label="marketplace",
            channel_mix={"marketplace": 1.0},
            country_mix={"US": 0.7, "CA": 0.12, "GB": 0.12, "DE": 0.06},
            timezone="UTC",
            catalog=catalog,
            first_order_number=1,
            order_id_prefix="MKT-",
            order_id_base=114_000_000,
            repeat_order_fields=False,
        ),
    )
    pos_path = folder / "pos" / "orders_2026-10.parquet"
    pos = _demo_job(
        240,
        seed=2026_10_3,
        source_label="pos",
        channel_mix={"pos": 1.0},
        catalog=catalog,
        first_order_number=1,
        order_id_prefix="POS-",
        order_id_base=880_000,
    )
    pos_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.concat_tables([_typed(c.frame()) for c in pos.chunks()]), pos_path, compression="zstd"
    )
    references = write_reference(
        folder / "_reference",
        catalog=catalog,
        end=DEMO_REFERENCE_END,
        days=DEMO_REFERENCE_DAYS,
    )
    files = (online_path, market_path, pos_path, *references.values())
    return DemoSample(files=files, defects=tuple(defects))


def _write_job_csv(path: Path, job: _Job) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(_csv_header())
        for chunk in job.chunks():
            _write_records(out, chunk.csv_records())


def _defect_orders(frame: pl.DataFrame) -> pl.DataFrame:
    """The three single-line, paid web orders to break, latest first, in defect order.

    One sold two units (its quantity becomes "two"), one has no billing_address2 (that field
    is dropped), one sold a product whose name has an accent (written in Windows-1252).
    """
    sizes = frame.group_by("source_order_id").len()
    single = sizes.filter(pl.col("len") == 1)["source_order_id"].implode()
    candidates = frame.filter(
        pl.col("source_order_id").is_in(single)
        & (pl.col("channel") == "online_store")
        & (pl.col("financial_status") == "paid")
        & pl.col("note").is_null()
        & pl.col("customer_id").is_not_null()
    ).reverse()
    taken: list[str] = []
    rows: list[pl.DataFrame] = []
    for condition in (
        pl.col("quantity") == "2",
        pl.col("billing_address2").is_null(),
        pl.col("product_name").str.contains("[éèêçñû]"),
    ):
        row = candidates.filter(condition & ~pl.col("source_order_id").is_in(taken)).head(1)
        if row.height != 1:
            raise RuntimeError("the demo orders have no candidate for a deliberate defect")
        taken.append(str(row["source_order_id"][0]))
        rows.append(row)
    return pl.concat(rows)


# --------------------------------------------------------------------------------------------
# CLI


def _mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        mix[name.strip()] = float(weight)
    return mix


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generic_orders",
        description="Write a deterministic generic-format order file (CSV or Parquet).",
    )
    parser.add_argument("out", type=Path, nargs="?", help="file to write (.csv or .parquet)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--format", choices=("csv", "parquet"), default=None)
    parser.add_argument("--source", default="online_store", help="store/source label")
    parser.add_argument(
        "--channel-mix",
        type=_mix,
        default=None,
        help="e.g. online_store=0.6,marketplace=0.2,mobile_app=0.1,pos=0.1",
    )
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--reference", type=Path, help="also write the reference files here")
    parser.add_argument("--demo", type=Path, help="(re)make the demo sample in this folder")
    args = parser.parse_args(argv)
    if args.demo is not None:
        sample = write_demo_sample(args.demo)
        for path in sample.files:
            print(path)
        for d in sample.defects:
            print(f"defect: {d.path}:{d.line} ({d.source_order_id}) {d.description}")
        return 0
    if args.out is None:
        parser.error("give OUT or --demo FOLDER")
    stats = write_generic_orders(
        args.out,
        args.lines,
        args.seed,
        start=args.start,
        days=args.days,
        fmt=args.format,
        source_label=args.source,
        channel_mix=args.channel_mix,
        timezone=args.timezone,
    )
    if args.reference is not None:
        last_day = args.start + timedelta(days=args.days - 1)
        write_reference(args.reference, end=last_day, days=max(args.days, DEMO_REFERENCE_DAYS))
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in stats.__dict__.items()}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
