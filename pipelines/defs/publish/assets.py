"""Publish: the read-only snapshot the dashboard and `orderlens query` read."""

import dagster as dg

from orderlens.warehouse import publish, set_meta, transaction
from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource


@dg.asset(
    group_name="publish",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=[
        "fct_orders",
        "fct_order_lines",
        "dim_customers",
        "dim_products",
        "stg_rejects",
        "ref_inventory",
        "ref_lead_times",
        # Fraud: what the review dashboard reads (scores carry no personal data).
        "fraud_labels",
        "fraud_scores",
        "fraud_model_evaluations",
        "fraud_model_what_if",
        "review_queue",
        "fraud_holds",
    ],
)
def published_snapshot(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Copy of the working warehouse, checkpointed and swapped in with an atomic rename."""
    settings = warehouse.settings()
    with warehouse.writer() as con, transaction(con):
        set_meta(con, "timezone", settings.timezone)
        set_meta(con, "reporting_currency", settings.reporting_currency)
    published_at = publish(settings.warehouse, settings.snapshot)
    PROGRESS.info("published %s at %s", settings.snapshot, published_at.isoformat())
    return dg.MaterializeResult(
        metadata={
            "snapshot": dg.MetadataValue.path(str(settings.snapshot)),
            "published_at": published_at.isoformat(),
            "size_bytes": settings.snapshot.stat().st_size,
        }
    )
