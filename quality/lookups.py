"""Library-based checks of the entry-accuracy suite: e-mail, phone, country, subdivision,
currency and postal code.

Every check is computed once per DISTINCT value (or distinct tuple of values): the engine
passes the distinct values of a staging column, gets one row per value back and joins it onto
the orders. The per-value functions are memoised with :func:`functools.lru_cache`, so repeated
calls across tables and runs are cheap too.

Null results mean "not checked" (blank value, unknown country, no rule for that country): a
rule fires only on an explicit ``False``. Key columns of every returned frame hold the caller's
values unchanged, so a join on them always matches.

Libraries: ``email_validator`` (syntax only, no DNS), ``phonenumbers``, ``pycountry``
(ISO 3166-1, ISO 3166-2, ISO 4217). Pure Python and polars; no network.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

import phonenumbers
import polars as pl
import pycountry
from email_validator import EmailNotValidError, validate_email

__all__ = [
    "JP_PREFECTURES",
    "POSTAL_PATTERNS",
    "country_checks",
    "country_code",
    "currency_checks",
    "currency_exponent",
    "currency_valid",
    "email_checks",
    "email_valid",
    "minor_unit",
    "normalise_postal_code",
    "phone_check",
    "phone_checks",
    "postal_checks",
    "postal_valid",
    "subdivision_checks",
    "subdivision_valid",
]

_CACHE_SIZE = 1 << 16
MINOR_UNIT_DTYPE = pl.Decimal(precision=10, scale=3)
"""Type of the ``minor_unit`` column: exact, three decimals (the largest ISO 4217 exponent we
use)."""


# --------------------------------------------------------------------------------------------
# Text helpers


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _strip_apostrophe(text: str) -> str:
    """``text`` without ONE leading apostrophe (a spreadsheet's "keep as text" marker)."""
    return text[1:] if text.startswith("'") else text


_FOLD_LETTERS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "\u0131": "i"})


def _fold(text: str) -> str:
    """Case-, accent- and punctuation-insensitive form of a name.

    'Côte-d'Or' -> 'cote d or', 'Tôkyô' -> 'tokyo', 'Durham, County' -> 'durham county'.
    Letters of every script are kept ('東京都' stays '東京都').
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD_LETTERS))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[\W_]+", " ", bare).split())


def _name_forms(name: str) -> set[str]:
    """Folded forms under which ISO lists ``name``, with its alternatives spelt out.

    'Wrexham [Wrecsam GB-WRC]' -> wrexham, wrecsam; 'Guyane (française)' -> guyane,
    guyane francaise; 'Bristol, City of' -> bristol, city of bristol.
    """
    forms = {name}
    bracket = re.fullmatch(r"(.*?)\s*\[(.*)\]\s*", name)
    if bracket:
        alternative = re.sub(r"\s+[A-Z]{2}-[A-Z0-9]+$", "", bracket[2])
        forms |= {bracket[1], alternative}
    for form in list(forms):
        paren = re.fullmatch(r"(.*?)\s*\((.*)\)\s*(.*)", form)
        if paren:
            forms |= {f"{paren[1]} {paren[3]}", f"{paren[1]} {paren[2]} {paren[3]}"}
    for form in list(forms):
        comma = re.fullmatch(r"([^,]+),\s*([^,]+)", form)
        if comma:
            forms |= {comma[1], f"{comma[2]} {comma[1]}"}
    return {_fold(form) for form in forms} - {""}


# --------------------------------------------------------------------------------------------
# E-mail


@functools.lru_cache(maxsize=_CACHE_SIZE)
def email_valid(email: str | None) -> bool | None:
    """Whether ``email`` is a syntactically valid address (no DNS); None when blank."""
    if email is None or _blank(email):
        return None
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def email_checks(emails: Iterable[str | None]) -> pl.DataFrame:
    """One row per distinct e-mail: ``email`` (as given), ``email_valid`` (null when blank)."""
    values = list(dict.fromkeys(emails))
    return pl.DataFrame(
        {"email": values, "email_valid": [email_valid(v) for v in values]},
        schema={"email": pl.String, "email_valid": pl.Boolean},
    )


# --------------------------------------------------------------------------------------------
# Country

_COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB",
    "u k": "GB",
    "great britain": "GB",
    "britain": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "northern ireland": "GB",
    "u s": "US",
    "u s a": "US",
    "america": "US",
    "united states of america": "US",
    "russia": "RU",
    "holland": "NL",
    "the netherlands": "NL",
    "turkey": "TR",
    "macau": "MO",
    "ivory coast": "CI",
    "brunei": "BN",
    "cape verde": "CV",
    "palestine": "PS",
    "vatican": "VA",
    "vatican city": "VA",
    "micronesia": "FM",
    "swaziland": "SZ",
    "burma": "MM",
    "macedonia": "MK",
    "east timor": "TL",
    "the bahamas": "BS",
    "the gambia": "GM",
    "dr congo": "CD",
    "democratic republic of the congo": "CD",
    "republic of the congo": "CG",
    "republic of ireland": "IE",
    "uae": "AE",
}
"""Common English names (folded) that ISO 3166 / pycountry does not list."""


@functools.cache
def _country_names() -> dict[str, str]:
    """Folded country name -> alpha-2: ISO names first, then unambiguous alternative forms."""
    exact: dict[str, str] = {}
    variants: dict[str, set[str]] = {}
    for country in pycountry.countries:
        fields = country._fields
        for key in ("name", "official_name", "common_name"):
            name = fields.get(key)
            if not name:
                continue
            exact.setdefault(_fold(name), country.alpha_2)
            for form in _name_forms(name):
                variants.setdefault(form, set()).add(country.alpha_2)
    names = dict(_COUNTRY_ALIASES)
    names.update({form: next(iter(codes)) for form, codes in variants.items() if len(codes) == 1})
    names.update(exact)
    return names


@functools.lru_cache(maxsize=_CACHE_SIZE)
def country_code(value: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of an alpha-2, alpha-3 or English name; None when unknown.

    Case-insensitive ('deu', 'Germany', 'GERMANY' -> 'DE'); names are also accent- and
    punctuation-insensitive and include common names ('UK', 'Russia', "Cote d'Ivoire").
    Numeric codes ('276') are not accepted.
    """
    if value is None or _blank(value):
        return None
    text = value.strip()
    if text.isdigit():
        return None
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        return _country_names().get(_fold(text))


def country_checks(values: Iterable[str | None]) -> pl.DataFrame:
    """One row per distinct country value: ``country`` (as given), ``country_code``
    (alpha-2 or null) and ``country_valid`` (null when blank)."""
    countries = list(dict.fromkeys(values))
    codes = [country_code(v) for v in countries]
    valid = [
        None if v is None or _blank(v) else c is not None
        for v, c in zip(countries, codes, strict=True)
    ]
    return pl.DataFrame(
        {"country": countries, "country_code": codes, "country_valid": valid},
        schema={"country": pl.String, "country_code": pl.String, "country_valid": pl.Boolean},
    )


# --------------------------------------------------------------------------------------------
# Phone

_SCIENTIFIC = re.compile(r"[+-]?\d+(?:[.,]\d*)?E[+-]?\d+", re.IGNORECASE)
"""A number a spreadsheet turned into scientific notation ('4.47911E+11'): digits are lost."""


@functools.lru_cache(maxsize=_CACHE_SIZE)
def phone_check(
    phone: str | None, billing_country: str | None, shipping_country: str | None
) -> tuple[bool | None, str | None]:
    """(valid, E.164) of ``phone`` for the billing OR the shipping country.

    Valid when the number parses and :func:`phonenumbers.is_valid_number` holds for either
    country (a number written with '+' is read in its own country code). When neither country
    is a known ISO country with a numbering plan, only numbers starting with '+' are checked;
    others give (None, None). One leading apostrophe is stripped; scientific notation is
    invalid. E.164 is given for valid numbers only.
    """
    if phone is None or _blank(phone):
        return None, None
    text = _strip_apostrophe(phone.strip()).strip()
    codes = (country_code(billing_country), country_code(shipping_country))
    regions: tuple[str | None, ...] = tuple(
        dict.fromkeys(c for c in codes if c is not None and c in phonenumbers.SUPPORTED_REGIONS)
    )
    if not regions:
        if not text.startswith("+"):
            return None, None
        regions = (None,)
    if _SCIENTIFIC.fullmatch(text):
        return False, None
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return False, None


def phone_checks(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct (``phone``, ``billing_country``, ``shipping_country``) with
    ``phone_valid`` (null when not checked) and ``e164`` (null unless valid)."""
    keys = ["phone", "billing_country", "shipping_country"]
    distinct = rows.select(pl.col(keys).cast(pl.String)).unique(maintain_order=True)
    results = [phone_check(*row) for row in distinct.iter_rows()]
    return distinct.with_columns(
        pl.Series("phone_valid", [valid for valid, _ in results], dtype=pl.Boolean),
        pl.Series("e164", [e164 for _, e164 in results], dtype=pl.String),
    )


# --------------------------------------------------------------------------------------------
# Subdivision (state, province, county, prefecture)

JP_PREFECTURES: dict[str, str] = {
    "北海道": "JP-01",
    "青森県": "JP-02",
    "岩手県": "JP-03",
    "宮城県": "JP-04",
    "秋田県": "JP-05",
    "山形県": "JP-06",
    "福島県": "JP-07",
    "茨城県": "JP-08",
    "栃木県": "JP-09",
    "群馬県": "JP-10",
    "埼玉県": "JP-11",
    "千葉県": "JP-12",
    "東京都": "JP-13",
    "神奈川県": "JP-14",
    "新潟県": "JP-15",
    "富山県": "JP-16",
    "石川県": "JP-17",
    "福井県": "JP-18",
    "山梨県": "JP-19",
    "長野県": "JP-20",
    "岐阜県": "JP-21",
    "静岡県": "JP-22",
    "愛知県": "JP-23",
    "三重県": "JP-24",
    "滋賀県": "JP-25",
    "京都府": "JP-26",
    "大阪府": "JP-27",
    "兵庫県": "JP-28",
    "奈良県": "JP-29",
    "和歌山県": "JP-30",
    "鳥取県": "JP-31",
    "島根県": "JP-32",
    "岡山県": "JP-33",
    "広島県": "JP-34",
    "山口県": "JP-35",
    "徳島県": "JP-36",
    "香川県": "JP-37",
    "愛媛県": "JP-38",
    "高知県": "JP-39",
    "福岡県": "JP-40",
    "佐賀県": "JP-41",
    "長崎県": "JP-42",
    "熊本県": "JP-43",
    "大分県": "JP-44",
    "宮崎県": "JP-45",
    "鹿児島県": "JP-46",
    "沖縄県": "JP-47",
}
"""The 47 prefectures in Japanese script -> ISO 3166-2 code (pycountry has romanised names only).
The name without its 都/府/県 suffix ('東京', '大阪') is accepted too."""

_UK_COUNTIES: tuple[str, ...] = (
    # ceremonial counties of England
    "Bedfordshire", "Berkshire", "Bristol", "Buckinghamshire", "Cambridgeshire", "Cheshire",
    "City of London", "Cornwall", "Cumbria", "Derbyshire", "Devon", "Dorset", "Durham",
    "East Riding of Yorkshire", "East Sussex", "Essex", "Gloucestershire", "Greater London",
    "Greater Manchester", "Hampshire", "Herefordshire", "Hertfordshire", "Isle of Wight", "Kent",
    "Lancashire", "Leicestershire", "Lincolnshire", "Merseyside", "Norfolk", "North Yorkshire",
    "Northamptonshire", "Northumberland", "Nottinghamshire", "Oxfordshire", "Rutland",
    "Shropshire", "Somerset", "South Yorkshire", "Staffordshire", "Suffolk", "Surrey",
    "Tyne and Wear", "Warwickshire", "West Midlands", "West Sussex", "West Yorkshire",
    "Wiltshire", "Worcestershire",
    # former and postal counties still written in addresses
    "Avon", "Cleveland", "Humberside", "Middlesex", "Cumberland", "Westmorland",
    "Huntingdonshire", "Yorkshire", "Sussex",
    # Wales: preserved and historic counties
    "Clwyd", "Dyfed", "Gwent", "Gwynedd", "Mid Glamorgan", "Powys", "South Glamorgan",
    "West Glamorgan", "Glamorgan", "Anglesey", "Brecknockshire", "Breconshire",
    "Caernarfonshire", "Caernarvonshire", "Cardiganshire", "Carmarthenshire", "Denbighshire",
    "Flintshire", "Merionethshire", "Monmouthshire", "Montgomeryshire", "Pembrokeshire",
    "Radnorshire",
    # Northern Ireland: the six traditional counties (Londonderry also written Derry)
    "Antrim", "Armagh", "Down", "Fermanagh", "Tyrone", "Londonderry", "Derry",
    "Derry and Londonderry",
)  # fmt: skip
"""Counties of the UK used in postal addresses that ISO 3166-2:GB (unitary authorities,
districts, council areas) does not list."""

_EXTRA_SUBDIVISIONS: dict[str, tuple[str, ...]] = {
    # USPS codes outside ISO 3166-2:US: armed forces, freely associated states (US ZIP codes)
    "US": ("AA", "AE", "AP", "FM", "MH", "PW"),
    "GB": _UK_COUNTIES,
    "NL": ("Friesland",),
    "JP": (*JP_PREFECTURES, *(name[:-1] for name in JP_PREFECTURES if name != "北海道")),
    # South Africa's former ISO codes, still Shopify's province codes (Gauteng, KwaZulu-Natal)
    "ZA": ("GT", "NL"),
}
"""Accepted province forms that pycountry does not list, per alpha-2 country."""

_SUBDIVISION_PREFIXES: dict[str, tuple[str, ...]] = {"GB": ("county ", "co ")}
_SUBDIVISION_SUFFIXES: dict[str, tuple[str, ...]] = {
    "JP": (" prefecture", " ken", " fu", " to"),
}
"""Affixes (folded) dropped from a province before matching: 'County Durham', 'Tokyo-to'."""


@functools.cache
def _subdivision_forms(alpha_2: str) -> frozenset[str]:
    """Folded codes (with and without 'CC-') and names of a country's subdivisions; empty when
    pycountry has none."""
    subdivisions = pycountry.subdivisions.get(country_code=alpha_2) or []
    if not subdivisions:
        return frozenset()
    forms: set[str] = set()
    for subdivision in subdivisions:
        code: str = subdivision.code
        forms |= {_fold(code), _fold(code.split("-", 1)[1])}
        forms |= _name_forms(subdivision.name)
    for extra in _EXTRA_SUBDIVISIONS.get(alpha_2, ()):
        forms |= _name_forms(extra)
    return frozenset(forms)


def _province_forms(alpha_2: str, province: str) -> set[str]:
    folded = _fold(province)
    forms = {folded}
    for prefix in _SUBDIVISION_PREFIXES.get(alpha_2, ()):
        if folded.startswith(prefix):
            forms.add(folded.removeprefix(prefix))
    for suffix in _SUBDIVISION_SUFFIXES.get(alpha_2, ()):
        if folded.endswith(suffix):
            forms.add(folded.removesuffix(suffix))
    return forms


@functools.lru_cache(maxsize=_CACHE_SIZE)
def subdivision_valid(country: str | None, province: str | None) -> bool | None:
    """Whether ``province`` is a subdivision of ``country``; None when not checkable.

    Not checkable: blank province, unknown country, or a country without subdivisions in
    pycountry. Valid: an ISO 3166-2 code with or without its 'CC-' prefix ('CA', 'US-CA'), or a
    name, case-, accent- and punctuation-insensitive ('Québec', 'Tôkyô'/'Tokyo', 'Côte d'Or'),
    including the alternative forms ISO gives in brackets or parentheses, and a few forms
    pycountry lacks (Japanese-script prefectures, UK counties, USPS codes).
    """
    if province is None or _blank(province):
        return None
    alpha_2 = country_code(country)
    if alpha_2 is None:
        return None
    forms = _subdivision_forms(alpha_2)
    if not forms:
        return None
    return not forms.isdisjoint(_province_forms(alpha_2, province))


def subdivision_checks(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct (``country``, ``province``) with ``subdivision_valid`` (null when
    not checkable)."""
    distinct = rows.select(pl.col(["country", "province"]).cast(pl.String)).unique(
        maintain_order=True
    )
    valid = [subdivision_valid(c, p) for c, p in distinct.iter_rows()]
    return distinct.with_columns(pl.Series("subdivision_valid", valid, dtype=pl.Boolean))


# --------------------------------------------------------------------------------------------
# Currency

_EXPONENT_0 = frozenset(
    {"JPY", "KRW", "CLP", "ISK", "VND", "UGX", "XOF", "XAF"}
    | {"PYG", "RWF", "KMF", "GNF", "DJF", "VUV", "XPF", "BIF"}
)
_EXPONENT_3 = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})


def _currency_key(currency: str) -> str:
    return currency.strip().upper()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def currency_valid(currency: str | None) -> bool | None:
    """Whether ``currency`` is an ISO 4217 alphabetic code (case-insensitive, trimmed);
    None when blank."""
    if currency is None or _blank(currency):
        return None
    return pycountry.currencies.get(alpha_3=_currency_key(currency)) is not None


def currency_exponent(currency: str) -> int:
    """Decimal places of ``currency``'s minor unit: 0 (JPY...), 3 (BHD...), else 2."""
    key = _currency_key(currency)
    if key in _EXPONENT_0:
        return 0
    if key in _EXPONENT_3:
        return 3
    return 2


def minor_unit(currency: str) -> Decimal:
    """10 ** -exponent: Decimal('1') for JPY, Decimal('0.01') for USD, Decimal('0.001') for
    BHD (unknown codes get the default 0.01)."""
    return Decimal(1).scaleb(-currency_exponent(currency))


def currency_checks(values: Iterable[str | None]) -> pl.DataFrame:
    """One row per distinct currency: ``currency`` (as given), ``currency_valid`` (null when
    blank) and ``minor_unit`` (Decimal, null when blank; 0.01 for unknown codes)."""
    currencies = list(dict.fromkeys(values))
    units = [None if c is None or _blank(c) else minor_unit(c) for c in currencies]
    return pl.DataFrame(
        {
            "currency": currencies,
            "currency_valid": [currency_valid(c) for c in currencies],
            "minor_unit": units,
        },
        schema={
            "currency": pl.String,
            "currency_valid": pl.Boolean,
            "minor_unit": MINOR_UNIT_DTYPE,
        },
    )


# --------------------------------------------------------------------------------------------
# Postal code

_CA_LETTER = "[ABCEGHJ-NPRSTV-Z]"
POSTAL_PATTERNS: dict[str, str] = {
    "US": r"\d{5}(?:-\d{4})?",
    "CA": rf"[ABCEGHJ-NPRSTVXY]\d{_CA_LETTER} ?\d{_CA_LETTER}\d",
    "GB": (
        r"GIR ?0AA|[A-PR-UWYZ](?:\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRV-Y])"
        r" ?\d[ABD-HJLNP-UW-Z]{2}"
    ),
    "DE": r"\d{5}",
    "FR": r"\d{5}",
    "NL": r"[1-9]\d{3} ?[A-Z]{2}",
    "JP": r"\d{3}-?\d{4}",
    # A CEP, or its 5-digit prefix: marketplaces (Olist) publish only the prefix.
    "BR": r"\d{5}(?:-?\d{3})?",
    "IN": r"[1-9]\d{2} ?\d{3}",
    "PK": r"\d{5}",
    "BD": r"\d{4}",
    "ZA": r"\d{4}",
    "AU": r"\d{4}",
    "ES": r"(?:0[1-9]|[1-4]\d|5[0-2])\d{3}",
    "IT": r"\d{5}",
    "BE": r"[1-9]\d{3}",
    "AT": r"[1-9]\d{3}",
    "CH": r"[1-9]\d{3}",
    "SE": r"[1-9]\d{2} ?\d{2}",
    "DK": r"\d{4}",
    "NO": r"\d{4}",
    "PL": r"\d{2}-\d{3}",
    "PT": r"[1-9]\d{3}-\d{3}",
    "IE": r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4}",
    "MX": r"\d{5}",
    "NZ": r"\d{4}",
    "SG": r"\d{6}",
}
"""Alpha-2 country -> postal code regex (to be FULL-matched, on the normalised value; plain
syntax, no look-arounds, so DuckDB's ``regexp_full_match`` accepts them too)."""

_POSTAL_REGEX: dict[str, re.Pattern[str]] = {
    code: re.compile(pattern) for code, pattern in POSTAL_PATTERNS.items()
}


def normalise_postal_code(value: str) -> str:
    """Trimmed, ONE leading apostrophe removed, upper-cased: "'07030" -> '07030'."""
    return _strip_apostrophe(value.strip()).upper()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def postal_valid(country: str | None, zip_code: str | None) -> bool | None:
    """Whether ``zip_code`` has the postal code shape of ``country``; None when blank zip,
    unknown country or no pattern for it."""
    if zip_code is None or _blank(zip_code):
        return None
    alpha_2 = country_code(country)
    regex = _POSTAL_REGEX.get(alpha_2) if alpha_2 is not None else None
    if regex is None:
        return None
    return regex.fullmatch(normalise_postal_code(zip_code)) is not None


def postal_checks(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per distinct (``country``, ``zip``) with ``postal_valid`` (null when blank zip,
    unknown country or no pattern)."""
    distinct = rows.select(pl.col(["country", "zip"]).cast(pl.String)).unique(maintain_order=True)
    valid = [postal_valid(c, z) for c, z in distinct.iter_rows()]
    return distinct.with_columns(pl.Series("postal_valid", valid, dtype=pl.Boolean))
