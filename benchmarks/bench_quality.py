"""The entry-accuracy suite on a generated merchant: rules, library checks, whole suite vs GX.

Input: a merchant of ``--orders`` orders generated over 2025 with every entry-accuracy
injector (``defects_fields``, ``defects_amounts`` and ``duplicate_submission``), each at
:data:`INJECTOR_RATE` = 0.0004: the rates sum to 0.8 %, and since the field defects' rates
count only the orders each can damage, 0.5-0.6 % of the orders end up damaged (the share
is reported from the ground truth, ``damaged_share``), ingested and staged the way the assets do it (``create_raw_tables``,
``ingest_landing``, ``load_reference``, ``build_staging``, without Dagster) into a DuckDB
file in a temporary folder, built once and deleted afterwards. Every measure is the median of
``--repeats`` interleaved runs on one connection to that file. The caches of
:mod:`quality.lookups` (per-value ``lru_cache`` s and its name tables) are cleared before
every run of (b) and (c), so no run profits from an earlier one.

(a) ``rules``: the vectorisable rules, i.e. the ``UNION ALL`` of
    :func:`quality.engine.findings_sql` of every rule over the prebuilt check frames
    (``_qc_orders``, ``_qc_lines``), materialised as a temporary table, as a ratio to ONE
    full scan of those same two tables that reads every column of every row
    (``SELECT count(*), sum(hash(COLUMNS(*)))``, i.e. one hash aggregate per column). Target
    <= 4. Reported beside it, not part of the ratio: building the check frames from staging
    (``build_frames``: joins, window and duplicate self-join; the lookups are built once
    before) and the same full scan of ``stg_orders`` + ``stg_order_lines``.
(b) ``library``: the e-mail and phone parts of :func:`quality.frames.build_lookups`: the
    same DISTINCT queries, :func:`quality.lookups.email_checks` /
    :func:`quality.lookups.phone_checks` (``email_validator``, ``phonenumbers``) on those
    distinct values, and the registration of the ``_lk_email`` / ``_lk_phone`` tables.
    Target <= 15 s per 1,000,000 orders (the figure is scaled linearly from ``--orders``).
    Beside the wall times: the CPU seconds of each (this process and its worker processes:
    phones are parsed by a pool of one process per CPU), the workers and the load average,
    since other work on the machine slows the pool down.
(c) ``suite``: :func:`quality.engine.validate` with ``gx=True`` (every rule, the quality
    tables, and the GX suites over the rules' row-level results with result_format
    COMPLETE, which must agree with the findings) against ``gx=False``: the GX contract's
    cost on top of the suite. Beside it, a native-GX version of a representative SUBSET of
    rules against our SQL for the same rules (``gx_native``): the subset's columns of the
    check frames exported to pandas (timed on its own, ``pandas_export_s``), then one GX
    validation with result_format COMPLETE (keys of every failing row) of
    ``ExpectColumnValuesToMatchRegex`` on the e-mail (EMAIL_INVALID; a regex, NOT
    ``email_validator``'s syntax check), ``ExpectColumnValuesToNotBeNull`` on the shipping
    street, city and country of orders that ship (SHIPPING_ADDRESS_INCOMPLETE; no source or
    postcode conditions), ``ExpectColumnPairValuesToBeEqual`` on the billing and shipping
    country codes (COUNTRY_MISMATCH), ``ExpectColumnValuesToBeInSet`` on the currency with
    the ISO 4217 codes (CURRENCY_INVALID) and ``ExpectColumnValuesToBeBetween`` on product
    lines' quantity (>= 1) and unit price (>= 0) (QUANTITY_INVALID without the whole-number
    test, PRICE_NEGATIVE), against the ``findings_sql`` of those six rules materialised. So
    the native side checks approximately, not exactly, the same thing (no severities, no
    per-channel exemptions, a simpler e-mail test); the comparison is of cost, and both
    sides start from the same prebuilt check frames. The rest of the suite (arithmetic with
    conventions, cross-order duplicates and customers, library verdicts) has no native GX
    expectation.

``--smoke`` is what ``benchmarks/run_all.py --smoke`` runs (its numbers are not the targets'
measure). ``--lookups-only`` measures (b) alone. ``--work DIR`` builds the merchant into DIR
and keeps it (``DIR/built.json`` records it), or reuses what an earlier run built there for
the same ``--orders``: the 1M-order build takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import polars as pl

from benchmarks.common import interleaved
from orderlens.reasons import ReasonCode
from orderlens.warehouse import table_from_frame
from quality import lookups

if TYPE_CHECKING:
    import pandas as pd

TARGET_RULES_RATIO = 4.0
TARGET_LIBRARY_SECONDS_PER_1M = 15.0
INJECTOR_RATE = 0.0004
"""Rate of every injector: about 0.5 % of the orders damaged in all (0.53 % of 20,000,
0.60 % of 1,000,000)."""
START, END = date(2025, 1, 1), date(2025, 12, 31)
CHECKED_AT = datetime(2026, 1, 15, tzinfo=UTC)

NATIVE_SUBSET: tuple[ReasonCode, ...] = (
    ReasonCode.EMAIL_INVALID,
    ReasonCode.SHIPPING_ADDRESS_INCOMPLETE,
    ReasonCode.COUNTRY_MISMATCH,
    ReasonCode.CURRENCY_INVALID,
    ReasonCode.QUANTITY_INVALID,
    ReasonCode.PRICE_NEGATIVE,
)
"""Rules the native-GX comparison covers (approximately: see the module docstring)."""

_EMAIL_REGEX = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$"

_DISTINCT_EMAILS = "SELECT DISTINCT email FROM stg_order_contacts WHERE email IS NOT NULL"
_DISTINCT_PHONES = """
SELECT DISTINCT c.phone, b.cc AS billing_country, s.cc AS shipping_country
FROM stg_order_contacts c
LEFT JOIN _qc_addr b ON b.order_key = c.order_key AND b.address_type = 'billing'
LEFT JOIN _qc_addr s ON s.order_key = c.order_key AND s.address_type = 'shipping'
WHERE c.phone IS NOT NULL"""
"""The DISTINCT queries of ``quality.frames.build_lookups`` for e-mails and phones."""


def injected() -> tuple[str, ...]:
    """Every entry-accuracy injector."""
    from pipelines.generator.defects_amounts import AMOUNT_DEFECTS
    from pipelines.generator.defects_fields import FIELD_DEFECTS

    return (*FIELD_DEFECTS, *AMOUNT_DEFECTS, "duplicate_submission")


def build_warehouse(orders: int, work: Path, seed: int = 7) -> tuple[Path, dict[str, Any]]:
    """Generate, ingest and stage a merchant into ``work``; return the DuckDB file and what
    it holds."""
    from orderlens.contracts import REFERENCE_INPUTS
    from orderlens.settings import Settings
    from orderlens.warehouse import open_writer
    from pipelines.defs.ingest.landing import discover_reference, ingest_landing, load_reference
    from pipelines.defs.ingest.tables import create_raw_tables
    from pipelines.defs.staging.build import build_staging
    from pipelines.generator import InjectorSpec, generate_merchant

    os.environ.setdefault("ORDERLENS_CUSTOMER_KEY_SECRET", "benchmark-secret")
    landing, truth = work / "landing", work / "ground_truth.parquet"
    names = injected()
    started = time.perf_counter()
    report = generate_merchant(
        landing,
        orders=orders,
        start=START,
        end=END,
        seed=seed,
        injectors=[InjectorSpec(name, INJECTOR_RATE) for name in names],
        ground_truth=truth,
    )
    generated = time.perf_counter()
    settings = Settings.from_env(env={}, home=work / "home", landing=landing)
    with open_writer(settings.warehouse) as con:
        create_raw_tables(con)
        ingest_landing(con, settings.landing)
    found = discover_reference(settings.landing)
    with open_writer(settings.warehouse) as con:
        for ref in REFERENCE_INPUTS:
            load_reference(con, ref.table, found.get(ref.table))
    with open_writer(settings.warehouse) as con:
        build_staging(con, timezone=settings.timezone, secret=settings.customer_key_secret())
        staged = con.execute(
            "SELECT (SELECT count(*) FROM stg_orders), (SELECT count(*) FROM stg_order_lines)"
        ).fetchall()[0]
    built = time.perf_counter()
    damaged = (
        pl.read_parquet(truth)
        .filter(pl.col("source_order_id").is_not_null())
        .select(pl.struct("source", "source_order_id").n_unique())
        .item()
    )
    shutil.rmtree(landing)
    return settings.warehouse, {
        "orders_generated": report.orders,
        "orders_staged": int(staged[0]),
        "lines_staged": int(staged[1]),
        "damaged_orders": int(damaged),
        "damaged_share": round(damaged / max(int(staged[0]), 1), 5),
        "generate_s": round(generated - started, 1),
        "ingest_and_stage_s": round(built - generated, 1),
    }


def clear_caches() -> None:
    """Forget every memoised verdict and name table of :mod:`quality.lookups`."""
    for value in vars(lookups).values():
        clear = getattr(value, "cache_clear", None)
        if callable(clear):
            clear()


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> Callable[[], object]:
    return lambda: con.execute(sql).fetchall()


def _full_scan(con: duckdb.DuckDBPyConnection, tables: tuple[str, ...]) -> Callable[[], object]:
    """One read of every column of every row of ``tables`` (a hash aggregate per column)."""
    queries = [f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {t}" for t in tables]
    return lambda: [con.execute(q).fetchall() for q in queries]


def _median_runs(result: tuple[float, list[float]]) -> dict[str, Any]:
    median, runs = result
    return {"s": round(median, 3), "runs": [round(t, 3) for t in runs]}


def measure_rules(con: duckdb.DuckDBPyConnection, repeats: int) -> dict[str, Any]:
    """(a): the rules' SQL over the prebuilt frames vs one full scan of the frames."""
    from quality.engine import findings_sql
    from quality.frames import build_frames, build_lookups
    from quality.rules import RULES

    clear_caches()
    build_lookups(con)
    build_frames(con, CHECKED_AT)
    union = "\nUNION ALL\n".join(findings_sql(rule) for rule in RULES)
    times = interleaved(
        {
            "scan_frames": _full_scan(con, ("_qc_orders", "_qc_lines")),
            "rules": lambda: con.execute(
                f"CREATE OR REPLACE TEMP TABLE _bench_findings AS {union}"
            ),
            "scan_staging": _full_scan(con, ("stg_orders", "stg_order_lines")),
            "build_frames": lambda: build_frames(con, CHECKED_AT),
        },
        repeats,
    )
    shape = con.execute(
        "SELECT (SELECT count(*) FROM _qc_orders), "
        "(SELECT count(*) FROM information_schema.columns WHERE table_name = '_qc_orders'), "
        "(SELECT count(*) FROM _qc_lines), "
        "(SELECT count(*) FROM information_schema.columns WHERE table_name = '_qc_lines'), "
        "(SELECT count(*) FROM _bench_findings)"
    ).fetchall()[0]
    rules, scan = times["rules"][0], times["scan_frames"][0]
    return {
        "rules": len(RULES),
        "frame_rows": {"orders": shape[0], "lines": shape[2]},
        "frame_columns": {"orders": shape[1], "lines": shape[3]},
        "findings": shape[4],
        "rules_s": _median_runs(times["rules"]),
        "scan_frames_s": _median_runs(times["scan_frames"]),
        "ratio": round(rules / scan, 3),
        "target_ratio": TARGET_RULES_RATIO,
        "build_frames_s": _median_runs(times["build_frames"]),
        "scan_staging_s": _median_runs(times["scan_staging"]),
        "frames_and_rules_vs_staging_scan": round(
            (times["build_frames"][0] + rules) / times["scan_staging"][0], 3
        ),
    }


def _cpu_seconds() -> float:
    """CPU time of this process and of its ended child processes so far."""
    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure_library(con: duckdb.DuckDBPyConnection, orders: int, repeats: int) -> dict[str, Any]:
    """(b): the e-mail and phone lookups (``_qc_addr`` must exist: ``build_lookups``)."""
    cpu: dict[str, list[float]] = {"email": [], "phone": []}

    def timed_cpu(name: str, action: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            started = _cpu_seconds()
            action()
            cpu[name].append(_cpu_seconds() - started)

        return run

    def emails() -> None:
        values = con.sql(_DISTINCT_EMAILS).pl()["email"].to_list()
        table_from_frame(con, "_lk_email", lookups.email_checks(values))

    def phones() -> None:
        table_from_frame(con, "_lk_phone", lookups.phone_checks(con.sql(_DISTINCT_PHONES).pl()))

    load_before = os.getloadavg()[0]
    times = interleaved(
        {"email": timed_cpu("email", emails), "phone": timed_cpu("phone", phones)},
        repeats,
        lambda _: clear_caches(),
    )
    distinct = con.execute(
        f"SELECT (SELECT count(*) FROM ({_DISTINCT_EMAILS})), "
        f"(SELECT count(*) FROM ({_DISTINCT_PHONES}))"
    ).fetchall()[0]
    email, phone = times["email"][0], times["phone"][0]
    per_million = (email + phone) * 1_000_000 / orders
    return {
        "distinct_emails": distinct[0],
        "distinct_phones": distinct[1],
        "email_s": _median_runs(times["email"]),
        "phone_s": _median_runs(times["phone"]),
        "email_cpu_s": round(statistics.median(cpu["email"]), 3),
        "phone_cpu_s": round(statistics.median(cpu["phone"]), 3),
        "phone_workers": lookups.parallel_workers(),
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "seconds": round(email + phone, 3),
        "seconds_per_1m_orders": round(per_million, 3),
        "target_seconds_per_1m_orders": TARGET_LIBRARY_SECONDS_PER_1M,
    }


def native_frames(con: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The columns of the check frames that the native subset reads, as pandas frames."""
    return {
        "orders": con.sql(
            "SELECT order_key, email, ships, shipping_address1, shipping_city, "
            "shipping_country, billing_cc, shipping_cc, currency FROM _qc_orders"
        ).df(),
        "order_lines": con.sql(
            "SELECT order_key, line_number, quantity::DOUBLE AS quantity, "
            "unit_price::DOUBLE AS unit_price FROM _qc_lines WHERE is_product"
        ).df(),
    }


def native_gx(frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """The native-GX subset (result_format COMPLETE); unexpected rows per expectation."""
    import great_expectations as gx
    import pycountry
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.core.expect_column_pair_values_to_be_equal import (
        ExpectColumnPairValuesToBeEqual,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_between import (
        ExpectColumnValuesToBeBetween,
    )
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )
    from great_expectations.expectations.core.expect_column_values_to_match_regex import (
        ExpectColumnValuesToMatchRegex,
    )
    from great_expectations.expectations.core.expect_column_values_to_not_be_null import (
        ExpectColumnValuesToNotBeNull,
    )

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("native")
    currencies = sorted(c.alpha_3 for c in pycountry.currencies)
    suites: dict[str, tuple[list[str], list[Any]]] = {
        "orders": (
            ["order_key"],
            [
                ExpectColumnValuesToMatchRegex(column="email", regex=_EMAIL_REGEX),
                *(
                    ExpectColumnValuesToNotBeNull(
                        column=column, row_condition="ships==True", condition_parser="pandas"
                    )
                    for column in ("shipping_address1", "shipping_city", "shipping_country")
                ),
                ExpectColumnPairValuesToBeEqual(
                    column_A="billing_cc",
                    column_B="shipping_cc",
                    ignore_row_if="either_value_is_missing",
                ),
                ExpectColumnValuesToBeInSet(column="currency", value_set=currencies),
            ],
        ),
        "order_lines": (
            ["order_key", "line_number"],
            [
                ExpectColumnValuesToBeBetween(column="quantity", min_value=1),
                ExpectColumnValuesToBeBetween(column="unit_price", min_value=0),
            ],
        ),
    }
    unexpected: dict[str, int] = {}
    for name, (keys, expectations) in suites.items():
        batch = source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(gx.ExpectationSuite(name=name))
        for expectation in expectations:
            suite.add_expectation(expectation)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=name, data=batch, suite=suite)
        )
        result = definition.run(
            batch_parameters={"dataframe": frames[name]},
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": keys,
                "return_unexpected_index_query": False,
            },
        )
        for item in result.results:
            kwargs = item.expectation_config.kwargs  # type: ignore[union-attr]
            column = kwargs.get("column") or f"{kwargs['column_A']}={kwargs['column_B']}"
            unexpected[f"{name}.{column}"] = int((item.result or {}).get("unexpected_count") or 0)
    return unexpected


def measure_suite(con: duckdb.DuckDBPyConnection, repeats: int) -> dict[str, Any]:
    """(c): validate with and without the GX contract; native GX subset vs our SQL."""
    import great_expectations  # noqa: F401  (imported once, outside every timing)

    from quality.engine import findings_sql, validate
    from quality.frames import build_frames, build_lookups
    from quality.rules import RULES_BY_CODE

    summaries: dict[str, Any] = {}

    def run(gx: bool) -> None:
        summaries[str(gx)] = validate(con, CHECKED_AT, gx=gx)

    times = interleaved(
        {"gx_false": lambda: run(False), "gx_true": lambda: run(True)},
        repeats,
        lambda _: clear_caches(),
    )
    summary = summaries["True"]
    build_lookups(con)
    build_frames(con, CHECKED_AT)
    subset = "\nUNION ALL\n".join(findings_sql(RULES_BY_CODE[code]) for code in NATIVE_SUBSET)
    exported: dict[str, pd.DataFrame] = {}
    unexpected: dict[str, int] = {}

    def export() -> None:
        exported.update(native_frames(con))

    def native() -> None:
        unexpected.update(native_gx(exported))

    export_times = interleaved({"export": export}, repeats)
    subset_times = interleaved(
        {
            "sql": lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE _bench_subset AS {subset}"),
            "native_gx": native,
        },
        repeats,
    )
    ours = dict(
        con.execute("SELECT reason_code, count(*) FROM _bench_subset GROUP BY 1").fetchall()
    )
    without, with_gx = times["gx_false"][0], times["gx_true"][0]
    sql, gx_native = subset_times["sql"][0], subset_times["native_gx"][0]
    return {
        "orders": summary.orders,
        "lines": summary.lines,
        "findings": summary.findings,
        "quarantined": summary.quarantined,
        "validate_gx_false_s": _median_runs(times["gx_false"]),
        "validate_gx_true_s": _median_runs(times["gx_true"]),
        "gx_contract_ratio": round(with_gx / without, 3),
        "gx_native": {
            "rules": [code.value for code in NATIVE_SUBSET],
            "pandas_export_s": _median_runs(export_times["export"]),
            "native_gx_s": _median_runs(subset_times["native_gx"]),
            "our_sql_s": _median_runs(subset_times["sql"]),
            "ratio_native_to_sql": round(gx_native / sql, 2),
            "ratio_native_with_export_to_sql": round(
                (gx_native + export_times["export"][0]) / sql, 2
            ),
            "native_unexpected_rows": unexpected,
            "our_findings": {str(k): int(v) for k, v in ours.items()},
        },
    }


def prepared_warehouse(orders: int, work: Path) -> tuple[Path, dict[str, Any]]:
    """The warehouse an earlier run built in ``work`` for ``orders`` orders (``built.json``),
    else one built there now."""
    record = work / "built.json"
    if record.exists():
        saved = json.loads(record.read_text())
        if saved["orders_requested"] != orders:
            raise SystemExit(f"{work} holds {saved['orders_requested']} orders, not {orders}")
        return Path(saved["warehouse"]), saved["built"]
    warehouse, built = build_warehouse(orders, work)
    saved = {"orders_requested": orders, "warehouse": str(warehouse), "built": built}
    record.write_text(json.dumps(saved))
    return warehouse, built


def run(
    orders: int,
    repeats: int,
    suite_repeats: int | None = None,
    *,
    lookups_only: bool = False,
    work: Path | None = None,
) -> dict[str, Any]:
    """Build the warehouse (in a temporary folder, or reuse ``work``), then measure (a), (b)
    and (c), or (b) alone (``suite_repeats``: runs of each side of (c), default ``repeats``)."""
    folder = work or Path(tempfile.mkdtemp(prefix="orderlens-bench-quality-"))
    folder.mkdir(parents=True, exist_ok=True)
    measured: dict[str, Any] = {}
    try:
        warehouse, built = prepared_warehouse(orders, folder)
        from orderlens.warehouse import connect
        from quality.frames import build_lookups

        con = connect(warehouse)
        try:
            if lookups_only:
                build_lookups(con)  # _qc_addr, which the phone query reads
            else:
                measured["rules"] = measure_rules(con, repeats)
            measured["library"] = measure_library(con, orders, repeats)
            if not lookups_only:
                measured["suite"] = measure_suite(con, suite_repeats or repeats)
        finally:
            con.close()
    finally:
        if work is None:
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "orders": orders,
        "repeats": repeats,
        "suite_repeats": suite_repeats or repeats,
        "injector_rate": INJECTOR_RATE,
        "injectors": len(injected()),
        "warehouse": built,
        **measured,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--suite-repeats", type=int, help="runs of each side of (c) (default: --repeats)"
    )
    parser.add_argument("--smoke", action="store_true", help="20,000 orders, one repeat")
    parser.add_argument(
        "--lookups-only", action="store_true", help="measure (b), the e-mail and phone lookups"
    )
    parser.add_argument(
        "--work", type=Path, help="build the merchant here and keep it, or reuse it if built"
    )
    args = parser.parse_args()
    orders, repeats = (20_000, 1) if args.smoke else (args.orders, args.repeats)
    result = run(
        orders, repeats, args.suite_repeats, lookups_only=args.lookups_only, work=args.work
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
