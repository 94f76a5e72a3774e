"""IPv4 address → country, from a table of address ranges, vectorised.

Grain: :func:`prepare_ip_ranges` returns one row per address range (``ip_from`` ≤ address ≤
``ip_to`` → ``ip_country``, ISO 3166-1 alpha-2), sorted by ``ip_from``; :func:`ip_countries`
returns one value per input address, in input order.

The ranges table is data the merchant supplies (any vendor's "IP to country" export with a
lower bound, an upper bound and a country name or code); nothing is downloaded. Addresses are
dotted IPv4 text; anything else (IPv6, blanks, damaged text) has no country, never an error.
"""

import functools
import re
import unicodedata

import polars as pl
import pycountry

IP_RANGE_COLUMNS: tuple[str, str, str] = ("ip_from", "ip_to", "ip_country")
"""Columns of a prepared ranges frame: Int64 bounds (inclusive) and an alpha-2 country."""

# Names that vendors' range tables use and ISO 3166 / pycountry spells otherwise (folded:
# lower case, letters and spaces only).
_COUNTRY_ALIASES: dict[str, str | None] = {
    "turkey": "TR",
    "macau": "MO",
    "macedonia": "MK",
    "swaziland": "SZ",
    "cape verde": "CV",
    "reunion": "RE",
    "curacao": "CW",
    "cote divoire": "CI",
    "sint maarten": "SX",
    "saint martin": "MF",
    "st pierre and miquelon": "PM",
    "bonaire sint eustatius saba": "BQ",
    "wallis and futuna islands": "WF",
    "bosnia and herzegowina": "BA",
    "croatia": "HR",
    "slovakia": "SK",
    "iran": "IR",
    "taiwan": "TW",
    "moldova republic of": "MD",
    "korea republic of": "KR",
    "korea democratic peoples republic of": "KP",
    "congo the democratic republic of the": "CD",
    "tanzania united republic of": "TZ",
    "palestinian territory occupied": "PS",
    "micronesia federated states of": "FM",
    "libyan arab jamahiriya": "LY",
    "virgin islands us": "VI",
    "virgin islands british": "VG",
    "european union": None,  # not a country: the address's country is unknown
}


def _fold(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z ]+", " ", text).split())


@functools.cache
def country_code(name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name or code as range tables spell it; None when
    it names no country (``European Union``) or is unknown."""
    if name is None or not name.strip():
        return None
    text = name.strip()
    folded = _fold(text)
    if folded in _COUNTRY_ALIASES:
        return _COUNTRY_ALIASES[folded]
    # "Croatia (LOCAL Name: Hrvatska)", "Taiwan; Republic of China (ROC)": the first part.
    for candidate in (text, re.split(r"[;(]", text)[0].strip()):
        try:
            return pycountry.countries.lookup(candidate).alpha_2
        except LookupError:
            pass
    short = _fold(re.split(r"[;(]", text)[0])
    return _COUNTRY_ALIASES.get(short)


def prepare_ip_ranges(
    ranges: pl.DataFrame,
    *,
    lower: str = "lower_bound_ip_address",
    upper: str = "upper_bound_ip_address",
    country: str = "country",
) -> pl.DataFrame:
    """The ranges table in the shape :func:`ip_countries` joins: ``ip_from``, ``ip_to``
    (Int64, inclusive), ``ip_country`` (alpha-2, null when unknown), sorted by ``ip_from``.

    Bounds may be integers or floats (spreadsheet exports); rows without usable bounds are
    dropped. Country names are resolved once per distinct name.
    """
    names = ranges.get_column(country).cast(pl.String).unique().to_list()
    codes = pl.DataFrame(
        {"_name": names, "ip_country": [country_code(n) for n in names]},
        schema={"_name": pl.String, "ip_country": pl.String},
    )
    return (
        ranges.select(
            pl.col(lower).cast(pl.Float64, strict=False).round().cast(pl.Int64).alias("ip_from"),
            pl.col(upper).cast(pl.Float64, strict=False).round().cast(pl.Int64).alias("ip_to"),
            pl.col(country).cast(pl.String).alias("_name"),
        )
        .drop_nulls(["ip_from", "ip_to"])
        .filter(pl.col("ip_from") <= pl.col("ip_to"))
        .join(codes, on="_name", how="left", nulls_equal=True)
        .select(IP_RANGE_COLUMNS)
        .sort("ip_from")
    )


def ipv4_to_int(addresses: pl.Series) -> pl.Series:
    """Int64 value of each dotted IPv4 address (``a.b.c.d`` → a·2²⁴ + b·2¹⁶ + c·2⁸ + d); null
    for anything else (IPv6, blanks, a fifth part, signs, octets above 255)."""
    text = addresses.cast(pl.String).str.strip_chars()
    # One split into columns, then arithmetic: 4x faster than four struct-field expressions.
    parts = (
        pl.DataFrame({"ip": text})
        .select(
            pl.col("ip").str.contains(r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$").alias("shaped"),
            pl.col("ip").str.split_exact(".", 3).alias("parts"),
        )
        .unnest("parts")
    )
    octets = [pl.col(f"field_{i}").cast(pl.Int64, strict=False) for i in range(4)]
    value = octets[0] * 16_777_216 + octets[1] * 65_536 + octets[2] * 256 + octets[3]
    valid = pl.col("shaped") & pl.all_horizontal([o <= 255 for o in octets])
    return parts.select(pl.when(valid).then(value).alias("ip_int")).to_series()


def int_to_ipv4(value: pl.Expr) -> pl.Expr:
    """Dotted text of an integer IPv4 address (the inverse of :func:`ipv4_to_int`); null
    outside 0 ... 2**32 - 1."""
    v = value.cast(pl.Int64)
    octets = [((v // (256**k)) % 256).cast(pl.String) for k in (3, 2, 1, 0)]
    return pl.when((v >= 0) & (v < 2**32)).then(pl.concat_str(octets, separator="."))


def ip_countries(addresses: pl.Series, ranges: pl.DataFrame | None) -> pl.Series:
    """Country (alpha-2) of each dotted IPv4 address, in input order: a sorted as-of join of the
    addresses on ``ip_from``, kept where the address is within ``ip_to``. Null for
    addresses outside every range, non-IPv4 text, or when no ranges table is given."""
    name = "ip_country"
    if ranges is None:
        return pl.Series(name, [None] * len(addresses), dtype=pl.String)
    located = (
        pl.DataFrame(
            {"_row": pl.int_range(len(addresses), eager=True), "_ip_int": ipv4_to_int(addresses)}
        )
        .drop_nulls("_ip_int")
        .sort("_ip_int")
        .join_asof(ranges, left_on="_ip_int", right_on="ip_from", strategy="backward")
        .filter(pl.col("_ip_int") <= pl.col("ip_to"))
    )
    out = pl.Series(name, [None] * len(addresses), dtype=pl.String)
    return out.scatter(located.get_column("_row"), located.get_column("ip_country"))
