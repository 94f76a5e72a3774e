"""Parser of the generic interchange format (CSV or Parquet) and of reference files.

Path in, rows and rejects out. DuckDB does the parsing (into a temporary table of the given
connection, so a caller can move the rows into the warehouse inside its own transaction);
this module binds columns by name, captures every rejected record with its physical line,
column and reason, and reconciles: records in the file = rows loaded + records rejected.
"""

from __future__ import annotations

import csv
import io
import json
import mmap
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb
import numpy as np

from orderlens.contracts import CARD_SCANNED_FIELDS, GENERIC_FIELDS, Field
from orderlens.security import redact_card_numbers
from orderlens.warehouse import scalar, table_from_frame
from pipelines.sources.csv_records import (
    as_utf8_bytes,
    count_newlines,
    detect_encoding,
    line_of_offset,
    scan_records,
)

ORDER_ID = "source_order_id"

_TRUNCATION = frozenset({"MISSING COLUMNS", "UNQUOTED VALUE"})

RECORD_NO = "_record_no"
LINE = "_line"
LATER_LINES = "_later_lines"
"""Suffix of a JSON file's table of order lines after each order's first (see
``json_records.create_order_table``)."""

_REASONS = {
    "CAST": "value {value} is not a valid {type} for column {column}",
    "MISSING COLUMNS": "row has fewer fields than the header (truncated or ragged row), "
    "from column {column} on",
    "TOO MANY COLUMNS": "row has more fields than the header",
    "UNQUOTED VALUE": "unterminated or misplaced quote",
    "LINE SIZE OVER MAXIMUM": "row is longer than the maximum line size",
    "INVALID ENCODING": "bytes that are not valid UTF-8 (the file's encoding is not UTF-8 "
    "or UTF-16 with a byte-order mark)",
}


@dataclass(frozen=True)
class Reject:
    """One reason a record of a file could not be loaded."""

    line: int
    column: str | None
    error_type: str
    reason: str
    raw_text: str | None
    order_id: str | None = None
    """The record's ``source_order_id`` when it can be read: its order is then held."""


@dataclass
class ParseResult:
    """Outcome of parsing one file: rows via ``rows_sql``; rejects and counts here."""

    table: str
    file_format: str
    rows_sql: str = ""
    records: int = 0
    loaded: int = 0
    rejected_records: int = 0
    rejects: list[Reject] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    cards_redacted: int = 0
    orders: int | None = None
    """Distinct orders in the file; None lets the landing count ``source_order_id``."""
    has_amounts: bool = True
    """False when the file's layout carries no prices or totals (Shopify's 34-column export):
    its orders are staged without amounts instead of held for a missing total."""

    @property
    def status(self) -> str:
        if self.loaded == 0 and self.rejected_records:
            return "rejected"
        return "partial" if self.rejected_records else "loaded"

    @property
    def reconciles(self) -> bool:
        return self.records == self.loaded + self.rejected_records

    def scrub_card_numbers(self) -> None:
        """Redact card numbers in everything about the file that is stored or shown besides
        its rows: notes (the ingestion log's message), and each reject's column, reason and
        raw text (not its order id: an identifier, which passes the Luhn check one time in
        ten). A parser redacts the values it reads; a number can still reach a message
        through the file's structure, such as a header cell that is a card number (a pasted
        row) named as an unexpected column. Counted in ``cards_redacted``."""

        def clean(text: str | None) -> str | None:
            redacted, found = redact_card_numbers(text)
            self.cards_redacted += found
            return redacted

        self.notes = [clean(note) or "" for note in self.notes]
        self.rejects = [
            replace(
                r,
                column=clean(r.column),
                reason=clean(r.reason) or "",
                raw_text=clean(r.raw_text),
            )
            for r in self.rejects
        ]


class HeaderError(ValueError):
    """The file's header cannot be bound to the expected columns."""


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _kind(temporary: bool) -> str:
    return "TEMP TABLE" if temporary else "TABLE"


def rows_sql(table: str) -> str:
    """The parsed rows in file order with their record number and physical line."""
    return (
        f"SELECT l.{RECORD_NO}, l.{LINE}, t.* EXCLUDE ({CARD_FLAG}, {NEWLINES}) "
        f"FROM {table} t POSITIONAL JOIN {table}_lines l"
    )


def _typed_empty(
    con: duckdb.DuckDBPyConnection, table: str, fields: Sequence[Field], temporary: bool
) -> str:
    cols = ", ".join(f"{_quote_ident(f.name)} {f.type}" for f in fields)
    con.execute(
        f"CREATE OR REPLACE {_kind(temporary)} {table} "
        f"({cols}, {CARD_FLAG} BOOLEAN, {NEWLINES} INTEGER)"
    )
    con.execute(
        f"CREATE OR REPLACE {_kind(temporary)} {table}_lines ({RECORD_NO} BIGINT, {LINE} BIGINT)"
    )
    return rows_sql(table)


# A run of 13-19 digits, optionally split by single spaces or dashes: a possible card number.
_CARD_CANDIDATE = r"\d(?:[ -]?\d){12,18}"


NEWLINES = "_embedded_newlines"
"""Column computed while a file is read: line breaks inside the row's typed text, so each
row's physical line follows by a running sum (no second pass over the file's bytes)."""


def newlines_sql(fields: Sequence[Field]) -> str:
    """SQL counting line breaks inside the text people type (where multi-line values are)."""
    text = card_scanned(fields)
    if not text:
        return "0"
    joined = "concat_ws(' ', " + ", ".join(_quote_ident(n) for n in text) + ")"
    return f"CAST(length({joined}) - length(replace({joined}, chr(10), '')) AS INTEGER)"


CARD_FLAG = "_maybe_card"
"""Column computed while a file is read: the row has a digit run that may be a card number."""


def card_scanned(fields: Sequence[Field]) -> list[str]:
    """The fields holding text people type (``CARD_SCANNED_FIELDS``), in ``fields`` order."""
    return [f.name for f in fields if f.name in CARD_SCANNED_FIELDS]


# --------------------------------------------------------------------------- card redaction
#
# A table is written once, from rows already redacted: text replaced after the write (an
# UPDATE) stays readable in the freed blocks of the DuckDB file, which DuckDB never zeroes
# and which publish copies into the snapshot.

REDACT_FUNCTION = "orderlens_redact_cards"
"""SQL function (VARCHAR -> VARCHAR, NULL stays NULL) registered by :func:`card_redaction`:
:func:`orderlens.security.redact_card_numbers` of its argument."""


class CardRedaction:
    """What :data:`REDACT_FUNCTION` calls, and how many card numbers it redacted."""

    def __init__(self) -> None:
        self._found: list[int] = []

    def redact(self, text: str) -> str:
        clean, found = redact_card_numbers(text)
        if found:
            # list.append is atomic: DuckDB calls the function from several threads.
            self._found.append(found)
        return text if clean is None else clean

    @property
    def count(self) -> int:
        """Card numbers redacted so far by the statements of the block."""
        return sum(self._found)


@contextmanager
def card_redaction(con: duckdb.DuckDBPyConnection) -> Iterator[CardRedaction]:
    """Register :data:`REDACT_FUNCTION` on ``con`` for the block; yield its count.

    Wrap the statements that write rows from :func:`redacted_rows_sql` (one count per
    block: a statement run again after a failure belongs in a block of its own). The
    function is declared with side effects so DuckDB calls it exactly once per value it
    reaches, which keeps the count exact.
    """
    redaction = CardRedaction()
    con.create_function(
        REDACT_FUNCTION, redaction.redact, ["VARCHAR"], "VARCHAR", side_effects=True
    )
    try:
        yield redaction
    finally:
        con.remove_function(REDACT_FUNCTION)


def card_candidate_sql(columns: Sequence[str]) -> str:
    """SQL: the row's text ``columns`` hold a digit run that may be a card number (one
    regular expression over all of them, evaluated while the rows are read)."""
    if not columns:
        return "false"
    joined = ", ".join(_quote_ident(n) for n in columns)
    return (
        f"coalesce(regexp_matches(concat_ws(' | ', {joined}), {_sql_str(_CARD_CANDIDATE)}), false)"
    )


def redacted_rows_sql(query: str, columns: Sequence[str], flag: str | None = None) -> str:
    """The rows of ``query`` with card numbers redacted in its text ``columns``: the SELECT
    a parser writes a table from, inside :func:`card_redaction`.

    A regular expression flags the rows that may hold a card number; only their values reach
    Python (:data:`REDACT_FUNCTION`); the other rows pass through as they are. The columns
    keep their names and order, and so do the rows (an ORDER BY of ``query`` holds). With
    ``flag``, the flag is kept as a last column of that name.
    """
    name = flag or "_card_candidate"
    if not columns:
        return f"SELECT *, false AS {name} FROM ({query})" if flag else query
    flagged = f"SELECT *, {card_candidate_sql(columns)} AS {name} FROM ({query})"
    redacted = ", ".join(
        f"CASE WHEN {name} THEN {REDACT_FUNCTION}({_quote_ident(c)}) ELSE {_quote_ident(c)} END "
        f"AS {_quote_ident(c)}"
        for c in columns
    )
    star = "*" if flag else f"* EXCLUDE ({name})"
    return f"SELECT {star} REPLACE ({redacted}) FROM ({flagged})"


@contextmanager
def insertion_order(con: duckdb.DuckDBPyConnection, *, preserved: bool) -> Iterator[None]:
    """Run statements with DuckDB's ``preserve_insertion_order`` set, then restore it."""
    before = scalar(con, "SELECT current_setting('preserve_insertion_order')")
    con.execute(f"SET preserve_insertion_order = {str(preserved).lower()}")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {str(bool(before)).lower()}")


def create_table_with_lines(
    con: duckdb.DuckDBPyConnection, table: str, rows: str, scanned: Sequence[str]
) -> int:
    """``table`` from ``rows`` (a SELECT whose columns include ``_rec`` and ``_phys``: each
    row's record number and physical line), card numbers redacted in its text columns
    ``scanned``; and ``<table>_lines``: their ``_record_no`` and ``_line``, aligned row by
    row with ``table`` (read together with a POSITIONAL JOIN). Returns the card numbers
    redacted.

    The table is one parallel CREATE TABLE AS written without preserving order: an ordered
    write (or a POSITIONAL JOIN among its inputs) runs on one thread, and an ordered
    parallel write leaves a partial row group per batch that the checkpoint rewrites. The
    line table is then a scan of the table in its storage order, and the two helper columns
    are dropped. Nothing downstream reads raw rows by position alone: staging orders them
    by record number, physical line and line number.
    """
    with insertion_order(con, preserved=False), card_redaction(con) as redaction:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {redacted_rows_sql(rows, scanned)}")
    with insertion_order(con, preserved=True):
        con.execute(
            f"CREATE OR REPLACE TABLE {table}_lines AS "
            f"SELECT _rec AS {RECORD_NO}, _phys AS {LINE} FROM {table}"
        )
    for helper in ("_rec", "_phys"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN {helper}")
    return redaction.count


def _redact_candidates(
    con: duckdb.DuckDBPyConnection, table: str, text: Sequence[str], candidate_sql: str
) -> int:
    """Luhn-check and rewrite the text columns of the rows ``candidate_sql`` selects."""
    candidates = con.execute(
        f"SELECT rowid, {', '.join(_quote_ident(n) for n in text)} FROM {table} "
        f"WHERE {candidate_sql}"
    ).fetchall()
    redacted = 0
    for row in candidates:
        for name, value in zip(text, row[1:], strict=True):
            clean, found = redact_card_numbers(value)
            if found:
                redacted += found
                con.execute(
                    f"UPDATE {table} SET {_quote_ident(name)} = ? WHERE rowid = ?", [clean, row[0]]
                )
    return redacted


def redact_card_columns(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> int:
    """Redact Luhn-valid card numbers in the given text columns of a table, in place; return
    how many.

    For TEMP tables only (held in memory, never in the warehouse file): on a stored table
    the replaced text would survive in the file's freed blocks. Parsers write their stored
    tables from :func:`redacted_rows_sql` instead.
    """
    present = {
        str(r[0])
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }
    text = [c for c in columns if c in present]
    if not text:
        return 0
    return _redact_candidates(con, table, text, card_candidate_sql(text))


def read_header(head: bytes, encoding: str, bom: int) -> list[str]:
    """Column names of the header line, trimmed and lower-cased."""
    text_head = head[bom:]
    if encoding != "utf-16" and b"\n" in text_head:
        text_head = text_head[: text_head.index(b"\n")]
    try:
        text = text_head.decode("utf-16" if encoding == "utf-16" else "utf-8")
    except UnicodeDecodeError as exc:
        raise HeaderError(f"header is not valid {encoding} ({exc.reason})") from exc
    first = text.splitlines()[0] if text else ""
    if not first.strip():
        raise HeaderError("the file is empty or its first line is blank (no header)")
    return [name.strip().lower() for name in next(csv.reader(io.StringIO(first)))]


def bind_header(header: Sequence[str], fields: Sequence[Field]) -> tuple[list[str], list[str]]:
    """Check a header against the expected fields; return (missing optional, unknown) names.

    Raises HeaderError when a required column is missing or a name appears twice.
    """
    seen: set[str] = set()
    duplicates = sorted({n for n in header if n in seen or seen.add(n)})
    if duplicates:
        raise HeaderError(f"column(s) {', '.join(duplicates)} appear more than once in the header")
    known = {f.name for f in fields}
    missing_required = [f.name for f in fields if f.required and f.name not in seen]
    if missing_required:
        raise HeaderError(
            f"required column(s) missing: {', '.join(missing_required)}"
            + (
                f"; unexpected column(s): {', '.join(n for n in header if n not in known)}"
                if any(n not in known for n in header)
                else ""
            )
        )
    missing_optional = [f.name for f in fields if f.name not in seen]
    unknown = [n for n in header if n not in known]
    return missing_optional, unknown


def parse_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fields: Sequence[Field],
    table: str,
    temporary: bool = True,
) -> ParseResult:
    """Parse a CSV file: rows via ``result.rows_sql`` (``_record_no``, ``_line``, fields)."""
    result = ParseResult(table=table, file_format="csv")
    size = path.stat().st_size
    if size == 0:
        result.rows_sql = _typed_empty(con, table, fields, temporary)
        result.notes.append("empty file (no header, no records)")
        return result
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        encoding, bom = detect_encoding(mm[:4])
        try:
            header = read_header(mm[: min(size, 1 << 20)], encoding, bom)
            missing_optional, unknown = bind_header(header, fields)
        except HeaderError as exc:
            _reject_whole_file(con, mm, encoding, fields, table, temporary, result, str(exc))
            return result
        if unknown:
            result.notes.append(f"ignored unknown column(s): {', '.join(unknown)}")

        def read(source: Path, source_encoding: str) -> tuple[list[tuple], int]:
            return _duckdb_read(
                con, source, source_encoding, header, missing_optional, fields, table, temporary
            )

        def read_copy(content: bytes) -> tuple[list[tuple], int]:
            with tempfile.TemporaryDirectory(prefix="orderlens-") as tmp:
                copy = Path(tmp) / path.name
                copy.write_bytes(content)
                return read(copy, "utf-8")

        data: bytes | mmap.mmap = as_utf8_bytes(mm[:], encoding) if bom == 2 else mm
        mixed_endings = False
        try:
            errors, redacted = read(path, encoding)
        except duckdb.InvalidInputException as exc:
            if "state machine" not in str(exc):
                _reject_whole_file(
                    con,
                    mm,
                    encoding,
                    fields,
                    table,
                    temporary,
                    result,
                    f"unreadable CSV: {str(exc).splitlines()[0]}",
                )
                return result
            # Mixed line endings (CRLF and LF in one file) stop DuckDB's strict parser; the
            # same bytes with CRLF as LF keep every line number and every value.
            mixed_endings = True
            data = as_utf8_bytes(mm[:], encoding).replace(b"\r\n", b"\n")
            result.notes.append("mixed line endings (CRLF and LF) were read as LF")
            errors, redacted = read_copy(data)
        if bom == 0 and any(e[3] == "INVALID ENCODING" for e in errors):
            decoded = single_byte_text(mm)
            if decoded is not None:
                # Not UTF-8 at all (no valid multi-byte sequence anywhere): a legacy
                # single-byte export. Decode it, say so, and keep every value.
                name, text = decoded
                data = text.encode("utf-8")
                if mixed_endings:
                    data = data.replace(b"\r\n", b"\n")
                result.notes.append(f"decoded as {name} (the file is not UTF-8)")
                errors, redacted = read_copy(data)
        id_index = header.index(ORDER_ID) if ORDER_ID in header else None
        _number_records(con, data, errors, fields, table, temporary, result, id_index)
    result.rows_sql = rows_sql(table)
    result.cards_redacted = redacted
    return result


_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)


def single_byte_text(data: bytes | mmap.mmap) -> tuple[str, str] | None:
    """The file's text if it is a single-byte legacy encoding, else None.

    A file with even one valid UTF-8 multi-byte sequence is UTF-8 with damaged bytes: those
    records are rejected, not guessed at. Otherwise Windows-1252 is tried (what spreadsheet
    exports use), then ISO-8859-1, which decodes any byte.
    """
    raw = bytes(data)
    if _UTF8_MULTIBYTE.search(raw):
        return None
    try:
        return "Windows-1252", raw.decode("cp1252")
    except UnicodeDecodeError:
        return "ISO-8859-1", raw.decode("latin-1")


def _duckdb_read(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    encoding: str,
    header: Sequence[str],
    missing_optional: Sequence[str],
    fields: Sequence[Field],
    table: str,
    temporary: bool,
) -> tuple[list[tuple], int]:
    """Read the file with explicit types bound by header name, card numbers redacted as the
    rows are written; return DuckDB's rejects and the card numbers redacted."""
    by_name = {f.name: f for f in fields}
    columns = ", ".join(
        f"{_sql_str(name)}: {_sql_str(by_name[name].type if name in by_name else 'VARCHAR')}"
        for name in header
    )
    select = ", ".join(
        _quote_ident(f.name)
        if f.name not in missing_optional
        else f"CAST(NULL AS {f.type}) AS {_quote_ident(f.name)}"
        for f in fields
    )
    rejects_table, scan_table = f"{table}_rej", f"{table}_rej_scan"
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {scan_table}")
    rows = (
        f"SELECT {select} FROM read_csv("
        f"{_sql_str(str(path))}, auto_detect = false, header = true, delim = ',', "
        f"quote = '\"', escape = '\"', strict_mode = true, "
        f"encoding = {_sql_str(encoding)}, columns = {{{columns}}}, store_rejects = true, "
        f"rejects_table = {_sql_str(rejects_table)}, rejects_scan = {_sql_str(scan_table)})"
    )
    try:
        with card_redaction(con) as redaction:
            con.execute(
                f"CREATE OR REPLACE {_kind(temporary)} {table} AS SELECT *, "
                f"{newlines_sql(fields)} AS {NEWLINES} "
                f"FROM ({redacted_rows_sql(rows, card_scanned(fields), CARD_FLAG)})"
            )
        errors = con.execute(
            f"SELECT line_byte_position, byte_position, column_name, error_type::VARCHAR, "
            f"csv_line, error_message FROM {rejects_table} ORDER BY line_byte_position, column_idx"
        ).fetchall()
        return errors, redaction.count
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {scan_table}")


def _number_records(
    con: duckdb.DuckDBPyConnection,
    data: bytes | mmap.mmap,
    errors: list[tuple],
    fields: Sequence[Field],
    table: str,
    temporary: bool,
    result: ParseResult,
    id_index: int | None,
) -> None:
    """Count records, map loaded rows and rejects to physical lines, collect the rejects."""
    result.loaded = int(scalar(con, f"SELECT count(*) FROM {table}"))
    reject_starts = sorted({int(e[0]) for e in errors})
    result.rejected_records = len(reject_starts)
    newline_count = count_newlines(data)
    ends_open = len(data) > 0 and data[-1:] != b"\n"
    physical_records = newline_count + (1 if ends_open else 0) - 1
    reject_lines = line_of_offset(data, reject_starts) if reject_starts else []
    embedded = _embedded_newlines(con, table) if not reject_starts else None
    if physical_records == result.loaded + result.rejected_records:
        # No blank lines and no quoted line breaks: record k starts on line k + 1.
        result.records = physical_records
        loaded_lines = _loaded_record_lines_simple(result.records, reject_lines)
    elif embedded is not None and newline_count == (
        1 + result.loaded - (1 if ends_open else 0) + int(embedded.sum())
    ):
        # Every extra line break is inside a loaded row's text: a running sum places rows.
        result.records = result.loaded
        before = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(embedded)[:-1]])
        loaded_lines = np.arange(2, result.loaded + 2, dtype=np.int64) + before
    else:
        layout = scan_records(data)
        result.records = layout.records
        # DuckDB's byte position falls inside the record's first line (not always on its
        # first byte): a reject belongs to the last record starting at or before it.
        owners = (
            np.searchsorted(layout.starts, np.asarray(reject_starts, dtype=np.int64), side="right")
            - 1
        )
        is_rejected = np.zeros(layout.starts.size, dtype=bool)
        is_rejected[owners[owners >= 0]] = True
        loaded_lines = layout.lines[~is_rejected]
        if loaded_lines.size != result.loaded:
            result.notes.append(
                "could not map every loaded row to its physical line; lines are approximate"
            )
            loaded_lines = np.resize(loaded_lines, result.loaded)
    line_by_start = dict(zip(reject_starts, reject_lines, strict=True))
    seen_missing: set[int] = set()
    for start, _pos, column, error_type, csv_line, message in errors:
        if error_type == "MISSING COLUMNS":
            # DuckDB reports each absent column; one reject per record says it all.
            if int(start) in seen_missing:
                continue
            seen_missing.add(int(start))
        reject = _reject(line_by_start[int(start)], column, error_type, csv_line, message, fields)
        reject = replace(reject, order_id=_field_of(csv_line, id_index))
        if ends_open and int(start) == reject_starts[-1] and error_type in _TRUNCATION:
            reject = replace(
                reject, reason=f"truncated last row (the file ends mid-record): {reject.reason}"
            )
        result.rejects.append(reject)
    _attach_lines(con, table, loaded_lines, temporary)


def _embedded_newlines(con: duckdb.DuckDBPyConnection, table: str) -> np.ndarray:
    """Line breaks inside each loaded row's text, in file order."""
    frame = con.sql(f"SELECT coalesce({NEWLINES}, 0) AS n FROM {table}").pl()
    return frame["n"].to_numpy().astype(np.int64)


def _loaded_record_lines_simple(records: int, reject_lines: list[int]) -> np.ndarray:
    all_lines = np.arange(2, records + 2, dtype=np.int64)
    if not reject_lines:
        return all_lines
    return all_lines[~np.isin(all_lines, np.asarray(reject_lines, dtype=np.int64))]


def _attach_lines(
    con: duckdb.DuckDBPyConnection, table: str, lines: np.ndarray, temporary: bool
) -> None:
    """Record the physical line of each loaded row (rows keep file order: positional join)."""
    import polars as pl

    # A Polars frame: DuckDB 2 scans it far faster than a registered pyarrow table.
    numbers = pl.DataFrame(
        {
            RECORD_NO: np.arange(1, lines.size + 1, dtype=np.int64),
            LINE: np.asarray(lines, dtype=np.int64),
        }
    )
    table_from_frame(con, f"{table}_lines", numbers, temporary=temporary)


def _field_of(csv_line: str | None, index: int | None) -> str | None:
    """One field of a rejected record's text, when the record is readable that far."""
    if not csv_line or index is None:
        return None
    try:
        fields = next(csv.reader(io.StringIO(csv_line.strip("\r\n"))), [])
    except csv.Error:
        return None
    value = fields[index].strip() if index < len(fields) else ""
    return value or None


def _reject(
    line: int,
    column: str | None,
    error_type: str,
    csv_line: str | None,
    message: str,
    fields: Sequence[Field],
) -> Reject:
    by_name = {f.name: f for f in fields}
    raw_text, _ = redact_card_numbers(csv_line.strip("\r\n") if csv_line else None)
    if error_type == "CAST" and column:
        value = message.split('Could not convert string "', 1)[-1].split('" to', 1)[0]
        value, _ = redact_card_numbers(value)
        field_type = by_name[column].type if column in by_name else "value"
        reason = _REASONS["CAST"].format(value=repr(value), type=field_type, column=column)
    else:
        reason = _REASONS.get(error_type, message).format(column=column)
    return Reject(line=line, column=column, error_type=error_type, reason=reason, raw_text=raw_text)


def _reject_whole_file(
    con: duckdb.DuckDBPyConnection,
    mm: mmap.mmap,
    encoding: str,
    fields: Sequence[Field],
    table: str,
    temporary: bool,
    result: ParseResult,
    reason: str,
) -> None:
    """A header that cannot be bound rejects every record of the file, each by its line."""
    result.rows_sql = _typed_empty(con, table, fields, temporary)
    layout = scan_records(as_utf8_bytes(mm[:], encoding))
    result.records = layout.records
    result.rejected_records = layout.records
    result.notes.append(f"file rejected: {reason}")
    result.rejects.append(Reject(1, None, "HEADER", reason, None))
    result.rejects.extend(
        Reject(
            int(line), None, "HEADER", "not loaded: the file's header was rejected (line 1)", None
        )
        for line in layout.lines
    )


def parse_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fields: Sequence[Field],
    table: str,
    temporary: bool = True,
) -> ParseResult:
    """Parse a Parquet file; ``line`` is the 1-based row number within the file."""
    result = ParseResult(table=table, file_format="parquet")
    src = _sql_str(str(path))
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({src})").fetchall()
    except duckdb.Error as exc:
        result.rows_sql = _typed_empty(con, table, fields, temporary)
        result.notes.append(f"file rejected: not a readable Parquet file ({exc})")
        result.rejects.append(Reject(1, None, "FORMAT", "not a readable Parquet file", None))
        return result
    header = [str(row[0]).strip().lower() for row in described]
    actual = {str(row[0]).strip().lower(): str(row[0]) for row in described}
    total = int(scalar(con, f"SELECT count(*) FROM read_parquet({src})"))
    try:
        missing_optional, unknown = bind_header(header, fields)
    except HeaderError as exc:
        result.rows_sql = _typed_empty(con, table, fields, temporary)
        result.records = result.rejected_records = total
        result.notes.append(f"file rejected: {exc}")
        result.rejects.append(Reject(1, None, "HEADER", str(exc), None))
        return result
    if unknown:
        result.notes.append(f"ignored unknown column(s): {', '.join(unknown)}")
    present = [f for f in fields if f.name not in missing_optional]
    parquet_types = {str(row[0]).strip().lower(): str(row[1]) for row in described}

    def source(f: Field) -> str:
        # Text columns of a typed field: an empty string means "no value", as in CSV.
        column = _quote_ident(actual[f.name])
        if parquet_types[f.name] == "VARCHAR" and f.type != "VARCHAR":
            return f"nullif(trim({column}), '')"
        return column

    casts = ", ".join(
        f"TRY_CAST({source(f)} AS {f.type}) AS {_quote_ident(f.name)}"
        if f.name not in missing_optional
        else f"CAST(NULL AS {f.type}) AS {_quote_ident(f.name)}"
        for f in fields
    )
    failures = (
        " OR ".join(
            f"({source(f)} IS NOT NULL AND TRY_CAST({source(f)} AS {f.type}) IS NULL)"
            for f in present
        )
        or "false"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {table}_all AS SELECT file_row_number + 1 AS {LINE}, "
        f"({failures}) AS _bad, * FROM read_parquet({src}, file_row_number = true)"
    )
    bad_rows = con.sql(f"SELECT * FROM {table}_all WHERE _bad").pl()
    for row in bad_rows.iter_rows(named=True):
        for f in present:
            value = row[actual[f.name]]
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            if not scalar(con, f"SELECT TRY_CAST(? AS {f.type}) IS NOT NULL", [str(value)]):
                shown, _ = redact_card_numbers(str(value))
                result.rejects.append(
                    Reject(
                        int(row[LINE]),
                        f.name,
                        "CAST",
                        _REASONS["CAST"].format(value=repr(shown), type=f.type, column=f.name),
                        None,
                        str(row[actual[ORDER_ID]]) if ORDER_ID in actual else None,
                    )
                )
    rows = f"SELECT {casts} FROM {table}_all WHERE NOT _bad ORDER BY {LINE}"
    with card_redaction(con) as redaction:
        con.execute(
            f"CREATE OR REPLACE {_kind(temporary)} {table} AS SELECT *, "
            f"{newlines_sql(fields)} AS {NEWLINES} "
            f"FROM ({redacted_rows_sql(rows, card_scanned(fields), CARD_FLAG)})"
        )
    con.execute(
        f"CREATE OR REPLACE {_kind(temporary)} {table}_lines AS SELECT row_number() OVER "
        f"(ORDER BY {LINE}) AS {RECORD_NO}, {LINE} FROM {table}_all WHERE NOT _bad "
        f"ORDER BY {LINE}"
    )
    con.execute(f"DROP TABLE IF EXISTS {table}_all")
    result.rows_sql = rows_sql(table)
    result.cards_redacted = redaction.count
    result.records = total
    result.rejected_records = bad_rows.height
    result.loaded = total - bad_rows.height
    return result


JSON_SUFFIXES: tuple[str, ...] = (".json", ".ndjson", ".jsonl")


def parse_ndjson(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fields: Sequence[Field],
    table: str,
    temporary: bool = True,
) -> ParseResult:
    """Parse newline-delimited JSON: one flat object per order line, keys = column names.

    A line that is not a JSON object, or whose value does not cast to its column's type, is
    rejected with its line and column; blank lines are not records. Keys are bound by name;
    unknown keys are reported and ignored.
    """
    result = ParseResult(table=table, file_format="ndjson")

    def read(source: Path) -> None:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table}_all AS "
            "SELECT unnest(parts) AS _text, generate_subscripts(parts, 1) AS "
            f"{LINE} FROM (SELECT string_split(replace(content, chr(13), ''), chr(10)) AS parts "
            f"FROM read_text({_sql_str(str(source))}))"
        )

    bad_encoding: list[Reject] = []
    try:
        read(path)
    except duckdb.InvalidInputException:
        # Lines that are not UTF-8 are rejected one by one (blanked in a scratch copy, so
        # every other line keeps its number); nothing is silently replaced.
        kept: list[bytes] = []
        for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
            try:
                raw.decode("utf-8")
                kept.append(raw)
            except UnicodeDecodeError:
                kept.append(b"")
                shown, _ = redact_card_numbers(raw.decode("utf-8", "replace")[:2000])
                bad_encoding.append(
                    Reject(number, None, "INVALID ENCODING", _REASONS["INVALID ENCODING"], shown)
                )
        with tempfile.TemporaryDirectory(prefix="orderlens-ndjson-") as scratch:
            copy = Path(scratch) / "clean.ndjson"
            copy.write_bytes(b"\n".join(kept))
            read(copy)
    con.execute(f"DELETE FROM {table}_all WHERE trim(_text) = ''")
    con.execute(
        f"ALTER TABLE {table}_all ADD COLUMN _object BOOLEAN DEFAULT false; "
        f"UPDATE {table}_all SET _object = CASE WHEN json_valid(_text) "
        "THEN json_type(CAST(_text AS JSON)) = 'OBJECT' ELSE false END"
    )
    keys = {
        str(r[0])
        for r in con.execute(
            "SELECT DISTINCT unnest(CASE WHEN _object THEN json_keys(CAST(_text AS JSON)) END) "
            f"FROM {table}_all"
        ).fetchall()
    }
    known = {f.name for f in fields}
    unknown = sorted(keys - known)
    if unknown:
        result.notes.append(f"ignored unknown key(s): {', '.join(unknown)}")

    def text(f: Field) -> str:
        return (
            "nullif(trim(CASE WHEN _object THEN json_extract_string(CAST(_text AS JSON), "
            f"{_sql_str(f.name)}) END), '')"
        )

    failures = " OR ".join(
        f"({text(f)} IS NOT NULL AND TRY_CAST({text(f)} AS {f.type}) IS NULL)" for f in fields
    )
    con.execute(
        f"ALTER TABLE {table}_all ADD COLUMN _bad BOOLEAN DEFAULT false; "
        f"UPDATE {table}_all SET _bad = CASE WHEN _object THEN {failures} ELSE true END"
    )
    for line, raw, is_object in con.execute(
        f"SELECT {LINE}, _text, _object FROM {table}_all WHERE _bad ORDER BY {LINE}"
    ).fetchall():
        shown, _ = redact_card_numbers(str(raw)[:2000])
        if not is_object:
            result.rejects.append(
                Reject(int(line), None, "JSON", "line is not a JSON object", shown)
            )
            continue
        record = json.loads(raw)
        order_id = record.get(ORDER_ID)
        for f in fields:
            value = record.get(f.name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            value_text = value if isinstance(value, str) else json.dumps(value)
            if not scalar(con, f"SELECT TRY_CAST(? AS {f.type}) IS NOT NULL", [value_text.strip()]):
                clean, _ = redact_card_numbers(value_text)
                result.rejects.append(
                    Reject(
                        int(line),
                        f.name,
                        "CAST",
                        _REASONS["CAST"].format(value=repr(clean), type=f.type, column=f.name),
                        shown,
                        None if order_id is None else str(order_id),
                    )
                )
    casts = ", ".join(f"TRY_CAST({text(f)} AS {f.type}) AS {_quote_ident(f.name)}" for f in fields)
    rows = f"SELECT {casts} FROM {table}_all WHERE NOT _bad ORDER BY {LINE}"
    with card_redaction(con) as redaction:
        con.execute(
            f"CREATE OR REPLACE {_kind(temporary)} {table} AS SELECT *, 0 AS {NEWLINES} "
            f"FROM ({redacted_rows_sql(rows, card_scanned(fields), CARD_FLAG)})"
        )
    con.execute(
        f"CREATE OR REPLACE {_kind(temporary)} {table}_lines AS SELECT row_number() OVER "
        f"(ORDER BY {LINE}) AS {RECORD_NO}, {LINE} FROM {table}_all WHERE NOT _bad "
        f"ORDER BY {LINE}"
    )
    result.rejects = sorted([*bad_encoding, *result.rejects], key=lambda r: r.line)
    result.records = int(scalar(con, f"SELECT count(*) FROM {table}_all") or 0) + len(bad_encoding)
    result.rejected_records = int(
        scalar(con, f"SELECT count(*) FROM {table}_all WHERE _bad") or 0
    ) + len(bad_encoding)
    result.loaded = result.records - result.rejected_records
    con.execute(f"DROP TABLE IF EXISTS {table}_all")
    result.rows_sql = rows_sql(table)
    result.cards_redacted = redaction.count
    return result


def parse_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fields: Sequence[Field],
    table: str,
    temporary: bool = True,
) -> ParseResult:
    """Parse a landing file by its suffix (.csv, .parquet, .json/.ndjson/.jsonl) into ``table``
    (rows in file order) and ``<table>_lines`` (their record numbers and lines); temporary
    tables unless the caller keeps them."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return parse_parquet(con, path, fields, table, temporary)
    if suffix in JSON_SUFFIXES:
        return parse_ndjson(con, path, fields, table, temporary)
    return parse_csv(con, path, fields, table, temporary)


def sniff(path: Path, head: bytes) -> bool:
    """The generic format is the fallback: it takes any file no other format claimed."""
    return True


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse an order file in the generic format into ``table`` (module protocol of
    ``pipelines.sources.formats``)."""
    return parse_file(con, path, GENERIC_FIELDS, table, temporary=False)
