"""The library-based checks of the entry-accuracy suite (quality.lookups).

Edge cases per check, one row per distinct value, and coverage of what the data generator
writes: a clean generated order must pass every check (the generator's own pools are imported,
not copied).
"""

from __future__ import annotations

import csv
import re
import string
from datetime import date
from decimal import Decimal

import phonenumbers
import polars as pl
import pycountry
import pytest
from email_validator import EmailNotValidError, validate_email
from faker import Faker
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.generator import InjectorSpec, generate_merchant
from pipelines.generator.defects_fields import FIELD_DEFECTS
from pipelines.generator.pools import faker_pools
from pipelines.generator.world import COUNTRIES, COUNTRY_INDEX
from quality import lookups
from quality.lookups import (
    JP_PREFECTURES,
    POSTAL_PATTERNS,
    country_checks,
    country_code,
    currency_checks,
    email_checks,
    normalise_postal_code,
    phone_check,
    phone_checks,
    plain_emails_valid,
    postal_checks,
    postal_valid,
    subdivision_checks,
    subdivision_valid,
)
from tests.conftest import SHARED_DATA

# --------------------------------------------------------------------------------------------
# E-mail

VALID_EMAILS = [
    "jane.doe@example.com",
    "JANE.DOE@EXAMPLE.COM",
    "  padded@example.com  ",
    "o'brien+orders@example.ie",
    "user@münchen.de",
    "first.last@mail.example.co.uk",
]
INVALID_EMAILS = [
    "jane.doe@",
    "@example.com",
    "jane..doe@example.com",
    "jane doe@example.com",
    "jane@localhost",
    "jane@@example.com",
    "jane@example..com",
    "jane@test.test",
]


@pytest.mark.parametrize("email", VALID_EMAILS)
def test_valid_emails(email: str) -> None:
    assert email_checks([email]).row(0) == (email, True)


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_invalid_emails(email: str) -> None:
    assert email_checks([email]).row(0) == (email, False)


def test_email_checks_one_row_per_distinct_value_and_null_when_blank() -> None:
    frame = email_checks(["a@example.com", None, "", "   ", "a@example.com", "nope"])
    assert frame.schema == pl.Schema({"email": pl.String, "email_valid": pl.Boolean})
    assert frame.rows() == [
        ("a@example.com", True),
        (None, None),
        ("", None),
        ("   ", None),
        ("nope", False),
    ]
    assert email_checks([]).schema == frame.schema


# --------------------------------------------------------------------------------------------
# Phone


@pytest.mark.parametrize(
    ("phone", "billing", "shipping", "e164"),
    [
        ("+44 20 7946 0958", "GB", "GB", "+442079460958"),
        ("+44 20 7946 0958", None, None, "+442079460958"),  # '+': checked without a country
        ("+1 212-736-5000", "XX", "", "+12127365000"),  # invalid countries, '+' number
        ("020 7946 0958", "US", "GB", "+442079460958"),  # valid for the shipping country
        ("(212) 736-5000", "USA", "Canada", "+12127365000"),
        ("'0412 345 678", "AU", None, "+61412345678"),  # spreadsheet apostrophe
        ("06 12345678", "NL", "NL", "+31612345678"),
        ("0044 20 7946 0958", "GB", None, "+442079460958"),  # international prefix
        ("030 901820", "Germany", "DE", "+4930901820"),
    ],
)
def test_valid_phones(phone: str, billing: str | None, shipping: str | None, e164: str) -> None:
    assert phone_check(phone, billing, shipping) == (True, e164)


@pytest.mark.parametrize(
    ("phone", "billing", "shipping"),
    [
        ("4.47911E+11", "GB", "GB"),  # scientific notation: digits lost
        ("'4.47911E+11", "GB", None),
        ("12345", "US", "US"),
        ("020 7946 0958", "US", "US"),  # a UK number, neither country is GB
        ("not a phone", "GB", "GB"),
        ("+999 1234 5678", None, None),  # no such country code
        ("+1 212 736 500", "US", "US"),  # one digit short
        ("(000) 736-5000", "US", "CA"),
    ],
)
def test_invalid_phones(phone: str, billing: str | None, shipping: str | None) -> None:
    assert phone_check(phone, billing, shipping) == (False, None)


@pytest.mark.parametrize(
    ("phone", "billing", "shipping"),
    [
        (None, "GB", "GB"),
        ("", "GB", "GB"),
        ("   ", "US", None),
        ("020 7946 0958", None, None),  # no country, no '+': not checked
        ("020 7946 0958", "Narnia", "ZZ"),
        ("4.47911E+11", None, None),
    ],
)
def test_phones_not_checked(phone: str | None, billing: str | None, shipping: str | None) -> None:
    assert phone_check(phone, billing, shipping) == (None, None)


def test_phone_checks_frame() -> None:
    rows = pl.DataFrame(
        {
            "phone": ["+44 20 7946 0958", "12345", "+44 20 7946 0958", None],
            "billing_country": ["GB", "US", "GB", "US"],
            "shipping_country": [None, "US", None, "US"],
        }
    )
    frame = phone_checks(rows)
    assert frame.columns == ["phone", "billing_country", "shipping_country", "phone_valid", "e164"]
    assert frame.rows() == [
        ("+44 20 7946 0958", "GB", None, True, "+442079460958"),
        ("12345", "US", "US", False, None),
        (None, "US", "US", None, None),
    ]
    empty = pl.DataFrame(
        schema={"phone": pl.String, "billing_country": pl.Null, "shipping_country": pl.String}
    )
    assert phone_checks(empty).schema == frame.schema


# --------------------------------------------------------------------------------------------
# Country


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("DE", "DE"),
        ("DEU", "DE"),
        ("deu", "DE"),
        (" Germany ", "DE"),
        ("UNITED STATES", "US"),
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("Côte d'Ivoire", "CI"),
        ("COTE D'IVOIRE", "CI"),
        ("South Korea", "KR"),
        ("Russia", "RU"),
        ("Bolivia, Plurinational State of", "BO"),
    ],
)
def test_country_code_known(value: str, code: str) -> None:
    assert country_code(value) == code


@pytest.mark.parametrize(
    "value", ["XX", "ZZZ", "Germania", "276", "U", "DEUT", "Atlantis", "Virgin Islands", "", None]
)
def test_country_code_unknown(value: str | None) -> None:
    assert country_code(value) is None


def test_country_checks_frame() -> None:
    frame = country_checks(["DE", "deu", "XX", "", None, "DE"])
    assert frame.schema == pl.Schema(
        {"country": pl.String, "country_code": pl.String, "country_valid": pl.Boolean}
    )
    assert frame.rows() == [
        ("DE", "DE", True),
        ("deu", "DE", True),
        ("XX", None, False),
        ("", None, None),
        (None, None, None),
    ]


# --------------------------------------------------------------------------------------------
# Subdivision


@pytest.mark.parametrize(
    ("country", "province"),
    [
        ("US", "CA"),
        ("US", "US-CA"),
        ("US", "california"),
        ("United States", "ny"),
        ("US", "PW"),  # USPS code of Palau (US ZIP codes)
        ("CA", "ON"),
        ("CA", "Québec"),
        ("CAN", "QUEBEC"),
        ("JP", "Tôkyô"),
        ("JP", "Tokyo"),
        ("JP", "Tokyo-to"),
        ("JP", "東京都"),
        ("JP", "北海道"),
        ("JP", "JP-13"),
        ("GB", "ENG"),
        ("GB", "Greater London"),
        ("GB", "County Durham"),
        ("GB", "Wrecsam"),  # ISO's bracketed Welsh name
        ("DE", "Baden-Wurttemberg"),
        ("FR", "Guyane"),  # ISO 'Guyane (française)'
        ("FR", "Cote d Or"),
        ("NL", "Friesland"),
        ("ZA", "GT"),  # Shopify's (former ISO) code of Gauteng
        ("ES", "La Coruña"),
    ],
)
def test_valid_subdivisions(country: str, province: str) -> None:
    assert subdivision_valid(country, province) is True


@pytest.mark.parametrize(
    ("country", "province"),
    [
        ("US", "ZZ"),
        ("US", "Ontario"),
        ("CA", "CA"),
        ("CA", "US-CA"),
        ("GB", "Narnia"),
        ("JP", "東京市"),
        ("DE", "N/A"),
        ("FR", "Paris Hilton"),
    ],
)
def test_invalid_subdivisions(country: str, province: str) -> None:
    assert subdivision_valid(country, province) is False


@pytest.mark.parametrize(
    ("country", "province"),
    [
        ("US", ""),
        ("US", None),
        ("XX", "CA"),  # invalid country
        (None, "CA"),
        ("AQ", "Anywhere"),  # no subdivisions in pycountry
        ("VA", "Rome"),
    ],
)
def test_subdivisions_not_checkable(country: str | None, province: str | None) -> None:
    assert subdivision_valid(country, province) is None


def test_subdivision_checks_frame() -> None:
    rows = pl.DataFrame({"country": ["US", "US", "XX", "US"], "province": ["CA", "ZZ", "CA", "CA"]})
    assert subdivision_checks(rows).rows() == [
        ("US", "CA", True),
        ("US", "ZZ", False),
        ("XX", "CA", None),
    ]


def test_japanese_prefecture_table_matches_iso() -> None:
    iso = {s.code: s.name for s in pycountry.subdivisions.get(country_code="JP") or []}
    assert sorted(JP_PREFECTURES.values()) == sorted(iso)
    assert len(set(JP_PREFECTURES.values())) == 47
    spot = {"北海道": "Hokkaido", "東京都": "Tokyo", "京都府": "Kyoto", "大阪府": "Osaka"}
    for kanji, romaji in spot.items():
        assert iso[JP_PREFECTURES[kanji]] == romaji
    assert iso[JP_PREFECTURES["沖縄県"]] == "Okinawa"


# --------------------------------------------------------------------------------------------
# Currency


def test_currency_checks() -> None:
    values = ["USD", "eur", " JPY ", "BHD", "KWD", "XOF", "US$", "XYZ", "EURO", "840", "€", ""]
    frame = currency_checks([*values, None, "USD"])
    assert frame.schema == pl.Schema(
        {"currency": pl.String, "currency_valid": pl.Boolean, "minor_unit": pl.Decimal(10, 3)}
    )
    assert frame.rows() == [
        ("USD", True, Decimal("0.01")),
        ("eur", True, Decimal("0.01")),
        (" JPY ", True, Decimal("1")),
        ("BHD", True, Decimal("0.001")),
        ("KWD", True, Decimal("0.001")),
        ("XOF", True, Decimal("1")),
        ("US$", False, Decimal("0.01")),
        ("XYZ", False, Decimal("0.01")),
        ("EURO", False, Decimal("0.01")),
        ("840", False, Decimal("0.01")),
        ("€", False, Decimal("0.01")),
        ("", None, None),
        (None, None, None),
    ]


# --------------------------------------------------------------------------------------------
# Postal code


def test_postal_patterns_cover_the_required_countries() -> None:
    required = {"US", "CA", "GB", "DE", "FR", "NL", "JP", "BR", "IN", "PK", "BD", "ZA", "AU"}
    required |= {"ES", "IT", "BE", "AT", "CH", "SE", "DK", "NO", "PL", "PT", "IE", "MX", "NZ", "SG"}
    assert required <= set(POSTAL_PATTERNS)
    assert all(pycountry.countries.get(alpha_2=code) for code in POSTAL_PATTERNS)


@pytest.mark.parametrize(
    ("country", "zip_code"),
    [
        ("US", "'07030"),  # spreadsheet apostrophe
        ("US", "07030-1234"),
        ("United States", " 10001 "),
        ("CA", "K1A 0B1"),
        ("CA", "k1a0b1"),
        ("GB", "SW1A 1AA"),
        ("GB", "GIR 0AA"),
        ("GB", "ec1a1bb"),
        ("GB", "M1 1AE"),
        ("GB", "CR2 6XH"),
        ("NL", "1234 AB"),
        ("NL", "1234ab"),
        ("JP", "100-0001"),
        ("JP", "1000001"),
        ("BR", "01310-100"),
        ("IN", "560029"),
        ("IN", "'560029"),
        ("IE", "D02 X285"),
        ("IE", "D6W 1234"),
        ("PL", "00-950"),
        ("PT", "1000-001"),
        ("SE", "114 57"),
        ("ES", "28013"),
        ("ZA", "'0183"),
    ],
)
def test_valid_postal_codes(country: str, zip_code: str) -> None:
    assert postal_valid(country, zip_code) is True


@pytest.mark.parametrize(
    ("country", "zip_code"),
    [
        ("US", "7030"),  # leading zero lost in a spreadsheet
        ("US", "070301"),
        ("US", "''07030"),  # only one apostrophe is removed
        ("US", "0703O"),
        ("CA", "D1A 1A1"),  # D never starts a Canadian postal code
        ("GB", "SW1A 1AAA"),
        ("GB", "Q1 1AA"),
        ("NL", "0123 AB"),
        ("JP", "100-001"),
        ("IN", "060029"),
        ("PK", "'0000"),
        ("DE", "1234"),
        ("ES", "53001"),
        ("BD", "-"),
    ],
)
def test_invalid_postal_codes(country: str, zip_code: str) -> None:
    assert postal_valid(country, zip_code) is False


@pytest.mark.parametrize(
    ("country", "zip_code"),
    [("US", ""), ("US", None), ("US", "  "), ("XX", "07030"), (None, "07030"), ("CN", "100000")],
)
def test_postal_codes_not_checked(country: str | None, zip_code: str | None) -> None:
    assert postal_valid(country, zip_code) is None


def test_postal_checks_frame_and_normalisation() -> None:
    assert normalise_postal_code("  'sw1a 1aa ") == "SW1A 1AA"
    rows = pl.DataFrame(
        {"country": ["US", "US", "CN", "US"], "zip": ["'07030", "7030", "1", "'07030"]}
    )
    assert postal_checks(rows).rows() == [
        ("US", "'07030", True),
        ("US", "7030", False),
        ("CN", "1", None),
    ]


# --------------------------------------------------------------------------------------------
# What the generator writes


def _generator_addresses() -> pl.DataFrame:
    """Every (country, province, zip) of the generator's faker pools."""
    cities = faker_pools().cities
    frames = []
    for number, country in enumerate(COUNTRIES):
        start, size = int(cities.off[number]), int(cities.size[number])
        frames.append(
            pl.DataFrame(
                {
                    "country": country.code,
                    "province": cities.columns["province"].slice(start, size).cast(pl.String),
                    "zip": cities.columns["zip"].slice(start, size).cast(pl.String),
                }
            )
        )
    return pl.concat(frames)


def test_every_generated_province_is_valid() -> None:
    addresses = _generator_addresses()
    checked = subdivision_checks(addresses)
    assert set(addresses["country"]) == {c.code for c in COUNTRIES}
    failing = checked.filter(pl.col("subdivision_valid").is_null() | ~pl.col("subdivision_valid"))
    assert failing.is_empty(), failing


def test_every_generated_zip_is_valid() -> None:
    checked = postal_checks(_generator_addresses().select("country", "zip"))
    failing = checked.filter(pl.col("postal_valid").is_null() | ~pl.col("postal_valid"))
    assert failing.is_empty(), failing


# Faker's whole vocabulary for the province calls the generator makes (a pool holds a sample).
_FAKER_PROVINCES: dict[str, tuple[str, ...]] = {
    "US": ("states_abbr", "freely_associated_states_abbr"),
    "CA": ("provinces_abbr",),
    "GB": ("counties",),
    "DE": ("states",),
    "FR": ("departments",),
    "NL": ("provinces",),
    "JP": ("prefectures",),
}


@pytest.mark.parametrize("code", [c.code for c in COUNTRIES])
def test_every_faker_province_is_valid(code: str) -> None:
    provider = Faker(COUNTRIES[COUNTRY_INDEX[code]].locale).provider("faker.providers.address")
    assert provider is not None
    names: list[str] = []
    for attribute in _FAKER_PROVINCES[code]:
        for item in getattr(provider, attribute):
            names.append(item[1] if isinstance(item, tuple) else item)  # FR: (number, name)
    assert names
    assert [n for n in names if not subdivision_valid(code, n)] == []


@pytest.mark.parametrize("code", [c.code for c in COUNTRIES])
def test_many_faker_postcodes_are_valid(code: str) -> None:
    fake = Faker(COUNTRIES[COUNTRY_INDEX[code]].locale)
    fake.seed_instance(0)
    postcodes = {fake.postcode() for _ in range(2000)}
    assert [z for z in postcodes if not postal_valid(code, z)] == []


# --------------------------------------------------------------------------------------------
# Real exports

KNOWN_MALFORMED_REAL_ZIPS = {
    ("PK", "'0000"),
    ("PK", "'0092"),
    ("PK", "'0423"),
    ("PK", "'1111"),
    ("PK", "'3500"),
    ("PK", "'5454"),
    ("PK", "'765400"),
    ("PK", "'88"),
    ("PK", "AAZIL"),
    ("PK", "LHR"),
    ("BD", "-"),
}


@pytest.mark.shared_data
def test_real_shopify_zips_fail_only_when_malformed() -> None:
    failing: set[tuple[str, str]] = set()
    checked = 0
    for path in sorted((SHARED_DATA / "shopify_exports").glob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as file:
            for row in csv.DictReader(file):
                for side in ("Billing", "Shipping"):
                    country, zip_code = row.get(f"{side} Country"), row.get(f"{side} Zip")
                    valid = postal_valid(country, zip_code)
                    checked += valid is not None
                    if valid is False:
                        failing.add((str(country), str(zip_code)))
    assert checked > 1000
    assert failing <= KNOWN_MALFORMED_REAL_ZIPS


# --------------------------------------------------------------------------------------------
# The fast paths give the plain library calls' verdicts


def library_email_valid(email: str | None) -> bool | None:
    """The plain call: ``email_validator`` on the stripped value; None when blank."""
    if email is None or not email.strip():
        return None
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


def library_phone_check(
    phone: str | None, billing: str | None, shipping: str | None
) -> tuple[bool | None, str | None]:
    """The plain calls, as ``phone_check`` made them before it shared work between rows:
    ``phonenumbers`` parse, is_valid_number and E.164 for each country in turn."""
    if phone is None or not phone.strip():
        return None, None
    text = phone.strip()
    text = (text[1:] if text.startswith("'") else text).strip()
    codes = (country_code(billing), country_code(shipping))
    regions: list[str | None] = list(
        dict.fromkeys(c for c in codes if c is not None and c in phonenumbers.SUPPORTED_REGIONS)
    )
    if not regions:
        if not text.startswith("+"):
            return None, None
        regions = [None]
    if re.fullmatch(r"[+-]?\d+(?:[.,]\d*)?E[+-]?\d+", text, re.IGNORECASE):
        return False, None
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return False, None


def assert_emails_agree(emails: list[str | None]) -> pl.Series:
    """``email_checks`` gives the library's verdict on every value; returns the fast path's
    flags (True: decided without the library), each of which the library confirms."""
    distinct = list(dict.fromkeys(emails))
    frame = email_checks(distinct)
    expected = [library_email_valid(e) for e in distinct]
    wrong = [
        (e, got, want)
        for e, got, want in zip(distinct, frame["email_valid"], expected, strict=True)
        if got != want
    ]
    assert wrong == []
    plain = plain_emails_valid(pl.Series(distinct, dtype=pl.String))
    assert all(want for flag, want in zip(plain, expected, strict=True) if flag)
    return plain


def assert_phones_agree(rows: pl.DataFrame, *, pooled: bool = True) -> None:
    """``phone_checks`` (in this process and, if ``pooled``, in a pool) and ``phone_check``
    give the plain calls' verdicts on every distinct row, in the order of first appearance."""
    distinct = rows.unique(maintain_order=True)
    expected = [(*row, *library_phone_check(*row)) for row in distinct.iter_rows()]
    clear_caches()
    assert phone_checks(rows).rows() == expected
    if pooled:  # (Linux, more than one CPU)
        assert phone_checks(rows, parallel_min=1).rows() == expected
    assert [(*row, *phone_check(*row)) for row in distinct.iter_rows()] == expected


def clear_caches() -> None:
    for value in vars(lookups).values():
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


LONG_LOCAL = "a" * 64
TRICKY_EMAILS: list[str | None] = [
    None,
    "",
    " ",
    "plain@example.com",
    "Plain.Name+tag@Example.COM",
    "a@b.co",
    "a@b.c",
    "a@b.c1",  # top-level label ends with a digit
    "a@b.1c",
    "a@1.com",
    "a@b",  # no period
    "x!#$%&'*+/=?^_`{|}~-y@example.com",  # every atext character
    "a.b.c@example.com",
    ".a@example.com",
    "a.@example.com",
    "a..b@example.com",
    "a b@example.com",
    '"a b"@example.com',  # quoted local part: not allowed
    '"ab"@example.com',
    "a\\b@example.com",
    "a(b)@example.com",
    "a,b@example.com",
    "a;b@example.com",
    "a:b@example.com",
    "a[b]@example.com",
    "Name <a@example.com>",  # display name: not allowed
    "<a@example.com>",
    "a@[192.0.2.1]",  # domain literal: not allowed
    "a@[IPv6:2001:db8::1]",
    "a@@example.com",
    "a@b@example.com",
    "@example.com",
    "a@",
    "a@example.com\n",
    "\ta@example.com ",
    "a@example.com\u00a0",
    "a@example.com\x1c",  # str.isspace() but not Unicode White_Space
    "a@example.com.",
    "a@.example.com",
    "a@example..com",
    "a@-example.com",
    "a@example-.com",
    "a@ex-ample.com",
    "a@ex--ample.com",
    "a@ab--cd.com",  # R-LDH label
    "a@xn--bcher-kva.com",  # Punycode label
    "a@xn--bcher.com",  # not valid Punycode
    "a@xn--p1ai",
    "a@example.xn--p1ai",
    "a@EXAMPLE.XN--P1AI",
    "a@localhost",
    "a@mail.localhost",
    "a@localhost.com",
    "a@example.local",
    "a@EXAMPLE.LOCAL",
    "a@local.example.com",
    "a@example.test",
    "a@test.com",
    "a@example.invalid",
    "a@example.onion",
    "a@in-addr.arpa",
    "a@example.arpa",
    "a@example.com-",
    "a@exam_ple.com",
    "a@exam ple.com",
    "a@münchen.de",
    "a@MÜNCHEN.DE",
    "ü@example.com",
    "a\u0301@example.com",  # a combining accent
    "a@e\u0301xample.com",
    "a\u0338@example.com",
    "a@\u0338example.com",
    "<\u0338a@example.com",
    "a\uff20example.com",  # full-width at-sign
    "a@example。com",  # ideographic full stop
    "a@example\uff0ecom",  # full-width full stop
    "a@\uff45xample.com",  # full-width letter
    "a@example.com\u200b",
    "\u200ba@example.com",
    "a@exa\u00admple.com",  # soft hyphen
    "info@example.com",
    "INFO@example.com",
    f"{LONG_LOCAL}@example.com",  # 64 before the @-sign
    f"{LONG_LOCAL}a@example.com",  # 65: fine unless strict
    f"a@{'b' * 63}.com",
    f"a@{'b' * 64}.com",
    f"a@example.{'c' * 63}",
    f"a@example.{'c' * 64}",
    f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 57}",  # 254 in all
    f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 58}",  # 255
    f"{LONG_LOCAL}@{'b' * 63}.{'c' * 63}.{'d' * 58}",  # 254 in all
    f"{LONG_LOCAL}@{'b' * 63}.{'c' * 63}.{'d' * 59}",  # 255
    f"{LONG_LOCAL}a@{'b' * 63}.{'c' * 63}.{'d' * 58}",
    f"a@{'b.' * 125}com",
    f"a@{'b.' * 126}com",
]


def test_email_fast_path_on_tricky_addresses() -> None:
    plain = assert_emails_agree(TRICKY_EMAILS)
    decided = {e for e, flag in zip(dict.fromkeys(TRICKY_EMAILS), plain, strict=True) if flag}
    # The fast path takes the plain ones (at the limits too) and nothing else.
    assert {
        "plain@example.com",
        "Plain.Name+tag@Example.COM",
        "x!#$%&'*+/=?^_`{|}~-y@example.com",
        f"{LONG_LOCAL}@example.com",
        f"a@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 57}",
        "a@localhost.com",
        "a@test.com",
    } <= decided
    undecided = {
        "a@EXAMPLE.LOCAL",
        "a@xn--bcher-kva.com",
        "a@ex--ample.com",
        f"{LONG_LOCAL}a@example.com",
        "a@example.com\n",
        "a@b.c1",
        "a@b",
    }
    assert undecided <= set(TRICKY_EMAILS)
    assert not decided & undecided


def test_uts46_only_lower_cases_what_the_email_fast_path_accepts() -> None:
    """The fast path relies on UTS-46 mapping an ASCII host name to its lower case."""
    import idna

    alphabet = string.ascii_letters + string.digits + "-."
    assert idna.uts46_remap(alphabet, std3_rules=False, transitional=False) == alphabet.lower()


_ATEXT = string.ascii_letters + string.digits + "!#$%&'*+/=?^_`{|}~-"
_HOST = string.ascii_letters + string.digits
_ODD = '."@<>\\()[],;: \n\t_-.ü\u0301\u00a0\u200b\u00ad。\uff0e\uff20'
_TOPS = ("com", "org", "COM", "de", "x", "c1", "1", "local", "TEST", "localhost", "xn--p1ai")


@st.composite
def _spoilt(draw: st.DrawFn, text: str) -> str:
    """``text``, or (one time in four) ``text`` with an odd character put in somewhere."""
    if draw(st.integers(0, 3)) > 0:
        return text
    at = draw(st.integers(0, len(text)))
    return text[:at] + draw(st.sampled_from(_ODD)) + text[at:]


@st.composite
def addresses(draw: st.DrawFn) -> str:
    """Addresses on both sides of the fast path's boundary: dot-atoms and host names with an
    odd character now and then, labels and lengths around the limits (63, 64, 253, 254),
    special-use, numeric and Punycode top-level domains, padding and display-name forms."""
    atoms = draw(
        st.lists(st.text(st.sampled_from(_ATEXT), min_size=1, max_size=22), min_size=1, max_size=4)
    )
    local = draw(_spoilt(".".join(atoms)))
    short = st.text(st.sampled_from(_HOST), min_size=1, max_size=10)
    short = st.one_of(short, st.tuples(short, short).map("-".join))
    long = st.integers(58, 66).map(lambda n: "b" * n)
    labels = draw(st.lists(st.one_of(short, short, short, long), min_size=1, max_size=4))
    domain = draw(_spoilt(".".join([*labels, draw(st.sampled_from(_TOPS))])))
    form = draw(st.sampled_from(["{}@{}"] * 8 + ["{}@@{}", "{}{}", "<{}@{}>", " {}@{}\n"]))
    return form.format(local, domain)


@given(st.lists(addresses(), min_size=1, max_size=40))
@settings(max_examples=100, deadline=None)
def test_email_fast_path_agrees_with_the_library_on_near_misses(emails: list[str]) -> None:
    assert_emails_agree(list(emails))


@given(st.lists(st.text(max_size=30), min_size=1, max_size=20))
@settings(max_examples=50, deadline=None)
def test_email_fast_path_agrees_with_the_library_on_any_text(emails: list[str]) -> None:
    assert_emails_agree([*emails, *(f"{e}@example.com" for e in emails)])


FULL_WIDTH_DIGITS = str.maketrans(string.digits, "".join(chr(0xFF10 + d) for d in range(10)))
TRICKY_PHONES: list[str | None] = [
    None,
    "",
    "  ",
    "+44 20 7946 0958",
    "+442079460958",
    "+0044 20 7946 0958",  # after '+', the region's international prefix is tried
    "+011 44 20 7946 0958",
    "0044 20 7946 0958",
    "011 44 20 7946 0958",
    "020 7946 0958",
    "'020 7946 0958",
    "''020 7946 0958",
    " ' 020 7946 0958 ",
    "(212) 736-5000",
    "212-736-5000",
    "1-212-736-5000",
    "+1 212 736 5000",
    "+1 (212) 736-5000 ext. 12",
    "212 736 5000 x12",
    "1-800-FLOWERS",
    "tel:+1-212-736-5000",
    "tel:212-736-5000;phone-context=+1",
    "+1 212 736 500",
    "+12127365000000000000",
    "(000) 736-5000",
    "4.47911E+11",
    "4,47911e11",
    "-4.47911E+11",
    "'4.47911E+11",
    "4.47911E+11 ",
    "4.47911E",
    "+44 20 7946 0958".translate(FULL_WIDTH_DIGITS),
    "\uff0b44 20 7946 0958",  # full-width plus
    "+٤٤ ٢٠ ٧٩٤٦ ٠٩٥٨",  # Arabic-Indic digits
    "٠٢٠ ٧٩٤٦ ٠٩٥٨",
    "+99 1234 5678",
    "+999 1234 5678",
    "+1",
    "+",
    "++44 20 7946 0958",
    "not a phone",
    "0412 345 678",
    "06 12345678",
    "030 901820",
    "090-1234-5678",
    "+81 90-1234-5678",
    "+33 6 12 34 56 78",
    "+49 (0) 30 901820",
    "(0)30 901820",
    "+41 (0) 78 927 2696",
    "+39 06 6982 0000",
    "06 6982 0000",
    "+7 912 345-67-89",
    "+880 1712-345678",
    "+92 300 1234567",
    "+91 98765 43210",
    "98765 43210",
    "+55 11 91234-5678",
    "+27 82 123 4567",
    "+61 4 1234 5678",
    "+64 21 123 4567",
]
COUNTRY_PAIRS: list[tuple[str | None, str | None]] = [
    ("GB", "GB"),
    ("GB", None),
    ("US", "GB"),
    ("GB", "US"),
    ("US", "US"),
    ("US", None),
    (None, "US"),
    ("USA", "Canada"),
    ("CA", "CA"),
    ("DE", "FR"),
    ("IT", "JP"),
    ("Germany", "DE"),
    (None, None),
    ("XX", ""),
    ("Narnia", "ZZ"),
    ("AQ", "AQ"),  # a country without a numbering plan of its own
    ("AU", "NZ"),
    ("IN", "PK"),
    ("BD", "BR"),
    ("ZA", "RU"),
]


def test_phone_checks_on_tricky_numbers_and_countries() -> None:
    rows = [(p, b, s) for p in TRICKY_PHONES for b, s in COUNTRY_PAIRS]
    schema = {"phone": pl.String, "billing_country": pl.String, "shipping_country": pl.String}
    assert_phones_agree(pl.DataFrame(rows + rows[::7], schema=schema, orient="row"))


def test_phone_checks_share_work_between_rows_of_the_same_regions() -> None:
    rows = pl.DataFrame(
        {
            "phone": ["020 7946 0958", "020 7946 0958", "020 7946 0958", "020 7946 0958"],
            "billing_country": ["GB", "GB", "United Kingdom", "GB"],
            "shipping_country": ["GB", None, "GBR", "US"],
        }
    )
    clear_caches()
    frame = phone_checks(rows)
    assert frame["e164"].to_list() == ["+442079460958"] * 4
    # ('GB',) once; ('GB', 'US') once, which finds the number valid for GB first.
    assert lookups._e164.cache_info().misses == 1


@given(
    st.lists(
        st.tuples(
            st.text(st.sampled_from("0123456789+ -()'.Ee٤\uff14x"), max_size=18),
            st.sampled_from([b for b, _ in COUNTRY_PAIRS]),
            st.sampled_from([s for _, s in COUNTRY_PAIRS]),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=60, deadline=None)
def test_phone_checks_agree_with_the_library_on_any_number(
    rows: list[tuple[str, str | None, str | None]],
) -> None:
    schema = {"phone": pl.String, "billing_country": pl.String, "shipping_country": pl.String}
    assert_phones_agree(pl.DataFrame(rows, schema=schema, orient="row"), pooled=False)


def test_pooled_phone_checks_are_deterministic() -> None:
    phones = [f"+1 212 {n:03d} {n * 7 % 10000:04d}" for n in range(3_000)]
    rows = pl.DataFrame({"phone": phones, "billing_country": "US", "shipping_country": None})
    clear_caches()
    serial = phone_checks(rows)
    for _ in range(2):
        clear_caches()
        assert phone_checks(rows, parallel_min=1).equals(serial)


@pytest.fixture(scope="module")
def generated_contacts(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """E-mail, phone and both countries of every order of a generated merchant with every
    field defect injected (2 % each), as the landing files hold them."""
    root = tmp_path_factory.mktemp("contacts")
    generate_merchant(
        root / "landing",
        orders=20_000,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        seed=5,
        injectors=[InjectorSpec(name, 0.02) for name in FIELD_DEFECTS],
        ground_truth=root / "truth.parquet",
    )
    columns = ["customer_email", "customer_phone", "billing_country", "shipping_country"]
    return pl.concat(
        pl.read_csv(path, infer_schema=False, columns=columns)
        for path in sorted((root / "landing").glob("*/orders_*.csv"))
    )


@pytest.mark.slow
def test_fast_paths_agree_with_the_library_on_generated_orders(
    generated_contacts: pl.DataFrame,
) -> None:
    plain = assert_emails_agree(generated_contacts["customer_email"].to_list())
    assert plain.sum() > 0.95 * len(plain)  # nearly every generated address is plain
    phones = generated_contacts.select(
        pl.col("customer_phone").alias("phone"), "billing_country", "shipping_country"
    )
    assert phones.height > 15_000
    assert_phones_agree(phones)


def _shopify_rows() -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for path in sorted((SHARED_DATA / "shopify_exports").glob("*.csv")):
        with open(path, newline="", encoding="utf-8-sig") as file:
            rows.extend(csv.DictReader(file))
    return rows


@pytest.mark.shared_data
def test_fast_paths_agree_with_the_library_on_real_shopify_exports() -> None:
    rows = _shopify_rows()
    assert_emails_agree([row.get("Email") for row in rows])
    phones = [
        (row.get(column), row.get("Billing Country"), row.get("Shipping Country"))
        for row in rows
        for column in ("Phone", "Billing Phone", "Shipping Phone")
    ]
    schema = {"phone": pl.String, "billing_country": pl.String, "shipping_country": pl.String}
    frame = pl.DataFrame(phones, schema=schema, orient="row")
    assert frame.filter(pl.col("phone").is_not_null() & (pl.col("phone") != "")).height > 1000
    assert_phones_agree(frame)
