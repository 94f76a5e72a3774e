"""The ``fraud_labels`` table and the ``fraud_decisions`` table reviewers write.

Grain: ``fraud_labels`` one row per labelled order (``order_key``, ``label``: true = fraud,
``labelled_at``, ``label_source``: file, refund, cancellation, chargeback or review), one
label per order by the precedence of :mod:`models.fraud_labels` (the latest wins).
``fraud_decisions`` one row per reviewer decision (``order_key``, ``decision``: approve,
hold or cancel_fraud, ``decided_by``, ``decided_at``, ``note``); it is created empty here
when missing and written by the review dashboard.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from models.fraud_labels import LABEL_SCHEMA, resolve_labels
from orderlens.warehouse import table_from_frame, transaction

if TYPE_CHECKING:
    import duckdb

DECISIONS = ("approve", "hold", "cancel_fraud")

DECISIONS_DDL = f"""
CREATE TABLE IF NOT EXISTS fraud_decisions (
    order_key VARCHAR NOT NULL,
    decision VARCHAR NOT NULL CHECK (decision IN ({", ".join(f"'{d}'" for d in DECISIONS)})),
    decided_by VARCHAR,
    decided_at TIMESTAMPTZ NOT NULL,
    note VARCHAR
)"""

_FRAUD_REASON = "regexp_matches(lower({}), '(^|; )reason: fraud')"

CANDIDATES_SQL = f"""
SELECT o.order_key, l.label = 'fraud' AS label, l.labelled_at, 'file' AS label_source
FROM ref_fraud_labels l
JOIN stg_orders o ON o.source = trim(l.source) AND o.source_order_id = trim(l.source_order_id)
UNION ALL
SELECT order_key, TRUE, min(refunded_at), 'refund'
FROM stg_refunds
WHERE order_key IS NOT NULL AND regexp_matches(lower(reason), 'fraud')
GROUP BY order_key
UNION ALL
SELECT order_key, TRUE, min(occurred_at), 'cancellation'
FROM stg_status_events
WHERE event = 'cancelled' AND {_FRAUD_REASON.format("detail")}
GROUP BY order_key
UNION ALL
SELECT order_key, TRUE, min(occurred_at), 'chargeback'
FROM stg_status_events
WHERE event = 'disputed' AND {_FRAUD_REASON.format("detail")}
GROUP BY order_key
UNION ALL
SELECT order_key, decision = 'cancel_fraud', decided_at, 'review'
FROM fraud_decisions
WHERE decision IN ('approve', 'cancel_fraud')
"""
"""Every label an order has: the merchant's file, refunds and cancellations for fraud
(Shopify's ``cancel_reason`` fraud), chargebacks for fraud (Shopify's dispute reason
``fraudulent``), and reviewers' verdicts."""

UNMATCHED_SQL = """
SELECT trim(l.source) || ':' || trim(l.source_order_id) AS order_key
FROM ref_fraud_labels l
WHERE NOT EXISTS (SELECT 1 FROM stg_orders o
                  WHERE o.source = trim(l.source) AND o.source_order_id = trim(l.source_order_id))
ORDER BY 1
"""


@dataclass(frozen=True)
class LabelsReport:
    """What ``fraud_labels`` was built from."""

    labelled_orders: int
    frauds: int
    by_source: dict[str, int]
    file_rows: int
    unmatched_file_rows: int
    unmatched_examples: tuple[str, ...]


def ensure_decisions(con: "duckdb.DuckDBPyConnection") -> None:
    """Create ``fraud_decisions`` empty when it does not exist."""
    con.execute(DECISIONS_DDL)


def build_fraud_labels(con: "duckdb.DuckDBPyConnection") -> LabelsReport:
    """Replace ``fraud_labels`` (one transaction) and say what it came from."""
    ensure_decisions(con)
    candidates = con.sql(CANDIDATES_SQL).pl()
    if candidates.height == 0:
        candidates = pl.DataFrame(schema=LABEL_SCHEMA)
    labels = resolve_labels(candidates)
    unmatched = [str(r[0]) for r in con.execute(UNMATCHED_SQL).fetchall()]
    file_rows = int(con.execute("SELECT count(*) FROM ref_fraud_labels").fetchall()[0][0])
    with transaction(con):
        table_from_frame(con, "fraud_labels", labels, temporary=False)
    by_source = dict(
        labels.group_by("label_source").len().sort("label_source").iter_rows()  # type: ignore[arg-type]
    )
    return LabelsReport(
        labelled_orders=labels.height,
        frauds=int(labels.get_column("label").sum()),
        by_source={str(k): int(v) for k, v in by_source.items()},
        file_rows=file_rows,
        unmatched_file_rows=len(unmatched),
        unmatched_examples=tuple(unmatched[:5]),
    )


def read_labels(con: "duckdb.DuckDBPyConnection") -> pl.DataFrame:
    """The ``fraud_labels`` table."""
    return con.sql("SELECT * FROM fraud_labels ORDER BY order_key").pl()
