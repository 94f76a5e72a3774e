"""Scores, the review queue and the fulfilment holds.

Grain:

- ``fraud_scores``: one row per order of ``fraud_features`` (``order_key``, ``probability``,
  ``score`` 0-99, ``level`` normal/elevated/highest, ``reasons``: list of text for every order
  at or above the review threshold, NULL below it; ``model_version``, ``model_sha256``,
  ``scored_at``: when this model first gave this order this score). Empty when the registry
  has no champion. No personal data: reasons name the factor and, at most, a count, an
  amount, a country, a browser family or a marketing source, never an e-mail, IP address,
  device id or name.
- ``review_queue``: one row per order to review today, at most the daily capacity: orders at
  or above the review threshold without a decision in ``fraud_decisions`` and not cancelled,
  ranked by expected loss = probability x order value (in the reporting currency; in the
  order's currency where no FX rate exists), ``held`` when at or above the block threshold.
- ``fraud_holds``: one row per order that fulfilment must not ship: scored at or above the
  block threshold with no decision yet, or decided ``hold`` or ``cancel_fraud`` by a reviewer.
  An ``approve`` decision releases it. Any extract for fulfilment must leave these orders out.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl

from models.fraud_model import FraudModel
from models.fraud_reasons import explain
from orderlens.settings import Settings
from orderlens.warehouse import table_from_frame, transaction
from pipelines.defs.fraud.labels import ensure_decisions

if TYPE_CHECKING:
    import duckdb

SCORES_DDL = """
CREATE TABLE IF NOT EXISTS fraud_scores (
    order_key VARCHAR, probability DOUBLE, score TINYINT, level VARCHAR, reasons VARCHAR[],
    model_version VARCHAR, model_sha256 VARCHAR, scored_at TIMESTAMPTZ
)"""

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "order_key": pl.String(),
    "probability": pl.Float64(),
    "score": pl.Int8(),
    "level": pl.String(),
    "reasons": pl.List(pl.String()),
    "model_version": pl.String(),
    "model_sha256": pl.String(),
}


def with_thresholds(model: FraudModel, settings: Settings) -> FraudModel:
    """The model with the installation's review and block thresholds (levels and reasons
    follow the settings, whatever thresholds the model was trained with)."""
    config = replace(
        model.config,
        review_threshold=settings.fraud_review_threshold,
        block_threshold=settings.fraud_block_threshold,
    )
    return replace(model, config=config)


def score_features(model: FraudModel, features: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Score, level, reasons (orders at or above the review threshold) and the model's
    version and hash, one row per feature row, in its order."""
    model = with_thresholds(model, settings)
    scores = model.score(features)
    reasons = explain(model, features).select("order_key", "reasons")
    return (
        scores.join(reasons, on="order_key", how="left", maintain_order="left")
        .select(SCORE_SCHEMA.keys())
        .cast(SCORE_SCHEMA)  # type: ignore[arg-type]
    )


def write_scores(
    con: "duckdb.DuckDBPyConnection", scores: pl.DataFrame, scored_at: datetime
) -> None:
    """Replace ``fraud_scores`` with ``scores`` (one transaction). An order keeping the same
    model and probability keeps its ``scored_at``, so re-running changes nothing."""
    con.execute(SCORES_DDL)
    with transaction(con):
        table_from_frame(con, "_fraud_scores_new", scores)
        con.execute(
            """
CREATE OR REPLACE TEMP TABLE _fraud_scores_next AS
SELECT n.*, coalesce(p.scored_at, ?::TIMESTAMPTZ) AS scored_at
FROM _fraud_scores_new n
LEFT JOIN fraud_scores p
  ON p.order_key = n.order_key AND p.model_sha256 = n.model_sha256
 AND p.probability = n.probability
ORDER BY n.order_key""",
            [scored_at],
        )
        con.execute("CREATE OR REPLACE TABLE fraud_scores AS SELECT * FROM _fraud_scores_next")
        con.execute("DROP TABLE _fraud_scores_new")
        con.execute("DROP TABLE _fraud_scores_next")


def clear_scores(con: "duckdb.DuckDBPyConnection") -> None:
    """An empty ``fraud_scores`` (no model to score with)."""
    with transaction(con):
        con.execute("DROP TABLE IF EXISTS fraud_scores")
        con.execute(SCORES_DDL)


LATEST_DECISION = """
latest_decision AS (
    SELECT order_key, arg_max(decision, decided_at) AS decision, max(decided_at) AS decided_at
    FROM fraud_decisions GROUP BY order_key
)"""


@dataclass(frozen=True)
class QueueReport:
    """What the queue and holds hold."""

    candidates: int
    queued: int
    held: int
    awaiting_decision: int


def build_queue_and_holds(con: "duckdb.DuckDBPyConnection", settings: Settings) -> QueueReport:
    """Replace ``review_queue`` and ``fraud_holds`` (one transaction)."""
    ensure_decisions(con)
    con.execute(SCORES_DDL)
    review, block = settings.fraud_review_threshold, settings.fraud_block_threshold
    with transaction(con):
        con.execute(
            f"""
CREATE OR REPLACE TEMP TABLE _queue_candidates AS
WITH {LATEST_DECISION}
SELECT s.order_key, f.created_at, s.score, s.level, s.probability, f.order_value,
       s.probability * f.order_value AS expected_loss, s.score >= {block} AS held, s.reasons,
       s.model_version
FROM fraud_scores s
JOIN fraud_features f USING (order_key)
JOIN fct_orders o USING (order_key)
WHERE s.score >= {review} AND o.cancelled_at IS NULL
  AND s.order_key NOT IN (SELECT order_key FROM latest_decision)"""
        )
        con.execute(
            f"""
CREATE OR REPLACE TABLE review_queue AS
SELECT row_number() OVER (
           ORDER BY expected_loss DESC NULLS LAST, score DESC, created_at, order_key
       ) AS rank, *
FROM _queue_candidates
QUALIFY rank <= {int(settings.fraud_review_capacity)}
ORDER BY rank"""
        )
        con.execute(
            f"""
CREATE OR REPLACE TABLE fraud_holds AS
WITH {LATEST_DECISION}
SELECT order_key,
       CASE d.decision WHEN 'hold' THEN 'held by a reviewer'
                       WHEN 'cancel_fraud' THEN 'cancelled as fraud by a reviewer'
                       ELSE 'score at or above the block threshold ({block}), awaiting a decision'
       END AS held_because,
       s.score, d.decision, coalesce(d.decided_at, s.scored_at) AS held_since,
       s.model_version
FROM fraud_scores s
FULL JOIN latest_decision d USING (order_key)
WHERE (s.score >= {block} AND d.decision IS NULL) OR d.decision IN ('hold', 'cancel_fraud')
ORDER BY order_key"""
        )
        counts = con.execute(
            "SELECT (SELECT count(*) FROM _queue_candidates), "
            "(SELECT count(*) FROM review_queue), (SELECT count(*) FROM fraud_holds), "
            "(SELECT count(*) FROM fraud_holds WHERE decision IS NULL)"
        ).fetchall()[0]
        con.execute("DROP TABLE _queue_candidates")
    return QueueReport(*(int(c) for c in counts))
