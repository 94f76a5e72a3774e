"""What ``orderlens status`` reports: the published data, the last run, rejects, freshness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orderlens.runlog import RunLog
from orderlens.settings import Settings
from orderlens.warehouse import SnapshotReader, scalar

_COUNTED = (
    "fct_orders",
    "fct_order_lines",
    "dim_customers",
    "dim_products",
    "raw_order_lines",
    "stg_rejects",
    "ingest_rejects",
)


def collect_status(settings: Settings) -> dict[str, Any]:
    """A plain dictionary (also the ``--json`` output) describing the installation."""
    log = RunLog(settings.run_log)
    last = log.latest()
    success = log.last_success()
    report: dict[str, Any] = {
        "warehouse": str(settings.warehouse),
        "snapshot": str(settings.snapshot),
        "landing": str(settings.landing),
        "published": settings.snapshot.exists(),
        "last_run": None
        if last is None
        else {
            "run_id": last.run_id,
            "status": last.status,
            "started_at": last.started_at,
            "finished_at": last.finished_at,
            "failed_step": last.failed_step,
            "error": last.error_summary,
        },
        "last_success_at": success.finished_at if success else None,
    }
    stale_before = datetime.now(UTC) - timedelta(hours=settings.stale_after_hours)
    report["stale"] = success is None or (success.finished_at or success.started_at) < stale_before
    if not report["published"]:
        return report
    reader = SnapshotReader(settings.snapshot)
    with reader.connection() as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        report["meta"] = dict(con.execute("SELECT key, value FROM _meta").fetchall())
        report["rows"] = {
            t: int(scalar(con, f"SELECT count(*) FROM {t}")) for t in _COUNTED if t in tables
        }
        if "ingest_files" in tables:
            files, records, loaded, rejected = con.execute(
                "SELECT count(*), coalesce(sum(records), 0), coalesce(sum(loaded), 0), "
                "coalesce(sum(rejected), 0) FROM ingest_files"
            ).fetchall()[0]
            report["ingest"] = {
                "files": files,
                "records": records,
                "loaded": loaded,
                "rejected": rejected,
            }
        if "stg_rejects" in tables:
            report["orders_held"] = int(
                scalar(
                    con,
                    "SELECT count(DISTINCT coalesce(order_key, file_id || ':' || line)) "
                    "FROM stg_rejects",
                )
            )
        if "fct_orders" in tables:
            report["latest_order_at"] = scalar(con, "SELECT max(created_at) FROM fct_orders")
    return report


def render_status(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`collect_status`."""
    lines = [f"warehouse   {report['warehouse']}", f"snapshot    {report['snapshot']}"]
    last = report.get("last_run")
    if last:
        line = f"last run    {last['run_id']} {last['status']} (started {last['started_at']})"
        if last["status"] == "failure":
            line += f"\n            failed at {last['failed_step']}: {last['error']}"
        lines.append(line)
    else:
        lines.append("last run    none yet")
    if not report["published"]:
        lines.append("published   nothing yet: run `orderlens run --landing DIR`")
        return "\n".join(lines)
    meta = report.get("meta", {})
    lines.append(
        f"data as of  {meta.get('published_at', '?')} (latest order "
        f"{report.get('latest_order_at')})"
        + ("  [STALE: no successful run recently]" if report.get("stale") else "")
    )
    lines.append(
        f"schema      version {meta.get('schema_version')}, time zone "
        f"{meta.get('timezone')}, reporting currency {meta.get('reporting_currency')}"
    )
    ingest = report.get("ingest")
    if ingest:
        lines.append(
            f"ingested    {ingest['files']} files, {ingest['records']:,} records: "
            f"{ingest['loaded']:,} loaded, {ingest['rejected']:,} rejected"
        )
    if "orders_held" in report:
        lines.append(f"held        {report['orders_held']:,} orders held out of staging")
    for table, count in report.get("rows", {}).items():
        lines.append(f"  {table:<18}{count:>12,}")
    return "\n".join(lines)
