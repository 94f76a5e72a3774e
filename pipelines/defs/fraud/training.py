"""Training a challenger from the warehouse's labelled orders, and the evaluation tables.

Grain: :func:`train_challenger` trains at most one model per call. ``fraud_model_evaluations``
has one row per model (``role``: challenger, champion) and scorer (the model, then each rule
baseline) of the registry's latest challenge; ``fraud_model_what_if`` one row per model and
score threshold (review load and frauds caught).

The training set: the orders of ``fraud_features`` older than the label maturity window
(before the latest order), with their label (``fraud_labels``) or, without one, as legitimate
(:func:`models.fraud_labels.training_labels`: younger orders wait, labelled or not). The holdout is the latest quarter of them by
time; training uses the orders placed at least the label delay before the holdout starts
(:func:`models.fraud_eval.split_time`), as labels of the last days before a cut-off are not
known yet when a model is trained. A challenger is trained only when there are enough labels
(``ORDERLENS_FRAUD_MIN_FRAUDS`` / ``..._MIN_LEGITIMATE``) and only when the labelled data
changed since the registry's last challenge (a fingerprint of the orders' features, labels
and settings): re-running on the same data keeps the same champion and the same tables.
"""

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from models.fraud_eval import split_customers, split_time
from models.fraud_labels import training_labels
from models.fraud_model import FraudConfig, config_dict, train_fraud_model
from models.fraud_registry import ChallengeOutcome, FraudRegistry, Holdout
from orderlens.settings import Settings
from orderlens.warehouse import table_from_frame, transaction

if TYPE_CHECKING:
    import duckdb

HOLDOUT_SHARE = 0.25
"""The latest share of the labelled orders (by time) the challenger and champion are scored on."""
MIN_TRAIN_CLASS = 10
"""Fewest frauds (and legitimate orders) the training part must keep after the holdout."""

EVALUATION_COLUMNS: dict[str, pl.DataType] = {
    "challenged_at": pl.String(),
    "model_version": pl.String(),
    "role": pl.String(),
    "promoted": pl.Boolean(),
    "scorer": pl.String(),
    "roc_auc": pl.Float64(),
    "pr_auc": pl.Float64(),
    "precision_at_1pct": pl.Float64(),
    "recall_at_1pct": pl.Float64(),
    "precision_at_5pct": pl.Float64(),
    "recall_at_5pct": pl.Float64(),
    "review_capacity_share": pl.Float64(),
    "precision_at_capacity": pl.Float64(),
    "recall_at_capacity": pl.Float64(),
    "flagged_share": pl.Float64(),
    "flagged_precision": pl.Float64(),
    "flagged_recall": pl.Float64(),
    "brier": pl.Float64(),
    "holdout_orders": pl.Int64(),
    "holdout_frauds": pl.Int64(),
    "holdout_start": pl.String(),
    "holdout_end": pl.String(),
    "why": pl.String(),
}
WHAT_IF_COLUMNS: dict[str, pl.DataType] = {
    "model_version": pl.String(),
    "role": pl.String(),
    "threshold": pl.Int64(),
    "orders": pl.Int64(),
    "share": pl.Float64(),
    "per_day": pl.Float64(),
    "frauds_caught": pl.Int64(),
    "recall": pl.Float64(),
    "precision": pl.Float64(),
}


@dataclass(frozen=True)
class TrainingOutcome:
    """What :func:`train_challenger` did and why."""

    trained: bool
    why: str
    orders: int
    frauds: int
    legitimate: int
    matured: int
    """Orders without a label taken as legitimate (old enough)."""
    unlabelled: int
    """Orders too young to learn from yet."""
    challenge: ChallengeOutcome | None = None
    unchanged: bool = False
    """Not trained because the data is the same as at the registry's last challenge."""


def _share_label(share: float) -> str:
    """Column suffix :func:`models.fraud_eval.evaluate` gives a capacity share."""
    return f"{share * 100:g}pct"


def capacity_share(daily_capacity: int, orders: int, days: int) -> float:
    """The daily review capacity as a share of a day's orders (at most all of them)."""
    per_day = orders / max(days, 1)
    return min(1.0, daily_capacity / per_day) if per_day else 1.0


def fingerprint(data: pl.DataFrame, config: FraudConfig, settings: Settings, split: str) -> str:
    """SHA-256 naming the training data (features and labels of every order, in order) and
    what shapes the model (its configuration, the maturity and delay settings)."""
    digest = hashlib.sha256()
    digest.update(data.hash_rows(seed=0).to_numpy().tobytes())
    digest.update(",".join(data.columns).encode())
    setup = {
        "config": config_dict(config),
        "maturity_days": settings.fraud_maturity_days,
        "label_delay_days": settings.fraud_label_delay_days,
        "holdout_share": HOLDOUT_SHARE,
        "split": split,
        "capacity": settings.fraud_review_capacity,
        "timezone": settings.timezone,
    }
    digest.update(json.dumps(setup, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def train_challenger(
    features: pl.DataFrame,
    labels: pl.DataFrame,
    settings: Settings,
    registry: FraudRegistry,
    *,
    customers: pl.DataFrame | None = None,
) -> TrainingOutcome:
    """Train a challenger on the labelled orders (``fraud_features`` and ``fraud_labels``
    rows) and challenge the champion, or say why not (too few labels, a holdout without
    frauds, data unchanged).

    The holdout is the latest quarter by time; with ``customers`` (``order_key`` →
    ``customer_key``) it is a stratified draw of a quarter of the customers instead, for a
    history whose fraud patterns are bound to a period (a time split would then measure
    the calendar, not the model)."""
    training = training_labels(
        features.select("order_key", "created_at"),
        labels,
        maturity_days=settings.fraud_maturity_days,
    )
    frauds = int(training.get_column("label").sum())
    legitimate = training.height - frauds
    matured = training.filter(pl.col("basis") == "matured").height
    unlabelled = features.height - training.height
    counts = {
        "orders": features.height,
        "frauds": frauds,
        "legitimate": legitimate,
        "matured": matured,
        "unlabelled": unlabelled,
    }
    champion = registry.champion()
    kept = f"champion {champion.version} kept" if champion else "no champion yet"

    def not_trained(why: str, unchanged: bool = False) -> TrainingOutcome:
        return TrainingOutcome(
            False,
            f"{why}; {kept}",
            features.height,
            frauds,
            legitimate,
            matured,
            unlabelled,
            unchanged=unchanged,
        )

    if frauds < settings.fraud_min_frauds or legitimate < settings.fraud_min_legitimate:
        return not_trained(
            f"too few labels to train: {frauds:,} frauds (at least "
            f"{settings.fraud_min_frauds:,} needed) and {legitimate:,} legitimate orders (at "
            f"least {settings.fraud_min_legitimate:,}) among the orders older than "
            f"{settings.fraud_maturity_days:g} days ({unlabelled:,} younger orders wait for "
            "their labels)"
        )
    data = features.join(training.select("order_key", "label"), on="order_key", how="inner").sort(
        "created_at", "order_key"
    )
    created = data.get_column("created_at")
    y = data.get_column("label").to_numpy().astype(np.int64)
    if customers is None:
        test_from = created.sort()[int(len(created) * (1 - HOLDOUT_SHARE))]
        train_mask, test_mask = split_time(
            created, test_from=test_from, label_delay_days=settings.fraud_label_delay_days
        )
        split = f"time split from {test_from.isoformat()}"
    else:
        keys = data.select("order_key").join(customers, on="order_key", how="left")
        test_mask = split_customers(
            keys.get_column("customer_key"), y, test_share=HOLDOUT_SHARE, seed=0
        )
        train_mask = ~test_mask
        split = f"stratified split of customers ({HOLDOUT_SHARE:.0%} held out, seed 0)"
    train_frauds, test_frauds = int(y[train_mask].sum()), int(y[test_mask].sum())
    train_legit = int(train_mask.sum()) - train_frauds
    test_legit = int(test_mask.sum()) - test_frauds
    if min(train_frauds, train_legit) < MIN_TRAIN_CLASS or not (test_frauds and test_legit):
        return not_trained(
            f"the {split} leaves {train_frauds:,} frauds and {train_legit:,} legitimate "
            f"orders to train on and {test_frauds:,} frauds and {test_legit:,} legitimate in "
            f"the holdout (training needs {MIN_TRAIN_CLASS} of each, the holdout at least one "
            "of each)"
        )
    config = FraudConfig(
        review_threshold=settings.fraud_review_threshold,
        block_threshold=settings.fraud_block_threshold,
    )
    print_ = fingerprint(data, config, settings, split)
    last = registry.last_challenge()
    if last is not None and last.get("fingerprint") == print_:
        return not_trained(
            f"orders, labels and settings unchanged since the challenge of "
            f"{last['challenged_at']} (challenger {last['challenger']})",
            unchanged=True,
        )
    feature_columns = [c for c in data.columns if c != "label"]
    train = data.filter(pl.Series(train_mask)).select(feature_columns)
    test = data.filter(pl.Series(test_mask)).select(feature_columns)
    model = train_fraud_model(train, y[train_mask], config)
    days = test.get_column("created_at").dt.convert_time_zone(settings.timezone).dt.date()
    share = capacity_share(settings.fraud_review_capacity, test.height, days.n_unique())
    outcome = registry.challenge(
        model,
        # Customers drawn across the whole history are not a day's stream: capacity is then
        # a share of the whole holdout (a day's top 1 % would measure the calendar).
        Holdout(test, y[test_mask], days if customers is None else None),
        review_threshold=settings.fraud_review_threshold,
        block_threshold=settings.fraud_block_threshold,
        capacities=(0.01, 0.05, share),
        fingerprint=print_,
        context={
            **counts,
            "train_orders": int(train_mask.sum()),
            "train_frauds": train_frauds,
            "split": split,
            "label_delay_days": settings.fraud_label_delay_days,
            "review_capacity_per_day": settings.fraud_review_capacity,
        },
    )
    return TrainingOutcome(
        True, outcome.why, features.height, frauds, legitimate, matured, unlabelled, outcome
    )


def _evaluation_rows(
    record: dict[str, Any], evaluation: dict[str, Any], version: str, role: str
) -> list[dict[str, Any]]:
    share = record["capacities"][-1] if len(record.get("capacities", [])) > 2 else None
    label = _share_label(share) if share is not None else None
    holdout = record["holdout"]
    rows = []
    for scorer in evaluation["scorers"]:
        rows.append(
            {
                **{k: scorer.get(k) for k in EVALUATION_COLUMNS if k in scorer},
                "challenged_at": record["challenged_at"],
                "model_version": version,
                "role": role,
                "promoted": record["promoted"],
                "review_capacity_share": share,
                "precision_at_capacity": scorer.get(f"precision_at_{label}") if label else None,
                "recall_at_capacity": scorer.get(f"recall_at_{label}") if label else None,
                "holdout_orders": holdout["orders"],
                "holdout_frauds": holdout["frauds"],
                "holdout_start": holdout["start"],
                "holdout_end": holdout["end"],
                "why": record["why"],
            }
        )
    return rows


def evaluation_tables(record: dict[str, Any] | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``fraud_model_evaluations`` and ``fraud_model_what_if`` of a challenge record (empty
    without one)."""
    evaluations: list[dict[str, Any]] = []
    what_if: list[dict[str, Any]] = []
    if record is not None:
        roles = [("challenger", record["challenger"], record["challenger_evaluation"])]
        if record.get("champion_evaluation"):
            roles.append(("champion", record["champion_before"], record["champion_evaluation"]))
        for role, version, evaluation in roles:
            evaluations += _evaluation_rows(record, evaluation, version, role)
            what_if += [
                {**row, "model_version": version, "role": role} for row in evaluation["what_if"]
            ]
    return (
        pl.DataFrame(evaluations, schema=EVALUATION_COLUMNS),
        pl.DataFrame(
            [{k: row.get(k) for k in WHAT_IF_COLUMNS} for row in what_if], schema=WHAT_IF_COLUMNS
        ),
    )


def write_evaluation_tables(con: "duckdb.DuckDBPyConnection", registry: FraudRegistry) -> int:
    """Replace the evaluation tables with the registry's latest challenge; return its rows."""
    evaluations, what_if = evaluation_tables(registry.last_challenge())
    with transaction(con):
        table_from_frame(con, "fraud_model_evaluations", evaluations, temporary=False)
        table_from_frame(con, "fraud_model_what_if", what_if, temporary=False)
    return evaluations.height
