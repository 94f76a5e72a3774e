"""Quality assets: the entry-accuracy rules over staging, before anything is promoted.

``quality_quarantine`` holds the orders with an ``error`` out of the marts (and so out of
fraud scoring and fulfilment); warnings stay on the orders.
"""

import dagster as dg

from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource
from pipelines.defs.staging.tables import STAGING_TABLES

_DESCRIPTIONS = {
    "quality_findings": "One row per failed rule on an order or order line: reason code, "
    "severity, column, message, file and line.",
    "quality_quarantine": "One row per order held out of the marts by an error (is_paid: "
    "money that still reaches the books).",
    "quality_daily": "One row per rule, channel and order day: orders checked and failed.",
    "quality_source_arithmetic": "One row per source: raw amounts that do not add up, the "
    "source's treatment (tax-inclusive or not) and what remains an error.",
}
QUALITY_ASSETS: tuple[str, ...] = tuple(_DESCRIPTIONS)


@dg.multi_asset(
    group_name="quality",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(
            name,
            deps=[*STAGING_TABLES, "ref_products"],
            description=_DESCRIPTIONS[name],
            kinds={"duckdb"},
        )
        for name in QUALITY_ASSETS
    ],
)
def quality(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Run every entry-accuracy rule over the staged orders."""
    import shutil
    import tempfile
    from datetime import UTC, datetime
    from pathlib import Path

    from quality.engine import validate

    settings = warehouse.settings()
    docs = settings.data_docs
    docs.parent.mkdir(parents=True, exist_ok=True)
    # Built beside the published copy, then swapped in: a reader never sees half a site.
    building = Path(tempfile.mkdtemp(prefix=".data_docs-", dir=docs.parent))
    with warehouse.writer() as con:
        summary = validate(
            con, checked_at=datetime.now(UTC), timezone=settings.timezone, docs=building
        )
        arithmetic = con.execute(
            "SELECT count(*), coalesce(sum(raw_total_mismatches), 0), "
            "coalesce(sum(total_mismatches), 0) FROM quality_source_arithmetic"
        ).fetchall()[0]
    old = docs.with_name(".data_docs-old")
    shutil.rmtree(old, ignore_errors=True)
    if docs.exists():
        docs.rename(old)
    building.rename(docs)
    shutil.rmtree(old, ignore_errors=True)
    PROGRESS.info(
        "quality: %s orders checked, %s findings (%s errors, %s warnings), %s orders "
        "quarantined (%s of them paid)",
        f"{summary.orders:,}",
        f"{summary.findings:,}",
        f"{summary.errors:,}",
        f"{summary.warnings:,}",
        f"{summary.quarantined:,}",
        f"{summary.quarantined_paid:,}",
    )
    findings = {
        "rows": summary.findings,
        "errors": summary.errors,
        "warnings": summary.warnings,
        "orders_checked": summary.orders,
        "lines_checked": summary.lines,
        # Counts only: messages and values stay in the warehouse (personal data).
        "findings_by_code": dg.MetadataValue.json(summary.by_code),
        "gx_failed_expectations": ", ".join(summary.gx_failed_expectations) or "none",
        "data_docs": dg.MetadataValue.path(str(docs / "index.html")),
    }
    yield dg.MaterializeResult(asset_key="quality_findings", metadata=findings)
    yield dg.MaterializeResult(
        asset_key="quality_quarantine",
        metadata={"rows": summary.quarantined, "paid": summary.quarantined_paid},
    )
    yield dg.MaterializeResult(asset_key="quality_daily", metadata={"rows": summary.daily_rows})
    yield dg.MaterializeResult(
        asset_key="quality_source_arithmetic",
        metadata={
            "rows": int(arithmetic[0]),
            "raw_total_mismatches": int(arithmetic[1]),
            "total_mismatches_after_treatment": int(arithmetic[2]),
        },
    )
