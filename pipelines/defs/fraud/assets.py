"""Fraud assets: features, labels, the model (champion/challenger), scores, the review queue
and the fulfilment holds.

``fraud_features`` and ``fraud_labels`` are rebuilt every run; ``fraud_model`` trains a
challenger only when there are enough labels and they changed, and promotes it only when it
is at least as good as the champion on the latest holdout (the registry in
``<model store>/fraud`` keeps the versions and the pointer); ``fraud_scores`` scores every
order with the champion (empty, with a message, when there is none); ``review_queue`` and
``fraud_holds`` follow from the scores and the reviewers' ``fraud_decisions``. Heavy modules
(polars, scikit-learn) are imported inside the assets, never when the code location loads.
"""

import dagster as dg

from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource


def _registry_failure(exc: Exception) -> dg.Failure:
    return dg.Failure(
        description=f"fraud model registry: {exc} (retrain with `orderlens fraud train`, or "
        "restore the file)",
        allow_retries=False,
    )


@dg.asset(
    group_name="fraud",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=[
        "fct_orders",
        "stg_orders",
        "stg_customers",
        "stg_order_contacts",
        "stg_payments",
        "ref_ip_ranges",
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "ip_ranges_usable",
            asset="fraud_features",
            description="Every range of ref_ip_ranges is used: bounds in order, a known "
            "country, no overlap with the previous range (warn).",
        )
    ],
)
def fraud_features(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per scorable order (``fct_orders``): point-in-time fraud features (nothing
    from after an order), IP countries from ``ref_ip_ranges``, hours in the merchant's
    time zone."""
    from pipelines.defs.fraud.features import build_fraud_features

    settings = warehouse.settings()
    with warehouse.writer() as con:
        rows, ranges = build_fraud_features(con, settings.timezone)
    PROGRESS.info("fraud_features: %s orders", f"{rows:,}")
    check = dg.AssetCheckResult(
        check_name="ip_ranges_usable",
        passed=ranges.clean,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "ranges": ranges.rows,
            "usable": ranges.usable,
            "reversed_bounds": ranges.reversed_bounds,
            "unknown_country": ranges.unknown_country,
            "overlapping": ranges.overlapping,
            "examples": "; ".join(ranges.examples) or "none",
        },
        description=None
        if ranges.clean
        else f"{ranges.rows - ranges.usable:,} of {ranges.rows:,} IP ranges unused, "
        f"{ranges.overlapping:,} overlapping",
    )
    return dg.MaterializeResult(
        metadata={"rows": rows, "ip_ranges": ranges.usable}, check_results=[check]
    )


@dg.asset(
    group_name="fraud",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=["ref_fraud_labels", "stg_orders", "stg_refunds", "stg_status_events"],
    check_specs=[
        dg.AssetCheckSpec(
            "fraud_labels_match_orders",
            asset="fraud_labels",
            description="Every row of _reference/fraud_labels.csv names an order of the "
            "warehouse (source and source_order_id); warns naming those that do not.",
        )
    ],
)
def fraud_labels(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One label per labelled order (true = fraud): the merchant's labels file, refunds,
    cancellations and chargebacks for fraud, reviewers' decisions; the latest wins."""
    from pipelines.defs.fraud.labels import build_fraud_labels

    with warehouse.writer() as con:
        report = build_fraud_labels(con)
    PROGRESS.info(
        "fraud_labels: %s orders labelled (%s fraud)",
        f"{report.labelled_orders:,}",
        f"{report.frauds:,}",
    )
    unmatched = report.unmatched_file_rows
    check = dg.AssetCheckResult(
        check_name="fraud_labels_match_orders",
        passed=unmatched == 0,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "file_rows": report.file_rows,
            "unmatched_rows": unmatched,
            "unmatched_examples": ", ".join(report.unmatched_examples) or "none",
        },
        description=None
        if unmatched == 0
        else f"{unmatched:,} of {report.file_rows:,} labels name no order of the warehouse "
        f"(e.g. {', '.join(report.unmatched_examples)})",
    )
    return dg.MaterializeResult(
        metadata={
            "rows": report.labelled_orders,
            "frauds": report.frauds,
            "by_source": dg.MetadataValue.json(report.by_source),
        },
        check_results=[check],
    )


@dg.multi_asset(
    group_name="fraud",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(
            "fraud_model",
            deps=["fraud_features", "fraud_labels"],
            description="The champion fraud model in the registry (<model store>/fraud).",
            kinds={"sklearn"},
        ),
        dg.AssetSpec(
            "fraud_model_evaluations",
            deps=["fraud_features", "fraud_labels"],
            description="One row per model and scorer of the latest challenge: ROC-AUC, "
            "PR-AUC, precision and recall at 1 %, 5 % and the review capacity, beside the "
            "rule baselines.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "fraud_model_what_if",
            deps=["fraud_features", "fraud_labels"],
            description="One row per model and score threshold of the latest challenge: "
            "review load and frauds caught.",
            kinds={"duckdb"},
        ),
    ],
)
def fraud_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Train a challenger on the labelled orders when there are enough labels and they
    changed, and promote it only when at least as good as the champion on the latest
    holdout; the metadata says what happened and why."""
    from models.fraud_registry import FraudRegistry, RegistryError
    from pipelines.defs.fraud.features import read_features
    from pipelines.defs.fraud.labels import read_labels
    from pipelines.defs.fraud.training import train_challenger, write_evaluation_tables

    settings = warehouse.settings()
    registry = FraudRegistry(settings.fraud_registry)
    with warehouse.writer() as con:
        features, labels = read_features(con), read_labels(con)
    try:
        outcome = train_challenger(features, labels, settings, registry)
        champion = registry.champion()
    except RegistryError as exc:
        raise _registry_failure(exc) from exc
    with warehouse.writer() as con:
        rows = write_evaluation_tables(con, registry)
    PROGRESS.info("fraud_model: %s", outcome.why)
    context.log.info(outcome.why)
    metadata = {
        "trained": outcome.trained,
        "promoted": bool(outcome.challenge and outcome.challenge.promoted),
        "why": outcome.why,
        "champion": champion.version if champion else "none",
        "champion_sha256": champion.sha256 if champion else "none",
        "orders": outcome.orders,
        "frauds": outcome.frauds,
        "legitimate": outcome.legitimate,
        "matured_unlabelled_as_legitimate": outcome.matured,
        "younger_orders_waiting": outcome.unlabelled,
        "registry": dg.MetadataValue.path(str(registry.folder)),
    }
    if outcome.challenge is not None:
        metadata["challenger"] = outcome.challenge.challenger.version
        model_row = outcome.challenge.challenger_evaluation.scorer("model")
        for key in ("roc_auc", "pr_auc", "precision_at_1pct", "recall_at_1pct"):
            metadata[f"challenger_{key}"] = model_row[key]
    yield dg.MaterializeResult(asset_key="fraud_model", metadata=metadata)
    yield dg.MaterializeResult(asset_key="fraud_model_evaluations", metadata={"rows": rows})
    yield dg.MaterializeResult(asset_key="fraud_model_what_if")


@dg.asset(
    group_name="fraud",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=["fraud_features", "fraud_model"],
    check_specs=[
        dg.AssetCheckSpec(
            "fraud_scores_complete",
            asset="fraud_scores",
            blocking=True,
            description="With a champion: every order of fraud_features is scored with the "
            "model's version and SHA-256, and every order at or above the review threshold "
            "has at least one reason.",
        )
    ],
)
def fraud_scores(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per scorable order: probability, score 0-99, level, reasons (at or above
    the review threshold), model version and SHA-256. Empty while no model exists."""
    from datetime import UTC, datetime

    from models.fraud_registry import FraudRegistry, RegistryError
    from pipelines.defs.fraud.features import read_features
    from pipelines.defs.fraud.scoring import clear_scores, score_features, write_scores

    settings = warehouse.settings()
    registry = FraudRegistry(settings.fraud_registry)
    try:
        champion = registry.champion()
        model = registry.load_champion()
    except RegistryError as exc:
        raise _registry_failure(exc) from exc
    with warehouse.writer() as con:
        if model is None or champion is None:
            clear_scores(con)
            why = (
                "no fraud model yet: orders are not scored (train one with `orderlens fraud "
                "train --history FILE`, or let the pipeline train one once there are labels)"
            )
            PROGRESS.info("fraud_scores: %s", why)
            check = dg.AssetCheckResult(
                check_name="fraud_scores_complete", passed=True, metadata={"model": "none"}
            )
            return dg.MaterializeResult(
                metadata={"rows": 0, "model": "none", "why": why}, check_results=[check]
            )
        features = read_features(con)
        scores = score_features(model, features, settings)
        write_scores(con, scores, datetime.now(UTC).replace(microsecond=0))
        unscored, unreasoned, flagged, held = con.execute(
            "SELECT (SELECT count(*) FROM fraud_features f WHERE NOT EXISTS ("
            "  SELECT 1 FROM fraud_scores s WHERE s.order_key = f.order_key "
            "  AND s.model_version IS NOT NULL AND s.model_sha256 IS NOT NULL)), "
            "count(*) FILTER (WHERE score >= ? AND coalesce(len(reasons), 0) = 0), "
            "count(*) FILTER (WHERE score >= ?), count(*) FILTER (WHERE score >= ?) "
            "FROM fraud_scores",
            [settings.fraud_review_threshold] * 2 + [settings.fraud_block_threshold],
        ).fetchall()[0]
    PROGRESS.info(
        "fraud_scores: %s orders scored by %s, %s at or above review, %s at or above block",
        f"{scores.height:,}",
        champion.version,
        f"{flagged:,}",
        f"{held:,}",
    )
    check = dg.AssetCheckResult(
        check_name="fraud_scores_complete",
        passed=unscored == 0 and unreasoned == 0,
        metadata={"unscored_orders": unscored, "flagged_without_reasons": unreasoned},
    )
    return dg.MaterializeResult(
        metadata={
            "rows": scores.height,
            "model": champion.version,
            "model_sha256": champion.sha256,
            "at_or_above_review": flagged,
            "at_or_above_block": held,
            "review_threshold": settings.fraud_review_threshold,
            "block_threshold": settings.fraud_block_threshold,
        },
        check_results=[check],
    )


@dg.multi_asset(
    group_name="fraud",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(
            "review_queue",
            deps=["fraud_scores", "fraud_features", "fct_orders"],
            description="Orders to review today, at most the daily capacity: at or above the "
            "review threshold, no decision yet, ranked by expected loss (probability x value).",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            "fraud_holds",
            deps=["fraud_scores"],
            description="Orders fulfilment must not ship: at or above the block threshold "
            "until a reviewer decides, or held / cancelled as fraud by a reviewer.",
            kinds={"duckdb"},
        ),
    ],
)
def review_queue(warehouse: WarehouseResource):
    """The day's review queue and the orders held from fulfilment."""
    from pipelines.defs.fraud.scoring import build_queue_and_holds

    settings = warehouse.settings()
    with warehouse.writer() as con:
        report = build_queue_and_holds(con, settings)
    PROGRESS.info(
        "review_queue: %s of %s orders awaiting review queued (capacity %s a day); "
        "%s orders held from fulfilment",
        f"{report.queued:,}",
        f"{report.candidates:,}",
        f"{settings.fraud_review_capacity:,}",
        f"{report.held:,}",
    )
    yield dg.MaterializeResult(
        asset_key="review_queue",
        metadata={
            "rows": report.queued,
            "awaiting_review": report.candidates,
            "not_queued_over_capacity": report.candidates - report.queued,
            "capacity_per_day": settings.fraud_review_capacity,
        },
    )
    yield dg.MaterializeResult(
        asset_key="fraud_holds",
        metadata={"rows": report.held, "awaiting_decision": report.awaiting_decision},
    )
