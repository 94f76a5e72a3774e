"""Shopify order NDJSON: our parse, as a ratio to DuckDB's bare CREATE TABLE AS read_json.

Input: a generated merchant (``generate_merchant``, no injected defects) of ``--orders``
orders, converted to one Shopify REST order NDJSON file (``write_shopify_ndjson``), built in
a temporary folder and deleted afterwards. Orders are in the order they were placed, every
source mixed, as a store's API returns them: DuckDB infers types from the first rows, and a
file sorted by source would start with thousands of marketplace orders without card or
browser data, letting the bare side skip those fields.

Both sides read that file into a fresh DuckDB database file: the bare side with ``CREATE
TABLE t AS SELECT * FROM read_json(path, format = 'newline_delimited')`` (DuckDB infers the
nested types and stores the orders whole); ours with ``pipelines.sources.shopify_json.parse``
(explicit types, one row per line item with the order fields on its first, record numbers
and physical lines, the payment, event and refund streams, reject checks and card-number
redaction). Target: ratio <= 1.5 at 1,000,000 orders.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import interleaved
from orderlens.warehouse import connect
from pipelines.generator import generate_merchant
from pipelines.generator.shopify_ndjson import write_shopify_ndjson
from pipelines.sources import shopify_json


def shopify_ndjson(orders: int, work: Path, seed: int = 7) -> Path:
    """A Shopify order NDJSON file of ``orders`` generated orders (all sources in one)."""
    landing = work / "landing"
    generate_merchant(
        landing,
        orders=orders,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        seed=seed,
        injectors=[],
        ground_truth=work / "ground_truth.parquet",
    )
    files = sorted(p for p in landing.glob("*/*.csv") if not p.parent.name.startswith("_"))
    target = work / "orders.ndjson"
    write_shopify_ndjson(files, target)
    shutil.rmtree(landing)
    return target


def bare_ctas(path: Path, database: Path) -> None:
    con = connect(database)
    try:
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_json('{path}', format = 'newline_delimited')"
        )
    finally:
        con.close()


def orderlens_parse(path: Path, database: Path) -> None:
    con = connect(database)
    try:
        result = shopify_json.parse(con, path, "raw_file_bench")
    finally:
        con.close()
    assert result.reconciles and result.rejected_records == 0, result.rejects[:3]


def run(orders: int, repeats: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="orderlens-bench-ndjson-"))
    try:
        source = shopify_ndjson(orders, work)
        size = source.stat().st_size
        databases = work / "db"
        databases.mkdir()

        def fresh(_name: str) -> None:
            for child in databases.iterdir():
                child.unlink()

        times = interleaved(
            {
                "bare": lambda: bare_ctas(source, databases / "bare.duckdb"),
                "orderlens": lambda: orderlens_parse(source, databases / "ol.duckdb"),
            },
            repeats,
            fresh,
        )
        (bare, bare_all), (ours, ours_all) = times["bare"], times["orderlens"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "orders": orders,
        "file_mib": round(size / 2**20, 1),
        "repeats": repeats,
        "bare_s": round(bare, 3),
        "orderlens_s": round(ours, 3),
        "ratio": round(ours / bare, 3),
        "bare_runs": [round(t, 3) for t in bare_all],
        "orderlens_runs": [round(t, 3) for t in ours_all],
        "target_ratio": 1.5,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.orders, args.repeats), indent=2))


if __name__ == "__main__":
    main()
