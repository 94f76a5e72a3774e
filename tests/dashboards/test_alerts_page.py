"""The Overview page shows failure alerts (every role) until a later run succeeds, and warns of
stale data with "data as of".

Each test has a home of its own: a copy of the shared ``published_demo`` home (copied, never
written) or a fixture snapshot.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from orderlens.runlog import RunLog
from orderlens.users import Role
from pipelines.defs.ingest.landing import IngestError
from tests.conftest import make_settings, run_all
from tests.dashboards.fixtures import build_snapshot

PAGE = Path(__file__).resolve().parents[2] / "dashboards" / "app_pages" / "overview.py"
FAILED_HEADLINE = "A pipeline run failed"


@pytest.fixture
def users(home: Path) -> None:
    """One user per role in the home's users file (no passwords: the tests put the user in the
    session, as a sign-in would)."""
    home.mkdir(parents=True, exist_ok=True)
    entries = {
        role.value: {"name": role.value.title(), "role": role.value, "email": f"{role}@x.test"}
        for role in Role
    }
    (home / "users.yaml").write_text(yaml.safe_dump({"users": entries}))


def overview(role: Role = Role.ANALYST) -> AppTest:
    at = AppTest.from_file(str(PAGE), default_timeout=30)
    at.session_state["orderlens_user"] = {"username": role.value}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    return at


def alert_boxes(at: AppTest) -> list[str]:
    return [e.value for e in at.error if "this alert stays until a later run succeeds" in e.value]


def first_metric_position(at: AppTest) -> int:
    """Position in the main area of the first KPI (the alerts must come before it)."""
    kinds = [type(node).__name__ for node in at.main]
    return kinds.index("Metric") if "Metric" in kinds else len(kinds)


@pytest.mark.slow
def test_overview_shows_the_alert_of_a_failing_run_until_a_good_run(
    published_demo: Any, home: Path, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(published_demo.home, home, dirs_exist_ok=True)
    shutil.copytree(published_demo.landing, home / "landing")
    settings = make_settings(home)
    assert alert_boxes(overview()) == []

    def broken(con) -> int:
        raise IngestError("catalogue row for card 4111 1111 1111 1111 is unusable")

    with monkeypatch.context() as patch:
        patch.setattr("pipelines.defs.marts.build.build_dim_products", broken)
        failed = run_all(settings)
    assert not failed.success and failed.failed_step == "dim_products"

    at = overview()
    (box,) = alert_boxes(at)
    assert FAILED_HEADLINE in box and f"run `{failed.run_id}`" in box
    assert "at `dim_products`" in box and "raised 20" in box
    assert "catalogue row for card [card ••••1111] is unusable" in box
    assert "4111 1111" not in box
    # At the top: before the KPIs (the published data is still shown below).
    kinds = [type(node).__name__ for node in at.main]
    assert kinds.index("Error") < first_metric_position(at) < len(kinds)

    good = run_all(settings)
    assert good.success, good.error
    at = overview()
    assert alert_boxes(at) == []
    assert not any(FAILED_HEADLINE in e.value for e in at.error)
    assert any(f"Run `{good.run_id}`" in s.value and "succeeded" in s.value for s in at.success)


def test_every_role_sees_alerts_even_when_nothing_is_published(home: Path, users: None) -> None:
    log = RunLog(make_settings(home).run_log)
    log.start("r-check")
    log.finish("r-check", success=False, error_summary="x", failed_step="s")
    log.raise_alert(
        "r-check",
        kind="check_failed",
        error_summary="blocking check raw_records_reconcile on raw_order_lines failed",
        step="raw_order_lines_raw_records_reconcile",
        asset="raw_order_lines",
    )
    for role in Role:  # no personal data in alerts: every role sees them
        at = overview(role)
        (box,) = alert_boxes(at)
        assert "A blocking data check failed" in box and "run `r-check`" in box
        assert "raw_order_lines (step raw_order_lines_raw_records_reconcile)" in box
        assert any("Nothing published yet" in i.value for i in at.info)


def _stale_warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "Stale data" in w.value]


def test_stale_data_warning_says_data_as_of(
    home: Path, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(home)
    build_snapshot(settings.snapshot, published_at=datetime(2024, 3, 5, 6, 0, tzinfo=UTC))
    # No run in the log and a snapshot published long ago: stale.
    (warning,) = _stale_warnings(overview())
    assert "no successful pipeline run in the last 36 hours" in warning
    assert "last success: never" in warning and "Data as of 2024-03-05 06:00 UTC" in warning

    # A successful run three hours ago: not stale within 36 hours, stale within 2.
    log = RunLog(settings.run_log)
    log.start("r-good", started_at=datetime.now(UTC) - timedelta(hours=3))
    log.finish("r-good", success=True)
    three_hours_ago = (datetime.now(UTC) - timedelta(hours=3)).isoformat(timespec="seconds")
    with sqlite3.connect(settings.run_log) as con:
        con.execute("UPDATE runs SET finished_at = ?", (three_hours_ago,))
    con.close()
    assert _stale_warnings(overview()) == []
    monkeypatch.setenv("ORDERLENS_STALE_AFTER_HOURS", "2")
    (warning,) = _stale_warnings(overview())
    assert "in the last 2 hours" in warning and "Data as of 2024-03-05 06:00 UTC" in warning
    assert "last success: never" not in warning
