"""Staging → marts: the tables analysts, the dashboard and later models read.

Grain of each table:
- ``fct_orders``: one row per order that passed staging and is not quarantined by an
  entry-accuracy error (``quality_quarantine``), with its amount in the reporting currency
  (``total_reporting``; NULL when no FX rate is known for its currency and day) and the
  codes of the warnings it carries (``quality_warnings``).
- ``fct_order_lines``: one row per line of those orders.
- ``dim_customers``: one row per customer key, across channels.
- ``dim_products``: one row per SKU in the catalogue or sold.
- ``mart_fx_missing``: one row per currency with orders that have no FX rate (reported,
  never guessed).

FX rule: an order converts with the latest rate of its currency on or before its day (the
merchant's time zone defines the day); the reporting currency itself converts at 1.
"""

from __future__ import annotations

import duckdb

from orderlens.warehouse import scalar, transaction

MART_TABLES: tuple[str, ...] = (
    "fct_orders",
    "fct_order_lines",
    "dim_customers",
    "dim_products",
    "mart_fx_missing",
)


def build_fct_orders(con: duckdb.DuckDBPyConnection, reporting_currency: str) -> int:
    """Rebuild ``fct_orders`` (and ``mart_fx_missing``) in one transaction."""
    with transaction(con):
        con.execute(
            """
CREATE OR REPLACE TEMP TABLE _fx AS
SELECT o.order_key,
       CASE WHEN o.currency = $rep THEN 1::DECIMAL(18,8) ELSE r.rate_to_reporting END AS fx_rate
FROM stg_orders o
ASOF LEFT JOIN ref_fx_rates r ON r.currency = o.currency AND o.order_date >= r.rate_date""",
            {"rep": reporting_currency},
        )
        con.execute("""
CREATE OR REPLACE TABLE fct_orders AS
WITH line_totals AS (
    SELECT order_key, count(*)::INTEGER AS line_count,
           coalesce(sum(quantity) FILTER (WHERE line_kind = 'product'), 0) AS units
    FROM stg_order_lines GROUP BY order_key
), pay AS (
    -- The first payment describes the order (split payments stay in stg_payments).
    SELECT order_key, arg_min(method, payment_sequence) AS method,
           arg_min(card_brand, payment_sequence) AS card_brand,
           arg_min(card_last4, payment_sequence) AS card_last4,
           count(*)::INTEGER AS payments,
           -- Money captured: refunds, voids, bare authorisations and failed attempts are
           -- payments records, not money paid.
           coalesce(sum(amount) FILTER (
               WHERE coalesce(kind, 'sale') NOT IN ('refund', 'void', 'authorization')
                 AND coalesce(status, 'success') NOT IN ('failure', 'error', 'pending')), 0)
               AS paid_amount
    FROM stg_payments GROUP BY order_key
), ship AS (
    SELECT order_key,
           nullif(concat_ws(', ', address1, address2, city, province, zip, country), '')
               AS shipping_address,
           country AS shipping_country
    FROM stg_addresses WHERE address_type = 'shipping'
), bill AS (
    SELECT order_key, country AS billing_country FROM stg_addresses WHERE address_type = 'billing'
), warned AS (
    SELECT order_key, list(DISTINCT reason_code ORDER BY reason_code) AS quality_warnings
    FROM quality_findings WHERE severity = 'warning' GROUP BY order_key
)
SELECT o.order_key, o.source, o.store, o.channel, o.channel_raw, o.source_order_id,
       o.order_number, o.order_status,
       o.created_at, o.created_at_offset_minutes, o.order_date, o.currency, o.subtotal,
       o.total_discounts, o.discount_codes, o.shipping, o.shipping_method, o.total_tax,
       o.taxes_included, o.total, fx.fx_rate,
       CAST(round(o.total * fx.fx_rate, 4) AS DECIMAL(18,4)) AS total_reporting,
       o.financial_status, o.fulfillment_status, o.cancelled_at, o.promised_delivery_date,
       o.customer_key, o.is_guest, c.email AS customer_email, c.phone AS customer_phone,
       c.name AS customer_name, ship.shipping_address, ship.shipping_country,
       bill.billing_country, o.client_ip, o.device_id, o.source_risk_level,
       pay.method AS payment_method, pay.card_brand, pay.card_last4,
       coalesce(pay.payments, 0) AS payments, pay.paid_amount, o.has_amounts,
       coalesce(lt.line_count, 0) AS line_count,
       coalesce(lt.units, 0) AS units,
       coalesce(w.quality_warnings, []::VARCHAR[]) AS quality_warnings,
       f.file_name, o._line AS line
FROM stg_orders o
JOIN _fx fx USING (order_key)
LEFT JOIN line_totals lt USING (order_key)
LEFT JOIN ship USING (order_key)
LEFT JOIN bill USING (order_key)
LEFT JOIN pay USING (order_key)
LEFT JOIN stg_customers c ON c.customer_key = o.customer_key
LEFT JOIN ingest_files f ON f.file_id = o.file_id
LEFT JOIN warned w USING (order_key)
WHERE o.order_key NOT IN (SELECT order_key FROM quality_quarantine)
ORDER BY o.order_key""")
        con.execute("""
CREATE OR REPLACE TABLE mart_fx_missing AS
SELECT currency, count(*) AS orders, min(order_date) AS first_date, max(order_date) AS last_date
FROM fct_orders WHERE fx_rate IS NULL GROUP BY currency ORDER BY currency""")
        con.execute("DROP TABLE IF EXISTS _fx")
    return _count(con, "fct_orders")


def build_fct_order_lines(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``fct_order_lines`` in one transaction."""
    with transaction(con):
        con.execute("""
CREATE OR REPLACE TABLE fct_order_lines AS
SELECT l.order_key, l.line_number, o.order_date, o.source, o.channel, o.currency, l.sku,
       l.product_name, l.product_category, l.line_kind, l.quantity, l.unit_price, l.line_discount,
       l.line_tax, l.line_amount, l.vendor, l.requires_shipping, l.fulfillment_location
FROM stg_order_lines l JOIN stg_orders o USING (order_key)
WHERE l.order_key NOT IN (SELECT order_key FROM quality_quarantine)
ORDER BY l.order_key, l.line_number""")
    return _count(con, "fct_order_lines")


def build_dim_customers(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``dim_customers`` in one transaction."""
    with transaction(con):
        con.execute("""
CREATE OR REPLACE TABLE dim_customers AS
SELECT c.customer_key, c.email, c.phone, c.name, c.account_created_at, c.first_order_at,
       c.last_order_at, c.orders, c.channels,
       CAST(sum(o.total_reporting) AS DECIMAL(18,4)) AS revenue_reporting
FROM stg_customers c LEFT JOIN fct_orders o USING (customer_key)
GROUP BY ALL ORDER BY c.customer_key""")
    return _count(con, "dim_customers")


def build_dim_products(con: duckdb.DuckDBPyConnection) -> int:
    """Rebuild ``dim_products`` in one transaction."""
    with transaction(con):
        con.execute("""
CREATE OR REPLACE TABLE dim_products AS
WITH sold AS (
    SELECT sku, arg_max(product_name, order_date) AS sold_name,
           arg_max(product_category, order_date) FILTER (WHERE product_category IS NOT NULL)
               AS sold_category,
           min(order_date) AS first_sold_date, max(order_date) AS last_sold_date,
           sum(quantity) AS units_sold
    FROM fct_order_lines WHERE sku IS NOT NULL AND line_kind = 'product' GROUP BY sku
), listed AS (
    -- Catalogues that arrive with the orders (Olist products, translated categories).
    SELECT trim(sku) AS sku, min(name) AS name, min(category) AS category,
           min(vendor) AS vendor
    FROM raw_products WHERE nullif(trim(sku), '') IS NOT NULL GROUP BY trim(sku)
), catalogue AS (
    SELECT coalesce(p.sku, l.sku) AS sku, coalesce(p.name, l.name) AS name,
           coalesce(p.category, l.category) AS category, p.pack_size, p.unit_cost
    FROM ref_products p FULL OUTER JOIN listed l ON l.sku = p.sku
)
SELECT coalesce(p.sku, s.sku) AS sku, coalesce(p.name, s.sold_name) AS name,
       coalesce(p.category, s.sold_category) AS category,
       p.pack_size, p.unit_cost, p.sku IS NOT NULL AS in_catalogue, s.first_sold_date,
       s.last_sold_date, coalesce(s.units_sold, 0) AS units_sold
FROM catalogue p FULL OUTER JOIN sold s ON s.sku = p.sku
ORDER BY 1""")
    return _count(con, "dim_products")


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return int(scalar(con, f"SELECT count(*) FROM {table}"))
