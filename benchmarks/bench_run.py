"""A whole pipeline run, as a ratio to the summed bare compute of its assets.

The run is a real Dagster run (local persistent instance, as `orderlens run` does) of every
asset and check on a fresh home. The baseline calls the same functions the assets call, in
the same order, with the same one-connection-per-asset pattern, without Dagster.
Target: ratio <= 1.15 at 1,000,000 lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.common import generic_csv, interleaved
from orderlens.contracts import REFERENCE_INPUTS
from orderlens.settings import Settings
from orderlens.warehouse import open_writer, publish, set_meta, transaction


def _landing(lines: int, root: Path) -> Path:
    from benchmarks.generic_orders import write_reference

    landing = root / "landing"
    (landing / "bench").mkdir(parents=True)
    os.link(generic_csv(lines), landing / "bench" / "orders.csv")
    write_reference(landing / "_reference")
    return landing


def bare(settings: Settings) -> None:
    """Every asset's work, called directly."""
    from pipelines.defs.ingest.landing import discover_reference, ingest_landing, load_reference
    from pipelines.defs.ingest.tables import create_raw_tables
    from pipelines.defs.marts.build import (
        build_dim_customers,
        build_dim_products,
        build_fct_order_lines,
        build_fct_orders,
    )
    from pipelines.defs.staging.build import build_staging
    from quality.engine import validate

    def writer():
        return open_writer(settings.warehouse)

    with writer() as con:
        create_raw_tables(con)
        ingest_landing(con, settings.landing)
    found = discover_reference(settings.landing)
    with writer() as con:
        for ref in REFERENCE_INPUTS:
            load_reference(con, ref.table, found.get(ref.table))
    with writer() as con:
        build_staging(con, timezone=settings.timezone, secret=settings.customer_key_secret())
    with writer() as con:
        validate(con, datetime.now(UTC), timezone=settings.timezone, docs=settings.data_docs)
    with writer() as con:
        build_fct_orders(con, settings.reporting_currency)
    with writer() as con:
        build_fct_order_lines(con)
    with writer() as con:
        build_dim_customers(con)
    with writer() as con:
        build_dim_products(con)
    with writer() as con, transaction(con):
        set_meta(con, "timezone", settings.timezone)
        set_meta(con, "reporting_currency", settings.reporting_currency)
    publish(settings.warehouse, settings.snapshot)


def dagster_run(settings: Settings) -> None:
    from pipelines.runner import run_pipeline

    outcome = run_pipeline(settings=settings)
    assert outcome.success, outcome.error


def run(lines: int, repeats: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="orderlens-bench-run-"))
    os.environ.setdefault("ORDERLENS_CUSTOMER_KEY_SECRET", "benchmark-secret")
    try:
        landing = _landing(lines, root)
        homes = {"bare": root / "bare", "dagster": root / "dagster"}

        def fresh(kind: str) -> None:
            shutil.rmtree(homes[kind], ignore_errors=True)
            os.environ["DAGSTER_HOME"] = str(homes[kind] / "dagster")

        def settings(kind: str) -> Settings:
            return Settings.from_env(env={}, home=homes[kind], landing=landing)

        times = interleaved(
            {
                "bare": lambda: bare(settings("bare")),
                "dagster": lambda: dagster_run(settings("dagster")),
            },
            repeats,
            fresh,
        )
        (base, base_all), (full, full_all) = times["bare"], times["dagster"]
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "lines": lines,
        "repeats": repeats,
        "bare_s": round(base, 3),
        "dagster_s": round(full, 3),
        "ratio": round(full / base, 3),
        "bare_runs": [round(t, 3) for t in base_all],
        "dagster_runs": [round(t, 3) for t in full_all],
        "target_ratio": 1.15,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(run(args.lines, args.repeats), indent=2))


if __name__ == "__main__":
    main()
