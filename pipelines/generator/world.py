"""The merchant's world: currencies, countries, carriers, shops and fixed vocabularies.

Constants only (no randomness). Every generated order draws its country, currency, carrier,
statuses, payment method, user agent and note from here; :mod:`pipelines.generator.catalog`
holds the products.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

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
    timezone: str = ""
    """IANA time zone of the till's clock ('' = the file's time zone)."""


POS_STORES: tuple[PosStore, ...] = (
    PosStore("NYC Flagship", "US", 0.08875),
    PosStore("Brooklyn", "US", 0.08875),
    PosStore("Toronto Queen St", "CA", 0.13),
)
LOCATIONS: tuple[str, ...] = (WAREHOUSE_NA, WAREHOUSE_EU, *(s.name for s in POS_STORES))
"""Every ``fulfillment_location`` the writer uses; ``inventory.csv`` has rows for them."""

MERCHANT_POS_STORES: tuple[PosStore, ...] = (
    PosStore("NYC Flagship", "US", 0.08875, "America/New_York"),
    PosStore("Brooklyn", "US", 0.08875, "America/New_York"),
    PosStore("Toronto Queen St", "CA", 0.13, "America/Toronto"),
    PosStore("Amsterdam Jordaan", "NL", 0.21, "Europe/Amsterdam"),
)
"""The shops of :func:`pipelines.generator.merchant.generate_merchant`: each till writes
times in its own time zone (Amsterdam sells in EUR)."""
MERCHANT_LOCATIONS: tuple[str, ...] = (
    WAREHOUSE_NA,
    WAREHOUSE_EU,
    *(s.name for s in MERCHANT_POS_STORES),
)


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


US_AREAS = ("212", "646", "718", "415", "510", "312", "773", "617", "206", "512", "213", "305")
# fmt: off
COUNTRIES: tuple[_Country, ...] = (
    _Country(
        "US", "en_US", "USD", "1", True, US_AREAS, 10, 0.06,
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
COUNTRY_INDEX = {c.code: i for i, c in enumerate(COUNTRIES)}

IP_BLOCKS: dict[str, tuple[int, ...]] = {
    "US": (24, 50, 67, 71, 73, 76, 98, 99, 104, 108, 174),
    "CA": (70, 142, 184),
    "GB": (82, 86, 90),
    "DE": (84, 91, 217),
    "FR": (88, 92, 109),
    "NL": (145, 188, 212),
    "JP": (60, 126, 203),
    # Countries none of the merchant's customers live in: where most fraud rings (and a few
    # travellers and VPN users) connect from.
    "NG": (41, 105, 197),
    "VN": (14, 113),
    "RU": (5, 95, 178),
    "BR": (177, 179, 187),
    "ID": (36, 114),
}
"""IPv4 address space per country, as first octets (each a /8 block). Synthetic, loosely after
the regional registries; :func:`~pipelines.generator.reference.write_ip_ranges` writes it as
the ``ip_ranges.csv`` reference input, so every generated address has a country. The
customer countries come first, in :data:`COUNTRIES` order."""
IP_COUNTRIES: tuple[str, ...] = tuple(IP_BLOCKS)
IP_COUNTRY_INDEX = {code: i for i, code in enumerate(IP_COUNTRIES)}
CUSTOMER_IP_COUNTRIES = len(COUNTRIES)
"""``IP_COUNTRIES[:CUSTOMER_IP_COUNTRIES]`` are the customer countries (same order as
:data:`COUNTRIES`); the rest are countries of no customer."""
LEGACY_IP_FIRST_OCTETS: tuple[int, ...] = (
    24, 50, 67, 71, 73, 76, 82, 86, 90, 92, 98, 99, 104, 108, 109, 126, 174, 184, 188, 203, 212,
    217,
)  # fmt: skip
"""First octets of the single-file writer's addresses (drawn whatever the customer's country,
as the committed sample has them); every one is in a block of :data:`IP_BLOCKS`."""
CURRENCY_INDEX = {c: i for i, c in enumerate(CURRENCIES)}

VALID_PHONE_PREFIXES: dict[str, tuple[str, ...]] = {
    "GB": ("74", "75", "78", *(f"77{d}" for d in range(1, 10)), *(f"79{d}" for d in range(2, 10))),
    "DE": ("160", "170", "171", "172", "176", "178"),
    "FR": ("60", "61", "62", "64", "65", "66", "67", "68", "73", "75", "76", "77", "78", "79"),
    "NL": ("61", "62", "63", "64", "65", "68"),
    "JP": ("80", *(f"90{d}" for d in range(1, 10)), *(f"70{d}" for d in range(1, 10))),
}
"""Mobile prefixes of the merchant's customers (``make_customers(valid_contacts=True)``):
every number starting with one, at the country's length, is a valid number (libphonenumber).
``_Country.phone_prefixes`` also hold unassigned ranges (GB 7700, DE 151 at ten digits, FR
69x/70x-72x, NL 60x/67x/69x, JP 700/900); the single-file writer keeps them, so the committed
sample stays as it is. US and Canadian numbers are valid as drawn."""

# carrier: (tracking prefix, random digits, suffix). No tracking number is 13-19 bare digits
# starting with 2-6, so none can be mistaken for a card number.
CARRIERS: dict[str, tuple[str, int, str]] = {
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
CARRIER_NAMES = tuple(CARRIERS)

FREE_SHIPPING_FROM = {"USD": 7500, "EUR": 7000, "GBP": 6000, "CAD": 10000, "JPY": 8000}
SHIPPING_RATES = {  # (standard, express) in minor units
    "USD": (795, 1995),
    "EUR": (695, 1695),
    "GBP": (495, 1295),
    "CAD": (1295, 2495),
    "JPY": (800, 2000),
}
DISCOUNT_CODES = (("WELCOME10", 0.10), ("FALL15", 0.15), ("VIP20", 0.20), ("FRIENDS10", 0.10))
MERCHANT_STANDING_CODES = (
    ("WELCOME10", 0.10),
    ("THANKS15", 0.15),
    ("VIP20", 0.20),
    ("FRIENDS10", 0.10),
)
"""Codes valid all year at the merchant (the single-file writer's FALL15 is seasonal)."""

DISPOSABLE_DOMAINS: tuple[str, ...] = (
    "mailinator.com", "guerrillamail.com", "yopmail.com", "10minutemail.com", "temp-mail.org",
    "sharklasers.com", "maildrop.cc", "trashmail.com",
)  # fmt: skip
"""Throw-away address providers (fraudulent accounts, and a few privacy-minded customers)."""
FREE_WEBMAIL: tuple[str, ...] = (
    "gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "mail.com", "proton.me",
)  # fmt: skip
"""Free webmail a fraudulent account opens an address at when not a throw-away one."""

WEB_USER_AGENTS = (
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
APP_USER_AGENTS = (
    "OrderLensShop/5.12.0 (iPhone; iOS 18.1; Scale/3.00)",
    "OrderLensShop/5.12.0 (Android 15; Pixel 8)",
    "OrderLensShop/5.11.2 (iPhone; iOS 17.6; Scale/3.00)",
    "OrderLensShop/5.11.2 (Android 14; SM-S921B)",
)
MARKETING_SOURCES = (
    ("google / cpc", 0.22),
    ("google / organic", 0.18),
    ("instagram / social", 0.12),
    ("facebook / paid_social", 0.08),
    ("newsletter / email", 0.12),
    ("tiktok / social", 0.05),
    ("direct", 0.13),
    ("", 0.10),
)
NOTES = (
    "Please leave the parcel with the concierge.",
    "Gift - please don't include the invoice",
    'Ring twice, the "back door" bell is broken',
    "Please leave at the back door.\nGate code 4411",
    "Deliver after 5pm please, nobody home before",
    "Birthday present!\nCould you add a small card saying: Happy 30th, Sam",
    "Same address as last time",
    "Leave with neighbour at no. 12 if I'm out.\nThanks!",
)
CARD_BRANDS = (("visa", 0.55, ("4",)), ("mastercard", 0.3, ("51", "52", "53", "54", "55")),
                ("amex", 0.1, ("34", "37")), ("discover", 0.05, ("6011",)))  # fmt: skip

FINANCIAL = (
    ("paid", 0.85),
    ("pending", 0.03),
    ("authorized", 0.03),
    ("partially_refunded", 0.03),
    ("refunded", 0.04),
    ("voided", 0.02),
)

FINANCIAL_NAMES = tuple(s for s, _ in FINANCIAL)
PAID, PENDING, AUTHORIZED, PARTIALLY_REFUNDED, REFUNDED, VOIDED = range(6)
FULFILLMENT_NAMES = ("unfulfilled", "partial", "fulfilled", "delivered")
UNFULFILLED, PARTIAL, FULFILLED, DELIVERED = range(4)
PAYMENT_NAMES = ("card", "paypal", "voucher", "bank_transfer", "marketplace", "cash")
CARD, PAYPAL, VOUCHER, BANK, MARKET_PAY, CASH = range(6)
SHIPPING_METHODS = ("Standard", "Express", "Free Shipping", "Expedited")
STANDARD, EXPRESS, FREE, EXPEDITED = range(4)
DISCOUNT_CODE_TEXT = (
    *(c for c, _ in DISCOUNT_CODES),
    *(f"{c};FREESHIP" for c, _ in DISCOUNT_CODES),
    "FREESHIP",
)

CHANNELS: tuple[str, ...] = ("online_store", "marketplace", "mobile_app", "pos")
POS = CHANNELS.index("pos")
WEB = CHANNELS.index("online_store")
APP = CHANNELS.index("mobile_app")
MARKETPLACE = CHANNELS.index("marketplace")
