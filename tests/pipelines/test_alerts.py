"""Failure alerts: a failed step or blocking check raises one, `orderlens status` shows it (exit
1) until a later run succeeds; the Dagster run-status sensors record the same alerts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from orderlens.runlog import RunLog
from orderlens.warehouse import (
    SCHEMA_VERSION,
    SchemaVersionError,
    open_writer,
    set_meta,
    transaction,
)
from pipelines.cli import EXIT_FAILED, EXIT_OK, main
from pipelines.defs.assets import ASSET_CHECKS, ASSETS
from pipelines.defs.automation import record_failed_runs, record_successful_runs, run_problems
from pipelines.defs.ingest.landing import IngestError
from pipelines.defs.resources import WarehouseResource
from pipelines.runner import QUIET_LOGS
from tests.conftest import SAMPLE_LANDING, make_settings, run_all

pytestmark = pytest.mark.slow

CARD = "4111 1111 1111 1111"
CHECK_STEP = "raw_order_lines_raw_records_reconcile"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the sample landing folder after one good run (copied by each test)."""
    root = tmp_path_factory.mktemp("alerts") / "home"
    shutil.copytree(SAMPLE_LANDING, root / "landing", ignore=shutil.ignore_patterns("README.md"))
    outcome = run_all(make_settings(root))
    assert outcome.success, outcome.error
    return root


@pytest.fixture
def settings(installed: Path, home: Path):
    """Settings of a private copy of ``installed``; the environment points at it."""
    shutil.copytree(installed, home)
    return make_settings(home)


def status(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[dict]]:
    """Exit code and text of `orderlens status`, and the alerts of `status --json`."""
    capsys.readouterr()
    code = main(["status"])
    text = capsys.readouterr().out
    assert main(["status", "--json"]) == code
    return code, text, json.loads(capsys.readouterr().out)["alerts"]


def _unreconcile(warehouse: Path, shift: int) -> str:
    """Move ``shift`` records of one order file from loaded to rejected in the ingestion log
    (the log no longer matches the raw rows); returns the file's name."""
    with open_writer(warehouse) as con, transaction(con):
        name, file_id = con.execute(
            "SELECT file_name, file_id FROM ingest_files WHERE source <> '_reference' "
            "ORDER BY file_name LIMIT 1"
        ).fetchall()[0]
        con.execute(
            "UPDATE ingest_files SET loaded = loaded - ?, rejected = rejected + ? "
            "WHERE file_id = ?",
            [shift, shift, file_id],
        )
    return name


def test_a_failed_step_alerts_until_a_good_run(
    settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(con) -> int:
        raise IngestError(f"catalogue row for card {CARD} is unusable")

    assert status(capsys)[0] == EXIT_OK
    with monkeypatch.context() as patch:
        patch.setattr("pipelines.defs.marts.build.build_dim_products", broken)
        failed = run_all(settings)
    assert not failed.success and failed.failed_step == "dim_products"
    assert failed.error is not None and "is unusable" in failed.error and CARD not in failed.error

    code, text, alerts = status(capsys)
    assert code == EXIT_FAILED
    assert f"ALERT       run failed: run {failed.run_id} at dim_products" in text
    assert "catalogue row for card [card ••••1111] is unusable" in text
    assert CARD not in text
    assert [(a["run_id"], a["kind"], a["step"], a["asset"]) for a in alerts] == [
        (failed.run_id, "run_failed", "dim_products", "dim_products")
    ]
    assert alerts[0]["error"] == failed.error

    good = run_all(settings)
    assert good.success, good.error
    code, text, alerts = status(capsys)
    assert (code, alerts) == (EXIT_OK, [])
    assert "ALERT" not in text
    assert RunLog(settings.run_log).alerts(failed.run_id)[0].cleared_by_run == good.run_id


def test_a_failed_blocking_check_alerts_and_a_run_that_passes_it_clears(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    name = _unreconcile(settings.warehouse, 1)
    failed = run_all(settings)
    # The check's own step fails (DagsterAssetCheckFailedError); downstream steps never run.
    assert not failed.success and failed.failed_step == CHECK_STEP
    assert failed.error == (
        "blocking check raw_records_reconcile on raw_order_lines failed "
        f"(files_checked: 3, unreconciled_files: {name})"
    )
    code, text, alerts = status(capsys)
    assert code == EXIT_FAILED
    assert (
        f"ALERT       check failed: run {failed.run_id} at raw_order_lines (step {CHECK_STEP})"
        in text
    )
    assert f"unreconciled_files: {name}" in text
    assert [(a["kind"], a["asset"], a["step"]) for a in alerts] == [
        ("check_failed", "raw_order_lines", CHECK_STEP)
    ]

    # A partial run of another asset succeeds but does not settle the check.
    assert run_all(settings, "dim_customers").success
    assert len(status(capsys)[2]) == 1

    _unreconcile(settings.warehouse, -1)
    # Selecting the asset runs its check too; the check passing clears the alert.
    repaired = run_all(settings, "raw_order_lines")
    assert repaired.success, repaired.error
    code, text, alerts = status(capsys)
    assert (code, alerts) == (EXIT_OK, [])


def test_a_warehouse_the_run_cannot_open_alerts_before_any_step(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with open_writer(settings.warehouse, check_version=False) as con, transaction(con):
        set_meta(con, "schema_version", "99")
    with pytest.raises(SchemaVersionError):
        run_all(settings)
    code, text, alerts = status(capsys)
    assert code == EXIT_FAILED
    assert [(a["kind"], a["step"]) for a in alerts] == [("run_failed", None)]
    assert "at before any step" in text and "schema version 99" in alerts[0]["error"]
    last = RunLog(settings.run_log).latest()
    assert last is not None and last.status == "failure"  # not left 'running'

    with open_writer(settings.warehouse, check_version=False) as con, transaction(con):
        set_meta(con, "schema_version", str(SCHEMA_VERSION))
    assert run_all(settings).success
    code, _, alerts = status(capsys)
    assert (code, alerts) == (EXIT_OK, [])


def test_the_run_status_sensors_raise_and_clear_the_same_alerts(settings) -> None:
    """Runs launched from Dagster (UI, schedule, sensor) are recorded by the sensors."""

    def materialize(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [*ASSETS, *ASSET_CHECKS],
            selection="raw_order_lines",
            instance=instance,
            resources={"warehouse": WarehouseResource.from_settings(settings)},
            run_config=QUIET_LOGS,
            raise_on_error=False,
        )

    def sense(instance, result: dg.ExecuteInProcessResult) -> None:
        event = result.get_run_success_event() if result.success else result.get_run_failure_event()
        context = dg.build_run_status_sensor_context(
            sensor_name="recorder",
            dagster_event=event,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        )
        if result.success:
            record_successful_runs(context)
        else:
            record_failed_runs(context.for_run_failure())

    log = RunLog(settings.run_log)
    _unreconcile(settings.warehouse, 2)
    with dg.DagsterInstance.ephemeral() as instance:
        failed = materialize(instance)
        assert not failed.success
        sense(instance, failed)
        sense(instance, failed)  # recorded twice: still one alert
        (alert,) = log.active_alerts()
        expected = run_problems(failed.all_events)[0]
        assert (alert.run_id, alert.kind, alert.step, alert.asset, alert.error_summary) == (
            failed.run_id,
            "check_failed",
            CHECK_STEP,
            "raw_order_lines",
            expected.summary,
        )
        run = log.get(failed.run_id)
        assert run is not None and run.status == "failure" and run.failed_step == CHECK_STEP
        # Not a run of the orderlens_refresh job: recorded as partial (its job's name).
        assert run.selection == failed.dagster_run.job_name != "*"

        _unreconcile(settings.warehouse, -2)
        good = materialize(instance)
        assert good.success
        sense(instance, good)
    assert log.active_alerts() == []
    assert log.alerts(failed.run_id)[0].cleared_by_run == good.run_id


@pytest.fixture
def _stale_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("ORDERLENS_STALE_AFTER_HOURS", "0")
    yield


def test_status_warns_of_stale_data_with_data_as_of(
    settings, _stale_window: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text, alerts = status(capsys)
    assert (code, alerts) == (EXIT_OK, [])
    stale = next(line for line in text.splitlines() if line.startswith("STALE"))
    assert "no successful run in the last 0 hours" in stale and "data as of 20" in stale
    capsys.readouterr()
    main(["status", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["stale"] is True and report["data_as_of"] and report["stale_after_hours"] == 0
