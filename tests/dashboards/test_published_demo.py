"""The dashboard against the REAL published snapshot: the one a Dagster run builds from the
committed sample landing folder (the session fixture ``published_demo``).

The fixture snapshot of ``test_app.py`` covers the edge cases the sample lacks (no FX rate,
held orders, an older snapshot); these tests make sure every page, for every role that may
open it, works on what the pipeline really publishes, and that what it shows equals SQL on
that snapshot. The shared home is never written: users and run log live under ``tmp_path``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from orderlens.security import mask_email
from orderlens.users import PAGES_BY_ROLE, Page, Role, save_user
from orderlens.warehouse import SnapshotReader
from tests.dashboards.test_app import all_text, kpi_markers

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
PASSWORD = "demo snapshot pass"
TITLES = {
    Page.OVERVIEW: "Overview",
    Page.ORDERS: "Orders",
    Page.INGESTION: "Ingestion",
    Page.QUALITY: "Data quality",
}
ONLINE_STORE_FILE = "online_store/orders_2026-10.csv"


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One user per role, hashed once for the module (scrypt is deliberately slow)."""
    path = tmp_path_factory.mktemp("demo-users") / "users.yaml"
    for role in Role:
        save_user(path, role.value, f"Demo {role.value.title()}", role, PASSWORD)
    return path


@pytest.fixture
def snapshot(
    published_demo: Any, users_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SnapshotReader]:
    """The environment points at the shared snapshot (read-only) and at private copies of
    everything the dashboard might write (the run log is opened in WAL mode)."""
    state = tmp_path / "state"
    state.mkdir()
    run_log = published_demo.run_log
    for suffix in ("", "-wal"):
        source = run_log.with_name(run_log.name + suffix)
        if source.exists():
            shutil.copy(source, state / source.name)
    monkeypatch.setenv("ORDERLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(published_demo.snapshot))
    monkeypatch.setenv("ORDERLENS_USERS_FILE", str(users_file))
    monkeypatch.setenv("ORDERLENS_STATE", str(state))
    for name in ("ORDERLENS_AUTH", "ORDERLENS_TIMEZONE", "ORDERLENS_REPORTING_CURRENCY"):
        monkeypatch.delenv(name, raising=False)
    before = _files(published_demo.home)
    yield SnapshotReader(published_demo.snapshot)
    assert _files(published_demo.home) == before, "the shared demo home was written"


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file()
    }


def sign_in(role: Role) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=30).run()
    at.text_input(key="signin_username").input(role.value)
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Overview"
    return at


def open_page(at: AppTest, page: Page) -> AppTest:
    at.switch_page(f"app_pages/{page.value}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == TITLES[page]
    return at


def cents(value: Any) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def table_with(at: AppTest, columns: set[str]) -> pd.DataFrame:
    """The one table of the page that has all these columns."""
    found = [d.value for d in at.dataframe if columns <= set(d.value.columns)]
    assert len(found) == 1, [list(d.value.columns) for d in at.dataframe]
    return found[0]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_page_works_for_every_role(snapshot: SnapshotReader, role: Role) -> None:
    orders, with_rate, revenue = snapshot.query(
        "SELECT count(*), count(total_reporting), sum(total_reporting) FROM fct_orders"
    ).row(0)
    assert orders > 0
    at = sign_in(role)
    assert not at.error and not at.warning, [*at.error, *at.warning]
    assert kpi_markers(at) == {
        "orders": str(orders),
        "revenue": cents(revenue),
        "aov": cents(Decimal(str(revenue)) / with_rate),
    }
    assert {m.label: m.value for m in at.metric}["Orders"] == f"{orders:,}"
    # The real run log copied from the shared home: the last run succeeded.
    assert any("succeeded" in s.value for s in at.success)
    for page in PAGES_BY_ROLE[role]:
        open_page(at, page)
    for page in set(Page) - set(PAGES_BY_ROLE[role]):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"app_pages/{page.value}.py")


def test_overview_counts_rejected_records_and_held_orders_from_the_snapshot(
    snapshot: SnapshotReader,
) -> None:
    rejected = snapshot.query("SELECT sum(rejected) FROM ingest_files").item()
    held = snapshot.query(
        "SELECT count(DISTINCT coalesce(order_key, file_id || ':' || line)) FROM stg_rejects"
    ).item()
    assert rejected == 3  # the sample's three deliberate defects
    at = sign_in(Role.ANALYST)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Records rejected"] == str(rejected)
    assert metrics["Orders held"] == str(held)
    orders_word = "order" if held == 1 else "orders"
    assert f"3 records rejected at ingest, {held} {orders_word} held out of staging." in [
        c.value for c in at.caption
    ]


def _orders_table(role: Role) -> tuple[pd.DataFrame, str]:
    at = open_page(sign_in(role), Page.ORDERS)
    return table_with(at, {"order_number", "source", "customer_email"}), all_text(at)


def test_orders_page_masks_emails_for_analyst_and_shows_them_for_reviewer(
    snapshot: SnapshotReader,
) -> None:
    fct = snapshot.query(
        "SELECT source, order_number, customer_email, customer_phone FROM fct_orders"
    )
    assert fct.select("source", "order_number").is_duplicated().sum() == 0
    expected = {
        (s, n): e for s, n, e in fct.select("source", "order_number", "customer_email").rows()
    }
    emails = {e for e in expected.values() if e}
    dim_emails = set(
        snapshot.query("SELECT email FROM dim_customers WHERE email IS NOT NULL")["email"]
    )
    assert emails and emails == dim_emails

    def shown(table: pd.DataFrame) -> dict[tuple[str, str], str | None]:
        return {
            (s, n): (e if isinstance(e, str) else None)
            for s, n, e in zip(
                table["source"], table["order_number"], table["customer_email"], strict=True
            )
        }

    reviewer, _ = _orders_table(Role.REVIEWER)
    assert len(reviewer) == fct.height
    assert shown(reviewer) == expected

    analyst, text = _orders_table(Role.ANALYST)
    assert len(analyst) == fct.height
    assert shown(analyst) == {k: mask_email(e) for k, e in expected.items()}
    for email in emails:  # nowhere on the page, in any table or text
        assert email not in text
    phones = {p for p in fct["customer_phone"].to_list() if p and len(p) >= 7}
    assert phones and not any(p in text for p in phones)


def test_ingestion_page_lists_the_sample_rejects_and_held_orders(
    snapshot: SnapshotReader,
) -> None:
    at = open_page(sign_in(Role.ANALYST), Page.INGESTION)
    rejects = table_with(at, {"file", "line", "error_type"})
    assert "raw_text" not in rejects.columns  # the analyst never gets the raw record
    assert not any("'two'" in r for r in rejects["reason"])  # nor a value quoted in a reason
    online = rejects[rejects["file"] == ONLINE_STORE_FILE]
    assert sorted(set(online["line"])) == [301, 302, 303]
    assert set(rejects["file"]) == {ONLINE_STORE_FILE}
    records = snapshot.query("SELECT count(DISTINCT (file_id, line)) FROM ingest_rejects").item()
    problems = snapshot.query("SELECT count(*) FROM ingest_rejects").item()
    assert f"{records} rejected record(s) · {problems} problem(s)" in [c.value for c in at.caption]
    files = table_with(at, {"file_name", "status"})
    assert dict(zip(files["file_name"], files["status"], strict=True))[ONLINE_STORE_FILE] == (
        "partial"
    )
    # Held orders: whatever stg_rejects holds (the sample holds none).
    held = snapshot.query("SELECT count(*) FROM stg_rejects").item()
    if held:
        table = table_with(at, {"order_key", "lines", "reason"})
        assert table["line_count"].sum() == held
    else:
        assert any(s.value == "No orders are held out of staging." for s in at.success)
    # Filtering the rejects by the file keeps the three records.
    at.multiselect(key="rejects_files").set_value([ONLINE_STORE_FILE]).run()
    again = table_with(at, {"file", "line", "error_type"})
    assert sorted(set(again["line"])) == [301, 302, 303]


def test_admin_sees_the_raw_text_of_the_sample_rejects(snapshot: SnapshotReader) -> None:
    at = open_page(sign_in(Role.ADMIN), Page.INGESTION)
    rejects = table_with(at, {"file", "line", "raw_text"})
    raw = dict(zip(rejects["line"], rejects["raw_text"], strict=False))
    assert set(raw) == {301, 302, 303}
    assert re.search(r"\btwo\b", raw[301])  # the quantity written as a word
    assert "value 'two' is not a valid" in "\n".join(rejects["reason"])
