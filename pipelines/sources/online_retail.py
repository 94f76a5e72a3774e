"""Parser of UCI Online Retail invoice lines (InvoiceNo, StockCode, Description, ...).

One row of ``table`` per invoice line of a sale (an invoice is an order; order fields are
repeated on every line). Cancellation lines (InvoiceNo ``C…``) are not order lines: one row
of ``<table>_refunds`` each (the data does not link them to the sale). Every record of the
file is in exactly one of: order lines, refunds, rejects.

- ``created_at``: InvoiceDate as ISO 8601 without an offset (local UK time); the earliest
  of the invoice's lines when they differ (11 invoices of the sample span a minute).
- ``total``: the file has no invoice total; it is derived as the sum of the invoice's loaded
  lines (quantity x unit price, postage and fees included). ``shipping`` is the sum of its
  postage lines.
- Non-product stock codes (postage, manual adjustments, bank charges, samples...) keep their
  row with a ``line_kind`` other than product, so they are never counted as units sold; so
  do stock write-offs (a negative quantity outside a cancellation, price 0, "damaged"):
  ``adjustment``. Zero or negative prices are kept as received (entry validation judges).
- Countries are names (``EIRE``, ``RSA``, ``Channel Islands``...), mapped to ISO alpha-2;
  names with no single country (Channel Islands, European Community, Unspecified, West
  Indies) become NULL.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pycountry

from orderlens.contracts import GENERIC_FIELDS, REFUND_FIELDS, Field
from orderlens.security import redact_card_numbers
from pipelines.sources.generic import (
    ParseResult,
    Reject,
    card_redaction,
    parse_csv,
    redacted_rows_sql,
)
from pipelines.sources.olist import with_order_ids

FORMAT = "online_retail"
CURRENCY = "GBP"
CHANNEL = "online_store"

# Column of the parser → accepted header names (lower-cased): the UCI "Online Retail" file
# and its successor "Online Retail II" (Invoice, Price, Customer ID).
COLUMNS: dict[str, tuple[str, ...]] = {
    "invoice": ("invoiceno", "invoice"),
    "stock_code": ("stockcode",),
    "description": ("description",),
    "quantity": ("quantity",),
    "invoice_date": ("invoicedate",),
    "unit_price": ("unitprice", "price"),
    "customer": ("customerid", "customer id"),
    "country": ("country",),
}

LINE_KINDS: dict[str, str] = {
    "POST": "shipping",  # postage
    "DOT": "shipping",  # dotcom postage
    "C2": "shipping",  # carriage
    "M": "adjustment",  # manual price entry
    "B": "adjustment",  # adjust bad debt
    "S": "adjustment",  # samples
    "BANK CHARGES": "fee",
    "AMAZONFEE": "fee",
    "CRUK": "fee",  # commission to Cancer Research UK
    "D": "discount",
}
"""Stock codes that are not products (upper-cased). ``PADS`` ("pads to match all cushions",
sold at 0.001) and the ``DCGS…`` gift sets are physical stock: products."""

COUNTRY_OVERRIDES: dict[str, str | None] = {
    "eire": "IE",
    "rsa": "ZA",
    "usa": "US",
    "uk": "GB",
    "korea": "KR",
    "channel islands": None,  # Jersey or Guernsey: no single code
    "european community": None,
    "west indies": None,
    "unspecified": None,
}


def _header(head: bytes) -> list[str] | None:
    text = head.removeprefix(b"\xef\xbb\xbf")
    first = text.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = next(csv.reader(io.StringIO(first.decode("utf-8"))), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    return [n.strip().lower() for n in names]


def _binding(header: list[str]) -> dict[str, str] | None:
    """Parser column → the file's (lower-cased) column, or None when a column is missing."""
    bound: dict[str, str] = {}
    for column, names in COLUMNS.items():
        found = next((n for n in names if n in header), None)
        if found is None:
            return None
        bound[column] = found
    return bound


def sniff(path: Path, head: bytes) -> bool:
    """True for a CSV whose header has the Online Retail columns."""
    if path.suffix.lower() != ".csv":
        return False
    header = _header(head)
    return header is not None and _binding(header) is not None and len(header) == len(COLUMNS)


def country_code(name: str | None) -> str | None:
    """ISO 3166-1 alpha-2 code of a country name as the dataset writes it (None if none)."""
    if name is None or not name.strip():
        return None
    key = name.strip().lower()
    if key in COUNTRY_OVERRIDES:
        return COUNTRY_OVERRIDES[key]
    try:
        return pycountry.countries.lookup(name.strip()).alpha_2
    except LookupError:
        return None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _case(expr: str, mapping: dict[str, str | None]) -> str:
    """SQL CASE mapping the values of ``expr`` (NULL when not listed)."""
    if not mapping:
        return "CAST(NULL AS VARCHAR)"
    whens = " ".join(
        f"WHEN {_s(k)} THEN {_s(v) if v is not None else 'NULL'}" for k, v in mapping.items()
    )
    return f"CASE {expr} {whens} END"


def _generic_select(values: dict[str, str]) -> str:
    """Every generic column in contract order and type; NULL where ``values`` has none."""
    unknown = set(values) - {f.name for f in GENERIC_FIELDS}
    if unknown:
        raise ValueError(f"not generic columns: {sorted(unknown)}")
    return ", ".join(
        f"CAST({values.get(f.name, 'NULL')} AS {f.type}) AS {_q(f.name)}" for f in GENERIC_FIELDS
    )


def _stream_select(fields: tuple[Field, ...], values: dict[str, str]) -> str:
    return ", ".join(
        f"CAST({values.get(f.name, 'NULL')} AS {f.type}) AS {_q(f.name)}" for f in fields
    )


_TIMESTAMP_FORMATS = "['%Y-%m-%d %H:%M:%S', '%Y-%m-%d %H:%M', '%m/%d/%Y %H:%M', '%d/%m/%Y %H:%M']"


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse an Online Retail CSV into ``table`` (+ ``_lines``) and ``<table>_refunds``."""
    with open(path, "rb") as handle:
        header = _header(handle.read(65536)) or []
    binding = _binding(header)
    if binding is None:
        # Not this layout: the CSV parser rejects every record, naming the missing columns.
        binding = {column: names[0] for column, names in COLUMNS.items()}
        header = list(binding.values())
        fields = [Field(name, "VARCHAR", "", required=True) for name in header]
    else:
        fields = [Field(name, "VARCHAR", "") for name in header]
    src = f"{table}_src"
    result = parse_csv(con, path, fields, src, temporary=True)
    result.table = table
    result.file_format = FORMAT
    # A record DuckDB could not split still names its invoice: staging holds that order.
    result.rejects = with_order_ids(result.rejects, header.index(binding["invoice"]))

    def col(column: str) -> str:
        return f"s.{_q(binding[column])}"

    countries = {
        str(r[0]): country_code(str(r[0]))
        for r in con.execute(f"SELECT DISTINCT {col('country')} FROM {src} s").fetchall()
        if r[0] is not None
    }
    kinds = LINE_KINDS
    typed = f"{table}_typed"
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {typed} AS
SELECT l._line,
       nullif(trim({col("invoice")}), '') AS invoice,
       nullif(trim({col("stock_code")}), '') AS stock_code,
       nullif(trim({col("description")}), '') AS description,
       {col("quantity")} AS quantity_text,
       TRY_CAST(trim({col("quantity")}) AS DECIMAL(18,4)) AS quantity,
       {col("unit_price")} AS unit_price_text,
       TRY_CAST(trim({col("unit_price")}) AS DECIMAL(18,4)) AS unit_price,
       {col("invoice_date")} AS invoice_date_text,
       strftime(try_strptime(trim({col("invoice_date")}), {_TIMESTAMP_FORMATS}),
                '%Y-%m-%dT%H:%M:%S') AS created_at,
       CASE WHEN upper(trim({col("customer")})) IN ('', 'NA', 'NAN', 'NULL') THEN NULL
            ELSE regexp_replace(trim({col("customer")}), '\\.0+$', '') END AS customer_id,
       {_case(col("country"), countries)} AS country,
       {_case(f"upper(trim({col('stock_code')}))", dict(kinds))} AS kind,
       upper(trim({col("invoice")})) LIKE 'C%' AS is_cancellation,
       concat_ws(',', {", ".join(f"s.{_q(n)}" for n in header)}) AS raw_text
FROM {src} s POSITIONAL JOIN {src}_lines l""")
    _reject_unreadable(con, typed, result)
    loaded = f"{table}_loaded"
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {loaded} AS
SELECT row_number() OVER (ORDER BY _line) AS _record_no, *
FROM {typed} WHERE problem IS NULL ORDER BY _line""")
    with card_redaction(con) as redaction:
        _write_lines(con, loaded, table)
        _write_refunds(con, loaded, table)
    result.cards_redacted = redaction.count
    lines = int(con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])
    refunds = int(con.execute(f"SELECT count(*) FROM {table}_refunds").fetchall()[0][0])
    result.loaded = lines + refunds
    result.rejected_records = result.records - result.loaded
    result.notes.append(
        f"{lines} invoice lines, {refunds} cancellation lines as refunds; invoice totals are "
        "derived (sum of the invoice's lines)"
    )
    unmapped = sorted(name for name, code in countries.items() if code is None)
    if unmapped:
        result.notes.append(f"countries without an ISO code (left blank): {', '.join(unmapped)}")
    for name in (typed, loaded, src, f"{src}_lines"):
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return result


def _reject_unreadable(con: duckdb.DuckDBPyConnection, typed: str, result: ParseResult) -> None:
    """Records without an invoice, a numeric quantity or price, or a readable date."""
    con.execute(f"""
ALTER TABLE {typed} ADD COLUMN problem VARCHAR""")
    con.execute(f"""
UPDATE {typed} SET problem = CASE
    WHEN invoice IS NULL THEN 'invoice'
    WHEN quantity IS NULL THEN 'quantity'
    WHEN unit_price IS NULL THEN 'unit_price'
    WHEN created_at IS NULL THEN 'invoice_date' END""")
    rows = con.execute(f"""
SELECT _line, problem, invoice, quantity_text, unit_price_text, invoice_date_text, raw_text
FROM {typed} WHERE problem IS NOT NULL ORDER BY _line""").fetchall()
    reasons = {
        "invoice": ("MISSING", "invoice number is blank"),
        "quantity": ("CAST", "quantity {value!r} is not a number"),
        "unit_price": ("CAST", "unit price {value!r} is not a number"),
        "invoice_date": ("CAST", "invoice date {value!r} is not a date and time"),
    }
    for line, problem, invoice, quantity, price, date, raw in rows:
        value = {"quantity": quantity, "unit_price": price, "invoice_date": date}.get(problem)
        error_type, reason = reasons[problem]
        shown, _ = redact_card_numbers(value)
        text, _ = redact_card_numbers(raw)
        result.rejects.append(
            Reject(int(line), problem, error_type, reason.format(value=shown), text, invoice)
        )


def _write_lines(con: duckdb.DuckDBPyConnection, loaded: str, table: str) -> None:
    """Sale lines into the generic columns (one CREATE TABLE AS, product names redacted as
    they are written), in file order."""
    amount = "quantity * unit_price"
    invoice = "PARTITION BY invoice"
    select = _generic_select(
        {
            "source_order_id": "invoice",
            "order_number": "invoice",
            "channel": _s(CHANNEL),
            # An invoice keyed across a minute boundary has two times: the first is the order's.
            "created_at": f"min(created_at) OVER ({invoice})",
            "currency": _s(CURRENCY),
            "shipping": f"sum(CASE WHEN kind = 'shipping' THEN {amount} END) OVER ({invoice})",
            "total": f"sum({amount}) OVER ({invoice})",
            "customer_id": "customer_id",
            "billing_country": "country",
            "shipping_country": "country",
            "line_number": f"row_number() OVER ({invoice} ORDER BY _line)",
            "sku": "stock_code",
            "product_name": "description",
            "quantity": "quantity",
            "unit_price": "unit_price",
            # Stock write-offs (negative quantity outside a cancellation, price 0, e.g.
            # "damaged") are inventory adjustments, not sales.
            "line_kind": "coalesce(kind, CASE WHEN quantity < 0 THEN 'adjustment' END, 'product')",
            "requires_shipping": "CASE WHEN kind IS NOT NULL OR quantity < 0 "
            "OR upper(stock_code) LIKE 'GIFT%' THEN false END",
        }
    )
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE {table}_sales AS
SELECT _record_no, _line, {select}
FROM {loaded} WHERE NOT is_cancellation ORDER BY _line""")
    names = ", ".join(_q(f.name) for f in GENERIC_FIELDS)
    rows = f"SELECT {names} FROM {table}_sales ORDER BY _line"
    con.execute(f"CREATE OR REPLACE TABLE {table} AS {redacted_rows_sql(rows, ['product_name'])}")
    con.execute(
        f"CREATE OR REPLACE TABLE {table}_lines AS "
        f"SELECT _record_no, _line FROM {table}_sales ORDER BY _line"
    )
    con.execute(f"DROP TABLE {table}_sales")


def _write_refunds(con: duckdb.DuckDBPyConnection, loaded: str, table: str) -> None:
    """Cancellation lines, one refund row each (amount and quantity positive; reasons
    redacted as they are written)."""
    select = _stream_select(
        REFUND_FIELDS,
        {
            "refund_id": "invoice",
            "refunded_at": "created_at",
            "amount": "abs(quantity * unit_price)",
            "currency": _s(CURRENCY),
            "sku": "stock_code",
            "quantity": "abs(quantity)",
            "reason": "CASE WHEN kind IS NULL THEN 'cancelled invoice line' "
            "ELSE 'cancelled invoice line: ' || coalesce(description, stock_code) END",
            "customer_id": "customer_id",
        },
    )
    rows = f"SELECT {select}, _record_no, _line FROM {loaded} WHERE is_cancellation ORDER BY _line"
    con.execute(f"CREATE OR REPLACE TABLE {table}_refunds AS {redacted_rows_sql(rows, ['reason'])}")
