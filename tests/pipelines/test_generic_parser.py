"""The generic-format parser: columns bound by name, exact lines, nothing lost."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import polars as pl
import pytest

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_FIELDS
from pipelines.sources.generic import parse_file


def _row(order_id: str, **values: str) -> dict[str, str]:
    row = dict.fromkeys(GENERIC_FIELD_NAMES, "")
    row.update(
        source_order_id=order_id,
        channel="online_store",
        created_at="2026-10-01T10:00:00+02:00",
        currency="EUR",
        total="12.50",
        product_name="Mug",
        quantity="1",
        unit_price="12.50",
    )
    row.update(values)
    return row


def _write(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or list(GENERIC_FIELD_NAMES)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=columns, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerows(rows)
    return path


def _parse(path: Path):
    con = duckdb.connect()
    result = parse_file(con, path, GENERIC_FIELDS, "_t")
    rows = con.sql(result.rows_sql).pl()
    return result, rows


def test_deliberately_broken_file_conserves_every_record(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "orders.csv",
        [
            _row("1", note="first line\nsecond liné"),  # lines 2-3 (UTF-8 text)
            _row("2", quantity="two"),  # line 4: not a number
            _row("3"),  # line 5
        ],
    )
    with open(path, "ab") as handle:
        handle.write(b"4,#4,shop,online_store\n")  # line 6: ragged
        handle.write(_line(_row("5", product_name="caf\udce9")))  # line 7: bad bytes
        handle.write(b"\n")  # line 8: blank
        handle.write(_line(_row("6")))  # line 9
        handle.write(b'7,#7,shop,online_store,,,"2026-10-01T10:00:00+02:00",EUR,"1')  # 10: cut
    result, rows = _parse(path)

    assert result.records == 7
    assert result.loaded == 3 and result.rejected_records == 4
    assert result.records == result.loaded + result.rejected_records
    assert rows["source_order_id"].to_list() == ["1", "3", "6"]
    assert rows["_line"].to_list() == [2, 5, 9]
    assert rows["note"][0] == "first line\nsecond liné"
    found = {(r.line, r.error_type, r.column) for r in result.rejects}
    assert found == {
        (4, "CAST", "quantity"),
        (6, "MISSING COLUMNS", "source_channel"),
        (7, "INVALID ENCODING", "product_name"),
        (10, "UNQUOTED VALUE", "subtotal"),
    }
    cast = next(r for r in result.rejects if r.error_type == "CAST")
    assert "'two'" in cast.reason and "quantity" in cast.reason
    last = next(r for r in result.rejects if r.line == 10)
    assert last.reason.startswith("truncated last row")


def _line(row: dict[str, str]) -> bytes:
    values = [row[name] for name in GENERIC_FIELD_NAMES]
    text = ",".join(f'"{v}"' if ("," in v or "\n" in v) else v for v in values) + "\n"
    return text.encode("utf-8", errors="surrogateescape")


def test_columns_are_bound_by_name_in_any_order(tmp_path: Path) -> None:
    columns = list(reversed(GENERIC_FIELD_NAMES))
    path = _write(tmp_path / "reordered.csv", [_row("9", sku="SKU-9", total="99.90")], columns)
    result, rows = _parse(path)
    assert result.loaded == 1
    assert rows["sku"][0] == "SKU-9"
    assert str(rows["total"][0]) == "99.9000"


def test_missing_optional_and_unknown_columns(tmp_path: Path) -> None:
    required = [f.name for f in GENERIC_FIELDS if f.required] + ["shoe_size"]
    path = _write(tmp_path / "narrow.csv", [_row("1", shoe_size="42")], required)
    result, rows = _parse(path)
    assert result.loaded == 1
    assert rows["sku"][0] is None
    assert any("shoe_size" in note for note in result.notes)


def test_missing_required_column_rejects_every_record_by_line(tmp_path: Path) -> None:
    columns = [c for c in GENERIC_FIELD_NAMES if c != "total"]
    path = _write(tmp_path / "no_total.csv", [_row("1"), _row("2")], columns)
    result, _ = _parse(path)
    assert (result.records, result.loaded, result.rejected_records) == (2, 0, 2)
    assert result.rejects[0].line == 1 and "total" in result.rejects[0].reason
    assert [r.line for r in result.rejects[1:]] == [2, 3]


def test_card_numbers_are_redacted_before_anything_is_stored(tmp_path: Path) -> None:
    path = _write(tmp_path / "card.csv", [_row("1", note="pay with 4111 1111 1111 1111 pls")])
    result, rows = _parse(path)
    assert "4111 1111 1111 1111" not in rows["note"][0]
    assert "1111" in rows["note"][0]
    assert result.cards_redacted == 1


def test_crlf_bom_and_mixed_line_endings(tmp_path: Path) -> None:
    header = ",".join(GENERIC_FIELD_NAMES).encode()
    body = [_line(_row(str(i))).rstrip(b"\n") for i in range(1, 4)]
    path = tmp_path / "mixed.csv"
    path.write_bytes(
        b"\xef\xbb\xbf" + header + b"\r\n" + body[0] + b"\r\n" + body[1] + b"\n" + body[2] + b"\r\n"
    )
    result, rows = _parse(path)
    assert result.loaded == 3 and result.rejected_records == 0
    assert rows["_line"].to_list() == [2, 3, 4]


def test_parquet_binds_by_name_and_rejects_bad_values(tmp_path: Path) -> None:
    frame = pl.DataFrame([_row("1"), _row("2", quantity="lots"), _row("3")]).select(
        list(reversed(GENERIC_FIELD_NAMES))
    )
    path = tmp_path / "orders.parquet"
    frame.write_parquet(path)
    result, rows = _parse(path)
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    assert rows["source_order_id"].to_list() == ["1", "3"]
    assert [(r.line, r.column) for r in result.rejects] == [(2, "quantity")]


@pytest.mark.parametrize("content", [b"", b"\n"])
def test_empty_files_are_reported_not_crashed_on(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    result, rows = _parse(path)
    assert rows.height == 0
    assert result.records == result.loaded + result.rejected_records


@pytest.mark.parametrize("encoding, name", [("cp1252", "Windows-1252"), ("latin-1", "ISO-8859-1")])
def test_single_byte_legacy_files_are_decoded_and_say_so(
    tmp_path: Path, encoding: str, name: str
) -> None:
    text = "€uro" if encoding == "cp1252" else "Zoë"
    path = tmp_path / "legacy.csv"
    header = ",".join(GENERIC_FIELD_NAMES) + "\r\n"
    body = _line(_row("1", customer_first_name=text)).decode().replace("\n", "\r\n")
    path.write_bytes((header + body).encode(encoding))
    if encoding == "latin-1":
        # A byte Windows-1252 leaves undefined forces the ISO-8859-1 reading.
        path.write_bytes(path.read_bytes().replace(b"Zo", b"Zo\x81"))
        text = "Zo\x81ë"
    result, rows = _parse(path)
    assert (result.loaded, result.rejected_records) == (1, 0)
    assert rows["customer_first_name"][0] == text
    assert any(name in note for note in result.notes)


def test_multi_line_values_without_rejects_keep_exact_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "notes.csv",
        [
            _row("1", note="a\nb\nc"),  # lines 2-4
            _row("2"),  # line 5
            _row("3", shipping_address1="x\ny"),  # lines 6-7
            _row("4"),  # line 8
        ],
    )
    result, rows = _parse(path)
    assert (result.records, result.rejected_records) == (4, 0)
    assert rows["_line"].to_list() == [2, 5, 6, 8]
