"""Raw → staging: the canonical order model, typed, one version per order.

Grain of each table:
- ``stg_orders``: one row per order (``order_key`` = source ':' source_order_id).
- ``stg_order_lines``: one row per order line.
- ``stg_customers``: one row per customer key (keyed HMAC of e-mail, else phone).
- ``stg_addresses``: one row per order and address type (billing, shipping).
- ``stg_payments``: one row per order with a payment (token, brand, last 4, BIN only).
- ``stg_refunds``: one row per order with a refund.
- ``stg_fulfilments``: one row per order handed to a carrier.
- ``stg_status_events``: one row per order and lifecycle event (created, paid, shipped...).
- ``stg_rejects``: one row per raw line of an order held out of staging, with the reason.

Version rule: when an order arrives in several files, the version with the most advanced
status wins (cancelled/refunded > delivered > shipped > paid > created), then the latest
event timestamp, then the greater file id; the others are superseded.
Order-level fields are taken from the first line of the order that has them. An order is
held (in ``stg_rejects``, never dropped) when a required field is unusable or when one of
its lines was rejected at ingest: staging only what parsed would misstate its totals.
Timestamps without a UTC offset are read in the merchant's time zone.
"""

from __future__ import annotations

import duckdb
import polars as pl

from orderlens.contracts import GENERIC_ORDER_FIELDS
from orderlens.security import customer_key_sql, normalise_email_sql, normalise_phone
from orderlens.warehouse import scalar, transaction
from pipelines.defs.staging.tables import STAGING_TABLES

_TIMESTAMP_FIELDS = (
    "created_at",
    "paid_at",
    "cancelled_at",
    "customer_created_at",
    "refunded_at",
    "shipped_at",
    "delivered_at",
)

# Order-level columns that must be usable for an order to enter staging.
_REQUIRED_ORDER = {
    "created_at": "created_at is missing or not an ISO 8601 timestamp",
    "currency": "currency is missing",
    "total": "total is missing",
    "channel": "channel is missing",
}
_REQUIRED_LINE = {
    "product_name": "product_name is missing",
    "quantity": "quantity is missing",
    "unit_price": "unit_price is missing",
}


def _ts(expr: str) -> str:
    return f"TRY_CAST({expr} AS TIMESTAMPTZ)"


def _offset_minutes(expr: str) -> str:
    """Minutes east of UTC written in an ISO 8601 text, NULL when it has no offset."""
    sign = f"regexp_extract({expr}, '([+-])(\\d{{2}}):?(\\d{{2}})$', 1)"
    hours = f"TRY_CAST(regexp_extract({expr}, '([+-])(\\d{{2}}):?(\\d{{2}})$', 2) AS INTEGER)"
    minutes = f"TRY_CAST(regexp_extract({expr}, '([+-])(\\d{{2}}):?(\\d{{2}})$', 3) AS INTEGER)"
    return (
        f"CASE WHEN {expr} IS NULL THEN NULL "
        f"WHEN upper(trim({expr})) LIKE '%Z' THEN 0 "
        f"WHEN {sign} = '' THEN NULL "
        f"ELSE (CASE WHEN {sign} = '-' THEN -1 ELSE 1 END) * ({hours} * 60 + {minutes}) END"
    )


def _phone_map(con: duckdb.DuckDBPyConnection) -> None:
    """E.164 form of every distinct (phone, country) pair, computed once per pair."""
    pairs = con.sql(
        "SELECT DISTINCT customer_phone AS phone, "
        "upper(coalesce(billing_country, shipping_country)) AS region "
        "FROM _chosen_lines WHERE customer_phone IS NOT NULL"
    ).pl()
    e164 = [normalise_phone(p, r) for p, r in zip(pairs["phone"], pairs["region"], strict=True)]
    frame = pairs.with_columns(pl.Series("e164", e164, dtype=pl.String))
    con.register("_phone_frame", frame)
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE _phones AS SELECT * FROM _phone_frame")
    finally:
        con.unregister("_phone_frame")


def build_staging(
    con: duckdb.DuckDBPyConnection, *, timezone: str, secret: bytes
) -> dict[str, int]:
    """Rebuild every staging table from raw in one transaction; return row counts."""
    con.execute(f"SET TimeZone = '{timezone}'")
    con.execute("""
CREATE OR REPLACE TEMP TABLE _lines AS
SELECT source || ':' || source_order_id AS order_key, *
FROM raw_order_lines
WHERE source_order_id IS NOT NULL""")
    con.execute("""
CREATE OR REPLACE TEMP TABLE _versions AS
SELECT order_key, file_id,
       max(CASE
           WHEN cancelled_at IS NOT NULL OR refunded_at IS NOT NULL THEN 5
           WHEN delivered_at IS NOT NULL THEN 4
           WHEN shipped_at IS NOT NULL THEN 3
           WHEN paid_at IS NOT NULL THEN 2
           ELSE 1 END) AS status_rank,
       max(greatest(TRY_CAST(created_at AS TIMESTAMPTZ), TRY_CAST(paid_at AS TIMESTAMPTZ),
                    TRY_CAST(shipped_at AS TIMESTAMPTZ), TRY_CAST(delivered_at AS TIMESTAMPTZ),
                    TRY_CAST(cancelled_at AS TIMESTAMPTZ), TRY_CAST(refunded_at AS TIMESTAMPTZ)))
           AS latest_event
FROM _lines GROUP BY order_key, file_id""")
    con.execute("""
CREATE OR REPLACE TEMP TABLE _chosen AS
SELECT order_key, arg_max(file_id, (status_rank, coalesce(latest_event, '-infinity'::TIMESTAMPTZ),
                                   file_id)) AS file_id
FROM _versions GROUP BY order_key""")
    con.execute("""
CREATE OR REPLACE TEMP TABLE _chosen_lines AS
SELECT l.* FROM _lines l JOIN _chosen c USING (order_key, file_id)""")
    _phone_map(con)
    firsts = ",\n       ".join(
        f'arg_min("{f.name}", _record_no) FILTER (WHERE "{f.name}" IS NOT NULL) AS "{f.name}"'
        for f in GENERIC_ORDER_FIELDS
        if f.name != "source_order_id"
    )
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _order_fields AS
SELECT order_key, any_value(source) AS source, any_value(file_id) AS file_id,
       any_value(source_order_id) AS source_order_id, min(_line) AS _line,
       {firsts}
FROM _chosen_lines GROUP BY order_key""")
    line_checks = " ".join(
        f"WHEN {col} IS NULL THEN '{reason}'" for col, reason in _REQUIRED_LINE.items()
    )
    order_checks = " ".join(
        f"WHEN {('TRY_CAST(created_at AS TIMESTAMPTZ)' if col == 'created_at' else col)} IS NULL "
        f"THEN '{reason}'"
        for col, reason in _REQUIRED_ORDER.items()
    )
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _line_problems AS
SELECT order_key, _line, CASE {line_checks} END AS reason
FROM _chosen_lines""")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _held AS
SELECT order_key, min(reason) AS reason FROM (
    SELECT order_key, CASE {order_checks} END AS reason FROM _order_fields
    UNION ALL
    SELECT order_key, reason FROM _line_problems
    UNION ALL
    -- An order with a line rejected at ingest is incomplete: hold it rather than stage
    -- the lines that happened to parse (its totals would not add up).
    SELECT c.order_key, 'a line of this order was rejected at ingest (' || j.file_name
           || ' line ' || j.line || ': ' || j.error_type || ')'
    FROM ingest_rejects j
    JOIN _chosen c ON c.file_id = j.file_id AND c.order_key = j.source || ':' || j.source_order_id
    WHERE j.source_order_id IS NOT NULL
) WHERE reason IS NOT NULL GROUP BY order_key""")
    key = customer_key_sql(normalise_email_sql("o.customer_email"), "p.e164", secret)
    offset = _offset_minutes("o.created_at")
    with transaction(con):
        con.execute(f"""
CREATE OR REPLACE TABLE stg_orders AS
SELECT o.order_key, o.source, coalesce(o.store, o.source) AS store,
       CASE WHEN lower(trim(o.channel)) IN ('online_store','marketplace','mobile_app','pos','other')
            THEN lower(trim(o.channel)) ELSE 'other' END AS channel,
       o.channel AS channel_raw, o.source_order_id, o.order_number,
       {_ts("o.created_at")} AS created_at, {offset} AS created_at_offset_minutes,
       CAST(timezone('{timezone}', {_ts("o.created_at")}) AS DATE) AS order_date,
       upper(trim(o.currency)) AS currency, o.subtotal, o.total_discounts,
       CASE WHEN o.discount_codes IS NULL THEN []::VARCHAR[]
            ELSE list_filter(list_transform(string_split(o.discount_codes, ';'), lambda x: trim(x)),
                             lambda x: x <> '') END AS discount_codes,
       o.shipping, o.shipping_method, o.total_tax, coalesce(o.taxes_included, false)
           AS taxes_included,
       o.total, lower(trim(o.financial_status)) AS financial_status,
       lower(trim(o.fulfillment_status)) AS fulfillment_status,
       {_ts("o.paid_at")} AS paid_at, {_ts("o.cancelled_at")} AS cancelled_at,
       o.promised_delivery_date, o.note,
       {key} AS customer_key,
       ({key}) IS NULL AS is_guest,
       o.client_ip, o.user_agent, o.device_id, o.marketing_source,
       o.file_id, o._line
FROM _order_fields o
LEFT JOIN _phones p ON p.phone = o.customer_phone
    AND p.region IS NOT DISTINCT FROM upper(coalesce(o.billing_country, o.shipping_country))
WHERE o.order_key NOT IN (SELECT order_key FROM _held)
ORDER BY o.order_key""")
        con.execute("""
CREATE OR REPLACE TABLE stg_order_lines AS
SELECT l.order_key,
       coalesce(l.line_number, row_number() OVER (PARTITION BY l.order_key ORDER BY l._record_no))
           AS line_number,
       nullif(trim(l.sku), '') AS sku, l.product_name, l.quantity, l.unit_price,
       coalesce(l.line_discount, 0) AS line_discount, coalesce(l.line_tax, 0) AS line_tax,
       l.quantity * l.unit_price - coalesce(l.line_discount, 0) AS line_amount,
       l.vendor, coalesce(l.requires_shipping, true) AS requires_shipping,
       l.fulfillment_location, l.file_id, l._line
FROM _chosen_lines l
WHERE l.order_key NOT IN (SELECT order_key FROM _held)
ORDER BY l.order_key, line_number""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_customers AS
SELECT s.customer_key,
       arg_max({normalise_email_sql("o.customer_email")}, s.created_at) AS email,
       arg_max(p.e164, s.created_at) FILTER (WHERE p.e164 IS NOT NULL) AS phone,
       arg_max(nullif(trim(concat_ws(' ', o.customer_first_name, o.customer_last_name)), ''),
               s.created_at) AS name,
       min({_ts("o.customer_created_at")}) AS account_created_at,
       min(s.created_at) AS first_order_at, max(s.created_at) AS last_order_at,
       count(*) AS orders, list(DISTINCT s.channel ORDER BY s.channel) AS channels
FROM stg_orders s
JOIN _order_fields o USING (order_key)
LEFT JOIN _phones p ON p.phone = o.customer_phone
    AND p.region IS NOT DISTINCT FROM upper(coalesce(o.billing_country, o.shipping_country))
WHERE s.customer_key IS NOT NULL
GROUP BY s.customer_key
ORDER BY s.customer_key""")
        address_parts = ("name", "address1", "address2", "city", "province", "zip", "country")
        union = " UNION ALL ".join(
            f"SELECT order_key, '{kind}' AS address_type, "
            + ", ".join(
                f"{kind}_{part} AS {part}"
                if part != "country"
                else f"upper(trim({kind}_{part})) AS country"
                for part in address_parts
            )
            + (", shipping_phone AS phone" if kind == "shipping" else ", NULL AS phone")
            + f" FROM _order_fields WHERE coalesce({', '.join(f'{kind}_{p}' for p in address_parts)})"
            " IS NOT NULL"
            for kind in ("billing", "shipping")
        )
        con.execute(f"""
CREATE OR REPLACE TABLE stg_addresses AS
SELECT * FROM ({union}) WHERE order_key IN (SELECT order_key FROM stg_orders)
ORDER BY order_key, address_type""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_payments AS
SELECT order_key, lower(trim(payment_method)) AS method, payment_token AS processor_token,
       lower(trim(card_brand)) AS card_brand,
       CASE WHEN regexp_full_match(trim(card_last4), '\\d{{4}}') THEN trim(card_last4) END
           AS card_last4,
       CASE WHEN regexp_full_match(trim(card_bin), '\\d{{6}}') THEN trim(card_bin) END AS card_bin,
       total AS amount, upper(trim(currency)) AS currency, {_ts("paid_at")} AS paid_at
FROM _order_fields
WHERE order_key IN (SELECT order_key FROM stg_orders)
  AND coalesce(payment_method, payment_token, card_brand, card_last4) IS NOT NULL
ORDER BY order_key""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_refunds AS
SELECT order_key, refunded_amount AS amount, upper(trim(currency)) AS currency,
       {_ts("refunded_at")} AS refunded_at
FROM _order_fields
WHERE order_key IN (SELECT order_key FROM stg_orders) AND refunded_amount IS NOT NULL
ORDER BY order_key""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_fulfilments AS
SELECT order_key, carrier, tracking_number, {_ts("shipped_at")} AS shipped_at,
       {_ts("delivered_at")} AS delivered_at
FROM _order_fields
WHERE order_key IN (SELECT order_key FROM stg_orders)
  AND coalesce(carrier, tracking_number, shipped_at, delivered_at) IS NOT NULL
ORDER BY order_key""")
        events = " UNION ALL ".join(
            f"SELECT order_key, '{name}' AS event, {_ts(col)} AS occurred_at, {rank} AS seq "
            f"FROM _order_fields WHERE {col} IS NOT NULL"
            for rank, (name, col) in enumerate(
                (
                    ("created", "created_at"),
                    ("paid", "paid_at"),
                    ("shipped", "shipped_at"),
                    ("delivered", "delivered_at"),
                    ("refunded", "refunded_at"),
                    ("cancelled", "cancelled_at"),
                ),
                start=1,
            )
        )
        con.execute(f"""
CREATE OR REPLACE TABLE stg_status_events AS
SELECT order_key, event, occurred_at FROM ({events})
WHERE order_key IN (SELECT order_key FROM stg_orders)
ORDER BY order_key, seq""")
        con.execute("""
CREATE OR REPLACE TABLE stg_rejects AS
SELECT l.file_id, l.source, f.file_name, l._line AS line, l.order_key,
       coalesce(p.reason, 'held with its order: ' || h.reason) AS reason
FROM _chosen_lines l
JOIN _held h USING (order_key)
LEFT JOIN _line_problems p ON p.order_key = l.order_key AND p._line = l._line
LEFT JOIN ingest_files f ON f.file_id = l.file_id
UNION ALL
SELECT r.file_id, r.source, f.file_name, r._line, NULL, 'source_order_id is missing'
FROM raw_order_lines r LEFT JOIN ingest_files f ON f.file_id = r.file_id
WHERE r.source_order_id IS NULL
ORDER BY 1, 4""")
    for temp in (
        "_lines",
        "_versions",
        "_chosen",
        "_chosen_lines",
        "_phones",
        "_order_fields",
        "_line_problems",
        "_held",
    ):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    counts = {}
    for table in STAGING_TABLES:
        counts[table] = int(scalar(con, f"SELECT count(*) FROM {table}"))
    return counts
