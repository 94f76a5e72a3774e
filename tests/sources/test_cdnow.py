"""CDNOW fixed-width log: one order with one line of CDs per transaction."""

from __future__ import annotations

from collections import Counter
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pytest

from orderlens.contracts import GENERIC_FIELDS
from pipelines.sources import cdnow
from pipelines.sources.formats import detect
from tests.conftest import SHARED_DATA

FILE = SHARED_DATA / "cdnow" / "CDNOW_sample.txt"


def _parse(path: Path):
    con = duckdb.connect()
    result = cdnow.parse(con, path, "raw_file_t")
    rows = con.sql(
        "SELECT l._record_no, l._line, t.* FROM raw_file_t t POSITIONAL JOIN raw_file_t_lines l"
    ).pl()
    return con, result, rows.to_dicts()


@pytest.mark.shared_data
def test_every_transaction_is_one_order_with_one_line() -> None:
    con, result, rows = _parse(FILE)
    # Independent reading: whitespace-separated fields, one transaction per line.
    with open(FILE, encoding="ascii") as handle:
        records = [line.split() for line in handle if line.strip()]
    assert result.file_format == "cdnow"
    assert result.records == len(records) == 6_919
    assert result.loaded == len(rows) == 6_919 and result.rejected_records == 0
    assert result.reconciles
    assert [(r[0], r[1]) for r in con.execute("DESCRIBE raw_file_t").fetchall()] == [
        (f.name, f.type) for f in GENERIC_FIELDS
    ]
    occurrences: Counter[tuple[str, str]] = Counter()
    for row, (customer, _sample_id, day, cds, dollars) in zip(rows, records, strict=True):
        occurrences[(customer, day)] += 1
        assert row["_line"] == row["_record_no"]
        assert row["source_order_id"] == f"{customer}-{day}-{occurrences[(customer, day)]}"
        assert row["customer_id"] == customer
        assert row["created_at"] == f"{day[:4]}-{day[4:6]}-{day[6:]}"
        assert row["quantity"] == Decimal(cds)
        assert row["total"] == row["subtotal"] == Decimal(dollars)
        assert row["unit_price"] == (Decimal(dollars) / Decimal(cds)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )
        assert (row["currency"], row["channel"], row["line_number"]) == ("USD", "online_store", 1)
        assert (row["sku"], row["product_name"], row["line_kind"]) == ("CDNOW-CD", "CDs", "product")
    assert len({r["source_order_id"] for r in rows}) == 6_919
    assert len({r["customer_id"] for r in rows}) == 2_357
    assert sum(r["total"] for r in rows) == sum(Decimal(r[4]) for r in records)
    assert sum(r["quantity"] for r in rows) == sum(int(r[3]) for r in records)


def test_lines_off_the_layout_are_rejected_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "cdnow.txt"
    path.write_bytes(
        b" 00004 0001 19970101  2   29.33\r\n"
        b" 00004 0001 19970101  1   11.77\r\n"  # same customer and day: occurrence 2
        b" 00005 0002 19970231  1   12.00\r\n"  # no such date
        b"\r\n"  # blank: not a record
        b" 00006 0003 1997-01-05  1   9.99\r\n"  # not the layout
        b"00001 19970101 1 11.77\n"  # the master file's four-field layout
        b" 00007 0004 19970301  3   30.0"  # no final newline
    )
    _con, result, rows = _parse(path)
    assert result.reconciles and (result.records, result.loaded) == (6, 4)
    assert [(r.line, r.column) for r in result.rejects] == [(3, "date"), (5, None)]
    assert [r["source_order_id"] for r in rows] == [
        "00004-19970101-1",
        "00004-19970101-2",
        "00001-19970101-1",
        "00007-19970301-1",
    ]
    assert [r["_line"] for r in rows] == [1, 2, 6, 7]
    assert rows[-1]["unit_price"] == Decimal("10.0000")
    # Stable: the same bytes give the same ids.
    assert [r["source_order_id"] for r in _parse(path)[2]] == [r["source_order_id"] for r in rows]


@pytest.mark.shared_data
def test_detected_from_the_first_lines(tmp_path: Path) -> None:
    assert detect(FILE).name == "cdnow"
    head = FILE.read_bytes()[:65536]
    assert not cdnow.sniff(tmp_path / "log.csv", head)
    other = tmp_path / "notes.txt"
    other.write_text("hello\nworld\n")
    assert not cdnow.sniff(other, other.read_bytes())
