"""Generated orders as a Shopify admin "Orders → Export" CSV (the 79-column layout).

Grain: one output row per order line of the generic landing files it reads; order-level
fields only on an order's first row (Shopify leaves them blank on continuation rows,
``Name`` excepted), timestamps in Shopify's ``2026-03-01 18:06:09 -0500`` form.

DuckDB reads the generic CSVs (by header name, all text) and writes the export with one
``COPY``, so a million orders convert in seconds. The generic files must be the clean
output of :func:`pipelines.generator.generate_merchant` (no injectors, or only the fraud
ones: :data:`~pipelines.generator.fraud.FRAUD_INJECTORS`) or of
:func:`pipelines.generator.write_generic_orders`: an order's lines are contiguous and its
order fields are on its first line (``line_number`` 1). Files given together must come from
one source, whose order numbers (``Name``) are unique; each source of a merchant's landing
folder gets its own export (:func:`convert_landing`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orderlens.warehouse import connect
from pipelines.sources.shopify_csv import SHOPIFY_COLUMNS

SOURCE_BY_CHANNEL: dict[str, str] = {
    "online_store": "web",
    "pos": "pos",
    "mobile_app": "iphone",
    "marketplace": "marketplace",
    "other": "other",
}
"""Shopify ``Source`` written for a generic channel when the order has no raw label."""

_ISO = r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.\d+)?([+-]\d{2}):?(\d{2})$"

ORDER_LEVEL: frozenset[str] = frozenset(
    {
        "Id", "Email", "Financial Status", "Paid at", "Fulfillment Status", "Fulfilled at",
        "Accepts Marketing", "Currency", "Subtotal", "Shipping", "Taxes", "Total",
        "Discount Code", "Discount Amount", "Shipping Method", "Created at", "Billing Name",
        "Billing Street", "Billing Address1", "Billing Address2", "Billing Company",
        "Billing City", "Billing Zip", "Billing Province", "Billing Country", "Billing Phone",
        "Shipping Name", "Shipping Street", "Shipping Address1", "Shipping Address2",
        "Shipping Company", "Shipping City", "Shipping Zip", "Shipping Province",
        "Shipping Country", "Shipping Phone", "Notes", "Note Attributes", "Cancelled at",
        "Payment Method", "Payment Reference", "Refunded Amount", "Outstanding Balance",
        "Employee", "Device ID", "Tags", "Risk Level", "Source", "Tax 1 Name", "Tax 1 Value",
        "Phone", "Receipt Number", "Payment ID", "Payment References",
    }
)  # fmt: skip
"""Columns Shopify fills on an order's first row only."""


@dataclass(frozen=True)
class ExportReport:
    """What :func:`write_shopify_export` wrote."""

    path: Path
    lines: int
    """Rows written (order lines), the header excluded."""
    n_bytes: int
    seconds: float


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _timestamp(column: str) -> str:
    """ISO 8601 with offset -> ``YYYY-MM-DD HH:MM:SS +HHMM`` (anything else as it is)."""
    value = f"nullif(trim({_q(column)}), '')"
    value = f"regexp_replace({value}, 'Z$', '+00:00')"
    return f"regexp_replace({value}, {sql_literal(_ISO)}, '\\1 \\2 \\3\\4')"


def _text(column: str) -> str:
    return f"nullif(trim({_q(column)}), '')"


def _source() -> str:
    pairs = ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in SOURCE_BY_CHANNEL.items())
    return (
        f"coalesce({_text('source_channel')}, "
        f"MAP {{{pairs}}}[lower({_text('channel')})], {_text('channel')})"
    )


def _risk() -> str:
    risk = _text("source_risk_level")
    return f"upper(left({risk}, 1)) || lower(substr({risk}, 2))"


def _street(prefix: str) -> str:
    return f"concat_ws(', ', {_text(prefix + '_address1')}, {_text(prefix + '_address2')})"


def _columns() -> dict[str, str]:
    """SQL of every Shopify column from the generic columns (blank when there is none)."""
    return {
        "Name": f"coalesce({_text('order_number')}, '#' || {_text('source_order_id')})",
        "Email": _text("customer_email"),
        "Financial Status": _text("financial_status"),
        "Paid at": _timestamp("paid_at"),
        "Fulfillment Status": _text("fulfillment_status"),
        "Fulfilled at": _timestamp("shipped_at"),
        "Currency": _text("currency"),
        # Shopify's convention: Subtotal is after every discount and Discount Amount counts
        # line and order discounts (the generic subtotal is before order discounts).
        "Subtotal": f"CAST(TRY_CAST({_text('subtotal')} AS DECIMAL(18, 2)) - "
        f"coalesce(TRY_CAST({_text('total_discounts')} AS DECIMAL(18, 2)), 0) AS VARCHAR)",
        "Shipping": _text("shipping"),
        "Taxes": _text("total_tax"),
        "Total": _text("total"),
        "Discount Code": _text("discount_codes"),
        "Discount Amount": f"CAST(coalesce(TRY_CAST({_text('total_discounts')} AS "
        "DECIMAL(18, 2)), 0) + coalesce(_order_line_discounts, 0) AS VARCHAR)",
        "Shipping Method": _text("shipping_method"),
        "Created at": _timestamp("created_at"),
        "Lineitem quantity": _text("quantity"),
        "Lineitem name": _text("product_name"),
        "Lineitem price": _text("unit_price"),
        "Lineitem sku": _text("sku"),
        "Lineitem requires shipping": _text("requires_shipping"),
        "Billing Name": _text("billing_name"),
        "Billing Street": _street("billing"),
        "Billing Address1": _text("billing_address1"),
        "Billing Address2": _text("billing_address2"),
        "Billing City": _text("billing_city"),
        "Billing Zip": _text("billing_zip"),
        "Billing Province": _text("billing_province"),
        "Billing Country": _text("billing_country"),
        "Billing Phone": _text("customer_phone"),
        "Shipping Name": _text("shipping_name"),
        "Shipping Street": _street("shipping"),
        "Shipping Address1": _text("shipping_address1"),
        "Shipping Address2": _text("shipping_address2"),
        "Shipping City": _text("shipping_city"),
        "Shipping Zip": _text("shipping_zip"),
        "Shipping Province": _text("shipping_province"),
        "Shipping Country": _text("shipping_country"),
        "Shipping Phone": _text("shipping_phone"),
        "Notes": _text("note"),
        "Cancelled at": _timestamp("cancelled_at"),
        "Payment Method": _text("payment_method"),
        "Payment Reference": _text("payment_token"),
        "Refunded Amount": _text("refunded_amount"),
        "Vendor": _text("vendor"),
        "Location": _text("fulfillment_location"),
        "Device ID": _text("device_id"),
        "Id": _text("source_order_id"),
        "Risk Level": _risk(),
        "Source": _source(),
        "Lineitem discount": _text("line_discount"),
        "Phone": _text("customer_phone"),
        "Payment ID": _text("payment_token"),
        "Payment References": _text("payment_token"),
    }


def export_sql(files: Sequence[Path]) -> str:
    """The SELECT of the Shopify rows of generic CSV ``files``, in file order."""
    listed = ", ".join(sql_literal(str(p)) for p in files)
    columns = _columns()
    first = "coalesce(TRY_CAST(nullif(trim(line_number), '') AS INTEGER), 1) = 1"
    select = ",\n  ".join(
        (
            f"CASE WHEN {first} THEN {columns[c]} END"
            if c in ORDER_LEVEL and c in columns
            else columns.get(c, "CAST(NULL AS VARCHAR)")
        )
        + f" AS {_q(c)}"
        for c in SHOPIFY_COLUMNS
    )
    rows = (
        f"SELECT *, row_number() OVER () AS _row FROM read_csv([{listed}], header = true, "
        "all_varchar = true, union_by_name = true, auto_detect = true, delim = ',', "
        "quote = '\"', escape = '\"', strict_mode = true)"
    )
    # Each order's line discounts (Shopify's Discount Amount includes them); rows keep
    # their file order through the window.
    return (
        f"SELECT {select}\nFROM (SELECT *, sum(TRY_CAST(nullif(trim(line_discount), '') AS "
        "DECIMAL(18, 2))) OVER (PARTITION BY source_order_id) AS _order_line_discounts "
        f"FROM ({rows})) ORDER BY _row"
    )


def write_shopify_export(
    files: Sequence[Path], target: Path, con: duckdb.DuckDBPyConnection | None = None
) -> ExportReport:
    """Write the generic CSV ``files`` (one source's, in order) as one Shopify export."""
    began = time.perf_counter()
    if not files:
        raise ValueError("no generic files to convert")
    own = con is None
    connection = connect(":memory:") if con is None else con
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        written = connection.execute(
            f"COPY ({export_sql(files)}) TO {sql_literal(str(partial))} "
            "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', ESCAPE '\"')"
        ).fetchall()
        partial.replace(target)
    finally:
        if own:
            connection.close()
    lines = int(written[0][0]) if written else 0
    return ExportReport(target, lines, target.stat().st_size, time.perf_counter() - began)


def source_files(landing: Path) -> list[tuple[str, list[Path]]]:
    """Each source folder of a generated landing folder with its generic CSVs, in name
    (month) order; ``_reference`` is not orders and is skipped."""
    found = []
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.csv"))
        if not folder.name.startswith("_") and files:
            found.append((folder.name, files))
    return found


def convert_landing(landing: Path, out: Path) -> list[ExportReport]:
    """One Shopify export per source folder of a generated landing folder:
    ``<landing>/<source>/*.csv`` -> ``<out>/<source>/orders_export.csv``."""
    con = connect(":memory:")
    try:
        return [
            write_shopify_export(files, out / source / "orders_export.csv", con)
            for source, files in source_files(landing)
        ]
    finally:
        con.close()
