"""Staging assets: the canonical order model, rebuilt from raw in one transaction."""

import dagster as dg

from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource
from pipelines.defs.staging.tables import STAGING_TABLES

_DESCRIPTIONS = {
    "stg_orders": "One row per order (one version per order key).",
    "stg_order_lines": "One row per order line.",
    "stg_customers": "One row per customer key (HMAC of e-mail, else phone).",
    "stg_order_contacts": "One row per order: e-mail, phone, source customer id and name "
    "as entered (personal data).",
    "stg_addresses": "One row per order and address type.",
    "stg_payments": "One row per payment of an order: token, brand, last 4, BIN at most.",
    "stg_refunds": "One row per refund or refunded item (order_key NULL when unlinked).",
    "stg_fulfilments": "One row per order handed to a carrier.",
    "stg_status_events": "One row per order lifecycle event, over every version; "
    "out_of_order flags contradictions.",
    "stg_rejects": "One row per raw line of an order held out of staging, with the reason.",
    "stg_corrections": "One row per correction of ref_corrections: applied, or why not.",
}


@dg.multi_asset(
    group_name="staging",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(
            table,
            deps=["raw_order_lines", "ref_corrections"],
            description=_DESCRIPTIONS[table],
            kinds={"duckdb"},
        )
        for table in STAGING_TABLES
    ],
)
def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Rebuild every staging table from raw in one transaction."""
    from pipelines.defs.staging.build import build_staging

    settings = warehouse.settings()
    with warehouse.writer() as con:
        counts = build_staging(
            con, timezone=settings.timezone, secret=settings.customer_key_secret()
        )
        contradicted = con.execute(
            "SELECT count(DISTINCT order_key), count(*) FROM stg_status_events WHERE out_of_order"
        ).fetchall()[0]
    PROGRESS.info("staging: %s", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if contradicted[1]:
        PROGRESS.info(
            "staging: %s events of %s orders are dated before an earlier lifecycle step "
            "(kept as received, flagged out_of_order)",
            f"{contradicted[1]:,}",
            f"{contradicted[0]:,}",
        )
    extra = {
        "stg_status_events": {
            "out_of_order_events": int(contradicted[1]),
            "orders_with_contradictions": int(contradicted[0]),
        }
    }
    for table in STAGING_TABLES:
        yield dg.MaterializeResult(
            asset_key=table, metadata={"rows": counts[table], **extra.get(table, {})}
        )
