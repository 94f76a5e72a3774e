"""The product catalogue: one entry per SKU (name, category, vendor, prices, popularity, cost).

Grain: one SKU. Deterministic for ``(n_skus, seed)`` and independent of the orders' seed, so
every file of a landing sells the same products.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from pipelines.generator.world import (
    CATALOG_SEED,
    CURRENCIES,
    CURRENCY_EXPONENT,
    DEFAULT_SKUS,
    USD_PER_UNIT,
)

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
VENDOR_LEAD_DAYS = {
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
