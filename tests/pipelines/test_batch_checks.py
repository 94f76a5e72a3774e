"""Validation before promotion: blocking checks for batch-level breaks (staging schema drift,
an empty batch, a staging emptied of orders) stop real Dagster runs before anything downstream
and leave the published snapshot as it was; every entry-accuracy rule reports its counts as an
asset check."""

from __future__ import annotations

import csv
import json
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_FIELDS
from orderlens.warehouse import SnapshotReader, connect
from pipelines.cli import EXIT_FAILED, main
from pipelines.defs.quality.assets import RULE_CHECKS_ASSET, RuleCounts, rule_check_result
from pipelines.defs.staging.contract import STAGING_SCHEMA, schema_drift
from pipelines.defs.staging.tables import STAGING_TABLES
from pipelines.runner import RunOutcome, run_pipeline
from quality.rules import RULES
from tests.conftest import SAMPLE_LANDING, make_settings, table_hashes

BATCH_STEP = "raw_order_lines_batch_not_empty"
STAGING_STEP = "staging_contract"


@dataclass(frozen=True)
class Run:
    """A pipeline run and what Dagster recorded of it."""

    outcome: RunOutcome
    started: set[str]
    """Steps that started."""
    checks: dict[tuple[str, str], dg.AssetCheckEvaluation]
    """(asset, check name) → the check's evaluation."""


def run_recorded(settings, selection: str = "*") -> Run:
    """A real in-process run (as ``run_all``) that keeps the run's step and check events."""
    with dg.DagsterInstance.ephemeral() as instance:
        outcome = run_pipeline(selection=selection, settings=settings, instance=instance)
        (run,) = instance.get_runs()
        events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    started = {e.step_key for e in events if e.event_type == dg.DagsterEventType.STEP_START}
    checks = {
        (
            e.asset_check_evaluation_data.asset_key.to_user_string(),
            e.asset_check_evaluation_data.check_name,
        ): (e.asset_check_evaluation_data)
        for e in events
        if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
    }
    return Run(outcome, {s for s in started if s}, checks)


def _meta(evaluation: dg.AssetCheckEvaluation) -> dict[str, object]:
    return {k: getattr(v, "value", v) for k, v in evaluation.metadata.items()}


def _alerts(capsys: pytest.CaptureFixture[str]) -> list[dict]:
    capsys.readouterr()
    assert main(["status", "--json"]) == EXIT_FAILED
    return json.loads(capsys.readouterr().out)["alerts"]


# ------------------------------------------------------------------ the declared contract


def test_the_declared_staging_schema_is_what_staging_builds(published_demo) -> None:
    """If this fails, the staging build and pipelines/defs/staging/contract.py disagree:
    declare the column (name and DuckDB type) in the contract in the same change."""
    assert tuple(STAGING_SCHEMA) == STAGING_TABLES
    con = connect(published_demo.warehouse, read_only=True)
    try:
        for table, declared in STAGING_SCHEMA.items():
            actual = {
                str(name): str(kind)
                for name, kind in con.execute(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            }
            assert schema_drift(declared, actual) == {
                "missing": [],
                "unexpected": [],
                "retyped": [],
            }, table
            assert list(actual) == list(declared), f"{table}: columns in another order"
    finally:
        con.close()


def test_columns_copied_as_received_follow_the_generic_contract() -> None:
    received = {f.name: f.type for f in GENERIC_FIELDS}
    assert STAGING_SCHEMA["stg_orders"]["total"] == received["total"]
    assert STAGING_SCHEMA["stg_order_lines"]["stated_line_amount"] == received["line_total"]


def test_schema_drift_names_missing_unexpected_and_retyped_columns() -> None:
    declared = {"order_key": "VARCHAR", "total": "DECIMAL(18,4)", "note": "VARCHAR"}
    actual = {"order_key": "VARCHAR", "total": "DOUBLE", "notes": "VARCHAR", "x": "INTEGER"}
    assert schema_drift(declared, actual) == {
        "missing": ["note"],
        "unexpected": ["notes VARCHAR", "x INTEGER"],
        "retyped": ["total: DECIMAL(18,4) -> DOUBLE"],
    }
    assert schema_drift(declared, dict(declared)) == {
        "missing": [],
        "unexpected": [],
        "retyped": [],
    }


# ------------------------------------------------------------------ rule checks: counts only

_CODE_TEXT = re.compile(r"^[a-z0-9_:, ]*$")
"""What a rule check's text metadata may hold: codes, channel names, severities."""


def _assert_counts_and_codes_only(metadata: Mapping[str, object]) -> None:
    for name, value in metadata.items():
        assert isinstance(value, int) or (isinstance(value, str) and _CODE_TEXT.match(value)), (
            name,
            value,
        )


def test_a_rule_check_reports_counts_and_codes_only() -> None:
    rule = next(r for r in RULES if r.grain == "line")
    failed = rule_check_result(rule, RuleCounts(100, 3, 4, 2, 1))
    assert (failed.passed, failed.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert (failed.asset_key, failed.check_name) == (
        dg.AssetKey(RULE_CHECKS_ASSET),
        rule.code.value,
    )
    metadata = {k: getattr(v, "value", v) for k, v in failed.metadata.items()}
    assert {k: metadata[k] for k in ("orders_checked", "failing_orders", "failing_lines")} == {
        "orders_checked": 100,
        "failing_orders": 3,
        "failing_lines": 4,
    }
    assert (metadata["quarantined_orders"], metadata["warned_orders"]) == (2, 1)
    _assert_counts_and_codes_only(metadata)
    assert rule_check_result(rule, RuleCounts(100)).passed


# ------------------------------------------------------------------ real runs


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Run]:
    """A home with the sample landing folder after one good run (copied by each test)."""
    root = tmp_path_factory.mktemp("batch") / "home"
    shutil.copytree(SAMPLE_LANDING, root / "landing", ignore=shutil.ignore_patterns("README.md"))
    run = run_recorded(make_settings(root))
    assert run.outcome.success, run.outcome.error
    return root, run


@pytest.fixture
def settings(installed: tuple[Path, Run], home: Path):
    """Settings of a private copy of ``installed``; the environment points at it."""
    shutil.copytree(installed[0], home)
    return make_settings(home)


@pytest.mark.slow
def test_a_good_run_passes_every_blocking_check_and_reports_every_rule(
    installed: tuple[Path, Run],
) -> None:
    root, run = installed
    for table in STAGING_TABLES:
        assert run.checks[(table, "schema_matches_contract")].passed, table
    assert run.checks[("stg_orders", "orders_staged")].passed
    batch = run.checks[("raw_order_lines", "batch_not_empty")]
    assert batch.passed and _meta(batch)["new_files"] == 3

    # One check per rule on quality_findings, WARN, with the counts of the findings table.
    with SnapshotReader(make_settings(root).snapshot).connection() as con:
        found = {
            str(code): (int(orders), int(errors), int(warnings))
            for code, orders, errors, warnings in con.execute(
                "SELECT reason_code, count(DISTINCT order_key), "
                "count(DISTINCT order_key) FILTER (WHERE severity = 'error'), "
                "count(DISTINCT order_key) FILTER (WHERE severity = 'warning') "
                "FROM quality_findings GROUP BY 1"
            ).fetchall()
        }
        staged = int(con.execute("SELECT count(*) FROM stg_orders").fetchall()[0][0])
    rule_checks = {name: e for (asset, name), e in run.checks.items() if asset == RULE_CHECKS_ASSET}
    assert set(rule_checks) == {rule.code.value for rule in RULES}
    assert found, "the demo has findings to count"
    for code, evaluation in rule_checks.items():
        metadata = _meta(evaluation)
        orders, errors, warnings = found.get(code, (0, 0, 0))
        assert evaluation.passed == (orders == 0), code
        assert evaluation.severity == dg.AssetCheckSeverity.WARN and not evaluation.blocking
        assert (
            metadata["failing_orders"],
            metadata["quarantined_orders"],
            metadata["warned_orders"],
        ) == (orders, errors, warnings), code
        assert 0 < int(metadata["orders_checked"]) <= staged  # type: ignore[arg-type]
        _assert_counts_and_codes_only(metadata)


def _drifting_build(original):
    """The staging build, then a drift of the kind a careless change makes."""

    def build(con, **kwargs):
        counts = original(con, **kwargs)
        con.execute("ALTER TABLE stg_orders DROP COLUMN note")
        con.execute("ALTER TABLE stg_payments ALTER amount TYPE DOUBLE")
        con.execute("ALTER TABLE stg_order_lines ADD COLUMN line_margin DOUBLE")
        con.execute("DELETE FROM stg_orders")
        return counts

    return build


@pytest.mark.slow
def test_staging_that_drifts_or_loses_its_orders_stops_the_run_before_quality(
    settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pipelines.defs.staging.build as staging_build

    published = table_hashes(settings.snapshot)
    findings = table_hashes(settings.warehouse)["quality_findings"]
    with monkeypatch.context() as patch:
        patch.setattr(staging_build, "build_staging", _drifting_build(staging_build.build_staging))
        run = run_recorded(settings)

    assert not run.outcome.success and run.outcome.failed_step == STAGING_STEP
    # The check is on the staging assets the quality step reads: quality never started,
    # nor did anything after it.
    assert "staging" in run.started and STAGING_STEP in run.started
    assert run.started.isdisjoint(
        {"quality", "fct_orders", "fct_order_lines", "dim_customers", "published_snapshot"}
    )
    assert table_hashes(settings.snapshot) == published
    assert table_hashes(settings.warehouse)["quality_findings"] == findings

    failed = {key: e for key, e in run.checks.items() if not e.passed}
    assert set(failed) == {
        ("stg_orders", "schema_matches_contract"),
        ("stg_payments", "schema_matches_contract"),
        ("stg_order_lines", "schema_matches_contract"),
        ("stg_orders", "orders_staged"),
    }
    assert all(e.blocking and e.severity == dg.AssetCheckSeverity.ERROR for e in failed.values())
    assert _meta(failed[("stg_orders", "schema_matches_contract")])["missing"] == "note"
    assert (
        _meta(failed[("stg_payments", "schema_matches_contract")])["retyped"]
        == "amount: DECIMAL(18,4) -> DOUBLE"
    )
    assert (
        _meta(failed[("stg_order_lines", "schema_matches_contract")])["unexpected"]
        == "line_margin DOUBLE"
    )
    emptied = _meta(failed[("stg_orders", "orders_staged")])
    assert emptied["orders_staged"] == 0 and int(emptied["orders_in_raw"]) > 0  # type: ignore[arg-type]

    # One alert per failed step (the run log's rule): the first failure names the others.
    (alert,) = _alerts(capsys)
    assert (alert["kind"], alert["step"], alert["asset"]) == (
        "check_failed",
        STAGING_STEP,
        "stg_orders",
    )
    assert alert["error"].startswith(
        "blocking check schema_matches_contract on stg_orders failed: stg_orders drifted from "
        "its declared schema: missing note; also failing: schema_matches_contract on "
        "stg_order_lines, schema_matches_contract on stg_payments, orders_staged on stg_orders"
    )


def _header_only(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (SAMPLE_LANDING / "online_store" / "orders_2026-10.csv").read_bytes().split(b"\n")[0]
    path.write_bytes(header + b"\n")


def _one_order(path: Path, order_id: str, total: str = "30.20") -> None:
    row = dict.fromkeys(GENERIC_FIELD_NAMES, "")
    row.update(
        source_order_id=order_id,
        channel="online_store",
        created_at="2026-10-20T10:00:00+00:00",
        currency="USD",
        total=total,
        product_name="Organic Cotton Tee - Navy / S",
        sku="APP-01-NAV-S",
        quantity="2",
        unit_price="15.10",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=GENERIC_FIELD_NAMES, lineterminator="\n")
        writer.writeheader()
        writer.writerow(row)


@pytest.mark.slow
def test_an_empty_batch_blocks_and_keeps_the_published_snapshot(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    landing = settings.landing
    published = table_hashes(settings.snapshot)
    _header_only(landing / "online_store" / "orders_2026-11.csv")
    (landing / "marketplace" / "orders_2026-11.csv").write_bytes(b"")

    blocked = run_recorded(settings)
    assert not blocked.outcome.success and blocked.outcome.failed_step == BATCH_STEP
    assert "staging" not in blocked.started and "published_snapshot" not in blocked.started
    assert table_hashes(settings.snapshot) == published
    check = blocked.checks[("raw_order_lines", "batch_not_empty")]
    assert _meta(check) == {
        "new_files": 2,
        "new_records": 0,
        "empty_files": "marketplace/orders_2026-11.csv, online_store/orders_2026-11.csv",
    }
    (alert,) = _alerts(capsys)
    assert (alert["kind"], alert["step"], alert["asset"]) == (
        "check_failed",
        BATCH_STEP,
        "raw_order_lines",
    )
    assert "hold no records" in alert["error"]
    assert "marketplace/orders_2026-11.csv, online_store/orders_2026-11.csv" in alert["error"]

    # The next batch brings an order and another empty export (a Parquet file without rows):
    # it is published, and the empty file is named in a warning.
    _one_order(landing / "shop" / "orders_2026-11.csv", "N-1")
    pos = landing / "pos" / "orders_2026-11.parquet"
    pl.DataFrame(schema=dict.fromkeys(GENERIC_FIELD_NAMES, pl.String)).write_parquet(pos)
    published_run = run_recorded(settings)
    assert published_run.outcome.success, published_run.outcome.error
    check = published_run.checks[("raw_order_lines", "batch_not_empty")]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert _meta(check) == {
        "new_files": 2,
        "new_records": 1,
        "empty_files": "pos/orders_2026-11.parquet",
    }
    with SnapshotReader(settings.snapshot).connection() as con:
        assert con.execute(
            "SELECT count(*) FROM stg_orders WHERE order_key = 'shop:N-1'"
        ).fetchall() == [(1,)]
    capsys.readouterr()
    assert main(["status", "--json"]) == 0  # the good run settled the alert


@pytest.mark.slow
def test_a_batch_that_is_all_quarantined_warns_and_still_publishes(settings) -> None:
    """Every order of the new file fails an error rule (totals that do not add up): they
    are quarantined, the run publishes, and the batch check warns. The next run, with one
    good order, passes."""
    landing = settings.landing
    _one_order(landing / "shop" / "orders_2026-11-01.csv", "Q-1", total="99.00")
    run = run_recorded(settings)
    assert run.outcome.success, run.outcome.error
    check = run.checks[("quality_quarantine", "batch_not_quarantined")]
    assert (check.passed, check.severity) == (False, dg.AssetCheckSeverity.WARN)
    assert _meta(check) == {"new_orders": 1, "new_orders_held": 1}
    with SnapshotReader(settings.snapshot).connection() as con:
        assert con.execute(
            "SELECT error_codes FROM quality_quarantine WHERE order_key = 'shop:Q-1'"
        ).fetchall() == [(["TOTAL_MISMATCH"],)]

    _one_order(landing / "shop" / "orders_2026-11-02.csv", "Q-2")
    good = run_recorded(settings)
    assert good.outcome.success, good.outcome.error
    check = good.checks[("quality_quarantine", "batch_not_quarantined")]
    assert check.passed and _meta(check) == {"new_orders": 1, "new_orders_held": 0}


@pytest.mark.slow
def test_a_failed_export_repeated_byte_for_byte_blocks_again(settings) -> None:
    """A header-only export is the same bytes every day it fails: the second copy is skipped
    by the ingestion log (one row per content) but still arrives, and blocks again; a run
    that brings nothing new passes."""
    landing = settings.landing
    _header_only(landing / "online_store" / "orders_2026-11-01.csv")
    first = run_recorded(settings)
    assert not first.outcome.success and first.outcome.failed_step == BATCH_STEP

    _header_only(landing / "online_store" / "orders_2026-11-02.csv")
    again = run_recorded(settings)
    assert not again.outcome.success and again.outcome.failed_step == BATCH_STEP
    check = again.checks[("raw_order_lines", "batch_not_empty")]
    assert _meta(check) == {
        "new_files": 1,
        "new_records": 0,
        "empty_files": "online_store/orders_2026-11-02.csv",
    }
    with connect(settings.warehouse, read_only=True) as con:
        logged = con.execute(
            "SELECT count(*) FROM ingest_files WHERE file_name LIKE 'online_store/orders_2026-11-0%'"
        ).fetchall()
        arrived = con.execute(
            "SELECT file_name FROM ingest_arrivals WHERE file_name LIKE "
            "'online_store/orders_2026-11-0%' ORDER BY file_name"
        ).fetchall()
    assert logged == [(1,)]
    assert arrived == [
        ("online_store/orders_2026-11-01.csv",),
        ("online_store/orders_2026-11-02.csv",),
    ]

    nothing_new = run_recorded(settings)
    assert nothing_new.outcome.success, nothing_new.outcome.error
    assert _meta(nothing_new.checks[("raw_order_lines", "batch_not_empty")])["new_files"] == 0


@pytest.mark.slow
def test_a_landing_with_only_reference_data_passes_every_check(home: Path) -> None:
    shutil.copytree(SAMPLE_LANDING / "_reference", home / "landing" / "_reference")
    run = run_recorded(make_settings(home))
    assert run.outcome.success, run.outcome.error
    batch = run.checks[("raw_order_lines", "batch_not_empty")]
    assert batch.passed and _meta(batch)["new_files"] == 0
    assert run.checks[("stg_orders", "orders_staged")].passed
    assert all(run.checks[(table, "schema_matches_contract")].passed for table in STAGING_TABLES)
    assert "published_snapshot" in run.started
