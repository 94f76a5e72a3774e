"""Library-based checks of the entry-accuracy suite: e-mail, phone, country, subdivision,
currency and postal code.

Every check is computed once per DISTINCT value (or distinct tuple of values): the engine
passes the distinct values of a staging column, gets one row per value back and joins it onto
the orders. The per-value functions are memoised with :func:`functools.lru_cache`, so repeated
calls across tables and runs are cheap too.

The two costly checks give the libraries' verdicts faster: plain ASCII e-mail addresses are
decided by a pattern that accepts only what ``email_validator`` accepts (the others go to the
library), and phones are parsed once per distinct (phone, regions), by a pool of forked
processes (one per CPU) for large inputs; those pooled results are not memoised here.

Null results mean "not checked" (blank value, unknown country, no rule for that country): a
rule fires only on an explicit ``False``. Key columns of every returned frame hold the caller's
values unchanged, so a join on them always matches.

Libraries: ``email_validator`` (syntax only, no DNS), ``phonenumbers``, ``pycountry``
(ISO 3166-1, ISO 3166-2, ISO 4217). Pure Python and polars; no network.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import re
import sys
import unicodedata
import warnings
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

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
    "parallel_workers",
    "phone_check",
    "phone_checks",
    "plain_emails_valid",
    "postal_checks",
    "postal_valid",
    "subdivision_checks",
    "subdivision_valid",
]

# phonenumbers keeps its compiled metadata patterns (about a hundred) in a dict of its own
# instead of asking re.compile's cache for each of the ~14 patterns a number meets: the same
# patterns, ~10 % less time per number.
phonenumbers.enable_pattern_cache()

_CACHE_SIZE = 1 << 16
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")
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
    """Whether ``email`` is a syntactically valid address (no DNS); None when blank.

    The plain library call; :func:`email_checks` gives the same verdicts faster."""
    if email is None or _blank(email):
        return None
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


_ATEXT = r"[A-Za-z0-9!#$%\&'*+/=?^_`{|}\~\-]"
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?"
_TOP_LABEL = r"(?:[A-Za-z0-9][A-Za-z0-9\-]{0,61})?[A-Za-z]"
_PLAIN_EMAIL = (
    rf"^(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>(?:{_HOST_LABEL}\.)+{_TOP_LABEL})$"
)
"""A plain ASCII address (Rust regex syntax, for polars): a dot-atom local part and a host
name of two or more labels of at most 63 letters, digits and inner hyphens, the last ending
with a letter."""


def plain_emails_valid(emails: pl.Series) -> pl.Series:
    """True where an e-mail is certainly valid for ``email_validator`` by its plain form
    alone, False where that needs the library (not: where it is invalid).

    True exactly when the value matches :data:`_PLAIN_EMAIL`, is at most 254 characters with a
    local part of at most 64, has no '--' in its domain and its domain (lower-cased) is not
    one of ``email_validator.SPECIAL_USE_DOMAIN_NAMES`` or below one. Such an address takes
    the shortest path through ``validate_email`` (2.x, any module-level defaults): no display
    name, quotes or domain literal; the local part matches its ``DOT_ATOM_TEXT``; UTS-46
    only lower-cases the ASCII domain, which then matches its ``DOT_ATOM_TEXT_HOSTNAME`` with
    no R-LDH or Punycode label ('--'), labels within 63 and the whole within 253 octets, a
    period and a final letter (the 'globally deliverable' tests), no special-use name; the
    address and its normalised forms are within 254 octets; the 64-octet local-part limit
    of ``strict`` mode holds. No whitespace matches, so stripping changes nothing.
    ``tests/quality/test_lookups.py`` checks this against the library.
    """
    from email_validator import SPECIAL_USE_DOMAIN_NAMES

    parts = emails.cast(pl.String).rename("email").to_frame()
    parts = parts.with_columns(pl.col("email").str.extract_groups(_PLAIN_EMAIL).alias("p"))
    local = pl.col("p").struct.field("local")
    domain = pl.col("p").struct.field("domain")
    lower = domain.str.to_lowercase()
    special = pl.lit(False)
    for name in SPECIAL_USE_DOMAIN_NAMES:
        special = special | (lower == name) | lower.str.ends_with("." + name)
    valid = (
        domain.is_not_null()
        & (pl.col("email").str.len_bytes() <= 254)
        & (local.str.len_bytes() <= 64)
        & ~domain.str.contains("--", literal=True)
        & ~special
    )
    return parts.select(valid.fill_null(False).alias("plain")).to_series()


def email_checks(emails: Iterable[str | None]) -> pl.DataFrame:
    """One row per distinct e-mail: ``email`` (as given), ``email_valid`` (null when blank).

    Verdicts are :func:`email_valid`'s; plain addresses (:func:`plain_emails_valid`, nearly
    every real one) are decided without calling the library, the rest by it."""
    series = pl.Series("email", list(dict.fromkeys(emails)), dtype=pl.String)
    plain = plain_emails_valid(series).to_list()
    valid = [
        True if known else email_valid(value)
        for value, known in zip(series.to_list(), plain, strict=True)
    ]
    return pl.DataFrame(
        {"email": series, "email_valid": valid},
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


PARALLEL_MIN = 20_000
"""Distinct (phone, regions) pairs from which :func:`phone_checks` spreads the parsing over
a process per CPU (Linux only): fewer are parsed in this process, the pool's start-up would
cost more than it saves."""
_CHUNK = 4_096


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
    return _phone_verdict(phone, _phone_regions(billing_country, shipping_country))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _phone_regions(billing_country: str | None, shipping_country: str | None) -> tuple[str, ...]:
    """The distinct alpha-2 codes of the two countries that have a numbering plan, in order."""
    codes = (country_code(billing_country), country_code(shipping_country))
    return tuple(
        dict.fromkeys(c for c in codes if c is not None and c in phonenumbers.SUPPORTED_REGIONS)
    )


def _phone_verdict(phone: str | None, regions: tuple[str, ...]) -> tuple[bool | None, str | None]:
    """:func:`phone_check` of ``phone`` for the countries' ``regions``."""
    if phone is None or _blank(phone):
        return None, None
    text = _strip_apostrophe(phone.strip()).strip()
    tried: tuple[str | None, ...] = regions or ((None,) if text.startswith("+") else ())
    if not tried:
        return None, None
    if _SCIENTIFIC.fullmatch(text):
        return False, None
    for region in tried:
        e164 = _e164(text, region)
        if e164 is not None:
            return True, e164
    return False, None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _e164(text: str, region: str | None) -> str | None:
    """E.164 of ``text`` read in ``region`` when it parses to a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _phone_verdicts(
    pairs: list[tuple[str | None, tuple[str, ...]]],
) -> list[tuple[bool | None, str | None]]:
    """:func:`_phone_verdict` of each (phone, regions)."""
    return [_phone_verdict(phone, regions) for phone, regions in pairs]


def parallel_workers() -> int:
    """Processes to parse with: one per usable CPU where a pool can fork (Linux, not in a
    daemonic process, which may have no children), else 1."""
    if not sys.platform.startswith("linux") or multiprocessing.current_process().daemon:
        return 1
    return len(os.sched_getaffinity(0))


_forked_items: list[Any] = []
"""In a forked worker of :func:`_in_chunks`: the items it works on (inherited, not copied)."""


def _keep_forked_items(items: list[Any]) -> None:
    global _forked_items
    _forked_items = items


def _work_on_slice(task: tuple[Callable[[list[Any]], list[Any]], int, int]) -> list[Any]:
    work, start, stop = task
    return work(_forked_items[start:stop])


def _in_chunks(
    work: Callable[[list[_Item]], list[_Result]], items: list[_Item], parallel_min: int
) -> list[_Result]:
    """``work(items)``, on chunks of ``items`` spread over a forked process per CPU when there
    are at least ``parallel_min`` of them; results in the order of ``items`` either way.

    Workers are forked so that they inherit the loaded libraries and ``items`` (nothing is
    imported or pickled on the way in); they run only ``work`` (pure Python), never code of
    the parent's other threads (DuckDB, polars), and leave without running finalisers."""
    workers = parallel_workers()
    if len(items) < parallel_min or workers < 2:
        return work(items)
    tasks = [(work, start, start + _CHUNK) for start in range(0, len(items), _CHUNK)]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
        pool = multiprocessing.get_context("fork").Pool(
            workers, initializer=_keep_forked_items, initargs=(items,)
        )
    with pool:
        parts = pool.map(_work_on_slice, tasks, chunksize=1)
    return [result for part in parts for result in part]


def phone_checks(rows: pl.DataFrame, *, parallel_min: int = PARALLEL_MIN) -> pl.DataFrame:
    """One row per distinct (``phone``, ``billing_country``, ``shipping_country``) with
    ``phone_valid`` (null when not checked) and ``e164`` (null unless valid).

    Verdicts are :func:`phone_check`'s, computed once per distinct phone and set of regions
    the two countries give (('x', 'US', 'US') and ('x', 'US', null) share one), in a pool of
    processes from ``parallel_min`` such pairs on."""
    keys = ["phone", "billing_country", "shipping_country"]
    columns = rows.select(pl.col(keys).cast(pl.String))
    phones: list[str | None] = []
    billings: list[str | None] = []
    shippings: list[str | None] = []
    pairs: dict[tuple[str | None, tuple[str, ...]], int] = {}
    pair_of_row: list[int] = []
    for phone, billing, shipping in dict.fromkeys(
        zip(*(columns[key].to_list() for key in keys), strict=True)
    ):
        phones.append(phone)
        billings.append(billing)
        shippings.append(shipping)
        pair = (phone, _phone_regions(billing, shipping))
        pair_of_row.append(pairs.setdefault(pair, len(pairs)))
    verdicts = _in_chunks(_phone_verdicts, list(pairs), parallel_min)
    return pl.DataFrame(
        {
            "phone": phones,
            "billing_country": billings,
            "shipping_country": shippings,
            "phone_valid": [verdicts[i][0] for i in pair_of_row],
            "e164": [verdicts[i][1] for i in pair_of_row],
        },
        schema={**dict.fromkeys(keys, pl.String), "phone_valid": pl.Boolean, "e164": pl.String},
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
