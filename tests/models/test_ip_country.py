"""IPv4 → country from a ranges table: parsing, name resolution, the as-of join."""

import polars as pl
import pytest

from models.ip_country import (
    country_code,
    int_to_ipv4,
    ip_countries,
    ipv4_to_int,
    prepare_ip_ranges,
)


def test_dotted_ipv4_parses_and_anything_else_is_null() -> None:
    texts = ["1.2.3.4", " 10.0.0.1 ", "255.255.255.255", "0.0.0.0", "1.2.3.4.5", "256.1.1.1",
             "::1", "", None, "1.2.3", "-1.2.3.4", "1.2.3.+4", "a.b.c.d"]  # fmt: skip
    values = ipv4_to_int(pl.Series(texts, dtype=pl.String)).to_list()
    assert values == [16909060, 167772161, 2**32 - 1, 0] + [None] * 9


def test_integer_addresses_print_back_as_dotted_text() -> None:
    ints = pl.DataFrame({"v": [0, 16909060, 2**32 - 1, 2**32, -1]})
    texts = ints.select(int_to_ipv4(pl.col("v"))).to_series().to_list()
    assert texts == ["0.0.0.0", "1.2.3.4", "255.255.255.255", None, None]
    back = ipv4_to_int(pl.Series(texts[:3]))
    assert back.to_list() == [0, 16909060, 2**32 - 1]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "US"),
        ("Korea Republic of", "KR"),
        ("Croatia (LOCAL Name: Hrvatska)", "HR"),
        ("Taiwan; Republic of China (ROC)", "TW"),
        ("Turkey", "TR"),
        ("DE", "DE"),
        ("European Union", None),
        ("Atlantis", None),
        ("", None),
    ],
)
def test_vendor_country_names_resolve_to_alpha_2(name: str, code: str | None) -> None:
    assert country_code(name) == code


def test_addresses_inside_a_range_get_its_country_and_the_rest_none() -> None:
    ranges = prepare_ip_ranges(
        pl.DataFrame(
            {
                # Spreadsheet exports give floats; an unusable row is dropped.
                "lower_bound_ip_address": [16909056.0, 16909312.0, None],
                "upper_bound_ip_address": [16909060.0, 16909567.0, 5.0],
                "country": ["Australia", "Japan", "China"],
            }
        )
    )
    assert ranges.columns == ["ip_from", "ip_to", "ip_country"]
    assert ranges.height == 2
    addresses = pl.Series(["1.2.3.4", "1.2.3.5", "1.2.4.1", "1.2.3.4", None, "bad", "0.0.0.1"])
    assert ip_countries(addresses, ranges).to_list() == ["AU", None, "JP", "AU", None, None, None]
    assert ip_countries(addresses, None).to_list() == [None] * 7
