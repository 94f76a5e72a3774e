"""Whole-pipeline behaviour: real Dagster runs into real DuckDB files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from orderlens.warehouse import SnapshotReader, connect, scalar
from tests.conftest import SAMPLE_LANDING, make_settings, run_all, table_hashes


def _copy_sample(target: Path) -> Path:
    shutil.copytree(SAMPLE_LANDING, target, ignore=shutil.ignore_patterns("README.md"))
    return target


def test_every_raw_record_is_loaded_or_rejected(published_demo) -> None:
    reader = SnapshotReader(published_demo.snapshot)
    files = reader.query(
        "SELECT file_name, records, loaded, rejected, "
        "(SELECT count(*) FROM raw_order_lines r WHERE r.file_id = f.file_id) AS in_raw, "
        "(SELECT count(DISTINCT line) FROM ingest_rejects j WHERE j.file_id = f.file_id) "
        "AS reject_lines FROM ingest_files f WHERE source <> '_reference'"
    )
    assert files.height >= 3
    for row in files.iter_rows(named=True):
        assert row["records"] == row["loaded"] + row["rejected"], row
        assert row["in_raw"] == row["loaded"], row
        assert row["reject_lines"] == row["rejected"], row


def test_raw_lines_reconcile_with_staging(published_demo) -> None:
    with SnapshotReader(published_demo.snapshot).connection() as con:
        raw = scalar(con, "SELECT count(*) FROM raw_order_lines")
        staged = scalar(con, "SELECT count(*) FROM stg_order_lines")
        held = scalar(con, "SELECT count(*) FROM stg_rejects")
        superseded = scalar(
            con,
            """
            SELECT count(*) FROM raw_order_lines r
            WHERE r.source_order_id IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM stg_order_lines s WHERE s.file_id = r.file_id AND s._line = r._line)
              AND NOT EXISTS (
                SELECT 1 FROM stg_rejects j WHERE j.file_id = r.file_id AND j.line = r._line)""",
        )
        orders = scalar(con, "SELECT count(*) FROM fct_orders")
        distinct = scalar(con, "SELECT count(DISTINCT order_key) FROM stg_orders")
    assert raw == staged + held + superseded
    assert orders == distinct > 0


def test_marts_convert_through_fx_and_key_customers(published_demo) -> None:
    reader = SnapshotReader(published_demo.snapshot)
    frame = reader.query(
        "SELECT count(*) AS n, count(total_reporting) AS converted, "
        "count(*) FILTER (WHERE currency = 'USD' AND fx_rate <> 1) AS bad_usd, "
        "count(DISTINCT channel) AS channels FROM fct_orders"
    )
    row = frame.row(0, named=True)
    assert row["bad_usd"] == 0
    assert row["channels"] >= 3
    missing = reader.query("SELECT coalesce(sum(orders), 0) AS m FROM mart_fx_missing")
    assert row["n"] - row["converted"] == missing["m"][0]
    customers = reader.query(
        "SELECT count(*) AS n, count(DISTINCT customer_key) AS k FROM dim_customers"
    )
    assert customers["n"][0] == customers["k"][0] > 0


@pytest.mark.slow
def test_rerun_on_the_same_landing_changes_nothing(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "home", _copy_sample(tmp_path / "landing"))
    assert run_all(settings).success
    first = table_hashes(settings.snapshot)
    assert run_all(settings).success
    assert table_hashes(settings.snapshot) == first
    assert table_hashes(settings.warehouse) == first


@pytest.mark.slow
def test_file_order_and_renames_do_not_change_the_result(tmp_path: Path) -> None:
    one = make_settings(tmp_path / "one", _copy_sample(tmp_path / "landing-one"))
    assert run_all(one).success
    landing = _copy_sample(tmp_path / "landing-two")
    renamed = next(landing.glob("online_store/*.csv"))
    shutil.copyfile(renamed, landing / "online_store" / "same_content_again.csv")
    two = make_settings(tmp_path / "two", landing)
    assert run_all(two).success
    first, second = table_hashes(one.snapshot), table_hashes(two.snapshot)
    # The duplicate is recognised by content and stored once; only the log of names seen
    # (and the name the content was first seen under) tells the two landings apart.
    names = {"ingest_files", "ingest_arrivals"}
    assert {k: v for k, v in second.items() if k not in names} == {
        k: v for k, v in first.items() if k not in names
    }
    with connect(two.warehouse, read_only=True) as con:
        copies = con.execute(
            "SELECT count(DISTINCT file_name) FROM ingest_arrivals WHERE file_id = "
            "(SELECT file_id FROM ingest_arrivals WHERE file_name = ?)",
            ["online_store/same_content_again.csv"],
        ).fetchall()
    assert copies == [(2,)]


@pytest.mark.slow
def test_an_order_with_a_line_rejected_at_ingest_is_held_whole(tmp_path: Path) -> None:
    landing = _copy_sample(tmp_path / "landing")
    source = landing / "online_store" / "orders_2026-10.csv"
    lines = source.read_bytes().split(b"\n")
    header = lines[0].decode().split(",")
    id_index = header.index("source_order_id")
    qty_index = header.index("quantity")
    # Find an order with two lines, and break the quantity of its second line.
    by_order: dict[str, list[int]] = {}
    for number, raw in enumerate(lines[1:300], start=2):
        fields = raw.decode(errors="replace").split(",")
        if len(fields) == len(header) and fields[id_index]:
            by_order.setdefault(fields[id_index], []).append(number)
    order_id, numbers = next((k, v) for k, v in by_order.items() if len(v) >= 2)
    broken = lines[numbers[1] - 1].decode().split(",")
    broken[qty_index] = "lots"
    lines[numbers[1] - 1] = ",".join(broken).encode()
    source.write_bytes(b"\n".join(lines))

    settings = make_settings(tmp_path / "home", landing)
    assert run_all(settings).success
    reader = SnapshotReader(settings.snapshot)
    key = f"online_store:{order_id}"
    assert (
        reader.query("SELECT count(*) AS n FROM fct_orders WHERE order_key = ?", [key])["n"][0] == 0
    )
    held = reader.query("SELECT line, reason FROM stg_rejects WHERE order_key = ?", [key])
    assert held["line"].to_list() == [numbers[0]]
    assert "rejected at ingest" in held["reason"][0] and f"line {numbers[1]}" in held["reason"][0]
    rejected = reader.query(
        "SELECT source_order_id FROM ingest_rejects WHERE line = ? AND "
        "file_name = 'online_store/orders_2026-10.csv'",
        [numbers[1]],
    )
    assert rejected["source_order_id"].to_list() == [order_id]
