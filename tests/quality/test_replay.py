"""Fixing a quarantined order replays it through validation: by a correction keyed by order
id (``_reference/corrections.csv``) or by a corrected file, then a re-run. Corrections that
cannot be applied say why; the received files are never changed."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from orderlens.contracts import CORRECTIONS
from orderlens.warehouse import SnapshotReader
from tests.conftest import make_settings, run_all
from tests.pipelines.test_versions import _order, _write

pytestmark = pytest.mark.slow

BAD = [
    _order("1"),
    _order("2", currency="EURO"),  # CURRENCY_INVALID: quarantined
    _order("3", quantity="0", total="0.00"),  # QUANTITY_INVALID on line 1: quarantined
    _order("4", total="25.00"),  # TOTAL_MISMATCH (lines 20.00): quarantined
]


def _corrections(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = [f.name for f in CORRECTIONS.fields]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows([dict.fromkeys(names, "") | row for row in rows])


def _state(settings) -> tuple[set[str], set[str]]:
    reader = SnapshotReader(settings.snapshot)
    held = set(reader.query("SELECT source_order_id FROM quality_quarantine")["source_order_id"])
    published = set(reader.query("SELECT source_order_id FROM fct_orders")["source_order_id"])
    return held, published


def test_corrections_and_corrected_files_replay_quarantined_orders(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    settings = make_settings(tmp_path / "home", landing)
    original = landing / "shop" / "orders.csv"
    _write(original, BAD)
    assert run_all(settings).success
    held, published = _state(settings)
    assert held == {"2", "3", "4"} and published == {"1"}
    received = original.read_bytes()

    _corrections(
        landing / "_reference" / "corrections.csv",
        [
            {
                "source": "shop",
                "source_order_id": "2",
                "field": "currency",
                "value": "EUR",
                "note": "typo in the till",
            },
            {
                "source": "shop",
                "source_order_id": "3",
                "line_number": "1",
                "field": "quantity",
                "value": "2",
            },
            {"source": "shop", "source_order_id": "3", "field": "total", "value": "20.00"},
            # Not applicable: each says why, none changes anything.
            {"source": "shop", "source_order_id": "4", "field": "colour", "value": "red"},
            {"source": "shop", "source_order_id": "4", "field": "total", "value": "twenty"},
            {"source": "shop", "source_order_id": "9", "field": "total", "value": "1.00"},
            {
                "source": "shop",
                "source_order_id": "4",
                "line_number": "7",
                "field": "quantity",
                "value": "1",
            },
            {"source": "shop", "source_order_id": "4", "field": "quantity", "value": "1"},
        ],
    )
    assert run_all(settings).success
    held, published = _state(settings)
    assert held == {"4"} and published == {"1", "2", "3"}
    reader = SnapshotReader(settings.snapshot)
    status = {
        (r["source_order_id"], r["line_number"], r["field"], r["value"]): r["status"]
        for r in reader.query("SELECT * FROM stg_corrections").iter_rows(named=True)
    }
    assert status == {
        ("2", None, "currency", "EUR"): "applied",
        ("3", 1, "quantity", "2"): "applied",
        ("3", None, "total", "20.00"): "applied",
        ("4", None, "colour", "red"): "unknown field",
        ("4", None, "total", "twenty"): "not a valid DECIMAL(18,4)",
        ("9", None, "total", "1.00"): "no such order",
        ("4", 7, "quantity", "1"): "no such line",
        ("4", None, "quantity", "1"): "a line field needs a line_number",
    }
    fixed = reader.query("SELECT currency FROM fct_orders WHERE source_order_id = '2'").item()
    assert fixed == "EUR"
    assert original.read_bytes() == received  # the received file is untouched

    # A corrected export from the source replays order 4 too: its version has gone further
    # (paid), so it wins by the version rule (an export that only repeats the same status
    # and times is decided by content hash: use a correction for those).
    _write(
        landing / "shop" / "orders_fixed.csv",
        [_order("4", paid_at="2026-10-01T10:05:00+00:00", financial_status="paid")],
    )
    assert run_all(settings).success
    held, published = _state(settings)
    assert "4" in published and "4" not in held
