"""Ingest of a generic CSV, as a ratio to DuckDB's bare CREATE TABLE AS read_csv.

Both sides read the same file with the same explicit column types and capture rejects into
a fresh DuckDB file. Ours adds what the product needs: the file hash, binding by header
name, physical line numbers, card-number redaction, the ingestion log and one transaction.
Target: ratio <= 1.3 at 1,000,000 lines.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.common import generic_csv, interleaved, ratio_report
from orderlens.contracts import GENERIC_FIELDS
from orderlens.warehouse import connect, open_writer
from pipelines.defs.ingest.landing import LandingFile, ingest_order_file
from pipelines.defs.ingest.tables import create_raw_tables


def bare_ctas(path: Path, database: Path) -> None:
    columns = ", ".join(f"'{f.name}': '{f.type}'" for f in GENERIC_FIELDS)
    con = connect(database)
    try:
        con.execute(
            f"CREATE TABLE t AS SELECT * FROM read_csv('{path}', auto_detect = false, "
            "header = true, delim = ',', quote = '\"', escape = '\"', strict_mode = true, "
            f"columns = {{{columns}}}, store_rejects = true)"
        )
    finally:
        con.close()


def orderlens_ingest(path: Path, database: Path) -> None:
    with open_writer(database) as con:
        create_raw_tables(con)
        outcome = ingest_order_file(con, LandingFile(path, path.name, "bench"))
    assert not outcome.skipped and outcome.records == outcome.loaded + outcome.rejected


def run(lines: int, repeats: int) -> dict[str, Any]:
    source = generic_csv(lines)
    work = Path(tempfile.mkdtemp(prefix="orderlens-bench-"))
    try:

        def fresh(_name: str) -> None:
            for child in work.iterdir():
                child.unlink()

        times = interleaved(
            {
                "bare": lambda: bare_ctas(source, work / "bare.duckdb"),
                "orderlens": lambda: orderlens_ingest(source, work / "ol.duckdb"),
            },
            repeats,
            fresh,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return ratio_report(times, repeats, 1.3, lines=lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(json.dumps(run(args.lines, args.repeats), indent=2))


if __name__ == "__main__":
    main()
