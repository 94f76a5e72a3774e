"""Raw → staging: the canonical order model, typed, one version per order.

Grain of each table:
- ``stg_orders``: one row per order (``order_key`` = source ':' source_order_id).
- ``stg_order_lines``: one row per order line.
- ``stg_customers``: one row per customer key (keyed HMAC of e-mail, else phone).
- ``stg_order_contacts``: one row per order: the contact data it was entered with (e-mail,
  phone, the source's customer id and name), personal data the entry-accuracy rules check.
- ``stg_addresses``: one row per order and address type (billing, shipping).
- ``stg_payments``: one row per payment of an order (token, brand, last 4, BIN only): the
  source's payment stream when it has one (Olist split payments, Shopify transactions), else
  the order's own payment fields.
- ``stg_refunds``: one row per refund (or refunded item); ``order_key`` is NULL when the
  source does not link it to a sale (UCI Online Retail cancellations).
- ``stg_fulfilments``: one row per order handed to a carrier.
- ``stg_status_events``: one row per order, lifecycle event and time, accumulated over every
  version of the order and the source's event stream; ``out_of_order`` flags an event dated
  before an earlier lifecycle step (shipped before paid, delivered before shipped): such
  contradictions are kept as received, never reordered.
- ``stg_rejects``: one row per raw line of an order held out of staging, with the reason.
- ``stg_corrections``: one row per correction of ``ref_corrections`` and what became of it
  (applied, or why not).

Version rule: the same order (``source`` + ``source_order_id``) may arrive in several files
(overlapping exports, a re-export after it shipped). The version with the most advanced
status wins: cancelled/refunded (5) > delivered/completed (4) > shipped/fulfilled (3) >
paid/processing (2) > created (1), read from the order's timestamps and from its status
fields; then the latest event timestamp; then the greater file content hash. The other
versions are superseded (their status events still count).
Order-level fields are taken from the first line of the order that has them. An order is
held (in ``stg_rejects``, never dropped) when a required field is unusable or when one of
its lines was rejected at ingest: staging only what parsed would misstate its totals. A
file whose layout has no amounts (Shopify's 34-column export) stages its orders without
them. Timestamps without a UTC offset are read in the merchant's time zone.
"""

from __future__ import annotations

import duckdb
import polars as pl

from orderlens.contracts import (
    GENERIC_FIELDS,
    GENERIC_LINE_FIELDS,
    GENERIC_ORDER_FIELDS,
    channel_sql,
)
from orderlens.security import customer_key_sql, normalise_email_sql, normalise_phone
from orderlens.warehouse import scalar, table_from_frame, transaction
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
    table_from_frame(con, "_phones", frame)


_STATUS_RANK = """CASE
    WHEN cancelled_at IS NOT NULL OR refunded_at IS NOT NULL
         OR lower(trim(order_status)) IN ('cancelled', 'canceled', 'refunded', 'voided', 'failed')
         OR lower(trim(financial_status)) IN ('refunded', 'voided', 'partially_refunded') THEN 5
    WHEN delivered_at IS NOT NULL
         OR lower(trim(order_status)) IN ('delivered', 'completed')
         OR lower(trim(fulfillment_status)) = 'delivered' THEN 4
    WHEN shipped_at IS NOT NULL
         OR lower(trim(order_status)) IN ('shipped', 'fulfilled')
         OR lower(trim(fulfillment_status)) IN ('fulfilled', 'shipped', 'partial') THEN 3
    WHEN paid_at IS NOT NULL
         OR lower(trim(order_status)) IN ('paid', 'processing', 'approved', 'invoiced')
         OR lower(trim(financial_status)) IN ('paid', 'authorized', 'partially_paid') THEN 2
    ELSE 1 END"""
"""How far an order version has gone; the version rule keeps the most advanced one."""

_LIFECYCLE = (
    ("created", "created_at"),
    ("paid", "paid_at"),
    ("shipped", "shipped_at"),
    ("delivered", "delivered_at"),
    ("refunded", "refunded_at"),
    ("cancelled", "cancelled_at"),
)
_ORDERED_EVENTS = ("created", "paid", "shipped", "delivered")
"""Events with a natural order: one dated before an earlier step is a contradiction."""

_HAS_LINE = (
    "coalesce("
    + ", ".join(f'CAST("{f.name}" AS VARCHAR)' for f in GENERIC_LINE_FIELDS)
    + ") IS NOT NULL"
)
"""A raw row with every line field blank carries an order without lines."""


def apply_corrections(con: duckdb.DuckDBPyConnection) -> None:
    """Apply ``ref_corrections`` to the chosen version of each order (``_chosen_lines``) and
    record what became of each correction in ``stg_corrections``.

    An order field is set on every line of the order (the first non-blank value wins, so it
    must not lose to an uncorrected line); a line field on the line whose number (given, or
    its position in the order) matches. A correction is ``applied``, or says why not: an
    unknown field, a value that is not of the field's type, no such order or line.
    """
    types = {f.name: f.type for f in GENERIC_FIELDS}
    order_fields = {f.name for f in GENERIC_ORDER_FIELDS}
    fields_sql = ", ".join(f"('{name}', '{kind}')" for name, kind in types.items())
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _corrections AS
WITH known(field, field_type) AS (VALUES {fields_sql})
SELECT c.source, c.source_order_id, c.line_number, lower(trim(c.field)) AS field, c.value,
       c.note, c.source || ':' || c.source_order_id AS order_key, k.field_type,
       EXISTS (SELECT 1 FROM _chosen_lines l
               WHERE l.order_key = c.source || ':' || c.source_order_id) AS order_found,
       EXISTS (SELECT 1 FROM _chosen_lines l
               WHERE l.order_key = c.source || ':' || c.source_order_id
                 AND coalesce(l.line_number, l._seq) = c.line_number) AS line_found
FROM ref_corrections c LEFT JOIN known k ON k.field = lower(trim(c.field))""")
    rows = con.execute(
        "SELECT order_key, line_number, field, value, field_type FROM _corrections "
        "WHERE field_type IS NOT NULL AND order_found ORDER BY order_key, line_number, field"
    ).fetchall()
    failed: dict[tuple[str, object, str], str] = {}
    for order_key, line_number, field, value, field_type in rows:
        is_order_field = field in order_fields
        if not is_order_field and (line_number is None):
            failed[(order_key, line_number, field)] = "a line field needs a line_number"
            continue
        cast = f"TRY_CAST(nullif(trim(?), '') AS {field_type})"
        ok = scalar(
            con, f"SELECT ? IS NULL OR trim(?) = '' OR {cast} IS NOT NULL", [value, value, value]
        )
        if not ok:
            failed[(order_key, line_number, field)] = f"not a valid {field_type}"
            continue
        where = "order_key = ?"
        params: list[object] = [value, order_key]
        if not is_order_field:
            where += " AND coalesce(line_number, _seq) = ?"
            params.append(line_number)
        con.execute(f'UPDATE _chosen_lines SET "{field}" = {cast} WHERE {where}', params)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _correction_failures (order_key VARCHAR, "
        "line_number INTEGER, field VARCHAR, why VARCHAR)"
    )
    if failed:
        con.executemany(
            "INSERT INTO _correction_failures VALUES (?, ?, ?, ?)",
            [[k[0], k[1], k[2], why] for k, why in failed.items()],
        )


def build_staging(
    con: duckdb.DuckDBPyConnection, *, timezone: str, secret: bytes
) -> dict[str, int]:
    """Rebuild every staging table from raw in one transaction; return row counts."""
    from pipelines.sources.formats import FORMATS

    assembled = ", ".join(f"'{f.name}'" for f in FORMATS if f.assembled)
    con.execute(f"SET TimeZone = '{timezone}'")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _lines AS
SELECT r.source || ':' || r.source_order_id AS order_key, r.*, {_HAS_LINE} AS _has_line,
       coalesce(f.has_amounts, true) AS _has_amounts
FROM raw_order_lines r LEFT JOIN ingest_files f USING (file_id)
WHERE r.source_order_id IS NOT NULL""")
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _versions AS
SELECT order_key, file_id,
       max({_STATUS_RANK}) AS status_rank,
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
SELECT l.*, row_number() OVER (PARTITION BY l.order_key ORDER BY l._record_no, l._line)
           AS _seq
FROM _lines l JOIN _chosen c USING (order_key, file_id)""")
    apply_corrections(con)
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
       bool_and(_has_amounts) AS _has_amounts,
       {firsts}
FROM _chosen_lines GROUP BY order_key""")
    event_firsts = ", ".join(
        f'arg_min("{col}", _record_no) FILTER (WHERE "{col}" IS NOT NULL) AS "{col}"'
        for _, col in _LIFECYCLE
    )
    # Every version's own timestamps: status events accumulate across versions.
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _version_events AS
SELECT order_key, file_id, {event_firsts}
FROM _lines GROUP BY order_key, file_id""")

    def unusable(col: str, reason: str, amounts: str) -> str:
        if col == "created_at":
            return f"WHEN TRY_CAST(created_at AS TIMESTAMPTZ) IS NULL THEN '{reason}'"
        if col in ("total", "unit_price"):
            return f"WHEN {col} IS NULL AND {amounts} THEN '{reason}'"
        return f"WHEN {col} IS NULL THEN '{reason}'"

    line_checks = " ".join(
        unusable(col, reason, "_has_amounts") for col, reason in _REQUIRED_LINE.items()
    )
    order_checks = " ".join(
        unusable(col, reason, "_has_amounts") for col, reason in _REQUIRED_ORDER.items()
    )
    con.execute(f"""
CREATE OR REPLACE TEMP TABLE _line_problems AS
SELECT order_key, _line, CASE {line_checks} END AS reason
FROM _chosen_lines WHERE _has_line""")
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
    JOIN ingest_files f ON f.file_id = j.file_id
    JOIN _chosen c ON c.order_key = j.source || ':' || j.source_order_id
        -- A reject in another version's file does not hold this version, except where a
        -- format's orders are assembled from several files (Olist items, payments...).
        AND (c.file_id = j.file_id OR split_part(f.file_format, ':', 1) IN ({assembled}))
    WHERE j.source_order_id IS NOT NULL
) WHERE reason IS NOT NULL GROUP BY order_key""")
    key = customer_key_sql(
        normalise_email_sql("o.customer_email"),
        "p.e164",
        secret,
        "o.source || ':' || nullif(trim(o.customer_id), '')",
    )
    offset = _offset_minutes("o.created_at")
    with transaction(con):
        con.execute(f"""
CREATE OR REPLACE TABLE stg_orders AS
SELECT o.order_key, o.source, coalesce(o.store, o.source) AS store,
       CASE WHEN lower(trim(o.channel)) IN ('online_store','marketplace','mobile_app','pos','other')
            THEN lower(trim(o.channel))
            ELSE coalesce({channel_sql("coalesce(o.source_channel, o.channel)")}, 'other')
       END AS channel,
       coalesce(o.source_channel, o.channel) AS channel_raw, o.source_order_id, o.order_number,
       lower(trim(o.order_status)) AS order_status,
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
       lower(trim(o.source_risk_level)) AS source_risk_level, o._has_amounts AS has_amounts,
       o.file_id, o._line
FROM _order_fields o
LEFT JOIN _phones p ON p.phone = o.customer_phone
    AND p.region IS NOT DISTINCT FROM upper(coalesce(o.billing_country, o.shipping_country))
WHERE o.order_key NOT IN (SELECT order_key FROM _held)
ORDER BY o.order_key""")
        con.execute("""
CREATE OR REPLACE TABLE stg_order_lines AS
SELECT l.order_key,
       coalesce(l.line_number, l._seq) AS line_number,
       nullif(trim(l.sku), '') AS sku, l.product_name, l.quantity, l.unit_price,
       coalesce(l.line_discount, 0) AS line_discount, coalesce(l.line_tax, 0) AS line_tax,
       l.quantity * l.unit_price - coalesce(l.line_discount, 0) AS line_amount,
       l.line_total AS stated_line_amount,
       l.vendor, nullif(trim(l.product_category), '') AS product_category,
       coalesce(lower(trim(l.line_kind)), 'product') AS line_kind,
       coalesce(l.requires_shipping, true) AS requires_shipping,
       l.fulfillment_location, l.file_id, l._line
FROM _chosen_lines l
WHERE l._has_line AND l.order_key NOT IN (SELECT order_key FROM _held)
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
        con.execute(f"""
CREATE OR REPLACE TABLE stg_order_contacts AS
SELECT o.order_key, {normalise_email_sql("o.customer_email")} AS email,
       nullif(trim(o.customer_phone), '') AS phone, p.e164 AS phone_e164,
       nullif(trim(o.customer_id), '') AS customer_id,
       nullif(trim(o.customer_first_name), '') AS first_name,
       nullif(trim(o.customer_last_name), '') AS last_name
FROM _order_fields o
LEFT JOIN _phones p ON p.phone = o.customer_phone
    AND p.region IS NOT DISTINCT FROM upper(coalesce(o.billing_country, o.shipping_country))
WHERE o.order_key IN (SELECT order_key FROM stg_orders)
ORDER BY o.order_key""")
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
WITH received AS (
    SELECT source || ':' || source_order_id AS order_key, payment_sequence,
           lower(trim(payment_method)) AS method, payment_amount AS amount,
           upper(trim(currency)) AS currency, installments,
           lower(trim(payment_status)) AS status, lower(trim(payment_kind)) AS kind,
           nullif(trim(payment_token), '') AS processor_token,
           lower(trim(card_brand)) AS card_brand, card_last4, card_bin,
           {_ts("paid_at")} AS paid_at, file_id
    FROM raw_payments
    WHERE source || ':' || source_order_id IN (SELECT order_key FROM stg_orders)
), streamed AS (
    -- The same transaction may arrive in several files (inline in an order payload and in
    -- a transactions payload), numbered differently in each: one per token, kind, amount.
    SELECT * FROM (
        SELECT DISTINCT ON (order_key, processor_token, coalesce(kind, ''), amount)
               * EXCLUDE (file_id)
        FROM received WHERE processor_token IS NOT NULL
        ORDER BY order_key, processor_token, coalesce(kind, ''), amount, payment_sequence,
                 file_id)
    UNION ALL
    -- Payments without a token (Olist's split payments, a gateway an order names): one per
    -- position; a gateway named by an order stands for its payment only while no
    -- transaction of the order is known.
    SELECT * FROM (
        SELECT DISTINCT ON (order_key, payment_sequence, coalesce(method, ''), amount,
                            coalesce(kind, ''))
               * EXCLUDE (file_id)
        FROM received r WHERE processor_token IS NULL
          AND NOT EXISTS (SELECT 1 FROM received t
                          WHERE t.order_key = r.order_key AND t.processor_token IS NOT NULL)
        ORDER BY order_key, payment_sequence, coalesce(method, ''), amount,
                 coalesce(kind, ''), file_id)
), own AS (
    SELECT order_key, 1 AS payment_sequence, lower(trim(payment_method)) AS method,
           coalesce(paid_amount, total) AS amount, upper(trim(currency)) AS currency,
           NULL::INTEGER AS installments,
           NULL AS status, NULL AS kind, payment_token AS processor_token,
           lower(trim(card_brand)) AS card_brand, card_last4, card_bin,
           {_ts("paid_at")} AS paid_at
    FROM _order_fields
    WHERE order_key IN (SELECT order_key FROM stg_orders)
      AND order_key NOT IN (SELECT order_key FROM streamed)
      AND (coalesce(payment_method, payment_token, card_brand, card_last4) IS NOT NULL
           OR paid_amount IS NOT NULL)
)
SELECT order_key,
       -- Renumbered: payments of one order may come from several files, each numbering
       -- its own from 1.
       row_number() OVER (PARTITION BY order_key
                          ORDER BY payment_sequence NULLS LAST, paid_at NULLS LAST,
                                   processor_token NULLS LAST, amount NULLS LAST,
                                   kind NULLS LAST, method NULLS LAST, status NULLS LAST)
           AS payment_sequence,
       method, amount, currency, installments, status, kind, processor_token, card_brand,
       CASE WHEN regexp_full_match(trim(card_last4), '\\d{{4}}') THEN trim(card_last4) END
           AS card_last4,
       CASE WHEN regexp_full_match(trim(card_bin), '\\d{{6}}') THEN trim(card_bin) END AS card_bin,
       paid_at
FROM (SELECT * FROM streamed UNION ALL BY NAME SELECT * FROM own)
ORDER BY order_key, payment_sequence""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_refunds AS
WITH streamed AS (
    -- The same refund may arrive in several files (an order payload and a refund payload):
    -- kept once; a refund listing the same item twice keeps both (``occurrence``).
    SELECT DISTINCT ON (source, refund_id, coalesce(sku, ''), occurrence)
           source, refund_id,
           CASE WHEN source_order_id IS NOT NULL THEN source || ':' || source_order_id END
               AS order_key,
           amount, upper(trim(currency)) AS currency, {_ts("refunded_at")} AS refunded_at,
           nullif(trim(sku), '') AS sku, quantity, reason,
           CASE WHEN nullif(trim(customer_id), '') IS NOT NULL
                THEN source || ':' || trim(customer_id) END AS source_customer
    FROM (SELECT *, row_number() OVER (PARTITION BY file_id, source, refund_id, sku
                                       ORDER BY _line, amount, quantity) AS occurrence
          FROM raw_refunds)
    ORDER BY source, refund_id, coalesce(sku, ''), occurrence, file_id
), own AS (
    SELECT source, NULL AS refund_id, order_key, refunded_amount AS amount,
           upper(trim(currency)) AS currency, {_ts("refunded_at")} AS refunded_at,
           NULL AS sku, NULL::DECIMAL(18,4) AS quantity, NULL AS reason, NULL AS source_customer
    FROM _order_fields
    WHERE order_key IN (SELECT order_key FROM stg_orders) AND refunded_amount IS NOT NULL
      AND order_key NOT IN (SELECT order_key FROM streamed WHERE order_key IS NOT NULL)
)
SELECT source, refund_id, order_key, amount, currency, refunded_at, sku, quantity, reason,
       {customer_key_sql("NULL", "NULL", secret, "source_customer")} AS customer_key
FROM (SELECT * FROM streamed UNION ALL BY NAME SELECT * FROM own)
WHERE order_key IS NULL OR order_key IN (SELECT order_key FROM stg_orders)
ORDER BY source, refund_id, order_key, sku""")
        con.execute(f"""
CREATE OR REPLACE TABLE stg_fulfilments AS
SELECT order_key, carrier, tracking_number, {_ts("shipped_at")} AS shipped_at,
       {_ts("delivered_at")} AS delivered_at
FROM _order_fields
WHERE order_key IN (SELECT order_key FROM stg_orders)
  AND coalesce(carrier, tracking_number, shipped_at, delivered_at) IS NOT NULL
ORDER BY order_key""")
        own_events = " UNION ALL ".join(
            f"SELECT order_key, '{name}' AS event, {_ts(col)} AS occurred_at, NULL AS detail "
            f"FROM _version_events WHERE {col} IS NOT NULL"
            for name, col in _LIFECYCLE
        )
        step = " ".join(f"WHEN '{name}' THEN {rank}" for rank, name in enumerate(_ORDERED_EVENTS))
        seq = " ".join(f"WHEN '{name}' THEN {rank}" for rank, (name, _) in enumerate(_LIFECYCLE))
        con.execute(f"""
CREATE OR REPLACE TABLE stg_status_events AS
WITH events AS (
    SELECT DISTINCT order_key, event, occurred_at, detail FROM (
        {own_events}
        UNION ALL
        SELECT source || ':' || source_order_id, lower(trim(event)), {_ts("occurred_at")},
               detail
        FROM raw_events
    )
    WHERE order_key IN (SELECT order_key FROM stg_orders)
), stepped AS (
    SELECT *, CASE event {step} END AS step FROM events
)
SELECT e.order_key, e.event, e.occurred_at, e.detail,
       -- Dated before a step that must come earlier (handed to the carrier before payment
       -- approval, delivered before pickup): kept as received, flagged.
       coalesce(e.step IS NOT NULL AND EXISTS (
           SELECT 1 FROM stepped p
           WHERE p.order_key = e.order_key AND p.step < e.step AND p.occurred_at > e.occurred_at
       ), false) AS out_of_order
FROM stepped e
ORDER BY e.order_key, e.occurred_at NULLS LAST, coalesce(CASE e.event {seq} END, 99), e.event,
         e.detail""")
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
        con.execute("""
CREATE OR REPLACE TABLE stg_corrections AS
SELECT c.source, c.source_order_id, c.line_number, c.field, c.value, c.note,
       CASE WHEN c.field_type IS NULL THEN 'unknown field'
            WHEN NOT c.order_found THEN 'no such order'
            WHEN c.line_number IS NOT NULL AND NOT c.line_found THEN 'no such line'
            ELSE coalesce(f.why, 'applied') END AS status
FROM _corrections c
LEFT JOIN _correction_failures f ON f.order_key = c.order_key AND f.field = c.field
    AND f.line_number IS NOT DISTINCT FROM c.line_number
ORDER BY c.source, c.source_order_id, c.line_number NULLS FIRST, c.field""")
    for temp in (
        "_corrections",
        "_correction_failures",
        "_lines",
        "_versions",
        "_chosen",
        "_chosen_lines",
        "_phones",
        "_order_fields",
        "_version_events",
        "_line_problems",
        "_held",
    ):
        con.execute(f"DROP TABLE IF EXISTS {temp}")
    counts = {}
    for table in STAGING_TABLES:
        counts[table] = int(scalar(con, f"SELECT count(*) FROM {table}"))
    return counts
