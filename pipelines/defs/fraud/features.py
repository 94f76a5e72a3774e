"""The ``fraud_features`` table: point-in-time fraud features of every scorable order.

Grain: one row per order of ``fct_orders`` (``order_key``, ``created_at``, then
:data:`models.fraud_features.FEATURES`), from :func:`pipelines.defs.fraud.frame.order_frame`,
with IP countries from ``ref_ip_ranges`` when it has rows and the hour in the merchant's time
zone.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from models.fraud_features import fraud_features
from models.ip_country import prepare_ip_ranges
from orderlens.warehouse import table_from_frame, transaction
from pipelines.defs.fraud.frame import order_frame

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class IpRangesReport:
    """What became of ``ref_ip_ranges``: rows, ranges used, and the rows left out by kind
    (with a few of them named by their values: the table keeps no line numbers, and its
    rejected lines are in ``ingest_rejects`` already)."""

    rows: int
    usable: int
    reversed_bounds: int
    unknown_country: int
    overlapping: int
    examples: tuple[str, ...] = ()

    @property
    def clean(self) -> bool:
        return not (self.reversed_bounds or self.unknown_country or self.overlapping)


def ip_ranges(con: "duckdb.DuckDBPyConnection") -> tuple[pl.DataFrame | None, IpRangesReport]:
    """The prepared ranges (None without any) and what was left out of them."""
    raw = con.sql("SELECT ip_from, ip_to, country FROM ref_ip_ranges").pl()
    if raw.height == 0:
        return None, IpRangesReport(0, 0, 0, 0, 0)
    prepared = prepare_ip_ranges(raw, lower="ip_from", upper="ip_to", country="country")
    reversed_rows = raw.filter(pl.col("ip_from") > pl.col("ip_to"))
    unknown = prepared.filter(pl.col("ip_country").is_null())
    # A range starting inside the previous one: one of them is wrong (spreadsheet damage
    # such as bounds rounded to 1.74E+09); the later start wins where they overlap.
    overlapping = prepared.filter(pl.col("ip_from") <= pl.col("ip_to").shift(1))
    examples = [
        *(f"reversed {a}-{b}" for a, b in reversed_rows.select("ip_from", "ip_to").head(3).rows()),
        *(f"overlapping {a}-{b}" for a, b in overlapping.select("ip_from", "ip_to").head(3).rows()),
    ]
    unknown_names = raw.join(
        unknown.select("ip_from", "ip_to"), on=["ip_from", "ip_to"], how="semi"
    ).get_column("country")
    examples += [f"unknown country {n!r}" for n in unknown_names.unique().sort().head(3)]
    report = IpRangesReport(
        rows=raw.height,
        usable=prepared.height - unknown.height,
        reversed_bounds=reversed_rows.height,
        unknown_country=unknown.height,
        overlapping=overlapping.height,
        examples=tuple(examples),
    )
    return prepared, report


def compute_features(con: "duckdb.DuckDBPyConnection", timezone: str) -> pl.DataFrame:
    """The feature frame of every scorable order of the warehouse on ``con``."""
    ranges, _ = ip_ranges(con)
    return fraud_features(order_frame(con), ip_ranges=ranges, timezone=timezone)


def build_fraud_features(
    con: "duckdb.DuckDBPyConnection", timezone: str
) -> tuple[int, IpRangesReport]:
    """Replace ``fraud_features`` (one transaction); return its rows and the ranges report."""
    ranges, report = ip_ranges(con)
    features = fraud_features(order_frame(con), ip_ranges=ranges, timezone=timezone)
    with transaction(con):
        table_from_frame(con, "fraud_features", features, temporary=False)
    return features.height, report


def read_features(con: "duckdb.DuckDBPyConnection") -> pl.DataFrame:
    """The ``fraud_features`` table, in its row order (created_at, order_key)."""
    return con.sql("SELECT * FROM fraud_features ORDER BY created_at, order_key").pl()
