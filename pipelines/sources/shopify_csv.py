"""Parser of the Shopify admin "Orders → Export" CSV, in every layout Shopify has written.

Grain: one row per line item (a CSV record); order-level fields are filled on an order's
first row only and stay NULL on its continuation rows (staging takes the first non-blank
value per order).

Columns are bound by header name, never by position. The header must be a subset of the
79 Shopify export columns (the union of the 79-, 78-, 75-, 73- and 34-column layouts); a
column Shopify never wrote rejects the whole file, naming the unexpected columns and the
ones missing against the closest known layout. DuckDB reads the file through
:func:`pipelines.sources.generic.parse_csv` (all text: physical lines, quoted multi-line
notes, CRLF, BOM, legacy encodings and a truncated last row are handled as in the generic
format), then one ``CREATE TABLE AS`` projects the Shopify columns onto the generic ones.

Decisions (documented here because the export does not say):

* ``source_order_id`` is the numeric ``Id`` when the layout has it (blank on continuation
  rows: filled from the order's rows with the same ``Name``), else ``Name``.
* ``channel`` maps ``Source`` (web, pos, iphone, tiktok, shopify_draft_order, numeric app
  ids...) with :func:`orderlens.contracts.channel_sql`; the raw value is kept in
  ``source_channel``. An order whose first row has a blank ``Source`` is put in
  ``online_store`` (the store's own checkout, the one channel every Shopify store has).
* Shopify timestamps (``2019-03-05 14:22:11 -0800``) become ISO 8601 with their offset.
  Spreadsheet-rewritten ``DD/MM/YYYY HH:MM`` / ``M/D/YY H:MM`` dates are read day-first or
  month-first per file, from values whose day is above 12; when no value decides, a
  four-digit year means day-first (``DD/MM/YYYY``) and a two-digit one month-first (the US
  ``M/D/YY``). They are written without an offset (staging applies the merchant's zone).
  Two-digit years are 2000-2068 / 1969-1999 (POSIX). Other values are kept as received.
* Phones lose a spreadsheet's leading apostrophe; scientific notation (``9.23E+11``) becomes
  digits only when the mantissa holds every digit, else it is kept as received (a guessed
  number could link two customers).
* Zips lose a leading apostrophe and stay text.
* A payment reference that is a bare 13-19 digit number could be a card number: not stored.
* A value of a money, quantity or boolean column that does not parse rejects its record,
  naming the column; it is never stored as a silent NULL.
"""

from __future__ import annotations

import contextlib
import csv
import io
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb
import numpy as np

from orderlens.contracts import GENERIC_FIELDS, MONEY, Field, channel_sql
from orderlens.security import redact_card_numbers
from pipelines.sources.csv_records import as_utf8_bytes, detect_encoding, scan_records
from pipelines.sources.generic import (
    LINE,
    RECORD_NO,
    HeaderError,
    ParseResult,
    Reject,
    card_scanned,
    create_table_with_lines,
    parse_csv,
    read_header,
)

FILE_FORMAT = "shopify_csv"

SHOPIFY_COLUMNS: tuple[str, ...] = (
    "Name", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
    "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
    "Discount Code", "Discount Amount", "Shipping Method", "Created at", "Lineitem quantity",
    "Lineitem name", "Lineitem price", "Lineitem compare at price", "Lineitem sku",
    "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
    "Billing Name", "Billing Street", "Billing Address1", "Billing Address2",
    "Billing Company", "Billing City", "Billing Zip", "Billing Province", "Billing Country",
    "Billing Phone", "Shipping Name", "Shipping Street", "Shipping Address1",
    "Shipping Address2", "Shipping Company", "Shipping City", "Shipping Zip",
    "Shipping Province", "Shipping Country", "Shipping Phone", "Notes", "Note Attributes",
    "Cancelled at", "Payment Method", "Payment Reference", "Refunded Amount", "Vendor",
    "Outstanding Balance", "Employee", "Location", "Device ID", "Id", "Tags", "Risk Level",
    "Source", "Lineitem discount", "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value",
    "Tax 3 Name", "Tax 3 Value", "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value",
    "Phone", "Receipt Number", "Duties", "Billing Province Name", "Shipping Province Name",
    "Payment ID", "Payment Terms Name", "Next Payment Due At", "Payment References",
)  # fmt: skip
"""Every column of a Shopify orders export, in Shopify's order (the 79-column layout)."""


def _without(*dropped: str) -> tuple[str, ...]:
    return tuple(c for c in SHOPIFY_COLUMNS if c not in dropped)


LAYOUTS: dict[int, tuple[str, ...]] = {
    79: SHOPIFY_COLUMNS,
    78: _without("Payment References"),
    75: _without("Payment ID", "Payment Terms Name", "Next Payment Due At", "Payment References"),
    73: _without(
        "Outstanding Balance", "Employee", "Location", "Device ID", "Payment ID",
        "Payment References",
    ),
    34: (
        "Name", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
        "Accepts Marketing", "Currency", "Discount Code", "Discount Amount", "Shipping Method",
        "Created at", "Lineitem quantity", "Lineitem name", "Lineitem sku",
        "Lineitem requires shipping", "Lineitem taxable", "Lineitem fulfillment status",
        "Billing City", "Billing Province", "Billing Country", "Shipping City",
        "Shipping Province", "Shipping Country", "Notes", "Note Attributes", "Cancelled at",
        "Payment Method", "Refunded Amount", "Vendor", "Risk Level", "Source", "Duties",
        "Billing Province Name", "Shipping Province Name",
    ),
}  # fmt: skip
"""Known export layouts by column count (columns in the order Shopify writes them)."""

_UNUSED: frozenset[str] = frozenset(
    {
        "Accepts Marketing", "Lineitem compare at price", "Lineitem taxable", "Billing Company",
        "Shipping Company", "Note Attributes", "Outstanding Balance", "Employee", "Tags",
        "Tax 1 Name", "Tax 1 Value", "Tax 2 Name", "Tax 2 Value", "Tax 3 Name", "Tax 3 Value",
        "Tax 4 Name", "Tax 4 Value", "Tax 5 Name", "Tax 5 Value", "Receipt Number", "Duties",
        "Billing Province Name", "Shipping Province Name", "Payment Terms Name",
        "Next Payment Due At",
    }
)  # fmt: skip
"""Shopify columns with no place in the generic format: checked in the header, not read."""

FIELDS: tuple[Field, ...] = tuple(
    Field(c.lower(), "VARCHAR", f"Shopify export column {c!r}")
    for c in SHOPIFY_COLUMNS
    if c not in _UNUSED
)
"""What :func:`parse_csv` reads: the Shopify columns the generic format uses, as text,
bound by lower-cased name (leaving the others out of the table saves a third of the
parse)."""

_DISPLAY = {c.lower(): c for c in SHOPIFY_COLUMNS}

TYPED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("Subtotal", MONEY),
    ("Shipping", MONEY),
    ("Taxes", MONEY),
    ("Total", MONEY),
    ("Discount Amount", MONEY),
    ("Refunded Amount", MONEY),
    ("Lineitem quantity", "DECIMAL(18,4)"),
    ("Lineitem price", MONEY),
    ("Lineitem discount", MONEY),
    ("Lineitem requires shipping", "BOOLEAN"),
)
"""Shopify columns stored typed: a value that does not parse rejects its record."""

AMOUNT_COLUMNS = frozenset({"Subtotal", "Total", "Lineitem price"})

TIMESTAMP_COLUMNS: tuple[str, ...] = ("Created at", "Paid at", "Fulfilled at", "Cancelled at")

PHONE_COLUMNS: tuple[str, ...] = ("Phone", "Billing Phone", "Shipping Phone")

# ``2019-03-05 14:22:11 -0800``: Shopify's own timestamp format.
_SHOPIFY_TS = r"^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})$"
_SHOPIFY_TS_PADDED = r"^\s*(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) ([+-]\d{2})(\d{2})\s*$"
# ``31/12/2023 22:36`` or ``3/5/19 4:07``: a date a spreadsheet rewrote.
_SLASH_TS = r"^(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$"
_SCIENTIFIC = r"^(\d+)(?:[.,](\d*))?[eE]\+?(\d{1,2})$"
_CARD_LIKE = r"^\d(?:[ -]?\d){12,18}$"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _raw(column: str) -> str:
    """The column's text as received (``parse_csv`` reads an empty field as NULL); free text
    is not trimmed, as in the generic format."""
    return _q(column.lower())


def _text(column: str) -> str:
    """The column's trimmed text, NULL when blank (``column`` is a Shopify name)."""
    return f"nullif(trim({_q(column.lower())}), '')"


# --------------------------------------------------------------------------- detection


def _header_of(head: bytes) -> list[str] | None:
    encoding, bom = detect_encoding(head[:4])
    try:
        return read_header(head, encoding, bom)
    except (HeaderError, csv.Error):
        return None


def sniff(path: Path, head: bytes) -> bool:
    """A CSV whose header has Shopify's ``Name`` and ``Lineitem name``/``quantity``."""
    header = _header_of(head)
    if not header:
        return False
    names = set(header)
    return "name" in names and ("lineitem name" in names or "lineitem quantity" in names)


@dataclass(frozen=True)
class Layout:
    """How a file's header compares with the known export layouts."""

    closest: int
    """Column count of the closest known layout."""
    missing: tuple[str, ...]
    """Columns of the closest layout that the header lacks."""
    unexpected: tuple[str, ...]
    """Header columns that no Shopify export has (as written in the file)."""

    @property
    def exact(self) -> bool:
        return not self.missing and not self.unexpected


def detect_layout(header: Sequence[str]) -> Layout:
    """Compare a header (names as written) with every known layout; the closest wins
    (fewest differing columns, then the larger layout)."""
    names = [h.strip() for h in header]
    lowered = {n.lower() for n in names}
    known = set(_DISPLAY)
    unexpected = tuple(n for n in names if n.lower() not in known)

    def distance(size: int) -> tuple[int, int]:
        columns = {c.lower() for c in LAYOUTS[size]}
        return (len(columns ^ lowered), -size)

    closest = min(LAYOUTS, key=distance)
    missing = tuple(c for c in LAYOUTS[closest] if c.lower() not in lowered)
    return Layout(closest, missing, unexpected)


# --------------------------------------------------------------------------- parsing


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse a Shopify orders export into ``table`` (generic order-line columns, plus
    ``line_fulfillment_status``) and ``<table>_lines``."""
    src = f"{table}_shopify_src"
    try:
        return _parse(con, path, table, src)
    finally:
        con.execute(f"DROP TABLE IF EXISTS {src}")
        con.execute(f"DROP TABLE IF EXISTS {src}_lines")
        con.execute(f"DROP TABLE IF EXISTS {src}_orders")
        con.execute(f"DROP TABLE IF EXISTS {src}_bad")


def _parse(con: duckdb.DuckDBPyConnection, path: Path, table: str, src: str) -> ParseResult:
    result = ParseResult(table=table, file_format=FILE_FORMAT)
    result.rows_sql = f"SELECT l.*, t.* FROM {table} t POSITIONAL JOIN {table}_lines l"
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    header = _raw_header(head)
    if header is not None:
        layout = detect_layout(header)
        if layout.unexpected:
            _reject_whole_file(con, path, table, result, _layout_message(layout))
            return result
        result.notes.append(_layout_note(layout))
        if not any(c.lower() in {h.lower() for h in header} for c in AMOUNT_COLUMNS):
            result.notes.append("layout has no amounts (prices and totals are left empty)")
            result.has_amounts = False
    parsed = parse_csv(con, path, FIELDS, src, temporary=True)
    # The columns left unread are known Shopify columns, not unknown ones.
    result.notes.extend(n for n in parsed.notes if not n.startswith("ignored unknown column"))
    result.records = parsed.records
    if header is None or (
        parsed.loaded == 0 and any(r.error_type == "HEADER" for r in parsed.rejects)
    ):
        # parse_csv rejected the header (blank, undecodable, duplicated names).
        _empty_tables(con, table)
        result.rejects = parsed.rejects
        result.rejected_records = parsed.rejected_records
        return result

    present = {h.lower() for h in header}
    stats = _file_stats(con, src, present)
    day_first = _date_order(stats, result.notes)
    bad = _typed_failures(con, path, src, present)
    name_to_id = _ids_of_rejected(parsed.rejects, header) if "id" in present else {}
    _order_positions(con, src, "id" in present)
    bad_records = sorted({b.record_no for b in bad})
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {src}_bad AS SELECT unnest(?::BIGINT[]) AS {RECORD_NO}",
        [bad_records],
    )
    projection = _projection(src, present, stats, day_first, name_to_id, bool(bad_records))
    result.cards_redacted = create_table_with_lines(
        con, table, projection, card_scanned(GENERIC_FIELDS)
    )
    rejected_names = [_field_of(r.raw_text, header, "name") for r in parsed.rejects]
    id_of_name = _order_ids(con, table, [b.name for b in bad] + rejected_names)
    for reject, name in zip(parsed.rejects, rejected_names, strict=True):
        own_id = _field_of(reject.raw_text, header, "id") if "id" in present else None
        order_id = reject.order_id or id_of_name.get(name or "") or own_id or name
        result.rejects.append(replace(reject, order_id=order_id))
    result.rejects.extend(_typed_rejects(bad, id_of_name))
    result.rejects.sort(key=lambda r: r.line)
    result.loaded = parsed.loaded - len(bad_records)
    result.rejected_records = parsed.rejected_records + len(bad_records)
    result.notes.extend(_value_notes(stats))
    return result


def _raw_header(head: bytes) -> list[str] | None:
    """Header names as written (case kept), or None when unreadable (parse_csv reports it)."""
    encoding, bom = detect_encoding(head[:4])
    text_head = head[bom:]
    if encoding == "utf-8" and b"\n" in text_head:
        text_head = text_head[: text_head.index(b"\n")]
    if encoding == "utf-16":
        text = text_head.decode("utf-16", errors="ignore")  # the head may end mid-character
    else:
        try:
            text = text_head.decode("utf-8")
        except UnicodeDecodeError:
            text = text_head.decode("cp1252", errors="replace")  # parse_csv decodes the rows
    try:
        first = text.splitlines()[0] if text else ""
        names = next(csv.reader(io.StringIO(first)), [])
    except (csv.Error, IndexError):
        return None
    names = [n.strip() for n in names]
    return names if any(names) else None


def _layout_note(layout: Layout) -> str:
    if layout.exact:
        return f"Shopify export layout: {layout.closest} columns"
    return (
        f"Shopify export layout: {layout.closest} columns without "
        f"{', '.join(layout.missing)} (read as empty)"
    )


def _layout_message(layout: Layout) -> str:
    missing = ", ".join(layout.missing) or "none"
    unexpected = ", ".join(n or "(a column without a name)" for n in layout.unexpected)
    return (
        f"not a known Shopify export layout: unexpected column(s) "
        f"{unexpected}; missing against the closest layout "
        f"({layout.closest} columns): {missing}"
    )


def _empty_tables(con: duckdb.DuckDBPyConnection, table: str) -> None:
    columns = ", ".join(f"{_q(f.name)} {f.type}" for f in GENERIC_FIELDS)
    con.execute(f"CREATE OR REPLACE TABLE {table} ({columns}, line_fulfillment_status VARCHAR)")
    con.execute(f"CREATE OR REPLACE TABLE {table}_lines ({RECORD_NO} BIGINT, {LINE} BIGINT)")


def _reject_whole_file(
    con: duckdb.DuckDBPyConnection, path: Path, table: str, result: ParseResult, reason: str
) -> None:
    """An unknown header rejects every record of the file, each by its physical line."""
    _empty_tables(con, table)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        encoding, _bom = detect_encoding(mm[:4])
        layout = scan_records(as_utf8_bytes(mm[:], encoding))
    result.records = result.rejected_records = layout.records
    result.notes.append(f"file rejected: {reason}")
    result.rejects.append(Reject(1, None, "HEADER", reason, None))
    result.rejects.extend(
        Reject(
            int(line), None, "HEADER", "not loaded: the file's header was rejected (line 1)", None
        )
        for line in layout.lines
    )


# --------------------------------------------------------------------------- value checks


@dataclass(frozen=True)
class _Stats:
    slash_dates: int
    slash_day_over_12: int
    """Slash dates whose first number is above 12 (so it is the day)."""
    slash_month_over_12: int
    """Slash dates whose second number is above 12 (so the first is the month)."""
    slash_short_year: int
    other_timestamps: int
    scientific_phones: int
    exact_phones: int
    card_like_references: int


def _all(*conditions: str) -> str:
    """SQL: every condition holds, tested in order (DuckDB's AND evaluates every operand on
    every row; a CASE runs the costly regular expressions only where the cheap test holds)."""
    expr = conditions[-1]
    for condition in reversed(conditions[:-1]):
        expr = f"CASE WHEN {condition} THEN {expr} ELSE false END"
    return expr


def _file_stats(con: duckdb.DuckDBPyConnection, src: str, present: set[str]) -> _Stats:
    """Count what the notes report. Each count first keeps the few values a cheap filter
    lets through (most values are no spreadsheet damage), then runs its regular expressions."""

    def values(columns: Sequence[str], expr: str, where: str) -> str:
        return " UNION ALL ".join(
            f"SELECT {expr.replace('{v}', _q(c.lower()))} AS v FROM {src} "
            f"WHERE {where.replace('{v}', _q(c.lower()))}"
            for c in columns
        )

    slash = values(TIMESTAMP_COLUMNS, "trim({v})", "contains({v}, '/')")
    unusual = values(
        TIMESTAMP_COLUMNS,
        "trim({v})",
        "trim({v}) <> '' AND NOT (trim({v}) LIKE '____-__-__ __:__:__ _____')",
    )
    phones = values(PHONE_COLUMNS, "ltrim(trim({v}), chr(39))", "contains(lower({v}), 'e')")
    reference = _payment_reference(present)

    def part(group: int) -> str:
        return f"TRY_CAST(regexp_extract(v, {_lit(_SLASH_TS)}, {group}) AS INTEGER)"

    row = con.execute(
        f"""
        SELECT s.*, u.*, p.*, r.* FROM
        (SELECT count(*), count(*) FILTER ({part(1)} > 12), count(*) FILTER ({part(2)} > 12),
                count(*) FILTER (length(regexp_extract(v, {_lit(_SLASH_TS)}, 3)) = 2)
         FROM ({slash}) WHERE regexp_full_match(v, {_lit(_SLASH_TS)})) s,
        (SELECT count(*) FROM ({unusual})
         WHERE NOT regexp_full_match(v, {_lit(_SHOPIFY_TS)})
           AND NOT regexp_full_match(v, {_lit(_SLASH_TS)})
           AND TRY_CAST(v AS TIMESTAMPTZ) IS NULL) u,
        (SELECT count(*) FILTER (regexp_full_match(v, {_lit(_SCIENTIFIC)})),
                count(*) FILTER ({_exact_scientific("v")})
         FROM ({phones})) p,
        (SELECT count(*) FROM {src} WHERE length({reference}) BETWEEN 13 AND 37
           AND regexp_full_match({reference}, {_lit(_CARD_LIKE)})) r
        """
    ).fetchall()[0]
    return _Stats(*(int(v or 0) for v in row))


def _date_order(stats: _Stats, notes: list[str]) -> bool:
    """True to read slash dates day-first (decided once per file, from its values)."""
    if not stats.slash_dates:
        return True
    day, month = stats.slash_day_over_12, stats.slash_month_over_12
    if day and not month:
        day_first, why = True, f"{day} value(s) have a day above 12 first"
    elif month and not day:
        day_first, why = False, f"{month} value(s) have a day above 12 second"
    elif not day and not month:
        day_first = stats.slash_short_year < stats.slash_dates
        why = "no value decides; assumed from the " + (
            "four-digit years (DD/MM/YYYY)" if day_first else "two-digit years (M/D/YY)"
        )
    else:
        day_first = day >= month
        why = (
            f"values disagree ({day} read day-first, {month} month-first); the majority wins "
            "and values impossible that way are kept as received"
        )
    order = "day-first (DD/MM)" if day_first else "month-first (MM/DD)"
    notes.append(
        f"{stats.slash_dates} spreadsheet-rewritten date(s) read {order}: {why}; written as "
        "ISO 8601 without offset (the merchant's time zone applies)"
    )
    return day_first


def _value_notes(stats: _Stats) -> list[str]:
    notes = []
    if stats.other_timestamps:
        notes.append(
            f"{stats.other_timestamps} timestamp value(s) in no known format kept as received"
        )
    if stats.scientific_phones:
        kept = stats.scientific_phones - stats.exact_phones
        notes.append(
            f"{stats.scientific_phones} phone(s) in scientific notation: "
            f"{stats.exact_phones} converted to digits (every digit present), {kept} kept as "
            "received (digits were lost)"
        )
    if stats.card_like_references:
        notes.append(
            f"{stats.card_like_references} payment reference(s) look like a card number and "
            "were not stored"
        )
    return notes


@dataclass(frozen=True)
class _BadValue:
    """A typed value that does not parse (or a missing Name) in one record."""

    record_no: int
    line: int
    name: str | None
    order_id: str | None
    """The record's own Id, when it has one."""
    column: str
    value: str
    raw_text: str


def _typed_failures(
    con: duckdb.DuckDBPyConnection, path: Path, src: str, present: set[str]
) -> list[_BadValue]:
    """Every typed value that does not parse, and every row without a Name (it belongs to no
    order), with its record's text."""
    conditions = {
        c: f"{_raw(c)} IS NOT NULL AND {_typed(c)} IS NULL AND trim({_raw(c)}) <> ''"
        for c, _ in TYPED_COLUMNS
        if c.lower() in present
    }
    conditions["Name"] = "coalesce(trim(\"name\"), '') = ''"
    # The WHERE tests each condition left to right on the rows still in play; the lists are
    # built for failing rows only.
    any_failing = " OR ".join(f"({c})" for c in conditions.values())
    failing = (
        "list_filter(["
        + ", ".join(f"CASE WHEN {c} THEN {_lit(n)} END" for n, c in conditions.items())
        + "], lambda x: x IS NOT NULL)"
    )
    values = "[" + ", ".join(_q(c.lower()) for c in conditions) + "]"
    rows = con.execute(
        f"SELECT l.{RECORD_NO}, l.{LINE}, {failing}, {values}, {_text('Name')}, {_text('Id')} "
        f"FROM {src} s JOIN {src}_lines l ON l.rowid = s.rowid WHERE {any_failing} "
        f"ORDER BY l.{RECORD_NO}"
    ).fetchall()
    if not rows:
        return []
    texts = _record_texts(path, [int(r[1]) for r in rows])
    out = []
    for (record_no, line, bad, typed, name, order_id), text in zip(rows, texts, strict=True):
        by_column = dict(zip(conditions, typed, strict=True))
        for column in bad:
            value = (by_column.get(column) or "").strip()
            out.append(_BadValue(int(record_no), int(line), name, order_id, column, value, text))
    return out


def _record_texts(path: Path, lines: Sequence[int]) -> list[str]:
    """The text of the records starting on the given physical lines (quoted line breaks
    included), read back from the file: only for the few records rejected here."""
    data = path.read_bytes()
    encoding, bom = detect_encoding(data[:4])
    data = as_utf8_bytes(data, encoding)[bom if encoding == "utf-8" else 0 :]
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    texts = []
    for line in lines:
        start = int(newlines[line - 2]) + 1 if line >= 2 else 0
        window = data[start : start + (1 << 20)]
        try:
            text = window.decode("utf-8")
        except UnicodeDecodeError:
            text = window.decode("cp1252", errors="replace")
        consumed: list[str] = []

        def lines_of(chunk: str, consumed: list[str] = consumed) -> Iterator[str]:
            for physical in io.StringIO(chunk, newline=""):
                consumed.append(physical)
                yield physical

        with contextlib.suppress(csv.Error):
            next(csv.reader(lines_of(text)), None)  # reads exactly the record's lines
        texts.append("".join(consumed).rstrip("\r\n"))
    return texts


def _typed_rejects(bad: Sequence[_BadValue], id_of_name: dict[str, str]) -> list[Reject]:
    rejects = []
    for b in bad:
        raw_text, _ = redact_card_numbers(b.raw_text)
        if b.column == "Name":
            reason, error_type = "Name is blank: the row belongs to no order", "MISSING"
        else:
            shown, _ = redact_card_numbers(b.value)
            kind = dict(TYPED_COLUMNS)[b.column]
            reason = f"value {shown!r} is not a valid {kind} for column {b.column}"
            error_type = "CAST"
        order_id = id_of_name.get(b.name or "") or b.order_id or b.name
        rejects.append(Reject(b.line, b.column, error_type, reason, raw_text, order_id))
    return rejects


def _field_of(raw: str | None, header: Sequence[str], column: str) -> str | None:
    lowered = [h.lower() for h in header]
    if not raw or column not in lowered:
        return None
    try:
        fields = next(csv.reader(io.StringIO(raw)), [])
    except csv.Error:
        return None
    index = lowered.index(column)
    value = fields[index].strip() if index < len(fields) else ""
    return value or None


def _ids_of_rejected(rejects: Sequence[Reject], header: Sequence[str]) -> dict[str, str]:
    """Name -> Id read from rejected records (an order's first row may be the one rejected)."""
    ids: dict[str, str] = {}
    for reject in rejects:
        name = _field_of(reject.raw_text, header, "name")
        order_id = _field_of(reject.raw_text, header, "id")
        if name and order_id and order_id.isdigit():
            ids.setdefault(name, order_id)
    return ids


def _order_ids(
    con: duckdb.DuckDBPyConnection, table: str, names: Sequence[str | None]
) -> dict[str, str]:
    """source_order_id of the given order names, as loaded (rejects name their order)."""
    wanted = sorted({n for n in names if n})
    if not wanted:
        return {}
    rows = con.execute(
        f"SELECT order_number, any_value(source_order_id) FROM {table} "
        f"WHERE order_number IN (SELECT unnest(?)) GROUP BY order_number",
        [wanted],
    ).fetchall()
    return {str(n): str(i) for n, i in rows}


# --------------------------------------------------------------------------- projection


def _payment_reference(present: set[str]) -> str:
    columns = [c for c in ("Payment Reference", "Payment ID", "Payment References")]
    used = [_text(c) for c in columns if c.lower() in present]
    return f"coalesce({', '.join(used)})" if used else "CAST(NULL AS VARCHAR)"


def _exact_scientific(expr: str) -> str:
    """SQL: ``expr`` is in scientific notation and its mantissa holds every digit."""
    return _all(
        f"contains(lower({expr}), 'e')",
        f"regexp_full_match({expr}, {_lit(_SCIENTIFIC)})",
        f"length(regexp_extract({expr}, {_lit(_SCIENTIFIC)}, 2)) = "
        f"TRY_CAST(regexp_extract({expr}, {_lit(_SCIENTIFIC)}, 3) AS INTEGER)",
    )


def _phone(column: str, scientific: bool) -> str:
    """SQL: the phone without a spreadsheet's apostrophe; scientific notation expanded when
    exact (that branch only in files that have such phones)."""
    p = f"nullif(trim({_raw(column)}, chr(39) || ' '), '')"
    if not scientific:
        return p
    digits = f"regexp_extract({p}, {_lit(_SCIENTIFIC)}, 1) || regexp_extract({p}, {_lit(_SCIENTIFIC)}, 2)"
    return f"CASE WHEN {_exact_scientific(p)} THEN {digits} ELSE {p} END"


def _timestamp(column: str, slash_dates: bool, day_first: bool) -> str:
    """SQL: the column's timestamp as ISO 8601 (see the module docstring). A value in no
    known format is kept as received. The spreadsheet branch is only in files that need it."""
    raw = _raw(column)
    shopify = f"regexp_replace({raw}, {_lit(_SHOPIFY_TS_PADDED)}, '\\1T\\2\\3:\\4')"
    if not slash_dates:
        return shopify
    t = f"trim({raw})"
    parts = f"regexp_extract({t}, {_lit(_SLASH_TS)}, ['a', 'b', 'y', 'h', 'mi', 's'])"
    day, month = ("a", "b") if day_first else ("b", "a")

    def number(key: str) -> str:
        return f"coalesce(TRY_CAST(nullif(struct_extract({parts}, '{key}'), '') AS INTEGER), 0)"

    year = number("y")
    year = f"CASE WHEN {year} < 100 THEN CASE WHEN {year} < 69 THEN 2000 ELSE 1900 END + {year} ELSE {year} END"
    text = (
        f"printf('%04d-%02d-%02d %02d:%02d:%02d', {year}, {number(month)}, {number(day)}, "
        f"{number('h')}, {number('mi')}, {number('s')})"
    )
    slash = f"strftime(try_strptime({text}, '%Y-%m-%d %H:%M:%S'), '%Y-%m-%dT%H:%M:%S')"
    return (
        f"CASE WHEN contains({raw}, '/') AND regexp_full_match({t}, {_lit(_SLASH_TS)}) "
        f"THEN coalesce({slash}, {raw}) ELSE {shopify} END"
    )


def _typed(column: str) -> str:
    """SQL: the column's value typed; NULL when blank or not valid (DuckDB's number casts
    accept surrounding blanks themselves, its boolean cast does not)."""
    kind = dict(TYPED_COLUMNS)[column]
    value = _text(column) if kind == "BOOLEAN" else _raw(column)
    return f"TRY_CAST({value} AS {kind})"


def _projection(
    src: str,
    present: set[str],
    stats: _Stats,
    day_first: bool,
    name_to_id: dict[str, str],
    has_bad: bool,
) -> str:
    """The SELECT turning the Shopify text columns into the generic order-line columns."""
    name = _text("Name")
    if "id" in present:
        fallback = (
            "MAP {" + ", ".join(f"{_lit(k)}: {_lit(v)}" for k, v in name_to_id.items()) + "}"
            f"[{name}]"
            if name_to_id
            else "NULL"
        )
        order_id = f"coalesce(o._order_id, {fallback}, {name})"
    else:
        order_id = name
    zip_ = lambda c: f"nullif(trim({_raw(c)}, chr(39) || ' '), '')"  # noqa: E731
    slash, scientific = stats.slash_dates > 0, stats.scientific_phones > 0
    token = _payment_reference(present)
    columns: dict[str, str] = {
        "source_order_id": order_id,
        "order_number": name,
        "store": "NULL",
        "channel": f"CASE WHEN o._pos = 1 THEN coalesce({channel_sql(_q('source'))}, "
        f"'online_store') END",
        "source_channel": _raw("Source"),
        "order_status": "NULL",
        "created_at": _timestamp("Created at", slash, day_first),
        "currency": f"upper({_text('Currency')})",
        "subtotal": _typed("Subtotal"),
        "total_discounts": _typed("Discount Amount"),
        "discount_codes": _raw("Discount Code"),
        "shipping": _typed("Shipping"),
        "shipping_method": _raw("Shipping Method"),
        "total_tax": _typed("Taxes"),
        "taxes_included": "NULL",
        "total": _typed("Total"),
        "paid_amount": "NULL",
        "financial_status": f"lower({_text('Financial Status')})",
        "fulfillment_status": f"lower({_text('Fulfillment Status')})",
        "paid_at": _timestamp("Paid at", slash, day_first),
        "cancelled_at": _timestamp("Cancelled at", slash, day_first),
        "promised_delivery_date": "NULL",
        "note": _raw("Notes"),
        "customer_id": "NULL",
        "customer_email": _raw("Email"),
        "customer_phone": f"coalesce({_phone('Phone', scientific)}, {_phone('Billing Phone', scientific)})",
        "customer_first_name": "NULL",
        "customer_last_name": "NULL",
        "customer_created_at": "NULL",
        "billing_name": _raw("Billing Name"),
        "billing_address1": f"coalesce({_raw('Billing Address1')}, {_raw('Billing Street')})",
        "billing_address2": _raw("Billing Address2"),
        "billing_city": _raw("Billing City"),
        "billing_province": _raw("Billing Province"),
        "billing_zip": zip_("Billing Zip"),
        "billing_country": _raw("Billing Country"),
        "shipping_name": _raw("Shipping Name"),
        "shipping_address1": f"coalesce({_raw('Shipping Address1')}, {_raw('Shipping Street')})",
        "shipping_address2": _raw("Shipping Address2"),
        "shipping_city": _raw("Shipping City"),
        "shipping_province": _raw("Shipping Province"),
        "shipping_zip": zip_("Shipping Zip"),
        "shipping_country": _raw("Shipping Country"),
        "shipping_phone": _phone("Shipping Phone", scientific),
        "client_ip": "NULL",
        "user_agent": "NULL",
        "device_id": _raw("Device ID"),
        "source_risk_level": f"lower({_text('Risk Level')})",
        "marketing_source": "NULL",
        "payment_method": _raw("Payment Method"),
        "payment_token": f"CASE WHEN NOT regexp_full_match({token}, {_lit(_CARD_LIKE)}) "
        f"THEN {token} END",
        "card_brand": "NULL",
        "card_last4": "NULL",
        "card_bin": "NULL",
        "refunded_amount": _typed("Refunded Amount"),
        "refunded_at": "NULL",
        "carrier": "NULL",
        "tracking_number": "NULL",
        "shipped_at": _timestamp("Fulfilled at", slash, day_first),
        "delivered_at": "NULL",
        "line_number": "o._pos",
        "sku": _raw("Lineitem sku"),
        "product_name": _raw("Lineitem name"),
        "quantity": _typed("Lineitem quantity"),
        "unit_price": _typed("Lineitem price"),
        "line_discount": _typed("Lineitem discount"),
        "line_total": "NULL",
        "line_tax": "NULL",
        "vendor": _raw("Vendor"),
        "product_category": "NULL",
        "line_kind": "NULL",
        "requires_shipping": f"TRY_CAST({_text('Lineitem requires shipping')} AS BOOLEAN)",
        "fulfillment_location": _raw("Location"),
    }
    select = ",\n  ".join(
        f"CAST({columns[f.name]} AS {f.type}) AS {_q(f.name)}" for f in GENERIC_FIELDS
    )
    select += f",\n  lower({_text('Lineitem fulfillment status')}) AS line_fulfillment_status"
    keys = f"{src}_orders"
    if has_bad:
        # Records with a bad value are rejected: the others are numbered on without them.
        keys = (
            f"(SELECT * REPLACE (row_number() OVER (ORDER BY {RECORD_NO}) AS {RECORD_NO}) "
            f"FROM {keys} WHERE {RECORD_NO} NOT IN (SELECT {RECORD_NO} FROM {src}_bad))"
        )
    # Joined on the row id, not by position: a POSITIONAL JOIN runs on one thread.
    return (
        f"SELECT o.{RECORD_NO} AS _rec, o.{LINE} AS _phys, {select}\n"
        f"FROM {src} s JOIN {keys} o ON o._row = s.rowid"
    )


def _order_positions(con: duckdb.DuckDBPyConnection, src: str, has_id: bool) -> None:
    """``<src>_orders``: one row per row of ``src`` (its row id ``_row``) with its record
    number, physical line, position in its order (by Name) and the order's Id. Computed on
    these few narrow columns, so the wide rows are never sorted."""
    name = _text("Name")
    order_id = f"max({_text('Id')}) OVER (PARTITION BY {name})" if has_id else "NULL"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {src}_orders AS SELECT s.rowid AS _row, "
        f"l.{RECORD_NO}, l.{LINE}, CAST(row_number() OVER (PARTITION BY {name} "
        f"ORDER BY l.{RECORD_NO}) AS INTEGER) AS _pos, "
        f"CAST({order_id} AS VARCHAR) AS _order_id "
        f"FROM {src} s JOIN {src}_lines l ON l.rowid = s.rowid"
    )
