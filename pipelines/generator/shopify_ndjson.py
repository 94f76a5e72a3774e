"""Generated orders as Shopify REST Admin API order objects, one per line (NDJSON).

Grain: one output line per order of the generic landing files it reads (its lines become
``line_items``, in ``line_number`` order). What the REST order has a place for is written
there: totals, discount codes, shipping line, customer, addresses, client details, the
payment gateway and masked card (``•••• •••• •••• 4242``), one successful transaction
carrying the payment token, a refund with its refund transaction, a fulfilment with
carrier and tracking (``shipment_status`` delivered when the order was). Fields Shopify's
order has no place for (promised delivery date, product category, line kind, risk level)
are not written.

DuckDB reads the generic CSVs (by header name, all text), groups the lines of each order
and writes the objects with one ``COPY ... (FORMAT json)``, so a million orders convert in
seconds. Orders are written in the order they were placed, whichever file they come from
(as a store's API returns them). The files must be clean generator output (:func:`pipelines.generator.
generate_merchant` with no injectors or only the fraud ones,
:data:`~pipelines.generator.fraud.FRAUD_INJECTORS`, which change values and never a file's
shape; or :func:`pipelines.generator.write_generic_orders`): order fields may be on the first
line only; order ids are unique across the files given.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.generator.shopify_export import SOURCE_BY_CHANNEL, source_files, sql_literal


@dataclass(frozen=True)
class NdjsonReport:
    """What :func:`write_shopify_ndjson` wrote."""

    path: Path
    orders: int
    n_bytes: int
    seconds: float


def _t(column: str) -> str:
    """An order field of the group (its first non-blank value)."""
    return f"any_value(nullif(trim({column}), ''))"


def _money(column: str) -> str:
    return f"CAST(TRY_CAST({_t(column)} AS DECIMAL(18, 2)) AS VARCHAR)"


def _address(prefix: str) -> str:
    return (
        "{"
        f"'name': {_t(prefix + '_name')}, "
        f"'address1': {_t(prefix + '_address1')}, "
        f"'address2': {_t(prefix + '_address2')}, "
        f"'city': {_t(prefix + '_city')}, "
        f"'province': {_t(prefix + '_province')}, "
        f"'zip': {_t(prefix + '_zip')}, "
        f"'country_code': {_t(prefix + '_country')}, "
        f"'phone': {_t('shipping_phone') if prefix == 'shipping' else _t('customer_phone')}"
        "}"
    )


def _source_name() -> str:
    pairs = ", ".join(f"{sql_literal(k)}: {sql_literal(v)}" for k, v in SOURCE_BY_CHANNEL.items())
    return f"coalesce({_t('source_channel')}, MAP {{{pairs}}}[lower({_t('channel')})])"


_LINE_ITEM = (
    "{'id': line_number, 'sku': nullif(trim(sku), ''), 'name': nullif(trim(product_name), ''), "
    "'title': nullif(trim(product_name), ''), "
    "'quantity': TRY_CAST(TRY_CAST(quantity AS DECIMAL(18, 4)) AS BIGINT), "
    "'price': CAST(TRY_CAST(unit_price AS DECIMAL(18, 2)) AS VARCHAR), "
    "'total_discount': coalesce(CAST(TRY_CAST(line_discount AS DECIMAL(18, 2)) AS VARCHAR), "
    "'0.00'), "
    "'tax_lines': CASE WHEN nullif(trim(line_tax), '') IS NULL THEN [] ELSE [{'title': 'Tax', "
    "'price': CAST(TRY_CAST(line_tax AS DECIMAL(18, 2)) AS VARCHAR)}] END, "
    "'vendor': nullif(trim(vendor), ''), "
    "'requires_shipping': TRY_CAST(requires_shipping AS BOOLEAN), "
    "'origin_location': CASE WHEN nullif(trim(fulfillment_location), '') IS NULL THEN NULL "
    "ELSE {'name': trim(fulfillment_location)} END}"
)


def order_sql(files: Sequence[Path]) -> str:
    """The SELECT of one Shopify order object per order of generic CSV ``files``."""
    listed = ", ".join(sql_literal(str(p)) for p in files)
    has_line = "nullif(trim(coalesce(sku, '') || coalesce(product_name, '')), '') IS NOT NULL"
    card = _t("card_last4")
    token = _t("payment_token")
    refunded = f"TRY_CAST({_t('refunded_amount')} AS DECIMAL(18, 2))"
    return f"""
SELECT
  {_t("source_order_id")} AS id,
  {_t("order_number")} AS name,
  {_source_name()} AS source_name,
  {_t("created_at")} AS created_at,
  {_t("created_at")} AS processed_at,
  {_t("cancelled_at")} AS cancelled_at,
  {_t("currency")} AS currency,
  -- Shopify's convention: the subtotal is after every discount, and total_discounts
  -- counts line and order discounts (the generic subtotal is before order discounts).
  CAST(TRY_CAST({_t("subtotal")} AS DECIMAL(18, 2))
       - coalesce(TRY_CAST({_t("total_discounts")} AS DECIMAL(18, 2)), 0) AS VARCHAR)
    AS subtotal_price,
  CAST(coalesce(TRY_CAST({_t("total_discounts")} AS DECIMAL(18, 2)), 0)
       + coalesce(sum(TRY_CAST(nullif(trim(line_discount), '') AS DECIMAL(18, 2))), 0)
       AS VARCHAR) AS total_discounts,
  {_money("total_tax")} AS total_tax,
  TRY_CAST({_t("taxes_included")} AS BOOLEAN) AS taxes_included,
  {_money("total")} AS total_price,
  {_t("financial_status")} AS financial_status,
  {_t("fulfillment_status")} AS fulfillment_status,
  {_t("note")} AS note,
  {_t("customer_email")} AS email,
  {_t("customer_phone")} AS phone,
  {_t("client_ip")} AS browser_ip,
  {_t("device_id")} AS device_id,
  {_t("marketing_source")} AS referring_site,
  {_t("payment_method")} AS gateway,
  CASE WHEN {_t("payment_method")} IS NULL THEN [] ELSE [{_t("payment_method")}] END
    AS payment_gateway_names,
  CASE WHEN {_t("discount_codes")} IS NULL THEN []
    ELSE list_transform(string_split({_t("discount_codes")}, ';'),
      lambda c: {{'code': trim(c), 'type': 'fixed_amount'}}) END AS discount_codes,
  CASE WHEN {_t("shipping")} IS NULL THEN []
    ELSE [{{'title': {_t("shipping_method")}, 'code': {_t("shipping_method")},
      'price': {_money("shipping")}}}] END AS shipping_lines,
  CASE WHEN {_t("customer_id")} IS NULL THEN NULL ELSE {{
    'id': {_t("customer_id")}, 'email': {_t("customer_email")},
    'phone': {_t("customer_phone")}, 'first_name': {_t("customer_first_name")},
    'last_name': {_t("customer_last_name")}, 'created_at': {_t("customer_created_at")}}}
    END AS customer,
  {_address("billing")} AS billing_address,
  {_address("shipping")} AS shipping_address,
  {{'browser_ip': {_t("client_ip")}, 'user_agent': {_t("user_agent")}}} AS client_details,
  {{'credit_card_bin': {_t("card_bin")},
    'credit_card_number': CASE WHEN {card} IS NULL THEN NULL
      ELSE '•••• •••• •••• ' || {card} END,
    'credit_card_company': {_t("card_brand")}}} AS payment_details,
  CASE WHEN {token} IS NULL AND {_t("paid_at")} IS NULL THEN [] ELSE [{{
    'id': {_t("source_order_id")} || '-1', 'kind': 'sale', 'status': 'success',
    'gateway': {_t("payment_method")},
    'amount': coalesce({_money("paid_amount")}, {_money("total")}),
    'currency': {_t("currency")}, 'authorization': {token},
    'created_at': {_t("paid_at")}}}] END AS transactions,
  CASE WHEN coalesce({refunded}, 0) = 0 THEN [] ELSE [{{
    'id': {_t("source_order_id")} || '-R1', 'created_at': {_t("refunded_at")},
    'processed_at': {_t("refunded_at")}, 'refund_line_items': [],
    'transactions': [{{'kind': 'refund', 'status': 'success',
      'amount': CAST({refunded} AS VARCHAR), 'currency': {_t("currency")}}}]}}] END
    AS refunds,
  CASE WHEN {_t("shipped_at")} IS NULL THEN [] ELSE [{{
    'id': {_t("source_order_id")} || '-F1', 'status': 'success',
    'created_at': {_t("shipped_at")}, 'tracking_company': {_t("carrier")},
    'tracking_number': {_t("tracking_number")},
    'shipment_status': CASE WHEN {_t("delivered_at")} IS NOT NULL THEN 'delivered' END,
    'updated_at': coalesce({_t("delivered_at")}, {_t("shipped_at")})}}] END AS fulfillments,
  coalesce(list({_LINE_ITEM} ORDER BY TRY_CAST(line_number AS INTEGER))
    FILTER (WHERE {has_line}), []) AS line_items
FROM read_csv([{listed}], header = true, all_varchar = true, union_by_name = true,
  auto_detect = true, delim = ',', quote = '"', escape = '"', strict_mode = true)
GROUP BY source_order_id
ORDER BY TRY_CAST({_t("created_at")} AS TIMESTAMPTZ), {_t("source_order_id")}
"""


def write_shopify_ndjson(
    files: Sequence[Path], target: Path, con: duckdb.DuckDBPyConnection | None = None
) -> NdjsonReport:
    """Write the orders of generic CSV ``files`` as one Shopify order NDJSON file."""
    began = time.perf_counter()
    if not files:
        raise ValueError("no generic files to convert")
    own = con is None
    connection = duckdb.connect() if con is None else con
    connection.execute("SET enable_progress_bar = false")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        written = connection.execute(
            f"COPY ({order_sql(files)}) TO {sql_literal(str(partial))} (FORMAT json)"
        ).fetchall()
        partial.replace(target)
    finally:
        if own:
            connection.close()
    orders = int(written[0][0]) if written else 0
    return NdjsonReport(target, orders, target.stat().st_size, time.perf_counter() - began)


def convert_landing(landing: Path, out: Path) -> list[NdjsonReport]:
    """One Shopify NDJSON per source folder of a generated landing folder:
    ``<landing>/<source>/*.csv`` -> ``<out>/<source>/orders.ndjson``."""
    con = duckdb.connect()
    try:
        return [
            write_shopify_ndjson(files, out / source / "orders.ndjson", con)
            for source, files in source_files(landing)
        ]
    finally:
        con.close()
