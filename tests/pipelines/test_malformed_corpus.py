"""A corpus of malformed files: every record is loaded or rejected, never lost.

Records are counted independently of the parser (Python's csv module on the decoded text),
and every expected reject is named by its physical line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_FIELDS
from pipelines.sources.generic import parse_file

Builder = Callable[[], tuple[bytes, str]]


def _row(order_id: str, **values: str) -> dict[str, str]:
    row = dict.fromkeys(GENERIC_FIELD_NAMES, "")
    row.update(
        source_order_id=order_id,
        channel="pos",
        created_at="2026-10-02T09:00:00Z",
        currency="EUR",
        total="5.00",
        product_name="Tea",
        quantity="1",
        unit_price="5.00",
        customer_first_name="Zoë",
    )
    row.update(values)
    return row


def _csv(rows: list[dict[str, str]], columns: list[str] | None = None, newline: str = "\n") -> str:
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=columns or list(GENERIC_FIELD_NAMES),
        extrasaction="ignore",
        lineterminator=newline,
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


ROWS = [_row(str(i), note="line one\nline two" if i == 2 else "") for i in range(1, 6)]

CORPUS: dict[str, tuple[Callable[[], bytes], str, set[int]]] = {
    # name: (file bytes, encoding for the independent count, physical lines rejected)
    "utf8": (lambda: _csv(ROWS).encode(), "utf-8", set()),
    "utf8_bom": (lambda: b"\xef\xbb\xbf" + _csv(ROWS).encode(), "utf-8-sig", set()),
    "crlf": (lambda: _csv(ROWS, newline="\r\n").encode(), "utf-8", set()),
    "utf16": (lambda: _csv(ROWS).encode("utf-16"), "utf-16", set()),
    "latin1": (lambda: _csv(ROWS).encode("latin-1"), "latin-1", set()),
    "cp1252": (lambda: _csv([_row("9", note="5 €"), *ROWS]).encode("cp1252"), "cp1252", set()),
    "reordered": (lambda: _csv(ROWS, sorted(GENERIC_FIELD_NAMES)).encode(), "utf-8", set()),
    "extra_columns": (
        lambda: _csv(
            [{**r, "loyalty_tier": "gold"} for r in ROWS], [*GENERIC_FIELD_NAMES, "loyalty_tier"]
        ).encode(),
        "utf-8",
        set(),
    ),
    "missing_optional_columns": (
        lambda: _csv(
            ROWS, [f.name for f in GENERIC_FIELDS if f.required or f.name == "note"]
        ).encode(),
        "utf-8",
        set(),
    ),
    "missing_required_column": (
        lambda: _csv(ROWS, [n for n in GENERIC_FIELD_NAMES if n != "currency"]).encode(),
        "utf-8",
        {2, 3, 5, 6, 7},
    ),
    "unterminated_quote": (
        lambda: (_csv(ROWS) + '6,,,pos,2026-10-02T09:00:00Z,EUR,"5.0').encode(),
        "utf-8",
        {8},
    ),
    "truncated_row": (lambda: _csv(ROWS).encode()[:-40], "utf-8", {7}),
    "ragged_and_bad_type": (
        lambda: (
            _csv(ROWS) + "7,#7,shop\n" + _csv([_row("8", quantity="one")]).split("\n", 1)[1]
        ).encode(),
        "utf-8",
        {8, 9},
    ),
    "utf8_with_damaged_bytes": (
        lambda: _csv(ROWS).encode().replace(b"Zo\xc3\xab", b"Zo\xeb", 1),
        "utf-8",
        {2},
    ),
}


def _independent_records(data: bytes, encoding: str) -> int:
    text = data.decode(encoding, errors="replace")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return sum(1 for row in rows[1:] if any(cell.strip() for cell in row))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_record_is_loaded_or_rejected(tmp_path: Path, name: str) -> None:
    build, encoding, rejected_lines = CORPUS[name]
    data = build()
    path = tmp_path / f"{name}.csv"
    path.write_bytes(data)
    con = duckdb.connect()
    result = parse_file(con, path, GENERIC_FIELDS, "_corpus")
    loaded = con.sql(result.rows_sql).pl()

    assert result.records == _independent_records(data, encoding)
    assert (
        result.records
        == result.loaded + result.rejected_records
        == (loaded.height + result.rejected_records)
    )
    record_lines = {r.line for r in result.rejects if r.error_type != "HEADER" or r.line > 1}
    assert record_lines == rejected_lines
    if not rejected_lines and name != "missing_optional_columns":
        assert loaded["customer_first_name"].to_list()[-1] == "Zoë"
