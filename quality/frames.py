"""Check frames: the staged orders and lines with everything the rules read, one row each.

Grain:
- ``_qc_orders``: one row per staged order: its amounts, contacts, both addresses (with ISO
  country codes and the library verdicts), what its lines add up to, captured payments,
  lifecycle times from its status events, and the cross-order facts (duplicate of an
  earlier order, e-mail differing from the customer's usual one).
- ``_qc_lines``: one row per staged order line, with its SKU's catalogue membership and
  price history (median unit price per SKU and currency) and its currency's minor unit.

Library checks run once per distinct value (:mod:`quality.lookups`) into small ``_lk_*``
tables joined here, so the rules themselves are plain SQL predicates.

Amount conventions differ by source and are applied, never guessed per order:
- generic format and the other sources: ``subtotal`` = sum of line amounts (quantity x unit
  price - line discount), before order discounts; ``total`` = subtotal - discounts +
  shipping + taxes;
- Shopify (admin CSV export, REST JSON): ``subtotal`` = sum of quantity x price - the
  order's discounts; ``total`` = subtotal + shipping + taxes.
Taxes are left out of the total when the order says prices include tax, or when its store
is tax-inclusive: most of its taxed orders add up without their taxes and fewer with them
(Shopify's export does not carry ``taxes_included``).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from orderlens.warehouse import table_from_frame
from quality import lookups

SHOPIFY_FORMATS: tuple[str, ...] = ("shopify_csv", "shopify_json")

_CAPTURED = (
    "coalesce(kind, 'sale') NOT IN ('refund', 'void', 'authorization') "
    "AND coalesce(status, 'success') NOT IN ('failure', 'error', 'pending')"
)
"""Payment rows that are money received (as ``fct_orders.paid_amount`` counts them)."""

_TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("note", "o.note"),
    ("customer name", "concat_ws(' ', c.first_name, c.last_name)"),
    ("e-mail", "c.email"),
    (
        "billing address",
        "concat_ws(' ', b.name, b.address1, b.address2, b.city, b.province, b.zip)",
    ),
    (
        "shipping address",
        "concat_ws(' ', s.name, s.address1, s.address2, s.city, s.province, s.zip)",
    ),
    ("discount codes", "array_to_string(o.discount_codes, ' ')"),
    ("marketing source", "o.marketing_source"),
    ("product name", "l.carded_product_names"),
)
"""Text people type, where an ingest redaction marker (``[card ••••1234]``) can sit: every
generic field ingest scans for card numbers (``orderlens.contracts.CARD_SCANNED_FIELDS``);
status event details and refund reasons are checked beside them."""

_MARKER = "[card ••••"


def _distinct(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return con.sql(sql).pl()


def build_lookups(con: duckdb.DuckDBPyConnection) -> None:
    """The library verdicts of every distinct value the rules need (``_lk_*`` tables)."""
    emails = _distinct(con, "SELECT DISTINCT email FROM stg_order_contacts WHERE email IS NOT NULL")
    table_from_frame(con, "_lk_email", lookups.email_checks(emails["email"].to_list()))
    countries = _distinct(
        con, "SELECT DISTINCT country FROM stg_addresses WHERE country IS NOT NULL"
    )
    table_from_frame(con, "_lk_country", lookups.country_checks(countries["country"].to_list()))
    currencies = _distinct(
        con, "SELECT DISTINCT currency FROM stg_orders WHERE currency IS NOT NULL"
    )
    table_from_frame(con, "_lk_currency", lookups.currency_checks(currencies["currency"].to_list()))
    con.execute("""
CREATE OR REPLACE TEMP TABLE _qc_addr AS
SELECT a.*, k.country_code AS cc FROM stg_addresses a
LEFT JOIN _lk_country k ON k.country = a.country AND k.country_valid""")
    provinces = _distinct(
        con,
        "SELECT DISTINCT cc AS country, province FROM _qc_addr "
        "WHERE cc IS NOT NULL AND province IS NOT NULL",
    )
    table_from_frame(con, "_lk_subdivision", lookups.subdivision_checks(provinces))
    zips = _distinct(
        con,
        "SELECT DISTINCT cc AS country, zip FROM _qc_addr WHERE cc IS NOT NULL AND zip IS NOT NULL",
    )
    table_from_frame(con, "_lk_postal", lookups.postal_checks(zips))
    table_from_frame(
        con,
        "_lk_postcode_countries",
        pl.DataFrame({"cc": sorted(lookups.POSTAL_PATTERNS)}, schema={"cc": pl.String}),
    )
    phones = _distinct(
        con,
        """
SELECT DISTINCT c.phone, b.cc AS billing_country, s.cc AS shipping_country
FROM stg_order_contacts c
LEFT JOIN _qc_addr b ON b.order_key = c.order_key AND b.address_type = 'billing'
LEFT JOIN _qc_addr s ON s.order_key = c.order_key AND s.address_type = 'shipping'
WHERE c.phone IS NOT NULL""",
    )
    table_from_frame(con, "_lk_phone", lookups.phone_checks(phones))


def build_frames(con: duckdb.DuckDBPyConnection, checked_at: datetime) -> None:
    """Create ``_qc_orders`` and ``_qc_lines`` from staging (lookups must exist)."""
    shopify = ", ".join(f"'{f}'" for f in SHOPIFY_FORMATS)
    marker_checks = [
        f"CASE WHEN contains({expr}, '{_MARKER}') THEN '{label}' END"
        for label, expr in _TEXT_FIELDS
    ]
    con.execute(
        f"""
CREATE OR REPLACE TEMP TABLE _qc_base AS
WITH line_sums AS (
    SELECT order_key, count(*) AS n_lines,
           sum(quantity * unit_price) AS gross_sum,
           sum(quantity * unit_price - line_discount) AS line_sum,
           -- Without a stated subtotal, shipping charged as a line (legacy POST/DOT codes)
           -- is the order's shipping, not merchandise.
           sum(quantity * unit_price) FILTER (WHERE line_kind <> 'shipping') AS goods_gross,
           sum(quantity * unit_price - line_discount) FILTER (WHERE line_kind <> 'shipping')
               AS goods_sum,
           bool_or(requires_shipping AND line_kind = 'product') AS any_ships,
           string_agg(product_name, ' ' ORDER BY line_number)
               FILTER (WHERE contains(product_name, '{_MARKER}'))
               AS carded_product_names
    FROM stg_order_lines GROUP BY order_key
), pay AS (
    SELECT order_key, sum(amount) FILTER (WHERE {_CAPTURED}) AS captured,
           count(*) FILTER (WHERE {_CAPTURED} AND amount IS NOT NULL) AS n_captured
    FROM stg_payments GROUP BY order_key
), ev AS (
    SELECT order_key,
           min(occurred_at) FILTER (WHERE event = 'paid') AS paid_event,
           min(occurred_at) FILTER (WHERE event = 'shipped') AS shipped_at,
           max(occurred_at) FILTER (WHERE event = 'delivered') AS delivered_at,
           min(occurred_at) FILTER (WHERE event = 'refunded') AS refunded_event,
           min(occurred_at) FILTER (WHERE event = 'cancelled') AS cancelled_event,
           max(occurred_at) AS latest_event,
           count(*) FILTER (WHERE out_of_order) AS events_out_of_order,
           string_agg(event || ' at ' || strftime(occurred_at, '%Y-%m-%d %H:%M'), ', '
                      ORDER BY occurred_at, event) FILTER (WHERE out_of_order) AS late_events,
           bool_or(contains(detail, '{_MARKER}')) AS carded_event
    FROM stg_status_events GROUP BY order_key
), ref AS (
    SELECT order_key, min(refunded_at) AS refunded_at,
           bool_or(contains(reason, '{_MARKER}')) AS carded_refund
    FROM stg_refunds WHERE order_key IS NOT NULL GROUP BY order_key
)
SELECT o.order_key, o.source, o.channel, o.source_order_id, o.order_date, o.currency,
       o.subtotal, o.total_discounts, o.shipping, o.total_tax, o.taxes_included, o.total,
       o.has_amounts, o.created_at, o.file_id, o._line,
       coalesce(o.paid_at, ev.paid_event) AS paid_at,
       coalesce(o.cancelled_at, ev.cancelled_event) AS cancelled_at,
       ev.shipped_at, ev.delivered_at,
       coalesce(ref.refunded_at, ev.refunded_event) AS refunded_at,
       greatest(o.created_at, o.paid_at, o.cancelled_at, ev.latest_event) AS latest_time,
       coalesce(ev.events_out_of_order, 0) AS events_out_of_order,
       'dated before an earlier step: ' || ev.late_events AS out_of_order_detail,
       (coalesce(o.paid_at, ev.paid_event) IS NOT NULL
        OR o.financial_status IN ('paid', 'partially_refunded', 'refunded')) AS is_paid,
       coalesce(l.n_lines, 0) AS n_lines, l.gross_sum, l.line_sum, l.goods_gross, l.goods_sum,
       coalesce(l.any_ships, false) AND o.channel <> 'pos' AS ships,
       CASE WHEN p.n_captured > 0 THEN p.captured END AS captured,
       c.email, c.phone, c.customer_id,
       b.country AS billing_country, b.cc AS billing_cc, b.province AS billing_province,
       b.zip AS billing_zip,
       s.country AS shipping_country, s.cc AS shipping_cc, s.province AS shipping_province,
       s.zip AS shipping_zip, s.address1 AS shipping_address1, s.city AS shipping_city,
       f.file_name, f.file_format IN ({shopify}) AS shopify_amounts,
       concat_ws(', ', {", ".join(marker_checks)},
                 CASE WHEN ev.carded_event THEN 'status event' END,
                 CASE WHEN ref.carded_refund THEN 'refund reason' END) AS card_in_text_fields
FROM stg_orders o
LEFT JOIN line_sums l USING (order_key)
LEFT JOIN pay p USING (order_key)
LEFT JOIN ev USING (order_key)
LEFT JOIN ref USING (order_key)
LEFT JOIN stg_order_contacts c USING (order_key)
LEFT JOIN _qc_addr b ON b.order_key = o.order_key AND b.address_type = 'billing'
LEFT JOIN _qc_addr s ON s.order_key = o.order_key AND s.address_type = 'shipping'
LEFT JOIN ingest_files f ON f.file_id = o.file_id"""
    )
    # A store is tax-inclusive when most of its taxed orders add up without their taxes
    # and fewer add up with them.
    con.execute("""
CREATE OR REPLACE TEMP TABLE _qc_tax_mode AS
SELECT source,
       count(*) FILTER (WHERE abs(total - (subtotal + coalesce(shipping, 0))) <= 0.01)
           AS add_up_without_tax,
       count(*) FILTER (WHERE abs(total - (subtotal + coalesce(shipping, 0) + total_tax))
                        <= 0.01) AS add_up_with_tax,
       count(*) AS taxed_orders
FROM _qc_base
WHERE shopify_amounts AND has_amounts AND total_tax > 0 AND subtotal IS NOT NULL
GROUP BY source""")
    con.execute(
        """
CREATE OR REPLACE TEMP TABLE _qc_orders AS
WITH tax_mode AS (
    SELECT source, add_up_without_tax > add_up_with_tax
                   AND add_up_without_tax * 2 > taxed_orders AS store_tax_inclusive
    FROM _qc_tax_mode
), usual_email AS (
    -- A customer's usual e-mail: the most frequent, the earliest order's on ties.
    SELECT source, customer_id, arg_max(email, (n, -epoch(first_at), email)) AS usual,
           count(*) AS emails
    FROM (SELECT source, customer_id, email, count(*) AS n, min(created_at) AS first_at
          FROM _qc_base WHERE customer_id IS NOT NULL AND email IS NOT NULL
          GROUP BY ALL)
    GROUP BY source, customer_id
), items AS (
    SELECT order_key, string_agg(coalesce(sku, product_name) || ' x ' || quantity, '|'
                                 ORDER BY coalesce(sku, product_name), quantity) AS basket
    FROM stg_order_lines GROUP BY order_key
), keyed AS (
    SELECT b.order_key, b.created_at, b.total, o.customer_key, i.basket
    FROM _qc_base b JOIN stg_orders o USING (order_key) JOIN items i USING (order_key)
    WHERE o.customer_key IS NOT NULL
), dup AS (
    SELECT later.order_key,
           -- The nearest earlier order; the smallest key among equally near ones.
           arg_min(earlier.order_key, (later.created_at - earlier.created_at, earlier.order_key))
               AS duplicate_of,
           min(epoch(later.created_at) - epoch(earlier.created_at)) AS duplicate_seconds
    FROM keyed later JOIN keyed earlier
      ON earlier.customer_key = later.customer_key AND earlier.basket = later.basket
     AND earlier.total IS NOT DISTINCT FROM later.total
     AND earlier.order_key <> later.order_key
     AND later.created_at - earlier.created_at BETWEEN INTERVAL 0 SECOND AND INTERVAL 15 MINUTE
     -- Two copies at the very same second: the greater key is the copy.
     AND (later.created_at > earlier.created_at OR later.order_key > earlier.order_key)
    GROUP BY later.order_key
), streets AS (
    -- What a source records at all: a field it never carries is not checked for its
    -- absence (Olist publishes no streets, legacy logs no e-mails, CDNOW no times of day).
    SELECT source, bool_or(shipping_address1 IS NOT NULL) AS source_gives_streets,
           bool_or(email IS NOT NULL) AS source_gives_emails,
           bool_or(CAST(created_at AS TIMESTAMP)
                   <> date_trunc('day', CAST(created_at AS TIMESTAMP))) AS source_gives_times
    FROM _qc_base GROUP BY source
)
SELECT b.*,
       coalesce(b.taxes_included, false) OR coalesce(t.store_tax_inclusive, false)
           AS tax_inclusive,
       coalesce(t.store_tax_inclusive, false) AS store_tax_inclusive,
       CASE WHEN b.shopify_amounts THEN b.gross_sum - coalesce(b.total_discounts, 0)
            ELSE b.line_sum END AS expected_subtotal,
       CASE WHEN b.shopify_amounts THEN 'quantity x price less order discounts'
            ELSE 'line amounts after line discounts' END AS subtotal_rule,
       -- Without a stated subtotal, the total must add up from the lines.
       coalesce(b.subtotal, CASE WHEN b.n_lines > 0 THEN CASE WHEN b.shopify_amounts
                THEN coalesce(b.goods_gross, 0) - coalesce(b.total_discounts, 0)
                ELSE coalesce(b.goods_sum, 0) END END)
           - CASE WHEN b.shopify_amounts THEN 0 ELSE coalesce(b.total_discounts, 0) END
           + coalesce(b.shipping, 0)
           + CASE WHEN coalesce(b.taxes_included, false) OR coalesce(t.store_tax_inclusive, false)
                  THEN 0 ELSE coalesce(b.total_tax, 0) END AS expected_total,
       CASE WHEN b.shopify_amounts THEN 'subtotal + shipping' ELSE 'subtotal - discounts + shipping' END
           || CASE WHEN coalesce(b.taxes_included, false) OR coalesce(t.store_tax_inclusive, false)
                   THEN ', taxes included in prices' ELSE ' + taxes' END AS total_rule,
       coalesce(cur.currency_valid, false) AS currency_valid,
       coalesce(cur.minor_unit, 0.01) AS minor_unit,
       e.email_valid, ph.phone_valid,
       bs.subdivision_valid AS billing_subdivision_valid,
       ss.subdivision_valid AS shipping_subdivision_valid,
       bp.postal_valid AS billing_postal_valid, sp.postal_valid AS shipping_postal_valid,
       b.shipping_cc IN (SELECT cc FROM _lk_postcode_countries) AS shipping_has_postcodes,
       coalesce(u.emails > 0 AND b.email <> u.usual, false) AS email_differs_from_customer,
       d.duplicate_of, d.duplicate_seconds,
       coalesce(st.source_gives_streets, false) AS source_gives_streets,
       coalesce(st.source_gives_emails, false) AS source_gives_emails,
       coalesce(st.source_gives_times, false) AS source_gives_times,
       b.card_in_text_fields <> '' AS card_in_text,
       $checked_at::TIMESTAMPTZ AS checked_at
FROM _qc_base b
LEFT JOIN tax_mode t USING (source)
LEFT JOIN _lk_currency cur ON cur.currency = b.currency
LEFT JOIN _lk_email e ON e.email = b.email
LEFT JOIN _lk_phone ph ON ph.phone = b.phone
    AND ph.billing_country IS NOT DISTINCT FROM b.billing_cc
    AND ph.shipping_country IS NOT DISTINCT FROM b.shipping_cc
LEFT JOIN _lk_subdivision bs ON bs.country = b.billing_cc AND bs.province = b.billing_province
LEFT JOIN _lk_subdivision ss ON ss.country = b.shipping_cc AND ss.province = b.shipping_province
LEFT JOIN _lk_postal bp ON bp.country = b.billing_cc AND bp.zip = b.billing_zip
LEFT JOIN _lk_postal sp ON sp.country = b.shipping_cc AND sp.zip = b.shipping_zip
LEFT JOIN usual_email u USING (source, customer_id)
LEFT JOIN dup d USING (order_key)
LEFT JOIN streets st USING (source)""",
        {"checked_at": checked_at},
    )
    con.execute("""
CREATE OR REPLACE TEMP TABLE _qc_lines AS
WITH catalogue AS (
    SELECT DISTINCT sku FROM ref_products WHERE sku IS NOT NULL
    UNION SELECT DISTINCT sku FROM raw_products WHERE sku IS NOT NULL
), history AS (
    SELECT l.sku, o.currency, median(l.unit_price) AS sku_median, count(*) AS sku_lines
    FROM stg_order_lines l JOIN stg_orders o USING (order_key)
    WHERE l.line_kind = 'product' AND l.unit_price > 0 AND l.sku IS NOT NULL
    GROUP BY ALL
), lines AS (
    SELECT l.*, o.source, o.channel, o.currency, o.order_date,
           l.line_kind = 'product' AS is_product,
           l.sku IN (SELECT sku FROM catalogue) AS sku_known
    FROM stg_order_lines l JOIN stg_orders o USING (order_key)
), covered AS (
    -- A source is checked against the catalogue when the catalogue knows its SKUs at all.
    SELECT source, bool_or(sku_known) AS source_in_catalogue FROM lines GROUP BY source
)
SELECT x.*, h.sku_median, coalesce(h.sku_lines, 0) AS sku_lines, c.source_in_catalogue,
       coalesce(cur.minor_unit, 0.01) AS minor_unit, f.file_name
FROM lines x
LEFT JOIN _lk_currency cur ON cur.currency = x.currency
LEFT JOIN history h ON h.sku = x.sku AND h.currency = x.currency
LEFT JOIN covered c USING (source)
LEFT JOIN ingest_files f ON f.file_id = x.file_id""")
