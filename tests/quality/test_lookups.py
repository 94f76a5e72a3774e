"""The library-based checks of the entry-accuracy suite (quality.lookups).

Edge cases per check, one row per distinct value, and coverage of what the data generator
writes: a clean generated order must pass every check (the generator's own pools are imported,
not copied).
"""

from __future__ import annotations

import csv
from decimal import Decimal

import polars as pl
import pycountry
import pytest
from faker import Faker

from pipelines.generator.pools import faker_pools
from pipelines.generator.world import COUNTRIES, COUNTRY_INDEX
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
