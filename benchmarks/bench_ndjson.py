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

``--data DIR``: keep the generated file in ``DIR`` (named by orders and seed) and reuse it on
later runs instead of generating it again (~2 min and 2.4 GB at 1M orders).

``--profile``: after the timed runs, one more parse of the same file with every SQL
statement timed (printed to stderr, slowest first, with the close, i.e. the checkpoint).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, cast

import duckdb

from benchmarks.common import interleaved, ratio_report
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


def cached_shopify_ndjson(orders: int, folder: Path, seed: int = 7) -> Path:
    """The file of :func:`shopify_ndjson` kept in ``folder``: generated on first use."""
    target = folder / f"shopify_orders_{orders}_seed{seed}.ndjson"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="orderlens-bench-ndjson-", dir=folder))
        try:
            shopify_ndjson(orders, work, seed).rename(target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
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


class _TimedConnection:
    """A connection that records the wall time of each statement it executes (results
    are fetched inside the timing, as DuckDB 2 streams them)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.times: list[tuple[float, str]] = []

    def execute(self, sql: str, *args: Any) -> _Fetched:
        started = time.perf_counter()
        result = self.con.execute(sql, *args)
        rows = result.fetchall() if result.description is not None else []
        self.times.append((time.perf_counter() - started, " ".join(sql.split())))
        return _Fetched(rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.con, name)


class _Fetched:
    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self.rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows


def profile_parse(path: Path, database: Path, shown: int = 15) -> None:
    """One parse with each SQL statement timed; the slowest printed to stderr."""
    con = connect(database)
    timed = _TimedConnection(con)
    started = time.perf_counter()
    shopify_json.parse(cast(duckdb.DuckDBPyConnection, timed), path, "raw_file_bench")
    parsed = time.perf_counter()
    con.close()
    closed = time.perf_counter()
    print(f"parse {parsed - started:.2f} s, close {closed - parsed:.2f} s", file=sys.stderr)
    for seconds, sql in sorted(timed.times, reverse=True)[:shown]:
        print(f"{seconds:7.2f}  {sql[:160]}", file=sys.stderr)


def run(
    orders: int, repeats: int, profile: bool = False, data: Path | None = None
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="orderlens-bench-ndjson-"))
    try:
        source = (
            cached_shopify_ndjson(orders, data)
            if data is not None
            else shopify_ndjson(orders, work)
        )
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
        if profile:
            fresh("profile")
            profile_parse(source, databases / "profile.duckdb")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ratio_report(times, repeats, 1.5, orders=orders, file_mib=round(size / 2**20, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--profile", action="store_true", help="time each SQL statement of one more parse"
    )
    parser.add_argument(
        "--data", type=Path, help="folder keeping the generated NDJSON file for later runs"
    )
    args = parser.parse_args()
    print(json.dumps(run(args.orders, args.repeats, args.profile, args.data), indent=2))


if __name__ == "__main__":
    main()
