"""Parse of a Shopify orders export, as a ratio to DuckDB's bare CREATE TABLE AS read_csv.

The export holds ``--orders`` generated orders (one online store, its monthly generic files
converted to one 79-column Shopify CSV). Both sides read that same file into a fresh DuckDB
file: the bare side as 79 VARCHAR columns with the header; ours is
``pipelines.sources.shopify_csv.parse``, which adds what the product needs: layout detection
and binding by name, rejects with physical lines, the generic columns (order ids filled
across continuation rows, line positions, channels, ISO timestamps, typed amounts with
per-record rejects, repaired zips and phones) and card-number redaction.
Target: ratio <= 2 at 1,000,000 orders. Generated files live in a temporary folder that is
deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import interleaved, ratio_report
from orderlens.warehouse import connect
from pipelines.generator import SOURCES, Audience, MerchantProfile, generate_merchant
from pipelines.generator.shopify_export import write_shopify_export
from pipelines.sources import shopify_csv


def shopify_export(orders: int, work: Path) -> tuple[Path, int]:
    """A Shopify export of ``orders`` generated web orders; returns it and its lines."""
    landing = work / "landing"
    profile = MerchantProfile(
        audience=Audience(channel_mix={"online_store": 1.0}),
        sources=tuple(s for s in SOURCES if s.name == "online_store"),
    )
    report = generate_merchant(
        landing,
        orders=orders,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        seed=7,
        injectors=[],
        ground_truth=work / "ground_truth.parquet",
        profile=profile,
    )
    assert report.orders == orders
    files = sorted((landing / "online_store").glob("*.csv"))
    exported = write_shopify_export(files, work / "orders_export.csv")
    shutil.rmtree(landing)
    return exported.path, exported.lines


def bare_ctas(path: Path, database: Path) -> None:
    columns = ", ".join(f"'{c}': 'VARCHAR'" for c in shopify_csv.SHOPIFY_COLUMNS)
    con = connect(database)
    try:
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', auto_detect = false, "
            "header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
            f"columns = {{{columns}}})"
        )
    finally:
        con.close()


def orderlens_parse(path: Path, database: Path, lines: int) -> None:
    con = connect(database)
    try:
        result = shopify_csv.parse(con, path, "raw_shopify")
    finally:
        con.close()
    assert result.reconciles and result.loaded == lines, result


def run(orders: int, repeats: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="orderlens-bench-shopify-"))
    try:
        source, lines = shopify_export(orders, work)
        size = source.stat().st_size
        databases = work / "db"
        databases.mkdir()

        def fresh(_name: str) -> None:
            for child in databases.iterdir():
                child.unlink()

        times = interleaved(
            {
                "bare": lambda: bare_ctas(source, databases / "bare.duckdb"),
                "orderlens": lambda: orderlens_parse(source, databases / "ol.duckdb", lines),
            },
            repeats,
            fresh,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ratio_report(
        times, repeats, 2.0, orders=orders, lines=lines, file_mb=round(size / 1e6, 1)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.orders, args.repeats), indent=2))


if __name__ == "__main__":
    main()
