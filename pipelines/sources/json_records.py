"""JSON order payloads → records with their physical lines; shared by the Shopify and
WooCommerce parsers.

Grain: one record per source object (an order, a refund, a transaction...). A file is one
of three layouts: NDJSON (one object per line), a JSON array of objects, or one object,
possibly a wrapper such as ``{"order": {...}}``, ``{"orders": [...]}`` or WooCommerce's batch
``{"create": [...], "update": [...], "delete": [...]}``.

Big NDJSON files never pass through Python: DuckDB's ``read_json`` reads them with explicit
types into a temporary table (:func:`load_records`), and Python only looks at the few lines
DuckDB could not read. Documents (arrays, objects) are walked here element by element, so
each record knows the line its object starts on and a broken element rejects that record
only; their records are then written as NDJSON for the same SQL.
"""

from __future__ import annotations

import json
import mmap
import re
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

from orderlens.security import redact_card_numbers
from orderlens.warehouse import scalar, table_from_frame
from pipelines.sources.csv_records import count_newlines
from pipelines.sources.generic import LINE, RECORD_NO, ParseResult, Reject

JSON_SUFFIXES: frozenset[str] = frozenset({".json", ".ndjson", ".jsonl"})
RAW_TEXT_LIMIT = 2000
"""Characters of a rejected record kept as its raw text."""

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
_TRAILING_DIGITS = re.compile(r"([0-9]+)\s*$")


@dataclass(frozen=True)
class Piece:
    """One record of a JSON file: its object, or why it could not be read."""

    line: int
    """Physical line where the record starts (1-based)."""
    value: Any
    error: str | None = None
    wrapper: str | None = None
    """The key it was wrapped in (``orders``, ``refund``, ``create``...), if any."""
    raw: str | None = None
    """Its text, for a record that could not be read."""


# --------------------------------------------------------------------------- layout


def head_text(head: bytes) -> str:
    """The head of a file as text (BOM dropped, a cut multi-byte character ignored)."""
    return head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", errors="ignore")


def is_ndjson(head: bytes) -> bool:
    """True when the file is one JSON object per line (a single-line object counts)."""
    text = head_text(head)
    start = _WS.match(text).end()  # type: ignore[union-attr]
    if not text[start:].startswith("{"):
        return False
    checked = 0
    for line in text[start:].splitlines():
        if not line.strip():
            continue
        checked += 1
        try:
            value = json.loads(line)
        except ValueError:
            value = None
        if isinstance(value, dict) and value:
            return True
        if checked >= 5:
            break
    return False


def first_object(head: bytes) -> tuple[str | None, dict[str, Any] | None, set[str]]:
    """What a format sniffer needs from a file's head: the wrapper key of its first record
    (``orders``...), that record's object when the head holds it whole, and every key name
    seen in the head (for heads that cut the first object)."""
    text = head_text(head)
    keys = set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"\s*:', text))
    start = _WS.match(text).end()  # type: ignore[union-attr]
    if start >= len(text) or text[start] not in "[{":
        return None, None, set()
    if is_ndjson(head):
        for line in text.splitlines():
            if line.strip():
                try:
                    value = json.loads(line)
                except ValueError:
                    continue
                if isinstance(value, dict):
                    return _first_of(value)
        return None, None, keys
    try:
        value = json.loads(text)
    except ValueError:
        wrapper = re.match(r'\s*\{\s*"([A-Za-z_]+)"\s*:\s*[\[{]', text)
        return (wrapper.group(1) if wrapper else None), None, keys
    if isinstance(value, list):
        first = next((v for v in value if isinstance(v, dict)), None)
        return None, first, set(first) if first else keys
    if isinstance(value, dict):
        return _first_of(value)
    return None, None, set()


def _first_of(value: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None, set[str]]:
    if len(value) >= 1 and all(isinstance(v, dict | list) for v in value.values()):
        key = next(iter(value))
        inner = value[key]
        if isinstance(inner, list):
            inner = next((v for v in inner if isinstance(v, dict)), None)
        if isinstance(inner, dict) and len(value) <= 3:
            return key, inner, set(inner)
    return None, value, set(value)


# --------------------------------------------------------------------------- documents


def _skip(text: str, pos: int) -> int:
    return _WS.match(text, pos).end()  # type: ignore[union-attr]


class _Lines:
    """Offset → physical line of a text."""

    def __init__(self, text: str) -> None:
        self._newlines = np.flatnonzero(np.frombuffer(text.encode("utf-32-le"), np.uint32) == 10)

    def __call__(self, offset: int) -> int:
        return int(np.searchsorted(self._newlines, offset)) + 1


def _error_text(exc: json.JSONDecodeError) -> str:
    return f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"


def _snippet(text: str, start: int) -> str:
    return text[start : start + RAW_TEXT_LIMIT]


def read_document(text: str, wrappers: Collection[str]) -> list[Piece]:
    """The records of a JSON document (an array, one object, or a wrapper object whose keys
    are all in ``wrappers``), each with the line its object starts on.

    A broken element of an array rejects that element; the walk resumes at the next line
    indented like it (pretty-printed exports), else the rest of the file is one reject.
    """
    line_of = _Lines(text)
    start = _skip(text, 0)
    if start >= len(text):
        return []
    if text[start] == "[":
        pieces, end = _array_items(text, start, None, line_of)
        if end is not None and _skip(text, end) < len(text):
            where = _skip(text, end)
            pieces.append(
                Piece(
                    line_of(where),
                    None,
                    f"unexpected text after the JSON value at line {line_of(where)}",
                    raw=_snippet(text, where),
                )
            )
        return pieces
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        value, end = None, -1
        error = exc
    else:
        error = None
    if error is None and _skip(text, end) < len(text):
        where = _skip(text, end)
        return [
            Piece(
                line_of(start),
                None,
                f"unexpected text after the JSON value at line {line_of(where)}",
                raw=_snippet(text, start),
            )
        ]
    looks_wrapped = re.match(r'\{\s*"([^"\\]+)"\s*:\s*[\[{]', text[start:])
    wrapped = bool(looks_wrapped and looks_wrapped.group(1) in wrappers)
    if wrapped and (
        error is not None or (isinstance(value, dict) and all(k in wrappers for k in value))
    ):
        return _wrapper_items(text, start, line_of)
    if error is not None:
        return [Piece(line_of(start), None, _error_text(error), raw=_snippet(text, start))]
    return [Piece(line_of(start), value)]


def _wrapper_items(text: str, pos: int, line_of: Callable[[int], int]) -> list[Piece]:
    """Members of a wrapper object ``{"key": [...] | {...}, ...}`` as records."""
    pieces: list[Piece] = []
    i = _skip(text, pos + 1)
    while i < len(text) and text[i] != "}":
        try:
            key, i = _DECODER.raw_decode(text, i)
            i = _skip(text, i)
            if text[i : i + 1] != ":":
                raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
            i = _skip(text, i + 1)
            if text[i : i + 1] == "[":
                items, end = _array_items(text, i, str(key), line_of)
                pieces.extend(items)
                if end is None:
                    return pieces  # the list was broken beyond repair: its reject says so
                i = end
            else:
                value, end = _DECODER.raw_decode(text, i)
                pieces.append(Piece(line_of(i), value, wrapper=str(key)))
                i = end
            i = _skip(text, i)
            if text[i : i + 1] == ",":
                i = _skip(text, i + 1)
            elif text[i : i + 1] != "}":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        except json.JSONDecodeError as exc:
            pieces.append(Piece(line_of(i), None, _error_text(exc), raw=_snippet(text, i)))
            return pieces
    return pieces


def _array_items(
    text: str, pos: int, wrapper: str | None, line_of: Callable[[int], int]
) -> tuple[list[Piece], int | None]:
    """Elements of the array starting at ``pos``; returns them and the offset after it
    (None when the array is broken and the rest of the text was given up)."""
    pieces: list[Piece] = []
    i = _skip(text, pos + 1)
    if text[i : i + 1] == "]":
        return pieces, i + 1
    while i < len(text):
        try:
            value, end = _DECODER.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            pieces.append(Piece(line_of(i), None, _error_text(exc), wrapper, _snippet(text, i)))
            resume = _resume_at(text, i)
            if resume is None:
                return pieces, None
            i = resume
            continue
        pieces.append(Piece(line_of(i), value, wrapper=wrapper))
        i = _skip(text, end)
        if text[i : i + 1] == ",":
            i = _skip(text, i + 1)
        elif text[i : i + 1] == "]":
            return pieces, i + 1
        else:
            message = "Expecting ',' delimiter" if i < len(text) else "the file ends inside a list"
            exc = json.JSONDecodeError(message, text, min(i, len(text)))
            # The element before parsed; the list around it is what is broken.
            resume = _resume_at(text, i)
            if resume is None:
                if i < len(text):
                    pieces.append(
                        Piece(line_of(i), None, _error_text(exc), wrapper, _snippet(text, i))
                    )
                return pieces, None
            i = resume
    return pieces, None


def _resume_at(text: str, failed: int) -> int | None:
    """Start of the next element indented like the one at ``failed`` (or None)."""
    line_start = text.rfind("\n", 0, failed) + 1
    indent = text[line_start:failed]
    if indent.strip():
        return None  # compact JSON: no layout to resync on
    found = re.compile(r"\n" + re.escape(indent) + r"[{\[]").search(text, failed + 1)
    return found.end() - 1 if found else None


def read_ndjson_pieces(path: Path, wrappers: Collection[str] = ()) -> list[Piece]:
    """Every non-blank line of an NDJSON file as a record (small files; Python). A line that
    is a wrapper object (``{"orders": [...]}``, compact JSON on one line) gives its members."""
    pieces: list[Piece] = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                pieces.append(
                    Piece(number, None, f"bytes that are not valid UTF-8 (column {exc.start + 1})")
                )
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                pieces.append(
                    Piece(
                        number,
                        None,
                        f"invalid JSON at column {exc.colno}: {exc.msg}",
                        raw=line.rstrip("\r\n")[:RAW_TEXT_LIMIT],
                    )
                )
                continue
            if is_wrapper(value, wrappers):
                for key, inner in value.items():
                    for member in inner if isinstance(inner, list) else [inner]:
                        pieces.append(Piece(number, member, wrapper=key))
            else:
                pieces.append(Piece(number, value))
    return pieces


def is_wrapper(value: Any, wrappers: Collection[str]) -> bool:
    """True for an object whose keys are all wrapper keys holding objects or lists."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(k in wrappers and isinstance(v, dict | list) for k, v in value.items())
    )


def read_pieces(path: Path, wrappers: Collection[str]) -> list[Piece]:
    """The records of any JSON file (NDJSON or document), in file order."""
    with open(path, "rb") as handle:
        data = handle.read()
    if is_ndjson(data[: 1 << 22]):
        return read_ndjson_pieces(path, wrappers)
    try:
        text = data.removeprefix(b"\xef\xbb\xbf").decode("utf-8")
    except UnicodeDecodeError as exc:
        return [Piece(1, None, f"the file is not valid UTF-8 (byte {exc.start})")]
    return read_document(text, wrappers)


# --------------------------------------------------------------------------- card numbers


def card_last4(number: object) -> str | None:
    """The last four digits of a (masked) card number: its trailing digits, at most four."""
    if not isinstance(number, str):
        return None
    found = _TRAILING_DIGITS.search(number)
    return found.group(1)[-4:] if found else None


def strip_card_numbers(value: Any, key: str = "credit_card_number") -> Any:
    """A copy of a JSON value whose ``credit_card_number`` fields keep only their last four
    digits (the only part OrderLens may store), under ``key``."""
    if isinstance(value, dict):
        return {
            (key if k == "credit_card_number" else k): card_last4(v)
            if k == "credit_card_number"
            else strip_card_numbers(v, key)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [strip_card_numbers(v, key) for v in value]
    return value


def raw_text(value: Any, fallback: str | None = None) -> str | None:
    """A rejected record's text: compact JSON without card numbers, redacted, truncated."""
    text = (
        json.dumps(
            strip_card_numbers(value, "card_last4"), ensure_ascii=False, separators=(",", ":")
        )
        if value is not None
        else fallback
    )
    if text is None:
        return None
    clean, _ = redact_card_numbers(text[:RAW_TEXT_LIMIT])
    return clean


def write_ndjson(values: Sequence[Any], path: Path) -> None:
    """Objects as NDJSON (one per line), card numbers reduced to their last four digits."""
    with open(path, "w", encoding="utf-8") as handle:
        for value in values:
            handle.write(json.dumps(strip_card_numbers(value), ensure_ascii=False))
            handle.write("\n")


# --------------------------------------------------------------------------- SQL path


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def columns_sql(columns: dict[str, str]) -> str:
    """A ``columns = {...}`` argument of ``read_json``."""
    return "{" + ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in columns.items()) + "}"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _struct_fields(columns: dict[str, str]) -> str:
    return ", ".join(f"{quote(k)} {v}" for k, v in columns.items())


def struct(fields: dict[str, str]) -> str:
    """A DuckDB STRUCT type of named fields."""
    return "STRUCT(" + _struct_fields(fields) + ")"


def physical_lines(path: Path, rows: int) -> np.ndarray:
    """The physical line of each non-blank line of a file (row k of ``read_json``).

    When the file has exactly ``rows`` lines (no blank line) this is 1..rows without
    reading the lines; otherwise blank lines are skipped in a Python pass.
    """
    with open(path, "rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            return np.zeros(0, dtype=np.int64)
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            lines = count_newlines(mm) + (0 if mm[size - 1 : size] == b"\n" else 1)
    if lines == rows:
        return np.arange(1, rows + 1, dtype=np.int64)
    numbers = [n for n, line in enumerate(_lines(path), 1) if line.strip()]
    return np.asarray(numbers, dtype=np.int64)


def _lines(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        first = True
        for line in handle:
            if first:
                line = line.removeprefix(b"\xef\xbb\xbf")
                first = False
            yield line


def lines_text(path: Path, wanted: Collection[int]) -> dict[int, bytes]:
    """The bytes of some physical lines of a file (line break excluded)."""
    want = set(wanted)
    found: dict[int, bytes] = {}
    if not want:
        return found
    last = max(want)
    for number, line in enumerate(_lines(path), 1):
        if number in want:
            found[number] = line.rstrip(b"\r\n")
        if number >= last:
            break
    return found


def _not_a_number(column: str, line: bytes | None) -> str:
    """Reason of a record whose amount is not a number, quoting the value when top-level."""
    try:
        value = json.loads(line or b"")
    except ValueError:
        value = None
    if isinstance(value, dict) and isinstance(value.get("order"), dict):
        value = value["order"]
    if isinstance(value, dict) and column in value:
        return f"{column} {value[column]!r} is not a number"
    return f"{column} is not a number"


def _shown(line: bytes | None) -> str | None:
    """A rejected line as text; undecodable bytes are shown as U+FFFD (never stored)."""
    return None if line is None else line.decode("utf-8", errors="replace")


def why_unreadable(line: bytes) -> tuple[str, str]:
    """(error type, reason) of an NDJSON line whose object DuckDB could not read."""
    try:
        line_text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return "ENCODING", f"bytes that are not valid UTF-8 (column {exc.start + 1})"
    try:
        value = json.loads(line_text)
    except json.JSONDecodeError as exc:
        return "JSON", f"invalid JSON at column {exc.colno}: {exc.msg}"
    if not isinstance(value, dict):
        return "JSON", f"a JSON {type(value).__name__} where an object was expected"
    return "STRUCTURE", "the object does not have the expected structure"


def reject(
    line: int,
    column: str | None,
    error_type: str,
    reason: str,
    raw: str | None,
    order_id: str | None = None,
) -> Reject:
    """A Reject whose raw text and reason carry no card number."""
    clean_raw, _ = redact_card_numbers(raw[:RAW_TEXT_LIMIT] if raw else raw)
    clean_reason, _ = redact_card_numbers(reason)
    return Reject(line, column, error_type, clean_reason or reason, clean_raw, order_id)


def txt(expr: str) -> str:
    """SQL: a JSON text value, empty as NULL (JSON text is not padded like a spreadsheet's,
    so it is not trimmed)."""
    return f"nullif({expr}, '')"


def money(expr: str) -> str:
    """SQL: a JSON amount (string or number) as DECIMAL(18,4); blank or unreadable → NULL."""
    return f"TRY_CAST({expr} AS DECIMAL(18,4))"


def bad_money(expr: str) -> str:
    """SQL: true when a JSON amount is present but not a number."""
    return f"(nullif(trim({expr}), '') IS NOT NULL AND {money(expr)} IS NULL)"


def utc(expr: str) -> str:
    """SQL: a UTC timestamp written without offset (WooCommerce ``*_gmt``) with ``+00:00``."""
    return f"CASE WHEN {txt(expr)} IS NULL THEN NULL ELSE {txt(expr)} || '+00:00' END"


def create_stream(
    con: duckdb.DuckDBPyConnection,
    name: str,
    fields: Sequence[Any],
    select: str | None,
    free: FreeText | None = None,
    recs: str = "",
) -> tuple[int, int]:
    """Create stream table ``name`` (the stream's fields with their types, then
    ``_record_no`` and ``_line``) from ``select`` (rows producing those columns by name) and
    the rows of ``free`` (rows carrying text people typed); dropped again when empty.
    Returns its rows and the card numbers redacted.

    Only the rows with free text are staged: their free-text column is redacted on its own,
    then appended to ``free.column`` ('; '-separated). Values the parser composed from
    identifiers (tracking numbers, ids) are never scanned: a long id passes the Luhn check
    one time in ten. The other rows are written straight from their SELECT.
    """
    from pipelines.sources.generic import redact_card_columns

    def cast(exprs: dict[str, str], source: str) -> str:
        cols = ", ".join(f"CAST({exprs[f.name]} AS {f.type}) AS {quote(f.name)}" for f in fields)
        return (
            f"SELECT {cols}, CAST({RECORD_NO} AS BIGINT) AS {RECORD_NO}, "
            f"CAST({LINE} AS BIGINT) AS {LINE} FROM {source}"
        )

    exprs = {f.name: quote(f.name) for f in fields}
    parts = [cast(exprs, f"({select})")] if select is not None else []
    redacted = 0
    staged = f"_{name}_staged"
    if free is not None:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {staged} AS {free.sql(recs)}")
        redacted = redact_card_columns(con, staged, [free.free])
        joined = dict(exprs)
        if free.free != free.column:
            joined[free.column] = (
                f"nullif(concat_ws('; ', {quote(free.column)}, {quote(free.free)}), '')"
            )
        parts.append(cast(joined, staged))
    con.execute(f"CREATE OR REPLACE TABLE {name} AS " + " UNION ALL ".join(parts))
    if free is not None:
        con.execute(f"DROP TABLE {staged}")
    count = int(scalar(con, f"SELECT count(*) FROM {name}"))
    if count == 0:
        con.execute(f"DROP TABLE {name}")
    return count, redacted


_ON_EVERY_LINE = frozenset({"source_order_id", "order_number"})


def create_order_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    exprs: dict[str, str],
    loaded: Loaded,
    items: str,
    is_order: str,
    prepared: dict[str, str],
) -> tuple[int, bool]:
    """``table``: one row per order, every generic field typed in contract order, the line
    fields those of its first item; ``<table>_lines``: its ``_record_no`` and ``_line``,
    aligned row by row; ``<table>_later_lines`` (dropped when empty): one row per further
    item, with the order's id and number, the line fields, ``_record_no`` and ``_line``.
    Returns the card numbers redacted in their text people typed, and whether
    ``<table>_later_lines`` was kept.

    Together they are the generic order lines (:func:`order_rows_sql`): order fields on an
    order's first line only (the contract's "first non-blank value wins"), its id and number
    on every line; an order without items is one line whose line fields are NULL. The wide
    order fields are written once per order: writing them blank on every later line cost
    ~2 s of a ~25 s parse of a million Shopify orders (1.6M lines).

    ``exprs``: SQL of each field; order fields over the record ``r``, line fields over one
    element ``li`` of its list ``items`` (numbered ``li_no``); ``prepared``: named values
    computed once per record before them (a filtered list several fields read), available
    as ``r.<name>``. Which fields are order and which line fields is the contract's
    (``GENERIC_ORDER_FIELDS``, ``GENERIC_LINE_FIELDS``).

    Each table is one parallel CREATE TABLE AS over the kept records in memory, written
    without preserving their order (the order table and its lines by
    :func:`~pipelines.sources.generic.create_table_with_lines`). What remains is mostly the
    write itself (compressing ~60 text columns).
    """
    from orderlens.contracts import (
        CARD_SCANNED_FIELDS,
        GENERIC_FIELDS,
        GENERIC_LINE_FIELDS,
        GENERIC_ORDER_FIELDS,
    )
    from pipelines.sources.generic import (
        LATER_LINES,
        card_redaction,
        create_table_with_lines,
        insertion_order,
        redacted_rows_sql,
    )

    def typed(fields: Sequence[Any]) -> str:
        return ", ".join(
            f"CAST({exprs.get(f.name, 'NULL')} AS {f.type}) AS {quote(f.name)}" for f in fields
        )

    extra = "".join(f", {sql} AS {quote(name)}" for name, sql in prepared.items())
    records = f"(SELECT r.*{extra} FROM {loaded.recs} r)" if prepared else loaded.recs
    first = (
        f"SELECT CAST(r.{RECORD_NO} AS BIGINT) AS _rec, CAST(r.{LINE} AS BIGINT) AS _phys, "
        f"{typed(GENERIC_ORDER_FIELDS)}, {typed(GENERIC_LINE_FIELDS)} "
        f"FROM (SELECT r.*, r.{items}[1] AS li, 1 AS li_no FROM {records} r) r WHERE {is_order}"
    )
    on_every_line = [f for f in GENERIC_ORDER_FIELDS if f.name in _ON_EVERY_LINE]
    later = (
        f"SELECT {', '.join(quote(f.name) for f in on_every_line)}, "
        f"{typed(GENERIC_LINE_FIELDS)}, {RECORD_NO}, {LINE} FROM ("
        f"SELECT {typed(on_every_line)}, CAST(r.{RECORD_NO} AS BIGINT) AS {RECORD_NO}, "
        f"CAST(r.{LINE} AS BIGINT) AS {LINE}, unnest(r.{items}[2:]) AS li, "
        f"unnest(range(2, len(r.{items}) + 1)) AS li_no "
        f"FROM {records} r WHERE {is_order} AND len(r.{items}) > 1)"
    )
    later_table = f"{table}{LATER_LINES}"
    scanned = [f.name for f in GENERIC_FIELDS if f.name in CARD_SCANNED_FIELDS]
    later_fields = {f.name for f in (*on_every_line, *GENERIC_LINE_FIELDS)}
    # Redacted inside the write: an UPDATE afterwards would leave the typed number in the
    # file's freed blocks (see pipelines/sources/generic.py).
    redacted = create_table_with_lines(con, table, first, scanned)
    later_scanned = [name for name in scanned if name in later_fields]
    with insertion_order(con, preserved=False), card_redaction(con) as redaction:
        con.execute(
            f"CREATE OR REPLACE TABLE {later_table} AS {redacted_rows_sql(later, later_scanned)}"
        )
    redacted += redaction.count
    kept = bool(scalar(con, f"SELECT count(*) FROM {later_table}"))
    if not kept:
        con.execute(f"DROP TABLE {later_table}")
    return redacted, kept


def order_rows_sql(table: str, *, later_lines: bool) -> str:
    """The parsed order lines (see :func:`create_order_table`) in file order, with their
    record number and physical line; ``later_lines``: ``<table>_later_lines`` exists."""
    from pipelines.sources.generic import LATER_LINES

    rows = f"SELECT l.{RECORD_NO}, l.{LINE}, t.* FROM {table} t POSITIONAL JOIN {table}_lines l"
    if not later_lines:
        return rows
    return (
        f"SELECT * EXCLUDE (_later) FROM (SELECT 0 AS _later, * FROM ({rows}) UNION ALL BY NAME "
        f"SELECT 1 AS _later, * FROM {table}{LATER_LINES}) "
        f"ORDER BY {RECORD_NO}, _later, line_number"
    )


def drop_temp(con: duckdb.DuckDBPyConnection, *names: str) -> None:
    for name in names:
        con.execute(f"DROP TABLE IF EXISTS {name}")


def refund_rows_sql(per_refund: str) -> str:
    """Refund-stream rows from one row per refund with columns ``refund_id``, ``_order``,
    ``_at``, ``_currency``, ``reason``, ``items`` (list of {sku, quantity, value}), ``paid``
    (money refunded, NULL when unknown) and ``_line``.

    The amounts of a refund sum to the money refunded: items carry their value unless the
    money refunded is less than it (then one row without sku carries the money); money
    beyond the items' value (shipping, taxes) is a row without sku. Without items, the
    refund is one row with its money.
    """
    return (
        "WITH rf AS (SELECT *, coalesce(list_sum(list_transform(items, lambda i: i.value)), 0) "
        f"AS item_value, len(coalesce(items, [])) AS n_items FROM ({per_refund})) "
        "SELECT refund_id, _order AS source_order_id, _at AS refunded_at, amount, "
        f"_currency AS currency, sku, quantity, reason, NULL AS customer_id, {RECORD_NO}, {LINE} FROM ("
        "SELECT refund_id, _order, _at, "
        "CASE WHEN paid IS NULL OR paid >= item_value THEN i.item.value END AS amount, "
        f"_currency, i.item.sku AS sku, i.item.quantity AS quantity, reason, {RECORD_NO}, {LINE} "
        "FROM rf, (SELECT unnest(rf.items) AS item) i "
        "UNION ALL "
        "SELECT refund_id, _order, _at, "
        "CASE WHEN n_items = 0 OR paid < item_value THEN paid ELSE paid - item_value END, "
        f"_currency, NULL, NULL, reason, {RECORD_NO}, {LINE} "
        "FROM rf WHERE paid IS NOT NULL AND (n_items = 0 OR paid <> item_value))"
    )


# --------------------------------------------------------------------------- a whole parse


class LineMismatch(ValueError):
    """DuckDB read a different number of records than the file has non-blank lines."""


Envelope = Callable[[Piece], tuple[dict[str, Any] | None, Reject | None]]
StreamSql = Callable[[str], str]


@dataclass(frozen=True)
class FreeText:
    """Rows of a stream that carry text people typed (a refund note): ``sql`` over the
    records relation gives them with their free text in column ``free``, which is redacted
    apart and appended to ``column``."""

    column: str
    free: str
    sql: StreamSql


@dataclass(frozen=True)
class Stream:
    """One optional stream of a JSON format: the SQL of its rows over the records relation
    (None when every row carries free text) and its rows with free text (see
    :func:`create_stream`)."""

    name: str
    fields: Sequence[Any]
    sql: StreamSql | None
    free: FreeText | None = None


@dataclass(frozen=True)
class JsonFormat:
    """How a JSON format reads into the generic order lines and its streams."""

    name: str
    columns: dict[str, str]
    """``read_json`` columns with explicit types (what the SQL uses, nothing more)."""
    select: str
    """Projection of the records kept in memory over those columns (must name ``id``): the
    source of the order table and of the streams."""
    checks: Sequence[tuple[str, str]]
    wrappers: Collection[str]
    envelope: Envelope
    order_exprs: dict[str, str]
    items: str
    """The list column unnested into order lines."""
    is_order: str
    streams: Sequence[Stream]
    prepared: dict[str, str] = field(default_factory=dict)
    """Values computed once per record for several order fields (see
    :func:`create_order_table`)."""


def read_json_sql(
    path: Path, columns: dict[str, str], unwrap: str | None = None, *, lenient: bool = True
) -> str:
    """``read_json`` of an NDJSON file with explicit types; one row per non-blank line, in
    file order. ``lenient``: a line it cannot read is a row of NULLs (else the read fails).
    ``unwrap``: every line is ``{"<unwrap>": {...}}``."""
    read_columns = {unwrap: struct(columns)} if unwrap else columns
    source = (
        f"read_json({sql_str(str(path))}, format = 'newline_delimited', "
        f"columns = {columns_sql(read_columns)}, ignore_errors = {str(lenient).lower()}, "
        "maximum_object_size = 268435456)"
    )
    return f"(SELECT {quote(unwrap)}.* FROM {source})" if unwrap else source


@dataclass
class Loaded:
    """Records read into DuckDB. ``recs``: the kept records in memory (those whose checks
    passed), each with its ``_record_no`` and ``_line``: the source of the order table and
    the streams."""

    recs: str
    loaded: int
    rows_read: int
    rejects: list[Reject]


def load_records(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    spec: JsonFormat,
    src: str,
    lines: np.ndarray | None = None,
    unwrap: str | None = None,
) -> Loaded:
    """Read NDJSON ``path`` and reject the records that fail the format's checks.

    One parallel pass keeps the records (the format's ``select``) in memory with the name
    of the first failing check (``_bad``); the few failing rows are looked at in the file (an unreadable line, an order without id, an amount that
    is not a number). The order table and the streams are built from those records: the
    typed records in memory take about 1.5 GiB per million Shopify orders, and parsing the
    file a second time for the order table cost more than keeping them.

    ``lines``: the physical line of each record when ``path`` is an NDJSON copy of a
    document's records; None when ``path`` is the landing file itself.
    """
    case = " ".join(f"WHEN {cond} THEN {sql_str(col)}" for col, cond in spec.checks)
    bad_sql = f"CASE {case} END" if case else "NULL"

    def create(lenient: bool) -> None:
        source = read_json_sql(path, spec.columns, unwrap, lenient=lenient)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT {spec.select}, "
            f"{bad_sql} AS _bad FROM {source}"
        )

    # Most files read cleanly, and DuckDB's reader is ~15 % slower when it must turn bad
    # lines into rows of NULLs: a file with a line it cannot read is read again leniently
    # (parsers run in autocommit, so the failed statement leaves nothing behind).
    try:
        create(lenient=False)
    except duckdb.Error:
        create(lenient=True)
    rows = int(scalar(con, f"SELECT count(*) FROM {src}"))
    from_file = lines is None
    line_array = physical_lines(path, rows) if lines is None else lines
    if line_array.size != rows:
        raise LineMismatch(f"{rows} records read but {line_array.size} lines found")
    bad = con.execute(
        f"SELECT rowid, CAST(id AS VARCHAR), _bad FROM {src} WHERE _bad IS NOT NULL ORDER BY rowid"
    ).fetchall()
    rejects, rejected = _rejects(path, bad, line_array, from_file)
    keys = f"{src}_keys"
    simple = from_file and not rejected and (rows == 0 or int(line_array[-1]) == rows)
    if simple:
        # Record k is line k: numbered from the row id, without a join.
        recs = f"(SELECT s.rowid + 1 AS {RECORD_NO}, s.rowid + 1 AS {LINE}, s.* FROM {src} s)"
    else:
        keep = np.ones(rows, dtype=bool)
        if rejected:
            keep[np.asarray(rejected, dtype=np.int64)] = False
        kept = np.flatnonzero(keep)
        frame = pl.DataFrame(
            {
                "_row": kept.astype(np.int64),
                RECORD_NO: np.arange(1, kept.size + 1, dtype=np.int64),
                LINE: line_array[kept].astype(np.int64),
            }
        )
        table_from_frame(con, keys, frame)
        # A hash join on the row id, not a positional join: that one runs single-threaded,
        # and the order table and every stream scan the records.
        recs = (
            f"(SELECT k.{RECORD_NO}, k.{LINE}, s.* FROM {src} s JOIN {keys} k ON s.rowid = k._row)"
        )
    return Loaded(
        recs=recs,
        loaded=rows - len(rejected),
        rows_read=rows,
        rejects=rejects,
    )


def _rejects(
    path: Path, bad: list[tuple[Any, ...]], line_array: np.ndarray, from_file: bool
) -> tuple[list[Reject], list[int]]:
    """Rejects of the rows that failed a check, and their 0-based row positions."""
    # The record's text: its line in ``path`` (the landing file, or the NDJSON copy of a
    # document's records, which has no blank line).
    in_path = {int(r[0]): int(line_array[int(r[0])]) if from_file else int(r[0]) + 1 for r in bad}
    texts = lines_text(path, in_path.values()) if bad else {}
    rejects: list[Reject] = []
    rejected: list[int] = []
    for row, order_id, column in bad:
        line = int(line_array[int(row)])
        rejected.append(int(row))
        text = texts.get(in_path[int(row)])
        if column == "id":
            error_type, reason = why_unreadable(text) if text is not None else ("MISSING", "")
            if error_type in ("STRUCTURE", "MISSING"):
                error_type, reason = "MISSING", "order has no id"
            column_name = "id" if error_type == "MISSING" else None
            rejects.append(reject(line, column_name, error_type, reason, _shown(text)))
        else:
            rejects.append(
                reject(
                    line,
                    str(column),
                    "CAST",
                    _not_a_number(str(column), text),
                    _shown(text),
                    None if order_id is None else str(order_id),
                )
            )
    return rejects, rejected


def parse_json_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    table: str,
    spec: JsonFormat,
    *,
    fast: bool,
    unwrap: str | None = None,
) -> ParseResult:
    """Parse a JSON file of ``spec``'s format into ``table``, ``<table>_lines`` and the
    streams that have rows.

    ``fast``: the file is NDJSON of orders, read by DuckDB directly. Otherwise (or when its
    lines do not line up) the records are walked in Python, ``spec.envelope`` turns each
    into the object the SQL reads (or a reject), and DuckDB reads their NDJSON copy.
    """
    result = ParseResult(table=table, file_format=spec.name)
    src = f"_{table}_src"
    with tempfile.TemporaryDirectory(prefix="orderlens-json-") as tmp:
        loaded: Loaded | None = None
        records, rejects = 0, []
        if fast:
            try:
                loaded = load_records(con, path, spec, src, unwrap=unwrap)
                records = loaded.rows_read
            except LineMismatch:
                loaded = None
        if loaded is None:
            records, loaded, rejects = _load_document(con, path, spec, src, Path(tmp))
        redacted, later_lines = create_order_table(
            con, table, spec.order_exprs, loaded, spec.items, spec.is_order, spec.prepared
        )
        streams = {
            stream.name: create_stream(
                con,
                f"{table}_{stream.name}",
                stream.fields,
                stream.sql(loaded.recs) if stream.sql is not None else None,
                stream.free,
                loaded.recs,
            )
            for stream in spec.streams
        }
    drop_temp(con, src, f"{src}_keys")
    result.rows_sql = order_rows_sql(table, later_lines=later_lines)
    return _finish(result, records, loaded, rejects, streams, redacted)


def _load_document(
    con: duckdb.DuckDBPyConnection, path: Path, spec: JsonFormat, src: str, tmp: Path
) -> tuple[int, Loaded, list[Reject]]:
    pieces = read_pieces(path, spec.wrappers)
    rejects: list[Reject] = []
    envelopes: list[dict[str, Any]] = []
    lines: list[int] = []
    for piece in pieces:
        if piece.error is not None:
            error_type = "ENCODING" if "UTF-8" in piece.error else "JSON"
            rejects.append(reject(piece.line, None, error_type, piece.error, piece.raw))
            continue
        value, why = spec.envelope(piece)
        if why is not None:
            rejects.append(why)
        elif value is not None:
            envelopes.append(value)
            lines.append(piece.line)
    copy = tmp / "records.ndjson"
    write_ndjson(envelopes, copy)
    loaded = load_records(con, copy, spec, src, lines=np.asarray(lines, dtype=np.int64))
    return len(pieces), loaded, rejects


def _finish(
    result: ParseResult,
    records: int,
    loaded: Loaded,
    rejects: list[Reject],
    streams: dict[str, tuple[int, int]],
    redacted: int,
) -> ParseResult:
    """Counts, rejects, notes and the card numbers redacted (``redacted`` in the order
    table, plus each stream's)."""
    result.records = records
    result.loaded = loaded.loaded
    result.rejects = sorted([*rejects, *loaded.rejects], key=lambda r: r.line)
    result.rejected_records = len(result.rejects)
    result.cards_redacted = redacted + sum(found for _rows, found in streams.values())
    result.notes.extend(f"{rows} {name} row(s)" for name, (rows, _) in streams.items() if rows)
    return result
