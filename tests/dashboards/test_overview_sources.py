"""Overview: orders by source and channel, and the ingestion log, against SQL on the snapshot.

Driven with AppTest on the real published snapshot (``published_demo``: the committed sample
landing folder, three order files in ``online_store``, ``marketplace`` and ``pos`` plus four
reference files) and on the fixture snapshot of ``test_app.py``, which predates
``fct_orders.channel_raw`` and ``ingest_files.orders``. The shared home is never written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.app_pages.overview import joined_labels
from dashboards.ui import format_label
from orderlens.users import Role, save_user
from orderlens.warehouse import SnapshotReader
from tests.dashboards.fixtures import build_snapshot
from tests.dashboards.test_published_demo import PASSWORD, cents, sign_in, table_with

SOURCE_CHANNEL = {"source", "channel", "orders", "raw_channel_labels"}
LOG = {"file", "source", "format", "records", "orders", "rejected", "status", "time_s"}
REFERENCES = {"file", "records", "loaded", "rejected", "status"}


@pytest.fixture(scope="module")
def users_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("overview-users") / "users.yaml"
    for role in (Role.ANALYST, Role.PLANNER):
        save_user(path, role.value, f"Demo {role.value.title()}", role, PASSWORD)
    return path


@pytest.fixture
def snapshot(
    published_demo: Any, users_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SnapshotReader]:
    """The environment points at the shared snapshot (read-only) and a private run log."""
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
    before = sorted(p.stat().st_mtime_ns for p in published_demo.home.rglob("*") if p.is_file())
    yield SnapshotReader(published_demo.snapshot)
    after = sorted(p.stat().st_mtime_ns for p in published_demo.home.rglob("*") if p.is_file())
    assert after == before, "the shared demo home was written"


def _shown_by_source_channel(at: AppTest) -> dict[tuple[str, str], tuple[int, str, str]]:
    table = table_with(at, SOURCE_CHANNEL)
    return {
        (s, c): (int(n), cents(r), str(raw))
        for s, c, n, r, raw in zip(
            table["source"],
            table["channel"],
            table["orders"],
            table["revenue"],
            table["raw_channel_labels"],
            strict=True,
        )
    }


def _sql_by_source_channel(
    snapshot: SnapshotReader, start: date, end: date, exclude_cancelled: bool
) -> dict[tuple[str, str], tuple[int, str, str]]:
    rows = snapshot.query(
        "SELECT source, channel, count(*), sum(total_reporting), "
        "string_agg(DISTINCT channel_raw, ', ' ORDER BY channel_raw) FROM fct_orders "
        "WHERE order_date BETWEEN ? AND ? AND (NOT ? OR cancelled_at IS NULL) GROUP BY ALL",
        [start, end, exclude_cancelled],
    ).rows()
    return {(s, c): (n, cents(r), raw) for s, c, n, r, raw in rows}


def test_orders_by_source_and_channel_equal_sql_and_follow_the_filters(
    snapshot: SnapshotReader,
) -> None:
    lo, hi = snapshot.query("SELECT min(order_date), max(order_date) FROM fct_orders").row(0)
    at = sign_in(Role.ANALYST)
    shown = _shown_by_source_channel(at)
    assert shown == _sql_by_source_channel(snapshot, lo, hi, False)
    # The sample's three sources, and every order counted once.
    assert {s for s, _ in shown} == {"online_store", "marketplace", "pos"}
    total = snapshot.query("SELECT count(*) FROM fct_orders").item()
    assert sum(n for n, _, _ in shown.values()) == total
    table = table_with(at, SOURCE_CHANNEL)
    keys = zip(table["source"], table["channel"], strict=True)
    by_key = dict(zip(keys, table["share_of_orders_pct"], strict=True))
    for key, (orders, _, _) in shown.items():
        assert by_key[key] == pytest.approx(round(orders / total * 100, 1))

    # The page's date range and cancelled toggle narrow this table too.
    start = lo + (hi - lo) // 2
    at.date_input(key="overview_dates").set_value((start, hi)).run()
    at.toggle(key="overview_no_cancelled").set_value(True).run()
    assert not at.exception
    narrowed = _shown_by_source_channel(at)
    assert narrowed == _sql_by_source_channel(snapshot, start, hi, True)
    assert sum(n for n, _, _ in narrowed.values()) < total


def test_ingestion_log_lists_each_order_file_equal_to_sql(snapshot: SnapshotReader) -> None:
    at = sign_in(Role.PLANNER)  # a role without the Ingestion page sees the log too
    assert not at.error and not at.warning
    log = table_with(at, LOG)
    expected = snapshot.query(
        "SELECT file_name, source, file_format, records, orders, rejected, status "
        "FROM ingest_files WHERE source <> '_reference' ORDER BY ingested_at DESC, file_name"
    ).rows()
    shown = list(
        zip(
            log["file"],
            log["source"],
            log["format"],
            log["records"],
            log["orders"],
            log["rejected"],
            log["status"],
            strict=True,
        )
    )
    assert shown == [(f, s, format_label(ff), r, o, x, st) for f, s, ff, r, o, x, st in expected]
    assert len(shown) == 3
    online = log[log["file"] == "online_store/orders_2026-10.csv"].iloc[0]
    assert (online["rejected"], online["status"], online["format"]) == (3, "partial", "Generic CSV")
    assert set(log["format"]) == {"Generic CSV", "Generic Parquet"}
    # No order is in two sample files, so the files' orders add up to the warehouse's.
    assert log["orders"].sum() == snapshot.query("SELECT count(*) FROM fct_orders").item()
    ingested = pd.to_datetime(log["ingested_at"])
    assert ingested.is_monotonic_decreasing  # newest first
    assert bool((log["time_s"] >= 0).all())

    references = table_with(at, REFERENCES)
    assert "format" not in references.columns
    assert sorted(references["file"]) == sorted(
        snapshot.query("SELECT file_name FROM ingest_files WHERE source = '_reference'")[
            "file_name"
        ]
    )
    assert len(references) == 4

    # File names and counts only: no customer detail in either table.
    text = log.to_csv() + references.to_csv() + table_with(at, SOURCE_CHANNEL).to_csv()
    people = snapshot.query(
        "SELECT customer_email, customer_phone, customer_name FROM fct_orders"
    ).rows()
    values = {v for row in people for v in row if v and len(v) >= 5}
    assert values and not any(v in text for v in values)


def test_a_snapshot_without_the_new_columns_shows_them_blank(
    users_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshot = build_snapshot(tmp_path / "older" / "orderlens.duckdb")
    reader = SnapshotReader(snapshot)
    assert "channel_raw" not in reader.query("SELECT * FROM fct_orders LIMIT 0").columns
    assert "orders" not in reader.query("SELECT * FROM ingest_files LIMIT 0").columns
    monkeypatch.setenv("ORDERLENS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(snapshot))
    monkeypatch.setenv("ORDERLENS_USERS_FILE", str(users_file))
    monkeypatch.setenv("ORDERLENS_STATE", str(tmp_path / "state"))
    for name in ("ORDERLENS_AUTH", "ORDERLENS_TIMEZONE", "ORDERLENS_REPORTING_CURRENCY"):
        monkeypatch.delenv(name, raising=False)
    at = sign_in(Role.ANALYST)
    assert not at.exception and not at.error
    table = table_with(at, SOURCE_CHANNEL)
    counts = reader.query("SELECT source, channel, count(*) FROM fct_orders GROUP BY ALL").rows()
    columns = (table["source"], table["channel"], table["orders"])
    assert {(s, c): int(n) for s, c, n in zip(*columns, strict=True)} == {
        (s, c): n for s, c, n in counts
    }
    assert bool(table["raw_channel_labels"].isna().all())
    log = table_with(at, LOG)
    assert (
        len(log)
        == reader.query("SELECT count(*) FROM ingest_files WHERE source <> '_reference'").item()
    )
    assert bool(log["orders"].isna().all())
    captions = [c.value for c in at.caption]
    assert not any("orders in files" in c for c in captions)


@pytest.mark.parametrize(
    ("file_format", "label"),
    [
        ("shopify_csv", "Shopify CSV export"),
        ("shopify_json", "Shopify order JSON"),
        ("woocommerce_json", "WooCommerce order JSON"),
        ("olist:order_items", "Olist: order items"),
        ("olist:orders", "Olist: orders"),
        ("parquet", "Generic Parquet"),
        ("cdnow", "CDNOW transaction log"),
        ("some_future_format", "some_future_format"),
        ("olist:", "olist:"),
    ],
)
def test_format_labels(file_format: str, label: str) -> None:
    assert format_label(file_format) == label


def test_raw_labels_are_joined_and_cut_after_the_limit() -> None:
    frame = pl.DataFrame(
        {"labels": [["web"], ["580111", "pos", "web"], [], None]},
        schema={"labels": pl.List(pl.String)},
    )
    joined = frame.select(joined_labels(pl.col("labels"), limit=2)).to_series().to_list()
    assert joined == ["web", "580111, pos (+1 more)", "", None]
