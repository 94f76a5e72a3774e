"""The generic format as NDJSON: one flat object per order line, keys bound by name; every
line is loaded or rejected with its line, column and reason."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipelines.sources.formats import detect
from pipelines.sources.generic import parse


def _line(order_id: str, **values: object) -> str:
    record: dict[str, object] = {
        "source_order_id": order_id,
        "channel": "online_store",
        "created_at": "2026-10-01T10:00:00+02:00",
        "currency": "EUR",
        "total": 12.5,
        "product_name": "Mug",
        "quantity": 1,
        "unit_price": "12.50",
    }
    record.update(values)
    return json.dumps(record, ensure_ascii=False)


def test_every_line_is_loaded_or_rejected_with_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "orders.ndjson"
    path.write_text(
        "\n".join(
            [
                _line("1", note="café", loyalty="gold"),  # line 1, unknown key ignored
                "",  # line 2: blank, not a record
                _line("2", total="twelve"),  # line 3: not a number
                '{"source_order_id": "3", "channel": ',  # line 4: not JSON
                _line("4", note="paid with 4111 1111 1111 1111"),  # line 5: card redacted
                "[1, 2]",  # line 6: JSON but not an object
                _line("5", quantity=3),  # line 7
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    assert detect(path).name == "generic"
    con = duckdb.connect()
    result = parse(con, path, "t")
    assert (result.records, result.loaded, result.rejected_records) == (6, 3, 3)
    assert result.reconciles
    rows = con.sql(
        "SELECT l._record_no, l._line, t.source_order_id, t.total, t.quantity, t.note "
        "FROM t POSITIONAL JOIN t_lines l"
    ).fetchall()
    assert [(r[1], r[2]) for r in rows] == [(1, "1"), (5, "4"), (7, "5")]
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][3] == 12.5 and rows[2][4] == 3
    assert rows[0][5] == "café"
    assert "4111" not in rows[1][5] and result.cards_redacted == 1
    found = {(r.line, r.column, r.error_type) for r in result.rejects}
    assert found == {(3, "total", "CAST"), (4, None, "JSON"), (6, None, "JSON")}
    cast = next(r for r in result.rejects if r.line == 3)
    assert cast.order_id == "2" and "'twelve'" in cast.reason
    assert "loyalty" in "; ".join(result.notes)


def test_a_line_that_is_not_utf8_is_rejected_and_the_rest_loads(tmp_path: Path) -> None:
    path = tmp_path / "orders.jsonl"
    bad = _line("2", note="caf\udce9").encode("utf-8", "surrogateescape")
    path.write_bytes(b"\n".join([_line("1").encode(), bad, _line("3").encode()]) + b"\n")
    con = duckdb.connect()
    result = parse(con, path, "t")
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    assert [(r.line, r.error_type) for r in result.rejects] == [(2, "INVALID ENCODING")]
    assert con.sql("SELECT _line FROM t_lines").fetchall() == [(1,), (3,)]
