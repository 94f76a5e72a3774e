"""Olist marketplace relational export: each table is a file of its own.

``parse`` stores one file as it is: one row of ``table`` per CSV row, with the table's own
columns typed (zips, ids and timestamps as text, so leading zeros survive) plus ``_line``.
``assemble`` joins the registered files of each source into the canonical streams:

- order lines: one row per order item (``order_item_id``), or one row with every line field
  NULL for an order without items; order fields repeated on each row. The customer is
  ``customer_unique_id``; the shipping address is the customer's zip prefix, city and state
  in BR. ``total`` = sum(price) + sum(freight) of the order's items (what the customer is
  charged for the goods; payments may differ: vouchers, instalment interest).
- payments: one row per (order, payment_sequential).
- events: created, paid, shipped, delivered (from the order's timestamps) and reviewed (one
  per review, score in ``detail``), in lifecycle order. Contradictory timestamps (handed to
  the carrier before approval, delivered before pickup, "delivered" with no delivery date)
  are kept as received, never reordered; :func:`contradictions_sql` lists them.
- products: one row per product, category translated to English where a translation exists.

When a table arrives in several files of one source (``products`` and ``products.full``,
overlapping exports) the rows are unioned and deduplicated by key, deterministically (see
``_dedupe``). Nothing is dropped by a join: an item whose order is in no orders file still
becomes an order line (its order fields are then NULL, so staging holds that order with a
reason instead of it vanishing); reviews and payments of such orders stay in their streams.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb

from orderlens.contracts import EVENT_FIELDS, GENERIC_FIELDS, PAYMENT_FIELDS, PRODUCT_FIELDS, Field
from pipelines.sources.generic import (
    ParseResult,
    Reject,
    card_redaction,
    parse_csv,
    redacted_rows_sql,
)

FAMILY = "olist"
CURRENCY = "BRL"
CHANNEL = "marketplace"
SOURCE_CHANNEL = "olist"
COUNTRY = "BR"
MONEY = "DECIMAL(18,4)"


def _fields(*spec: tuple[str, str]) -> tuple[Field, ...]:
    return tuple(Field(name, type_, "") for name, type_ in spec)


TABLES: dict[str, tuple[Field, ...]] = {
    "orders": _fields(
        ("order_id", "VARCHAR"),
        ("customer_id", "VARCHAR"),
        ("order_status", "VARCHAR"),
        ("order_purchase_timestamp", "VARCHAR"),
        ("order_approved_at", "VARCHAR"),
        ("order_delivered_carrier_date", "VARCHAR"),
        ("order_delivered_customer_date", "VARCHAR"),
        ("order_estimated_delivery_date", "VARCHAR"),
    ),
    "order_items": _fields(
        ("order_id", "VARCHAR"),
        ("order_item_id", "INTEGER"),
        ("product_id", "VARCHAR"),
        ("seller_id", "VARCHAR"),
        ("shipping_limit_date", "VARCHAR"),
        ("price", MONEY),
        ("freight_value", MONEY),
    ),
    "order_payments": _fields(
        ("order_id", "VARCHAR"),
        ("payment_sequential", "INTEGER"),
        ("payment_type", "VARCHAR"),
        ("payment_installments", "INTEGER"),
        ("payment_value", MONEY),
    ),
    "order_reviews": _fields(
        ("review_id", "VARCHAR"),
        ("order_id", "VARCHAR"),
        ("review_score", "INTEGER"),
        ("review_comment_title", "VARCHAR"),
        ("review_comment_message", "VARCHAR"),
        ("review_creation_date", "VARCHAR"),
        ("review_answer_timestamp", "VARCHAR"),
    ),
    "customers": _fields(
        ("customer_id", "VARCHAR"),
        ("customer_unique_id", "VARCHAR"),
        ("customer_zip_code_prefix", "VARCHAR"),
        ("customer_city", "VARCHAR"),
        ("customer_state", "VARCHAR"),
    ),
    "products": _fields(
        ("product_id", "VARCHAR"),
        ("product_category_name", "VARCHAR"),
        # "lenght": Olist's own spelling.
        ("product_name_lenght", "INTEGER"),
        ("product_description_lenght", "INTEGER"),
        ("product_photos_qty", "INTEGER"),
        ("product_weight_g", "INTEGER"),
        ("product_length_cm", "INTEGER"),
        ("product_height_cm", "INTEGER"),
        ("product_width_cm", "INTEGER"),
    ),
    "sellers": _fields(
        ("seller_id", "VARCHAR"),
        ("seller_zip_code_prefix", "VARCHAR"),
        ("seller_city", "VARCHAR"),
        ("seller_state", "VARCHAR"),
    ),
    "geolocation": _fields(
        ("geolocation_zip_code_prefix", "VARCHAR"),
        ("geolocation_lat", "DOUBLE"),
        ("geolocation_lng", "DOUBLE"),
        ("geolocation_city", "VARCHAR"),
        ("geolocation_state", "VARCHAR"),
    ),
    "category_translation": _fields(
        ("product_category_name", "VARCHAR"),
        ("product_category_name_english", "VARCHAR"),
    ),
}
"""Each Olist table: its columns (in the file's order) and their types."""

FREE_TEXT: tuple[str, ...] = (
    "review_comment_title",
    "review_comment_message",
    "customer_city",
    "seller_city",
    "geolocation_city",
)
"""Columns people typed: card numbers in them are redacted as the table is written."""

KEYS: dict[str, tuple[str, ...]] = {
    "orders": ("order_id",),
    "order_items": ("order_id", "order_item_id"),
    "order_payments": ("order_id", "payment_sequential"),
    "order_reviews": ("review_id", "order_id"),
    "customers": ("customer_id",),
    "products": ("product_id",),
    "category_translation": ("product_category_name",),
}
"""Key of each table that assembly reads: one row per key survives deduplication."""

STATUS_RANK = (
    "CASE lower(trim(order_status)) WHEN 'created' THEN 1 WHEN 'approved' THEN 2 "
    "WHEN 'invoiced' THEN 3 WHEN 'processing' THEN 4 WHEN 'shipped' THEN 5 "
    "WHEN 'delivered' THEN 6 WHEN 'unavailable' THEN 7 WHEN 'canceled' THEN 7 ELSE 0 END"
)
"""Olist's order statuses in lifecycle order (the terminal ones last)."""

ORDER_TIMESTAMPS: tuple[tuple[str, str], ...] = (
    ("created", "order_purchase_timestamp"),
    ("paid", "order_approved_at"),
    ("shipped", "order_delivered_carrier_date"),
    ("delivered", "order_delivered_customer_date"),
)
"""Status events from the order's own timestamps, in lifecycle order."""


def _before(later: str, earlier: str) -> str:
    return f"TRY_CAST({later} AS TIMESTAMP) < TRY_CAST({earlier} AS TIMESTAMP)"


CONTRADICTIONS: dict[str, str] = {
    **{
        f"{event}_before_{earlier_event}": _before(column, earlier_column)
        for position, (event, column) in enumerate(ORDER_TIMESTAMPS)
        for earlier_event, earlier_column in ORDER_TIMESTAMPS[:position]
    },
    "delivered_without_date": "lower(trim(order_status)) = 'delivered' "
    "AND nullif(trim(order_delivered_customer_date), '') IS NULL",
}
"""Kinds of status/timestamp contradiction, SQL over an orders row true when it has it:
every pair of lifecycle steps dated out of order (``shipped_before_paid``: handed to the
carrier before payment approval; ``delivered_before_shipped``: delivered before pickup;
...), and a ``delivered`` status with no delivery date. An order may have several kinds."""


# -- one file ------------------------------------------------------------------------------


def _header(head: bytes) -> list[str] | None:
    first = head.removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0].rstrip(b"\r")
    try:
        names = next(csv.reader(io.StringIO(first.decode("utf-8"))), [])
    except (UnicodeDecodeError, csv.Error):
        return None
    return [n.strip().lower() for n in names]


def table_of(head: bytes) -> str | None:
    """The Olist table a file holds, from its header (None when it is not one)."""
    header = _header(head)
    if not header:
        return None
    for name, fields in TABLES.items():
        if sorted(header) == sorted(f.name for f in fields):
            return name
    return None


def sniff(path: Path, head: bytes) -> bool:
    """True for a CSV whose header is exactly one Olist table's columns."""
    return path.suffix.lower() == ".csv" and table_of(head) is not None


def with_order_ids(rejects: list[Reject], index: int) -> list[Reject]:
    """Rejects with the order id read from their raw text where they lack one."""
    out = []
    for reject in rejects:
        if reject.order_id is None and reject.raw_text:
            try:
                values = next(csv.reader(io.StringIO(reject.raw_text)), [])
            except csv.Error:
                values = []
            if index < len(values) and values[index].strip():
                reject = replace(reject, order_id=values[index].strip())
        out.append(reject)
    return out


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _s(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Store one Olist file: ``table`` (its columns + ``_line``) and ``<table>_lines``."""
    with open(path, "rb") as handle:
        head = handle.read(65536)
    name = table_of(head)
    if name is None:
        # Not an Olist table: the CSV parser rejects every record, naming the columns.
        name = "orders"
        fields = tuple(Field(f.name, f.type, "", required=True) for f in TABLES[name])
    else:
        fields = TABLES[name]
    src = f"{table}_src"
    result = parse_csv(con, path, fields, src, temporary=True)
    result.table = table
    result.file_format = f"{FAMILY}:{name}"
    header = _header(head) or []
    if "order_id" in header:
        # A rejected item or payment names its order, so staging holds that order whole.
        result.rejects = with_order_ids(result.rejects, header.index("order_id"))
    columns = ", ".join(f"s.{_q(f.name)}" for f in fields)
    rows = f"SELECT {columns}, l._line FROM {src} s POSITIONAL JOIN {src}_lines l"
    free_text = [f.name for f in fields if f.name in FREE_TEXT]
    with card_redaction(con) as redaction:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS {redacted_rows_sql(rows, free_text)}")
    result.cards_redacted = redaction.count
    con.execute(
        f"CREATE OR REPLACE TABLE {table}_lines AS SELECT l._record_no, l._line FROM {src}_lines l"
    )
    con.execute(f"DROP TABLE IF EXISTS {src}")
    con.execute(f"DROP TABLE IF EXISTS {src}_lines")
    result.rows_sql = f"SELECT * FROM {table}"
    if name == "orders":
        # The ingestion log's order count; the other tables hold no orders of their own.
        result.orders = int(
            con.execute(f"SELECT count(DISTINCT order_id) FROM {table}").fetchall()[0][0]
        )
    return result


# -- assembly of a source's files ---------------------------------------------------------


def _table_name(file_format: str) -> str | None:
    family, _, name = file_format.partition(":")
    return name if family == FAMILY and name in TABLES else None


def _union(name: str, file_ids: Sequence[str]) -> str:
    """Every file's rows of one table, with ``file_id`` and ``_record_no``."""
    columns = ", ".join(f"t.{_q(f.name)}" for f in TABLES[name])
    if not file_ids:
        typed = ", ".join(f"CAST(NULL AS {f.type}) AS {_q(f.name)}" for f in TABLES[name])
        return (
            "SELECT CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS BIGINT) AS _record_no, "
            f"CAST(NULL AS BIGINT) AS _line, {typed} WHERE false"
        )
    return " UNION ALL ".join(
        f"SELECT {_s(file_id)} AS file_id, l._record_no, t._line, {columns} "
        f"FROM raw_file_{file_id} t POSITIONAL JOIN raw_file_{file_id}_lines l"
        for file_id in file_ids
    )


def _dedupe(name: str, file_ids: Sequence[str]) -> str:
    """One row per key of a table across a source's files, chosen deterministically.

    - orders: the most advanced status, then the latest timestamp, then the greatest
      file_id (the content hash), as for every other format's versions;
    - order items: all items of an order come from one file (the one holding most of the
      order's items, then the smallest file_id), so an order's lines are one version;
    - other tables: a row with a non-NULL category first (products), then the smallest
      file_id, then the earliest line.
    """
    union = _union(name, file_ids)
    key = ", ".join(KEYS[name])
    if name == "orders":
        latest = "greatest(" + ", ".join(c for _, c in ORDER_TIMESTAMPS) + ")"
        order = f"{STATUS_RANK} DESC, {latest} DESC NULLS LAST, file_id DESC, _line"
        return (
            f"SELECT * FROM ({union}) "
            f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {order}) = 1"
        )
    if name == "order_items":
        return (
            "SELECT * EXCLUDE (_items_in_file) FROM ("
            "SELECT *, count(*) OVER (PARTITION BY order_id, file_id) AS _items_in_file "
            f"FROM ({union})) "
            "QUALIFY file_id = first_value(file_id) OVER (PARTITION BY order_id "
            "ORDER BY _items_in_file DESC, file_id) "
            "AND row_number() OVER (PARTITION BY order_id, order_item_id, file_id "
            "ORDER BY _line) = 1"
        )
    first = "product_category_name IS NULL, " if name == "products" else ""
    return (
        f"SELECT * FROM ({union}) "
        f"QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {first}file_id, _line) = 1"
    )


def _iso(column: str) -> str:
    """Olist's ``YYYY-MM-DD HH:MM:SS`` (no offset: Brazil local time) as ISO 8601."""
    return f"replace(nullif(trim({column}), ''), ' ', 'T')"


def _select(fields: Sequence[Field], values: dict[str, str]) -> str:
    unknown = set(values) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"unknown columns: {sorted(unknown)}")
    return ", ".join(
        f"CAST({values.get(f.name, 'NULL')} AS {f.type}) AS {_q(f.name)}" for f in fields
    )


def _product_name(product: str, category: str) -> str:
    """Olist publishes no product names: the category and a short product id stand in."""
    return (
        f"CASE WHEN {product} IS NOT NULL THEN "
        f"replace(coalesce({category}, 'uncategorised'), '_', ' ') || ' ' || left({product}, 8) "
        "END"
    )


class _Source:
    """The deduplicated tables of one source's Olist files, as CTEs."""

    def __init__(self, source: str, files: Sequence[tuple[str, str]]) -> None:
        self.source = source
        by_table: dict[str, list[str]] = {name: [] for name in TABLES}
        for file_id, name in sorted(files):
            by_table[name].append(file_id)
        self.by_table = by_table

    def has(self, name: str) -> bool:
        return bool(self.by_table[name])

    def ctes(self, *names: str) -> str:
        return ", ".join(f"{n} AS ({_dedupe(n, self.by_table[n])})" for n in names)

    def order_lines(self) -> str:
        category = "coalesce(tr.product_category_name_english, p.product_category_name)"
        values = {
            "source_order_id": "coalesce(o.order_id, i.order_id)",
            "channel": _s(CHANNEL),
            "source_channel": _s(SOURCE_CHANNEL),
            "order_status": "o.order_status",
            "created_at": _iso("o.order_purchase_timestamp"),
            "currency": _s(CURRENCY),
            "subtotal": "coalesce(a.items_price, 0)",
            "shipping": "coalesce(a.freight, 0)",
            "total": "coalesce(a.items_price, 0) + coalesce(a.freight, 0)",
            "paid_at": _iso("o.order_approved_at"),
            "promised_delivery_date": "TRY_CAST(left(trim(o.order_estimated_delivery_date), 10) "
            "AS DATE)",
            "customer_id": "c.customer_unique_id",
            "shipping_city": "c.customer_city",
            "shipping_province": "c.customer_state",
            "shipping_zip": "c.customer_zip_code_prefix",
            "shipping_country": f"CASE WHEN o.order_id IS NOT NULL THEN {_s(COUNTRY)} END",
            "shipped_at": _iso("o.order_delivered_carrier_date"),
            "delivered_at": _iso("o.order_delivered_customer_date"),
            "line_number": "i.order_item_id",
            "sku": "i.product_id",
            "product_name": _product_name("i.product_id", category),
            "quantity": "CASE WHEN i.order_id IS NOT NULL THEN 1 END",
            "unit_price": "i.price",
            "vendor": "i.seller_id",
            "product_category": f"CASE WHEN i.order_id IS NOT NULL THEN {category} END",
            "line_kind": "CASE WHEN i.order_id IS NOT NULL THEN 'product' END",
        }
        return f"""
SELECT * FROM (
WITH {self.ctes("orders", "order_items", "customers", "products", "category_translation")},
totals AS (
    SELECT order_id, sum(price) AS items_price, sum(freight_value) AS freight
    FROM order_items GROUP BY order_id)
SELECT coalesce(i.file_id, o.file_id) AS file_id, {_s(self.source)} AS source,
       coalesce(i._record_no, o._record_no) AS _record_no, coalesce(i._line, o._line) AS _line,
       {_select(GENERIC_FIELDS, values)}
FROM orders o
FULL OUTER JOIN order_items i ON i.order_id = o.order_id
LEFT JOIN customers c ON c.customer_id = o.customer_id
LEFT JOIN products p ON p.product_id = i.product_id
LEFT JOIN category_translation tr ON tr.product_category_name = p.product_category_name
LEFT JOIN totals a ON a.order_id = coalesce(o.order_id, i.order_id)
ORDER BY source_order_id, line_number NULLS FIRST)"""

    def payments(self) -> str:
        values = {
            "source_order_id": "order_id",
            "payment_sequence": "payment_sequential",
            "payment_method": "payment_type",
            "payment_amount": "payment_value",
            "currency": _s(CURRENCY),
            "installments": "payment_installments",
        }
        return f"""
SELECT * FROM (
WITH {self.ctes("order_payments")}
SELECT file_id, {_s(self.source)} AS source, _line, {_select(PAYMENT_FIELDS, values)}
FROM order_payments ORDER BY order_id, payment_sequential)"""

    def events(self) -> str:
        from_orders = " UNION ALL ".join(
            f"SELECT file_id, _line, order_id, {_s(event)} AS event, {_iso(column)} AS occurred_at, "
            f"CAST(NULL AS VARCHAR) AS detail, {rank} AS _rank FROM orders "
            f"WHERE nullif(trim({column}), '') IS NOT NULL"
            for rank, (event, column) in enumerate(ORDER_TIMESTAMPS, start=1)
        )
        from_reviews = (
            "SELECT file_id, _line, order_id, 'reviewed' AS event, "
            f"{_iso('review_creation_date')} AS occurred_at, "
            "'score ' || review_score AS detail, "
            f"{len(ORDER_TIMESTAMPS) + 1} AS _rank FROM order_reviews"
        )
        values = {
            "source_order_id": "order_id",
            "event": "event",
            "occurred_at": "occurred_at",
            "detail": "detail",
        }
        return f"""
SELECT * FROM (
WITH {self.ctes("orders", "order_reviews")},
events AS ({from_orders} UNION ALL {from_reviews})
SELECT file_id, {_s(self.source)} AS source, _line, {_select(EVENT_FIELDS, values)}
FROM events ORDER BY order_id, _rank, occurred_at, _line)"""

    def products(self) -> str:
        category = "coalesce(tr.product_category_name_english, p.product_category_name)"
        values = {
            "sku": "p.product_id",
            "name": _product_name("p.product_id", category),
            "category": category,
            "weight_g": "p.product_weight_g",
        }
        return f"""
SELECT * FROM (
WITH {self.ctes("products", "category_translation")}
SELECT p.file_id, {_s(self.source)} AS source, p._line, {_select(PRODUCT_FIELDS, values)}
FROM products p
LEFT JOIN category_translation tr ON tr.product_category_name = p.product_category_name
ORDER BY p.product_id)"""

    def contradictions(self) -> str:
        kinds = " UNION ALL ".join(
            f"SELECT file_id, _line, order_id, {_s(kind)} AS kind FROM orders WHERE {condition}"
            for kind, condition in CONTRADICTIONS.items()
        )
        return f"""
SELECT * FROM (
WITH {self.ctes("orders")}
SELECT {_s(self.source)} AS source, order_id AS source_order_id, kind, file_id, _line
FROM ({kinds}) ORDER BY source_order_id, kind)"""


def _sources(files: Sequence[tuple[str, str, str]]) -> list[_Source]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for file_id, source, file_format in files:
        name = _table_name(file_format)
        if name is not None:
            grouped.setdefault(source, []).append((file_id, name))
    return [_Source(source, members) for source, members in sorted(grouped.items())]


def _union_all(parts: list[str]) -> str:
    return "SELECT * FROM (" + "\nUNION ALL\n".join(f"({p})" for p in parts) + ")"


def assemble(con: duckdb.DuckDBPyConnection, files: list[tuple[str, str, str]]) -> dict[str, str]:
    """SQL of the order lines and streams of the registered Olist files.

    ``files``: (file_id, source, file_format) of each file; its rows are in
    ``raw_file_<file_id>``. Files are assembled per source. Keys: ``order_lines`` (file_id,
    source, _record_no, _line, every generic column), ``payments``, ``events``, ``products``
    (file_id, source, _line, the stream's columns); a stream is present only when some
    source has the files it needs.
    """
    del con  # the SQL names the tables; nothing needs to be read to write it
    sources = _sources(files)
    out: dict[str, list[str]] = {"order_lines": [], "payments": [], "events": [], "products": []}
    for source in sources:
        if source.has("orders") or source.has("order_items"):
            out["order_lines"].append(source.order_lines())
        if source.has("order_payments"):
            out["payments"].append(source.payments())
        if source.has("orders") or source.has("order_reviews"):
            out["events"].append(source.events())
        if source.has("products"):
            out["products"].append(source.products())
    return {key: _union_all(parts) for key, parts in out.items() if parts}


def contradictions_sql(files: list[tuple[str, str, str]]) -> str | None:
    """SQL listing every status/timestamp contradiction of the registered Olist orders: one
    row per (source, source_order_id, kind) with the order's file_id and _line; None when
    no source has an orders file. Kinds: see :data:`CONTRADICTIONS`."""
    parts = [s.contradictions() for s in _sources(files) if s.has("orders")]
    return _union_all(parts) if parts else None


def count_contradictions(
    con: duckdb.DuckDBPyConnection, files: list[tuple[str, str, str]]
) -> dict[str, int]:
    """Contradictions per kind over the registered Olist orders (every kind listed)."""
    counts = dict.fromkeys(CONTRADICTIONS, 0)
    sql = contradictions_sql(files)
    if sql is not None:
        for kind, count in con.execute(
            f"SELECT kind, count(*) FROM ({sql}) GROUP BY kind"
        ).fetchall():
            counts[str(kind)] = int(count)
    return counts
