"""The dashboard, driven headless with Streamlit's AppTest against a fixture snapshot."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest
import yaml
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Dataframe

from orderlens.users import Role, save_user
from orderlens.warehouse import SnapshotReader
from tests.dashboards.fixtures import (
    CHANNELS,
    EMAILS,
    HELD_ORDERS,
    ORDER_COUNT,
    REJECT_RAW_EMAIL,
    build_snapshot,
    record_runs,
)

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Env:
    snapshot: Path
    users_file: Path
    state: Path


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Snapshot and users file built once (scrypt hashing is deliberately slow)."""
    root = tmp_path_factory.mktemp("dashboard")
    snapshot = build_snapshot(root / "published" / "orderlens.duckdb")
    users = root / "users.yaml"
    for role in Role:
        save_user(users, role.value, f"Test {role.value.title()}", role, PASSWORD)
    return snapshot, users


@pytest.fixture
def env(
    shared: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    snapshot, users = shared
    home = tmp_path / "home"
    state = tmp_path / "state"
    users_copy = tmp_path / "users.yaml"
    shutil.copy(users, users_copy)
    monkeypatch.setenv("ORDERLENS_HOME", str(home))
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
    monkeypatch.setenv("ORDERLENS_USERS_FILE", str(users_copy))
    monkeypatch.setenv("ORDERLENS_STATE", str(state))
    monkeypatch.delenv("ORDERLENS_AUTH", raising=False)
    monkeypatch.delenv("ORDERLENS_TIMEZONE", raising=False)
    monkeypatch.delenv("ORDERLENS_REPORTING_CURRENCY", raising=False)
    yield Env(snapshot, users_copy, state)


def app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=30)


def sign_in(username: str, password: str = PASSWORD) -> AppTest:
    at = app().run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def page_alone(page: str, role: str | None) -> AppTest:
    """One page script run on its own (as if its URL were opened), with or without a user."""
    at = AppTest.from_file(str(APP.parent / "app_pages" / f"{page}.py"), default_timeout=30)
    if role is not None:
        at.session_state["orderlens_user"] = {"username": role}
    return at.run()


def all_text(at: AppTest) -> str:
    """Everything the run rendered (main area and sidebar), including table contents."""
    parts: list[str] = []
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
        if isinstance(node, Dataframe):
            parts.append(node.value.to_csv())
    return "\n".join(parts)


def kpi_markers(at: AppTest) -> dict[str, str]:
    """The raw KPI values from the ``data-testid="kpi-..."`` markers."""
    import re

    html = "\n".join(c.value for c in at.caption)
    return dict(re.findall(r'<span data-testid="kpi-(\w+)">([^<]*)</span>', html))


def cents(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


# --------------------------------------------------------------------------- sign-in


def test_signed_out_visitor_sees_only_the_sign_in_form(env: Env) -> None:
    at = app().run()
    assert not at.exception
    assert [t.key for t in at.text_input] == ["signin_username", "signin_password"]
    assert len(at.button) == 1
    assert not at.metric and not at.dataframe
    text = all_text(at)
    for secret in (*EMAILS, "#1001", "kpi-", "Overview", "Data as of", "online_store"):
        assert secret not in text
    # A page script run without a signed-in session refuses to render (defence in depth).
    for page in ("overview", "orders", "ingestion", "quality"):
        direct = page_alone(page, None)
        assert [w.value for w in direct.warning] == ["Please sign in."]
        assert not direct.dataframe and "@example.com" not in all_text(direct)


def test_wrong_password_and_unknown_user_are_rejected(env: Env) -> None:
    for username, password in (("analyst", "wrong"), ("nobody", PASSWORD)):
        at = sign_in(username, password)
        assert [e.value for e in at.error] == ["Unknown username or wrong password."]
        assert not at.metric and not at.dataframe
        assert "kpi-" not in all_text(at)


# --------------------------------------------------------------------------- overview


def test_analyst_sees_overview_kpis_equal_to_sql(env: Env) -> None:
    record_runs(env.state / "runs.sqlite", fail_last=True)
    at = sign_in("analyst")
    assert at.title[0].value == "Overview"
    orders, with_rate, revenue = (
        SnapshotReader(env.snapshot)
        .query("SELECT count(*), count(total_reporting), sum(total_reporting) FROM fct_orders")
        .row(0)
    )
    assert orders == ORDER_COUNT
    assert kpi_markers(at) == {
        "orders": str(orders),
        "revenue": cents(revenue),
        "aov": cents(revenue / with_rate),
    }
    assert kpi_markers(at) == {"orders": "6", "revenue": "195.10", "aov": "39.02"}
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Orders"] == "6"
    assert metrics["Revenue (USD)"] == "195.10"
    # One order (GBP) has no FX rate.
    assert any("1 order(s) in this range have no FX rate" in w.value for w in at.warning)
    # The last run failed: its step and error are shown.
    failure = "\n".join(e.value for e in at.error)
    assert "run-0002" in failure and "stg_orders" in failure and "column 'total'" in failure
    # Rejected records are counted from ingest_files, held orders from stg_rejects.
    assert metrics["Records rejected"] == "3"
    assert metrics["Orders held"] == str(HELD_ORDERS)
    captions = [c.value for c in at.caption]
    assert (
        "3 records rejected at ingest, 3 orders held out of staging "
        "(1 line without an order id)." in captions
    )
    # A record with several problems counts once per error type.
    by_type = at.dataframe[1].value
    assert dict(zip(by_type["error_type"], by_type["rejected_records"], strict=True)) == {
        "CAST": 1,
        "invalid_currency": 1,
        "invalid_email": 1,
        "invalid_timestamp": 1,
    }
    # Sidebar: who, role, sign-out, data as of.
    sidebar = "\n".join(str(n.proto) for n in at.sidebar if hasattr(n, "proto"))
    assert "Test Analyst" in sidebar and "Role: analyst" in sidebar and "Data as of" in sidebar
    assert at.sidebar.button(key="sign_out")
    # The channel table lists all three channels.
    table = at.dataframe[0].value
    assert sorted(table["channel"]) == sorted(CHANNELS)


def test_overview_date_range_filters_kpis(env: Env) -> None:
    at = sign_in("analyst")
    at.date_input(key="overview_dates").set_value((date(2024, 3, 2), date(2024, 3, 2))).run()
    # #1002 (EUR 50 at 1.1 = 55.00) and #1003 (20.50).
    assert kpi_markers(at) == {"orders": "2", "revenue": "75.50", "aov": "37.75"}
    assert not any("no FX rate" in w.value for w in at.warning)


def test_sign_out_returns_to_the_sign_in_form(env: Env) -> None:
    at = sign_in("analyst")
    at.sidebar.button(key="sign_out").click().run()
    assert [t.key for t in at.text_input] == ["signin_username", "signin_password"]
    assert "kpi-" not in all_text(at)


# --------------------------------------------------------------------------- orders


def test_analyst_sees_masked_emails_on_orders(env: Env) -> None:
    at = open_page(sign_in("analyst"), "orders")
    assert at.title[0].value == "Orders"
    table = at.dataframe[0].value
    assert len(table) == ORDER_COUNT
    assert f"**{ORDER_COUNT}** order(s) match." in [m.value for m in at.markdown]
    assert set(table["customer_email"]) == {f"{e[0]}•••@example.com" for e in EMAILS}
    text = all_text(at)
    for email in EMAILS:
        assert email not in text
    assert "Main Street" not in text and "203.0.113." not in text
    # The CSV download is masked too.
    assert at.get("download_button")


def test_reviewer_sees_real_emails_on_orders(env: Env) -> None:
    at = open_page(sign_in("reviewer"), "orders")
    table = at.dataframe[0].value
    assert set(table["customer_email"]) == set(EMAILS)


def test_orders_filters_and_detail(env: Env) -> None:
    at = open_page(sign_in("reviewer"), "orders")
    at.multiselect(key="orders_channels").set_value(["pos"]).run()
    assert sorted(at.dataframe[0].value["order_number"]) == ["#1005", "#1006"]
    at.text_input(key="orders_search").input("1006").run()
    assert list(at.dataframe[0].value["order_number"]) == ["#1006"]
    at.selectbox(key="orders_detail").set_value("pos:#1006").run()
    assert any(s.value == "Order #1006" for s in at.subheader)
    lines = at.dataframe[-1].value
    assert list(lines["sku"]) == ["SKU-6"]
    # A search with LIKE wildcards is taken literally.
    at.text_input(key="orders_search").input("%").run()
    assert any(i.value == "No orders match these filters." for i in at.info)
    assert not at.dataframe


def test_planner_has_no_orders_page(env: Env) -> None:
    at = sign_in("planner")
    assert at.title[0].value == "Overview"
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("app_pages/orders.py")
    # Defence in depth: the page itself refuses a role that may not see it.
    direct = page_alone("orders", "planner")
    assert any("does not give access" in e.value for e in direct.error)
    assert not direct.dataframe


# --------------------------------------------------------------------------- ingestion


def test_ingestion_page_lists_files_and_rejects(env: Env) -> None:
    at = open_page(sign_in("analyst"), "ingestion")
    files, rejects = at.dataframe[0].value, at.dataframe[1].value
    assert sorted(files["status"]) == ["loaded", "partial", "rejected"]
    assert len(rejects) == 4  # one row per problem
    assert "3 rejected record(s) · 4 problem(s)" in [c.value for c in at.caption]
    assert "raw_text" not in rejects.columns
    # Not in the raw text, nor quoted in a type error's reason.
    assert REJECT_RAW_EMAIL not in all_text(at)
    assert (
        "value (hidden) is not a valid TIMESTAMP WITH TIME ZONE for column customer_created_at"
        in list(rejects["reason"])
    )
    at.multiselect(key="rejects_types").set_value(["invalid_email"]).run()
    assert list(at.dataframe[1].value["error_type"]) == ["invalid_email"]


def test_ingestion_page_lists_held_orders_with_filters(env: Env) -> None:
    at = open_page(sign_in("analyst"), "ingestion")
    assert not at.exception
    held = at.dataframe[2].value
    assert list(held.columns) == ["order_key", "source", "file", "lines", "line_count", "reason"]
    rows = {
        (r["order_key"] if isinstance(r["order_key"], str) else None): (
            r["file"],
            r["lines"],
            r["reason"],
        )
        for r in held.to_dict("records")
    }
    created_at = "created_at is missing or not an ISO 8601 timestamp"
    assert rows == {
        "amazon:AMZ-7": ("amazon_orders.csv", "6, 7", created_at),
        "shopify:SHOP-8": ("shopify_orders.csv", "4, 5", "quantity is missing"),
        None: ("shopify_orders.csv", "6", "source_order_id is missing"),
    }
    assert "3 held order(s) (1 without an order id) · 5 line(s) held" in [
        c.value for c in at.caption
    ]
    assert at.get("download_button")[-1].proto.label == "Download held orders CSV"
    # Filters: reason, file, order key (taken literally).
    at.multiselect(key="held_reasons").set_value([created_at]).run()
    assert list(at.dataframe[2].value["order_key"]) == ["amazon:AMZ-7"]
    at.multiselect(key="held_reasons").set_value([]).run()
    at.multiselect(key="held_files").set_value(["shopify_orders.csv"]).run()
    assert len(at.dataframe[2].value) == 2
    at.text_input(key="held_search").input("shop").run()
    assert list(at.dataframe[2].value["order_key"]) == ["shopify:SHOP-8"]
    at.text_input(key="held_search").input("_").run()
    assert any(i.value == "No held orders match these filters." for i in at.info)


def test_a_snapshot_without_stg_rejects_still_shows_overview_and_ingestion(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = build_snapshot(tmp_path / "older" / "orderlens.duckdb")
    con = duckdb.connect(str(snapshot))
    con.execute("DROP TABLE stg_rejects")
    con.close()
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
    at = sign_in("admin")
    assert not at.exception and not at.error
    assert {m.label: m.value for m in at.metric}["Orders held"] == "n/a"
    assert any(
        c.value.startswith("3 records rejected at ingest; this snapshot does not record")
        for c in at.caption
    )
    at = open_page(at, "ingestion")
    assert not at.exception and not at.error
    assert len(at.dataframe) == 2  # files and rejected records, still shown
    assert any("no `stg_rejects` table" in i.value for i in at.info)


def test_admin_sees_raw_text_of_rejects(env: Env) -> None:
    at = open_page(sign_in("admin"), "ingestion")
    rejects = at.dataframe[1].value
    assert REJECT_RAW_EMAIL in "\n".join(rejects["raw_text"])
    assert f"value '{REJECT_RAW_EMAIL}' is not a valid" in "\n".join(rejects["reason"])


# --------------------------------------------------------------------------- empty state


def test_empty_state_when_nothing_published(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(tmp_path / "nothing" / "orderlens.duckdb"))
    at = sign_in("analyst")
    assert not at.exception
    assert any("Nothing published yet" in i.value for i in at.info)
    assert not at.metric and "kpi-" not in all_text(at)
    at = open_page(at, "orders")
    assert any("Nothing published yet" in i.value for i in at.info)
    at = open_page(at, "ingestion")
    assert any("Nothing published yet" in i.value for i in at.info)


# --------------------------------------------------------------------------- OIDC mode


def test_oidc_mode_maps_the_signed_in_email_to_a_role(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERLENS_AUTH", "oidc")
    document = yaml.safe_load(env.users_file.read_text())
    document["users"]["reviewer"]["email"] = "rev@corp.example"
    env.users_file.write_text(yaml.safe_dump(document))

    at = app()
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.text_input and not at.metric and not at.dataframe
    if importlib.util.find_spec("authlib") is not None:
        assert [b.label for b in at.button] == ["Sign in"]
    else:  # st.login needs Authlib (streamlit[auth]): say so instead of failing on click
        assert any("needs Authlib" in e.value for e in at.error)

    at = app()
    at.user = {"is_logged_in": True, "email": "stranger@corp.example"}
    at.run()
    assert any("has no OrderLens role" in e.value for e in at.error)
    assert not at.metric and not at.dataframe

    at = app()
    at.user = {"is_logged_in": True, "email": "Rev@Corp.example"}
    at.run()
    assert not at.exception
    assert kpi_markers(at)["orders"] == str(ORDER_COUNT)
    assert any("Role: reviewer" in c.value for c in at.sidebar.caption)


def test_oidc_only_user_signs_in_through_oidc_but_never_with_the_form(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = yaml.safe_load(env.users_file.read_text())
    document["users"]["olga"] = {"name": "Olga", "role": "admin", "email": "olga@corp.example"}
    env.users_file.write_text(yaml.safe_dump(document))
    # Local mode: the file still works for everyone else, and Olga has no password at all.
    for password in ("", PASSWORD):
        at = sign_in("olga", password)
        assert [e.value for e in at.error] == ["Unknown username or wrong password."]
    assert sign_in("analyst").title[0].value == "Overview"
    # OIDC mode: her e-mail gives her role.
    monkeypatch.setenv("ORDERLENS_AUTH", "oidc")
    at = app()
    at.user = {"is_logged_in": True, "email": "Olga@corp.example"}
    at.run()
    assert not at.exception
    assert any("Role: admin" in c.value for c in at.sidebar.caption)
    # A users file that cannot be used gives no one a role, and says why.
    document["users"]["olga"]["password_hash"] = "plain-text-password"
    env.users_file.write_text(yaml.safe_dump(document))
    at = app()
    at.user = {"is_logged_in": True, "email": "olga@corp.example"}
    at.run()
    assert not at.metric and not at.dataframe
    assert any("users file cannot be used" in e.value for e in at.error)


def test_a_removed_user_is_signed_out_on_the_next_run(env: Env) -> None:
    at = sign_in("analyst")
    assert at.title[0].value == "Overview"
    document = yaml.safe_load(env.users_file.read_text())
    del document["users"]["analyst"]
    env.users_file.write_text(yaml.safe_dump(document))
    at.run()
    assert [t.key for t in at.text_input] == ["signin_username", "signin_password"]
    assert not at.metric


def test_a_snapshot_missing_a_table_gives_a_message_not_a_traceback(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = build_snapshot(tmp_path / "old" / "orderlens.duckdb")
    con = duckdb.connect(str(snapshot))
    con.execute("DROP TABLE ingest_rejects")
    con.close()
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
    at = open_page(sign_in("analyst"), "ingestion")
    assert any("could not be read" in e.value for e in at.error)


def test_a_new_publish_is_shown_on_the_next_run(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = build_snapshot(tmp_path / "own" / "orderlens.duckdb")
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
    at = sign_in("analyst")
    at.date_input(key="overview_dates").set_value((date(2024, 3, 4), date(2024, 3, 4))).run()
    assert kpi_markers(at)["orders"] == "1"
    # A narrower snapshot is published (the cache key is the snapshot's version token).
    con = duckdb.connect(str(snapshot))
    con.execute("DELETE FROM fct_orders WHERE order_date > DATE '2024-03-02'")
    con.close()
    at.run()
    assert not at.exception
    assert kpi_markers(at) == {"orders": "3", "revenue": "175.50", "aov": "58.50"}


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        (
            "value 'two' is not a valid DECIMAL(18,4) for column quantity",
            "value (hidden) is not a valid DECIMAL(18,4) for column quantity",
        ),
        (
            'truncated last row (the file ends mid-record): value "O\'Brien" is not a valid '
            "INTEGER for column line_number",
            "truncated last row (the file ends mid-record): value (hidden) is not a valid "
            "INTEGER for column line_number",
        ),
        ("row has more fields than the header", "row has more fields than the header"),
        (None, None),
    ],
)
def test_type_error_values_are_hidden(reason: str | None, shown: str | None) -> None:
    import polars as pl

    from dashboards.app_pages.ingestion import hide_values

    frame = pl.DataFrame({"reason": [reason]}, schema={"reason": pl.String})
    assert hide_values(frame)["reason"].to_list() == [shown]
