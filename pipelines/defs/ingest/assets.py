"""Ingest assets: landing files → raw layer, reference files → reference tables."""

import logging

import dagster as dg

from orderlens.contracts import REFERENCE_INPUTS
from orderlens.warehouse import scalar
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource

PROGRESS = logging.getLogger("orderlens.progress")


@dg.asset(group_name="ingest", pool=WRITER_POOL, retry_policy=WRITE_RETRY, kinds={"duckdb"})
def raw_order_lines(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per order line of every order file in the landing folder, whatever its format
    (detected from the content: Shopify CSV or JSON, WooCommerce JSON, Olist, Online Retail,
    CDNOW, the generic CSV/Parquet/NDJSON), with the streams beside it (``raw_payments``,
    ``raw_events``, ``raw_refunds``, ``raw_products``).

    Files already ingested (same bytes, any name) are skipped; each new file is written in
    one transaction with its rejects and its ingestion-log row.
    """
    from pipelines.defs.ingest.landing import ingest_landing

    settings = warehouse.settings()

    def progress(message: str) -> None:
        context.log.info(message)
        PROGRESS.info(message)

    with warehouse.writer() as con:
        outcomes = ingest_landing(con, settings.landing, progress)
        totals = con.execute(
            "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(loaded), 0), "
            "coalesce(sum(rejected), 0) FROM ingest_files WHERE source <> '_reference'"
        ).fetchall()[0]
    new = [o for o in outcomes if not o.skipped]
    return dg.MaterializeResult(
        metadata={
            "landing": dg.MetadataValue.path(str(settings.landing)),
            "files_seen": len(outcomes),
            "files_new": len(new),
            "records_new": sum(o.records for o in new),
            "loaded_new": sum(o.loaded for o in new),
            "rejected_new": sum(o.rejected for o in new),
            "files_total": int(totals[0]),
            "records_total": int(totals[1]),
            "loaded_total": int(totals[2]),
            "rejected_total": int(totals[3]),
        }
    )


@dg.asset_check(asset=raw_order_lines, blocking=True)
def raw_records_reconcile(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Every file: records in = records loaded + records rejected, and its raw tables hold
    exactly the loaded records (counted by record number over its order lines and streams: a
    JSON order is one record however many line items it has; a refund payload lives only in
    the refunds stream)."""
    from pipelines.defs.ingest.tables import stored_records

    broken = []
    with warehouse.writer() as con:
        files = con.execute(
            "SELECT file_id, file_name, records, loaded, rejected FROM ingest_files "
            "WHERE source <> '_reference' ORDER BY file_id"
        ).fetchall()
        for file_id, file_name, records, loaded, rejected in files:
            if records != loaded + rejected or loaded != stored_records(con, file_id):
                broken.append(str(file_name))
    return dg.AssetCheckResult(
        passed=not broken,
        metadata={
            "files_checked": len(files),
            "unreconciled_files": ", ".join(broken) or "none",
        },
    )


def run_started(context: dg.AssetCheckExecutionContext) -> float:
    """When the run executing a check started (seconds since the epoch)."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record is not None else None
    if started is None:  # every launched run has started before its steps execute
        raise dg.Failure(
            description=f"run {context.run.run_id} has no start time", allow_retries=False
        )
    return started


@dg.asset_check(asset=raw_order_lines, blocking=True, pool=WRITER_POOL, retry_policy=WRITE_RETRY)
def batch_not_empty(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """The order files that arrived in this run hold records.

    Fails (ERROR, blocking) when new order files arrived but together hold no record at all
    (zero-byte or header-only exports: a failed export, most likely): nothing downstream is
    rebuilt and the published snapshot stays as it was, and the run's alert names the files.
    Warns when only some of them are empty. A run without new order files (a daily refresh,
    a landing with only reference data) passes: nothing arrived, nothing is missing. Files
    whose records were all rejected are not empty: their rejects say why.

    A file arrives when a name first appears in the landing with its content, so a copy of
    content ingested before counts too: a header-only export is byte-identical from one
    failed day to the next, and the ingestion log (one row per content) would not see the
    second.
    """
    started = run_started(context)
    with warehouse.writer() as con:
        files = con.execute(
            "SELECT a.file_name, f.records FROM ingest_arrivals a "
            "JOIN ingest_files f USING (file_id) "
            "WHERE a.first_seen_at >= to_timestamp(?) ORDER BY a.file_name",
            [started],
        ).fetchall()
    empty = [str(name) for name, records in files if not records]
    records = sum(int(n or 0) for _, n in files)
    metadata = {
        "new_files": len(files),
        "new_records": records,
        "empty_files": ", ".join(empty) or "none",
    }
    if not empty:
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    if records == 0:
        return dg.AssetCheckResult(
            passed=False,
            metadata=metadata,
            description=f"the {len(files)} order file(s) of this run hold no records "
            "(zero-byte or header-only exports); nothing was rebuilt or published",
        )
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=f"{len(empty)} of the {len(files)} order files of this run hold no records",
    )


@dg.multi_asset(
    group_name="ingest",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(ref.table, description=ref.description, kinds={"duckdb"})
        for ref in REFERENCE_INPUTS
    ],
    can_subset=True,
)
def reference_tables(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Reference inputs from ``<landing>/_reference/``, each replaced in one transaction."""
    from pipelines.defs.ingest.landing import discover_reference, load_reference

    settings = warehouse.settings()
    found = discover_reference(settings.landing)
    with warehouse.writer() as con:
        for key in context.selected_asset_keys:
            table = key.to_user_string()
            outcome = load_reference(con, table, found.get(table))
            rows = int(scalar(con, f"SELECT count(*) FROM {table}") or 0)
            message = (
                f"{table}: no file, left empty"
                if outcome is None
                else f"{table}: {outcome.loaded} rows, {outcome.rejected} rejected"
            )
            context.log.info(message)
            PROGRESS.info(message)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows": rows,
                    "file": outcome.file.relative if outcome else "missing",
                    "rejected": outcome.rejected if outcome else 0,
                },
            )
