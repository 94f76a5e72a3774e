"""What ``orderlens status`` reports: active alerts, stale data, the published data, the last
run, rejects."""

from __future__ import annotations

from datetime import datetime
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


def _timestamp(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def collect_status(settings: Settings) -> dict[str, Any]:
    """A plain dictionary (also the ``--json`` output) describing the installation.

    ``alerts`` lists the active alerts (failed steps and blocking checks not yet settled by a
    later successful run); ``stale`` is true when neither a successful run nor a publish
    happened within ``stale_after_hours``, and ``data_as_of`` is when the published data was
    published.
    """
    log = RunLog(settings.run_log)
    last = log.latest()
    success = log.last_success()
    freshness = log.freshness(settings.stale_after_hours)
    report: dict[str, Any] = {
        "warehouse": str(settings.warehouse),
        "snapshot": str(settings.snapshot),
        "landing": str(settings.landing),
        "published": settings.snapshot.exists(),
        "alerts": [
            {
                "run_id": alert.run_id,
                "kind": alert.kind,
                "step": alert.step,
                "asset": alert.asset,
                "error": alert.error_summary,
                "raised_at": alert.raised_at,
            }
            for alert in log.active_alerts()
        ],
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
        "data_as_of": None,
        "stale": freshness.stale,
        "stale_after_hours": settings.stale_after_hours,
    }
    if not report["published"]:
        return report
    reader = SnapshotReader(settings.snapshot)
    with reader.connection() as con:
        tables = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
        report["meta"] = dict(con.execute("SELECT key, value FROM _meta").fetchall())
        report["data_as_of"] = _timestamp(report["meta"].get("published_at"))
        report["stale"] = log.freshness(settings.stale_after_hours, report["data_as_of"]).stale
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


def _render_alert(alert: dict[str, Any]) -> str:
    what = "check failed" if alert["kind"] == "check_failed" else "run failed"
    where = alert["step"] or "before any step"
    if alert["asset"] and alert["asset"] != alert["step"]:
        where = f"{alert['asset']} (step {where})"
    return (
        f"ALERT       {what}: run {alert['run_id']} at {where}, raised {alert['raised_at']}\n"
        f"            {alert['error']}"
    )


def render_status(report: dict[str, Any]) -> str:
    """Human-readable form of :func:`collect_status`."""
    lines = [_render_alert(alert) for alert in report.get("alerts", [])]
    if report.get("stale") and report["published"]:
        last = report.get("last_success_at")
        lines.append(
            f"STALE       no successful run in the last {report['stale_after_hours']:g} hours "
            f"(last success {last or 'never'}); data as of "
            f"{report.get('data_as_of') or 'unknown'}"
        )
    lines += [f"warehouse   {report['warehouse']}", f"snapshot    {report['snapshot']}"]
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
        f"{report.get('latest_order_at')})" + ("  [STALE]" if report.get("stale") else "")
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
