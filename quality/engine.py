"""Run the entry-accuracy rules over staging: findings, quarantine and the daily pass rates.

Tables written (one transaction):
- ``quality_findings``: one row per failed rule on an order (order rules) or an order line
  (line rules): reason code, severity for the order's channel, the column to fix, a
  plain-language message without personal data, the offending value (personal data: shown
  to allowed roles only), file and physical line.
- ``quality_quarantine``: one row per order with at least one ``error``: held out of the
  analytics marts, fraud scoring and fulfilment until fixed; ``is_paid`` marks the money
  that still reaches the books.
- ``quality_daily``: one row per rule, channel and order day: orders checked and failed
  (the pass rate over time).
- ``quality_source_arithmetic``: one row per source: how many orders' raw amounts do not
  add up (|total - (subtotal + shipping + taxes)| and |lines - discounts - subtotal| over
  0.01, in the source's own convention), how the source is treated (tax-inclusive or not)
  and what remains an error after that, in words.

Every rule runs over every staged order on every run, so fixing an order (a corrected file
or a correction) and re-running replays it through the same rules; nothing is remembered
from an earlier verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from orderlens.reasons import REASONS, Severity
from orderlens.warehouse import scalar, transaction
from quality.frames import build_frames, build_lookups
from quality.rules import RULES, Rule, severity_sql

QUALITY_TABLES: tuple[str, ...] = (
    "quality_findings",
    "quality_quarantine",
    "quality_daily",
    "quality_source_arithmetic",
)

_FRAMES = {"order": "_qc_orders", "line": "_qc_lines"}
_TEMP = (
    "_qc_addr",
    "_qc_base",
    "_qc_tax_mode",
    "_qc_orders",
    "_qc_lines",
    "_lk_email",
    "_lk_country",
    "_lk_currency",
    "_lk_subdivision",
    "_lk_postal",
    "_lk_postcode_countries",
    "_lk_phone",
)


@dataclass(frozen=True)
class ValidationSummary:
    """What one validation found."""

    orders: int
    lines: int
    findings: int
    errors: int
    warnings: int
    quarantined: int
    quarantined_paid: int
    daily_rows: int
    by_code: dict[str, int]
    gx_failed_expectations: list[str] = field(default_factory=list)
    """Reason codes whose GX expectation failed (rows broke the rule)."""


def findings_sql(rule: Rule) -> str:
    """SELECT of one rule's findings over its frame (the rule's one definition)."""
    line = "line_number" if rule.grain == "line" else "NULL::BIGINT"
    return f"""
SELECT order_key, source, channel, {line} AS line_number, '{rule.code.value}' AS reason_code,
       {severity_sql(rule)} AS severity,
       coalesce({rule.column_for_row or "NULL"}, '{rule.column}') AS column_name,
       CAST({rule.message} AS VARCHAR) AS message, CAST({rule.value} AS VARCHAR) AS value,
       file_id, file_name, _line AS line, order_date
FROM {_FRAMES[rule.grain]}
WHERE coalesce({rule.fails}, false) AND {severity_sql(rule)} IS NOT NULL"""


class ContractMismatch(RuntimeError):
    """GX's verdict on a rule differs from the findings the rule's SQL wrote."""


def validate(
    con: duckdb.DuckDBPyConnection,
    checked_at: datetime,
    *,
    timezone: str = "UTC",
    gx: bool = True,
    docs: Path | None = None,
) -> ValidationSummary:
    """Run every rule over the staging tables and rewrite the quality tables.

    ``gx``: also run the Great Expectations suites over the rules' row-level results and
    require GX's verdict to equal the findings (raises :class:`ContractMismatch`);
    ``docs``: build GX's Data Docs of this validation into that folder; ``timezone``: the
    merchant's, in which order days and times of day are read.
    """
    con.execute(f"SET TimeZone = '{timezone}'")
    build_lookups(con)
    build_frames(con, checked_at)
    union = "\nUNION ALL\n".join(findings_sql(rule) for rule in RULES)
    families = " ".join(
        f"WHEN '{code.value}' THEN '{reason.family}'" for code, reason in REASONS.items()
    )
    with transaction(con):
        con.execute(f"""
CREATE OR REPLACE TABLE quality_findings AS
SELECT *, CASE reason_code {families} END AS family FROM ({union})
ORDER BY order_key, line_number NULLS FIRST, reason_code, column_name""")
        con.execute(f"""
CREATE OR REPLACE TABLE quality_quarantine AS
SELECT q.order_key, o.source, o.channel, o.source_order_id, o.order_date, o.currency,
       o.total, o.is_paid, o.file_name, o._line AS line,
       count(*) FILTER (WHERE q.severity = '{Severity.ERROR.value}') AS errors,
       count(*) FILTER (WHERE q.severity = '{Severity.WARNING.value}') AS warnings,
       list(DISTINCT q.reason_code ORDER BY q.reason_code)
           FILTER (WHERE q.severity = '{Severity.ERROR.value}') AS error_codes
FROM quality_findings q JOIN _qc_orders o USING (order_key)
GROUP BY ALL
HAVING count(*) FILTER (WHERE q.severity = '{Severity.ERROR.value}') > 0
ORDER BY q.order_key""")
        checked = " UNION ALL ".join(
            f"SELECT '{rule.code.value}' AS reason_code, channel, order_date, count(*) AS checked "
            f"FROM {_FRAMES['order']} WHERE {severity_sql(rule)} IS NOT NULL GROUP BY ALL"
            for rule in RULES
        )
        con.execute(f"""
CREATE OR REPLACE TABLE quality_daily AS
WITH checked AS ({checked}),
failed AS (
    SELECT reason_code, channel, order_date, count(DISTINCT order_key) AS failed
    FROM quality_findings GROUP BY ALL
)
SELECT c.reason_code, c.channel, c.order_date, c.checked,
       coalesce(f.failed, 0) AS failed,
       round(1 - coalesce(f.failed, 0) / c.checked, 6) AS pass_rate
FROM checked c LEFT JOIN failed f USING (reason_code, channel, order_date)
ORDER BY c.order_date, c.channel, c.reason_code""")
        con.execute(_SOURCE_ARITHMETIC)
    summary = _summary(con)
    if gx:
        summary.gx_failed_expectations.extend(_assert_with_gx(con, summary, docs))
    for name in _TEMP:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    return summary


def _summary(con: duckdb.DuckDBPyConnection) -> ValidationSummary:
    by_code = {
        str(code): int(n)
        for code, n in con.execute(
            "SELECT reason_code, count(*) FROM quality_findings GROUP BY 1 ORDER BY 1"
        ).fetchall()
    }
    counts = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE severity = 'error'), "
        "count(*) FILTER (WHERE severity = 'warning') FROM quality_findings"
    ).fetchall()[0]
    quarantine = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_paid) FROM quality_quarantine"
    ).fetchall()[0]
    return ValidationSummary(
        orders=int(scalar(con, "SELECT count(*) FROM _qc_orders")),
        lines=int(scalar(con, "SELECT count(*) FROM _qc_lines")),
        findings=int(counts[0]),
        errors=int(counts[1]),
        warnings=int(counts[2]),
        quarantined=int(quarantine[0]),
        quarantined_paid=int(quarantine[1]),
        daily_rows=int(scalar(con, "SELECT count(*) FROM quality_daily")),
        by_code=by_code,
    )


def _assert_with_gx(
    con: duckdb.DuckDBPyConnection, summary: ValidationSummary, docs: Path | None
) -> list[str]:
    """Run the GX suites; their verdicts must match the findings row for row."""
    from quality.gx_suite import run_suites

    verdicts = run_suites(con, docs)
    found: dict[str, set[tuple[object, ...]]] = {}
    for code, order_key, line_number in con.execute(
        "SELECT reason_code, order_key, line_number FROM quality_findings"
    ).fetchall():
        key = (order_key,) if line_number is None else (order_key, line_number)
        found.setdefault(str(code), set()).add(key)
    for code, verdict in verdicts.items():
        expected = found.get(code, set())
        if verdict.unexpected_count != len(expected) or verdict.unexpected_keys != expected:
            raise ContractMismatch(
                f"{code}: GX found {verdict.unexpected_count} failing rows, the rule's SQL "
                f"{len(expected)}"
            )
    return sorted(code for code, verdict in verdicts.items() if not verdict.success)


_SOURCE_ARITHMETIC = """
CREATE OR REPLACE TABLE quality_source_arithmetic AS
WITH raw AS (
    SELECT source, bool_or(shopify_amounts) AS shopify_amounts,
           bool_or(store_tax_inclusive) AS tax_inclusive,
           count(*) AS orders,
           count(*) FILTER (WHERE has_amounts AND total IS NOT NULL) AS orders_with_amounts,
           count(*) FILTER (WHERE has_amounts AND abs(total - (subtotal
               - CASE WHEN shopify_amounts THEN 0 ELSE coalesce(total_discounts, 0) END
               + coalesce(shipping, 0) + coalesce(total_tax, 0))) > 0.01) AS raw_total_mismatches,
           count(*) FILTER (WHERE has_amounts AND n_lines > 0
               AND abs(expected_subtotal - subtotal) > 0.01) AS raw_subtotal_mismatches
    FROM _qc_orders GROUP BY source
), ruled AS (
    SELECT source,
           count(DISTINCT order_key) FILTER (WHERE reason_code = 'TOTAL_MISMATCH')
               AS total_mismatches,
           count(DISTINCT order_key) FILTER (WHERE reason_code = 'SUBTOTAL_MISMATCH')
               AS subtotal_mismatches
    FROM quality_findings GROUP BY source
)
SELECT r.source,
       CASE WHEN r.shopify_amounts THEN 'shopify' ELSE 'generic' END AS convention,
       r.tax_inclusive, r.orders, r.orders_with_amounts, r.raw_total_mismatches,
       r.raw_subtotal_mismatches, coalesce(u.total_mismatches, 0) AS total_mismatches,
       coalesce(u.subtotal_mismatches, 0) AS subtotal_mismatches,
       concat_ws(' ',
           CASE WHEN r.orders_with_amounts = 0 THEN 'No amounts to check.' END,
           CASE WHEN r.tax_inclusive THEN 'Tax-inclusive store: most of its taxed orders add '
                || 'up only without their taxes, so totals are checked as subtotal + shipping'
                || ' (' || (r.raw_total_mismatches - coalesce(u.total_mismatches, 0))
                || ' raw total mismatches explained by it).' END,
           CASE WHEN coalesce(u.total_mismatches, 0) > 0
                THEN u.total_mismatches || ' order(s) whose total does not add up: quarantined.'
                END,
           CASE WHEN coalesce(u.subtotal_mismatches, 0) > 0
                THEN u.subtotal_mismatches || ' order(s) whose subtotal is not the sum of its '
                     || 'lines less discounts: quarantined.' END,
           CASE WHEN r.orders_with_amounts > 0 AND coalesce(u.total_mismatches, 0) = 0
                     AND coalesce(u.subtotal_mismatches, 0) = 0 AND NOT r.tax_inclusive
                THEN 'Every order adds up.' END) AS treatment
FROM raw r LEFT JOIN ruled u USING (source)
ORDER BY r.source"""
