"""The order frame the fraud features read, assembled from the warehouse.

Grain: one row per order of ``fct_orders``, in the columns of
:data:`models.fraud_features.ORDER_COLUMNS`, ordered by ``(created_at, order_key)``.

Orders quarantined by an entry-accuracy error are not in ``fct_orders`` and are not scored:
they are already held from fulfilment until fixed, and their fields (the e-mail, the country)
are the ones known to be wrong. The same SQL serves the ``fraud_features`` asset and
``orderlens fraud train|score``, which run a history file through the same ingest and
staging first, so a model is trained on exactly the values it later scores.
"""

from typing import TYPE_CHECKING

import polars as pl

from models.fraud_features import ORDER_COLUMNS, conform_orders

if TYPE_CHECKING:
    import duckdb

ORDER_FRAME_SQL = """
WITH token AS (
    -- The order's first tokenised payment: the card (or wallet) the velocity counts follow.
    SELECT order_key, arg_min(processor_token, payment_sequence) AS payment_token
    FROM stg_payments WHERE processor_token IS NOT NULL GROUP BY order_key
), mix AS (
    -- The SKU mix: how many units, the dearest item, and the share of the value in goods
    -- that ship nothing (gift cards and digital goods resell at once).
    SELECT order_key, CAST(sum(quantity) AS DOUBLE) AS units,
           CAST(max(unit_price) AS DOUBLE) AS max_unit_price,
           CAST(sum(line_amount) FILTER (WHERE NOT coalesce(requires_shipping, true))
                / nullif(sum(line_amount), 0) AS DOUBLE) AS digital_goods_share
    FROM stg_order_lines WHERE line_kind = 'product' GROUP BY order_key
)
SELECT o.order_key, o.created_at,
       CAST(coalesce(o.total_reporting, o.total) AS DOUBLE) AS total,
       o.customer_key, c.account_created_at, o.channel, o.billing_country,
       o.shipping_country, o.client_ip, o.device_id, s.user_agent, ct.email,
       o.shipping_method, t.payment_token, o.source_risk_level, s.marketing_source,
       m.units, coalesce(m.max_unit_price * CAST(o.fx_rate AS DOUBLE), m.max_unit_price)
           AS max_unit_price,
       coalesce(m.digital_goods_share, CASE WHEN m.units IS NOT NULL THEN 0 END)
           AS digital_goods_share
FROM fct_orders o
JOIN stg_orders s USING (order_key)
LEFT JOIN stg_customers c ON c.customer_key = o.customer_key
LEFT JOIN stg_order_contacts ct USING (order_key)
LEFT JOIN token t USING (order_key)
LEFT JOIN mix m USING (order_key)
ORDER BY o.created_at, o.order_key
"""
"""One row per scorable order, in the fraud features' input columns."""


def order_frame(con: "duckdb.DuckDBPyConnection") -> pl.DataFrame:
    """The scorable orders of the warehouse on ``con`` as the fraud features' input frame
    (conformed: contract column order and types)."""
    frame = con.sql(ORDER_FRAME_SQL).pl()
    missing = [c.name for c in ORDER_COLUMNS if c.name not in frame.columns]
    if missing:  # the SQL and the contract moved apart: a programming error, said plainly
        raise RuntimeError(f"order frame SQL lacks contract column(s): {', '.join(missing)}")
    return conform_orders(frame)
