"""The version rule: the same order in several files is stored once, and the most advanced
version wins (status, then latest event, then the file's content hash); status events of
every version accumulate; the order files arrive in does not matter."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from orderlens.contracts import GENERIC_FIELD_NAMES
from orderlens.warehouse import SnapshotReader
from tests.conftest import make_settings, run_all, table_hashes

pytestmark = pytest.mark.slow


def _order(order_id: str, **values: str) -> dict[str, str]:
    row = dict.fromkeys(GENERIC_FIELD_NAMES, "")
    row.update(
        source_order_id=order_id,
        channel="online_store",
        created_at="2026-10-01T10:00:00+00:00",
        currency="EUR",
        total="20.00",
        product_name="Mug",
        sku="MUG-1",
        quantity="2",
        unit_price="10.00",
        customer_email=f"buyer{order_id}@example.com",
    )
    row.update(values)
    return row


def _write(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=GENERIC_FIELD_NAMES, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


PAID = {"paid_at": "2026-10-01T10:05:00+00:00", "financial_status": "paid"}

EXPORTS = {
    # Monday's export: orders 1-3 paid, order 5 paid (early payment time).
    "monday.csv": [
        _order("1", **PAID),
        _order("2", **PAID),
        _order("3", **PAID, note="first export"),
        _order("5", **PAID),
    ],
    # Wednesday's overlapping export: order 2 has shipped since, order 3 is unchanged in
    # status and time (only its note differs), order 4 is new, order 5 was paid later.
    "wednesday.csv": [
        _order("2", **PAID, shipped_at="2026-10-02T08:00:00+00:00", carrier="DHL"),
        _order("3", **PAID, note="second export"),
        _order("4"),
        _order("5", financial_status="paid", paid_at="2026-10-01T11:00:00+00:00"),
    ],
    # A status-only update: order 1 refunded (status field, no timestamp).
    "update.csv": [_order("1", **PAID, order_status="refunded")],
}


def _landing(root: Path, names: dict[str, str], twice: str | None = None) -> Path:
    landing = root / "landing"
    for original, dropped in names.items():
        _write(landing / "shop" / dropped, EXPORTS[original])
    if twice:
        shutil.copy(landing / "shop" / names[twice], landing / "shop" / f"copy_of_{twice}")
    return landing


@pytest.fixture(scope="module")
def resolved(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("versions")
    settings = make_settings(root / "home", _landing(root, {n: n for n in EXPORTS}))
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    return settings


def test_each_order_is_stored_once_with_its_most_advanced_version(resolved) -> None:
    reader = SnapshotReader(resolved.snapshot)
    orders = reader.query(
        "SELECT o.source_order_id AS id, f.file_name, o.note, o.order_status "
        "FROM stg_orders o JOIN ingest_files f USING (file_id) ORDER BY id"
    )
    chosen = dict(zip(orders["id"], orders["file_name"], strict=True))
    assert sorted(chosen) == ["1", "2", "3", "4", "5"]
    assert chosen["1"] == "shop/update.csv"  # refunded beats paid
    assert chosen["2"] == "shop/wednesday.csv"  # shipped beats paid
    assert chosen["4"] == "shop/wednesday.csv"
    assert chosen["5"] == "shop/wednesday.csv"  # same status, later event
    # Same status and same latest event: the greater content hash decides.
    hashes = reader.query(
        "SELECT file_name, file_id FROM ingest_files WHERE file_name IN "
        "('shop/monday.csv', 'shop/wednesday.csv') ORDER BY file_id DESC"
    )
    assert chosen["3"] == hashes["file_name"][0]
    lines = reader.query("SELECT order_key, count(*) AS n FROM stg_order_lines GROUP BY ALL")
    assert lines["n"].to_list() == [1] * 5


def test_status_events_accumulate_over_versions(resolved) -> None:
    events = SnapshotReader(resolved.snapshot).query(
        "SELECT event, strftime(occurred_at AT TIME ZONE 'UTC', '%H:%M') AS at "
        "FROM stg_status_events WHERE order_key = 'shop:5' ORDER BY occurred_at"
    )
    # Both payment times survive: the version rule picks the order's fields, not its history.
    assert list(zip(events["event"], events["at"], strict=True)) == [
        ("created", "10:00"),
        ("paid", "10:05"),
        ("paid", "11:00"),
    ]
    shipped = SnapshotReader(resolved.snapshot).query(
        "SELECT event FROM stg_status_events WHERE order_key = 'shop:2' ORDER BY occurred_at"
    )
    assert shipped["event"].to_list() == ["created", "paid", "shipped"]


def test_drop_order_duplicates_and_renames_do_not_change_the_warehouse(
    resolved, tmp_path: Path
) -> None:
    # Reverse order of arrival, one file dropped twice, one renamed.
    root = tmp_path / "other"
    landing = _landing(
        root,
        {"update.csv": "a_update.csv", "wednesday.csv": "b_wed.csv", "monday.csv": "c.csv"},
        twice="wednesday.csv",
    )
    settings = make_settings(root / "home", landing)
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    theirs, ours = table_hashes(resolved.warehouse), table_hashes(settings.warehouse)
    # File names differ by design (the log keeps the name a content was first seen under,
    # and the names seen in the landing).
    differing = {t for t in ours if ours[t] != theirs.get(t)}
    assert differing <= {"ingest_files", "ingest_arrivals", "fct_orders", "stg_rejects"}, differing
    reader = SnapshotReader(settings.snapshot)
    assert reader.query("SELECT count(*) AS n FROM ingest_files")["n"][0] == 3
    same = "SELECT * EXCLUDE (file_name, line) FROM fct_orders ORDER BY order_key"
    assert SnapshotReader(resolved.snapshot).query(same).equals(reader.query(same))
