"""The run log's alerts: raised by failed runs, cleared by later successful ones, idempotent."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orderlens.runlog import MAX_SUMMARY, RunLog

CARD = "4111 1111 1111 1111"


@pytest.fixture
def log(tmp_path: Path) -> RunLog:
    return RunLog(tmp_path / "state" / "runs.sqlite")


def _fail(log: RunLog, run_id: str, step: str | None = "dim_products", **kwargs) -> None:
    log.start(run_id, kwargs.pop("selection", "*"), kwargs.pop("started_at", None))
    log.finish(run_id, success=False, error_summary="boom", failed_step=step)
    log.raise_alert(
        run_id, kind=kwargs.pop("kind", "run_failed"), error_summary="boom", step=step, **kwargs
    )


def _succeed(
    log: RunLog,
    run_id: str,
    steps: set[str] | None = None,
    started_at: datetime | None = None,
) -> int:
    log.start(run_id, "*" if steps is None else ",".join(sorted(steps)), started_at)
    log.finish(run_id, success=True)
    return log.clear_alerts(run_id, steps)


def test_an_empty_log_has_no_alerts_and_is_not_created_by_reading(log: RunLog) -> None:
    assert log.active_alerts() == [] and log.alerts() == []
    assert not log.path.exists()


def test_a_failed_run_raises_an_alert_that_a_later_full_success_clears(log: RunLog) -> None:
    log.start("r1")
    log.finish("r1", success=False, error_summary=f"card {CARD} in\nthe message", failed_step="s")
    assert log.raise_alert(
        "r1",
        kind="check_failed",
        error_summary=f"card {CARD} in\nthe message",
        step="raw_order_lines_raw_records_reconcile",
        asset="raw_order_lines",
    )
    (alert,) = log.active_alerts()
    assert (alert.run_id, alert.kind, alert.asset) == ("r1", "check_failed", "raw_order_lines")
    assert alert.step == "raw_order_lines_raw_records_reconcile"
    assert alert.where == "raw_order_lines (step raw_order_lines_raw_records_reconcile)"
    # Card numbers are redacted and the summary is one line.
    assert CARD not in alert.error_summary and "[card ••••1111]" in alert.error_summary
    assert "\n" not in alert.error_summary
    assert alert.active and alert.raised_at.tzinfo is not None

    assert _succeed(log, "r2") == 1
    assert log.active_alerts() == []
    (cleared,) = log.alerts("r1")
    assert cleared.cleared_by_run == "r2" and cleared.cleared_at is not None


def test_recording_the_same_run_twice_raises_one_alert(log: RunLog) -> None:
    _fail(log, "r1")
    # The CLI and the run-failure sensor both record the run.
    assert not log.raise_alert("r1", kind="run_failed", error_summary="boom", step="dim_products")
    assert len(log.active_alerts()) == 1
    # Clearing is idempotent too, and a second record after clearing does not revive it.
    assert _succeed(log, "r2") == 1
    assert log.clear_alerts("r2") == 0
    assert not log.raise_alert("r1", kind="run_failed", error_summary="boom", step="dim_products")
    assert log.active_alerts() == []


def test_a_run_without_a_step_and_several_steps_raise_separate_alerts(log: RunLog) -> None:
    _fail(log, "r1", step=None)
    log.raise_alert("r1", kind="run_failed", error_summary="also", step="fct_orders")
    alerts = log.active_alerts()
    assert sorted(a.step or "" for a in alerts) == ["", "fct_orders"]
    assert next(a for a in alerts if a.step is None).where == "before any step"


def test_a_partial_success_clears_only_the_steps_it_ran(log: RunLog) -> None:
    _fail(log, "r1", step="dim_products")
    log.raise_alert("r1", kind="run_failed", error_summary="x", step="fct_orders")
    _fail(log, "r2", step=None)
    assert _succeed(log, "r3", steps={"dim_customers", "dim_products"}) == 1
    assert sorted(a.step or "" for a in log.active_alerts()) == ["", "fct_orders"]
    assert _succeed(log, "r4", steps=set()) == 0
    # Only a whole-pipeline run clears an alert without a step.
    assert _succeed(log, "r5") == 2
    assert log.active_alerts() == []


def test_a_success_does_not_clear_a_failure_that_started_after_it(log: RunLog) -> None:
    now = datetime.now(UTC)
    _fail(log, "late-failure", started_at=now)
    assert _succeed(log, "earlier-success", started_at=now - timedelta(minutes=5)) == 0
    assert [a.run_id for a in log.active_alerts()] == ["late-failure"]


def test_a_failure_recorded_after_a_later_full_success_is_stored_cleared(log: RunLog) -> None:
    """A run-failure sensor may record a failed run after a later run already succeeded."""
    now = datetime.now(UTC)
    log.start("failed-first", "*", now - timedelta(minutes=5))
    _succeed(log, "succeeded-later", started_at=now)
    log.finish("failed-first", success=False, error_summary="boom", failed_step="s")
    assert log.raise_alert("failed-first", kind="run_failed", error_summary="boom", step="s")
    assert log.active_alerts() == []
    assert log.alerts("failed-first")[0].cleared_by_run == "succeeded-later"


def test_long_summaries_are_cut(log: RunLog) -> None:
    _fail(log, "r1")
    log.raise_alert("r1", kind="run_failed", error_summary="x" * 5000, step="other")
    assert max(len(a.error_summary) for a in log.active_alerts()) == MAX_SUMMARY


def test_kind_is_constrained(log: RunLog) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        log.raise_alert("r1", kind="oops", error_summary="x")  # type: ignore[arg-type]


def test_freshness_uses_the_last_success_or_the_publish_time(log: RunLog) -> None:
    now = datetime.now(UTC)
    assert log.freshness(36).stale  # never ran, nothing published
    assert not log.freshness(36, published_at=now - timedelta(hours=1)).stale
    assert log.freshness(36, published_at=now - timedelta(hours=40)).stale
    _succeed(log, "r1")
    fresh = log.freshness(36, published_at=now - timedelta(hours=40))
    assert not fresh.stale and fresh.last_success_at is not None
    assert fresh.refreshed_at == fresh.last_success_at
    later = now + timedelta(hours=37)
    assert log.freshness(36, now=later).stale
    assert not log.freshness(48, now=later).stale
