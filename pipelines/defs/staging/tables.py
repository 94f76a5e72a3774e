"""Names of the staging tables (kept apart so the code location imports nothing heavy)."""

STAGING_TABLES: tuple[str, ...] = (
    "stg_orders",
    "stg_order_lines",
    "stg_customers",
    "stg_order_contacts",
    "stg_addresses",
    "stg_payments",
    "stg_refunds",
    "stg_fulfilments",
    "stg_status_events",
    "stg_rejects",
    "stg_corrections",
)
