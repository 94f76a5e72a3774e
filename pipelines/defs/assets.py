"""Every asset and check of the code location, in layer order."""

from __future__ import annotations

from pipelines.defs.fraud.assets import (
    fraud_features,
    fraud_labels,
    fraud_model,
    fraud_scores,
    review_queue,
)
from pipelines.defs.ingest.assets import (
    batch_not_empty,
    raw_order_lines,
    raw_records_reconcile,
    reference_tables,
)
from pipelines.defs.marts.assets import (
    dim_customers,
    dim_products,
    fct_order_lines,
    fct_orders,
    fct_orders_have_fx_rates,
)
from pipelines.defs.publish.assets import published_snapshot
from pipelines.defs.quality.assets import batch_not_quarantined, quality
from pipelines.defs.staging.assets import staging, staging_contract

ASSETS = [
    raw_order_lines,
    reference_tables,
    staging,
    quality,
    fct_orders,
    fct_order_lines,
    dim_customers,
    dim_products,
    fraud_features,
    fraud_labels,
    fraud_model,
    fraud_scores,
    review_queue,
    published_snapshot,
]
ASSET_CHECKS = [
    raw_records_reconcile,
    batch_not_empty,
    batch_not_quarantined,
    staging_contract,
    fct_orders_have_fx_rates,
]
