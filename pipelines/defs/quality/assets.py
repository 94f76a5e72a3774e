"""Quality assets: the entry-accuracy rules over staging, before anything is promoted.

``quality_quarantine`` holds the orders with an ``error`` out of the marts (and so out of
fraud scoring and fulfilment); warnings stay on the orders. Each rule also reports as an asset
check of ``quality_findings`` named by its reason code (severity WARN, never blocking: an
error quarantines its orders, it does not stop the run), so the Dagster UI lists every rule
with its counts: orders checked, failing orders (and lines), quarantined and flagged orders.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import dagster as dg

from orderlens.reasons import REASONS
from pipelines.defs.ingest.assets import PROGRESS, run_started
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource
from pipelines.defs.staging.tables import STAGING_TABLES
from quality.rules import CHANNELS, RULES, Rule

if TYPE_CHECKING:
    import duckdb

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

RULE_CHECKS_ASSET = "quality_findings"
"""The asset each rule's check reports on: one check per rule, named by its reason code."""


def _severity_by_channel(rule: Rule) -> str:
    """The channels where the rule's severity differs from its default (codes only)."""
    return (
        ", ".join(
            f"{channel}: {severity.value if severity else 'not checked'}"
            for channel in CHANNELS
            if (severity := rule.severity_for(channel)) != rule.severity
        )
        or "none"
    )


@dataclass(frozen=True)
class RuleCounts:
    """What one rule found in a run: counts only (values stay in the warehouse)."""

    orders_checked: int = 0
    failing_orders: int = 0
    failing_lines: int = 0
    quarantined_orders: int = 0
    """Orders failing the rule where it is an error: held out of the marts."""
    warned_orders: int = 0
    """Orders failing the rule where it is a warning: flagged, let through."""


def rule_counts(con: "duckdb.DuckDBPyConnection") -> dict[str, RuleCounts]:
    """Reason code → what its rule found, from the quality tables of this run."""
    checked = {
        str(code): int(n or 0)
        for code, n in con.execute(
            "SELECT reason_code, sum(checked) FROM quality_daily GROUP BY 1"
        ).fetchall()
    }
    counts = {code: RuleCounts(orders_checked=n) for code, n in checked.items()}
    for code, orders, lines, quarantined, warned in con.execute(
        "SELECT reason_code, count(DISTINCT order_key), "
        "count(*) FILTER (WHERE line_number IS NOT NULL), "
        "count(DISTINCT order_key) FILTER (WHERE severity = 'error'), "
        "count(DISTINCT order_key) FILTER (WHERE severity = 'warning') "
        "FROM quality_findings GROUP BY 1"
    ).fetchall():
        counts[str(code)] = RuleCounts(
            checked.get(str(code), 0), int(orders), int(lines), int(quarantined), int(warned)
        )
    return counts


def rule_check_result(rule: Rule, counts: RuleCounts) -> dg.AssetCheckResult:
    """The check result of one rule: passed when no order fails it, else WARN (an error
    quarantines its orders; it does not stop the run)."""
    code = rule.code.value
    metadata: dict[str, str | int] = {
        "orders_checked": counts.orders_checked,
        "failing_orders": counts.failing_orders,
        **({"failing_lines": counts.failing_lines} if rule.grain == "line" else {}),
        "quarantined_orders": counts.quarantined_orders,
        "warned_orders": counts.warned_orders,
        "severity": rule.severity.value,
        "severity_by_channel": _severity_by_channel(rule),
        "grain": rule.grain,
        "family": REASONS[rule.code].family,
        "column": rule.column,
    }
    failing = counts.failing_orders
    return dg.AssetCheckResult(
        asset_key=RULE_CHECKS_ASSET,
        check_name=code,
        passed=failing == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=None
        if failing == 0
        else f"{failing:,} orders fail {code}: {counts.quarantined_orders:,} quarantined, "
        f"{counts.warned_orders:,} flagged",
    )


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
    check_specs=[
        dg.AssetCheckSpec(
            rule.code.value,
            asset=RULE_CHECKS_ASSET,
            description=f"{REASONS[rule.code].description} ({rule.grain} rule, "
            f"{rule.severity.value} by default)",
        )
        for rule in RULES
    ],
)
def quality(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Run every entry-accuracy rule over the staged orders; one check result per rule."""
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
        counts = rule_counts(con)
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
    for rule in RULES:
        yield rule_check_result(rule, counts.get(rule.code.value, RuleCounts()))


@dg.asset_check(asset="quality_quarantine", pool=WRITER_POOL, retry_policy=WRITE_RETRY)
def batch_not_quarantined(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Some order of the files that arrived in this run reached the marts.

    Warns (never blocks: quarantine is how bad orders are handled, and a paid one still
    reaches the books flagged) when every order of this run's new files is held, by an
    error rule (``quality_quarantine``) or by a line rejected at ingest (``stg_rejects``):
    a batch that is all quarantined usually means a systematic problem with the export (a
    new column layout, a wrong currency, totals in another convention) rather than bad
    orders, and nothing of it shows in the dashboards' order history. A run without new
    order files passes.
    """
    started = run_started(context)
    with warehouse.writer() as con:
        new_orders, held = con.execute(
            """
WITH new_orders AS (
    SELECT DISTINCT source || ':' || source_order_id AS order_key
    FROM raw_order_lines
    WHERE source_order_id IS NOT NULL AND file_id IN (
        SELECT file_id FROM ingest_files
        WHERE source <> '_reference' AND ingested_at >= to_timestamp(?))
)
SELECT count(*),
       count(*) FILTER (WHERE order_key IN (SELECT order_key FROM quality_quarantine)
                           OR order_key IN (SELECT order_key FROM stg_rejects))
FROM new_orders""",
            [started],
        ).fetchall()[0]
    metadata = {"new_orders": int(new_orders), "new_orders_held": int(held)}
    if not new_orders or held < new_orders:
        return dg.AssetCheckResult(passed=True, metadata=metadata)
    return dg.AssetCheckResult(
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata=metadata,
        description=f"all {int(new_orders):,} orders of this run's new files are held "
        "(quarantine or rejected lines): see the quarantine for their reasons",
    )
