"""Parser of the CDNOW transaction log (Fader & Hardie), fixed-width text.

One row of ``table`` per transaction: each transaction is an order with one line of CDs.
A line of the 1/10 sample (``CDNOW_sample.txt``) holds five fields: the customer's id in the
master data set, the customer's id in the sample (1..2357), the date (YYYYMMDD), the number
of CDs and the dollar amount; the master file (``CDNOW_master.txt``) has the same fields
without the sample id. The customer is the master id (the same person in both files).

``source_order_id`` is ``<customer>-<date>-<n>``, n numbering the customer's transactions of
that day in file order: unique in the file and stable when the same file arrives again.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl

from orderlens.contracts import GENERIC_FIELDS
from orderlens.security import redact_card_numbers
from pipelines.sources.generic import ParseResult, Reject

FORMAT = "cdnow"
CURRENCY = "USD"
CHANNEL = "online_store"
SKU = "CDNOW-CD"
PRODUCT_NAME = "CDs"

LINE = re.compile(
    r"^\s*(?P<customer>\d{1,6})(?:\s+(?P<sample_id>\d{1,5}))?\s+(?P<date>\d{8})"
    r"\s+(?P<quantity>\d{1,4})\s+(?P<amount>\d{1,7}(?:\.\d{1,2})?)\s*$"
)
"""One transaction: customer id, optional sample id, YYYYMMDD, CDs, dollars."""


def sniff(path: Path, head: bytes) -> bool:
    """True for a .txt file whose first lines are CDNOW transactions (one may be damaged)."""
    if path.suffix.lower() != ".txt":
        return False
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        return False
    lines = [line for line in text.splitlines()[:-1] if line.strip()][:5]
    if not lines and text.strip():
        lines = [text.strip()]  # a file shorter than its last line's end
    matched = sum(1 for line in lines if LINE.match(line))
    # One damaged line among the first five must not send the whole file elsewhere.
    return matched > 0 and matched >= len(lines) - 1 and matched * 2 > len(lines)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _valid_date(text: str) -> str | None:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8])).isoformat()
    except ValueError:
        return None


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse a CDNOW log into ``table`` (+ ``_lines``): one order with one line per record."""
    result = ParseResult(table=table, file_format=FORMAT)
    columns: dict[str, list] = {
        "_line": [],
        "customer": [],
        "created": [],
        "quantity": [],
        "amount": [],
        "unit_price": [],
    }
    blank = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("ascii").rstrip("\r\n")
            except UnicodeDecodeError:
                result.rejects.append(
                    _reject(number, None, "INVALID ENCODING", "bytes that are not ASCII", raw)
                )
                continue
            if not text.strip():
                blank += 1
                continue
            match = LINE.match(text)
            if match is None:
                result.rejects.append(
                    _reject(
                        number,
                        None,
                        "LAYOUT",
                        "line does not match the CDNOW layout (customer id, [sample id,] "
                        "YYYYMMDD date, number of CDs, dollar amount)",
                        raw,
                    )
                )
                continue
            created = _valid_date(match["date"])
            if created is None:
                result.rejects.append(
                    _reject(number, "date", "CAST", f"{match['date']!r} is not a date", raw)
                )
                continue
            columns["_line"].append(number)
            columns["customer"].append(match["customer"])
            columns["created"].append(created)
            columns["quantity"].append(match["quantity"])
            columns["amount"].append(match["amount"])
            columns["unit_price"].append(_unit_price(match["amount"], match["quantity"]))
    result.loaded = len(columns["_line"])
    result.rejected_records = len(result.rejects)
    result.records = result.loaded + result.rejected_records
    if blank:
        result.notes.append(f"{blank} blank line(s) skipped (not records)")
    frame = pl.DataFrame(
        columns,
        schema={
            "_line": pl.Int64,
            "customer": pl.Utf8,
            "created": pl.Utf8,
            "quantity": pl.Utf8,
            "amount": pl.Utf8,
            "unit_price": pl.Utf8,
        },
    )
    _write(con, frame, table)
    return result


def _unit_price(amount: str, quantity: str) -> str | None:
    """Dollars per CD to 4 places, half up (exact decimal arithmetic); None for zero CDs."""
    cds = Decimal(quantity)
    if cds == 0:
        return None
    return str((Decimal(amount) / cds).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP))


def _reject(line: int, column: str | None, error_type: str, reason: str, raw: bytes) -> Reject:
    text, _ = redact_card_numbers(raw.decode("ascii", errors="backslashreplace").rstrip("\r\n"))
    return Reject(line, column, error_type, reason, text)


def _write(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame, table: str) -> None:
    values = {
        "source_order_id": "customer || '-' || replace(created, '-', '') || '-' || "
        "row_number() OVER (PARTITION BY customer, created ORDER BY _line)",
        "channel": f"'{CHANNEL}'",
        "created_at": "created",
        "currency": f"'{CURRENCY}'",
        "subtotal": "amount",
        "total": "amount",
        "customer_id": "customer",
        "line_number": "1",
        "sku": f"'{SKU}'",
        "product_name": f"'{PRODUCT_NAME}'",
        "quantity": "quantity",
        "unit_price": "unit_price",
        "line_kind": "'product'",
    }
    select = ", ".join(
        f"CAST({values.get(f.name, 'NULL')} AS {f.type}) AS {_q(f.name)}" for f in GENERIC_FIELDS
    )
    view = f"_{table}_frame"
    con.register(view, frame)
    try:
        con.execute(f"""
CREATE OR REPLACE TEMP TABLE {table}_typed AS
SELECT _line, customer, created, CAST(quantity AS DECIMAL(18,4)) AS quantity,
       CAST(amount AS DECIMAL(18,4)) AS amount, CAST(unit_price AS DECIMAL(18,4)) AS unit_price
FROM {view} ORDER BY _line""")
    finally:
        con.unregister(view)
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {table}_rows AS
SELECT row_number() OVER (ORDER BY _line) AS _record_no, _line, {select}
FROM {table}_typed ORDER BY _line""")
    names = ", ".join(_q(f.name) for f in GENERIC_FIELDS)
    con.execute(
        f"CREATE OR REPLACE TABLE {table} AS SELECT {names} FROM {table}_rows ORDER BY _line"
    )
    con.execute(
        f"CREATE OR REPLACE TABLE {table}_lines AS "
        f"SELECT _record_no, _line FROM {table}_rows ORDER BY _line"
    )
    con.execute(f"DROP TABLE {table}_rows")
    con.execute(f"DROP TABLE {table}_typed")
