"""Evaluation of fraud scores beside the rule baselines, and the splits it is run on.

Grain of :class:`FraudEvaluation`: ``scorers`` has one row per scorer (the model, then each
rule); ``what_if`` one row per score threshold of the model; ``reliability`` one row per
probability bin of the model.

What is measured, on a holdout the model never saw:
- ROC-AUC and PR-AUC (average precision) of every scorer; a rule is a 0/1 score.
- Precision and recall at a daily review capacity: each day the top ``capacity`` share of
  that day's orders by score is reviewed (at least one order a day). Orders tied at the
  cut-off count in proportion, so a 0/1 rule is not helped or hurt by the order of ties.
- The operating point of each scorer: for the model, orders at or above the review and
  block thresholds; for a rule, the orders it flags.
- What-if table: for each threshold, the review load (orders, share, per day) and the frauds
  caught (count, recall) and precision, so a merchant can set thresholds to their capacity.
- Calibration: Brier score and reliability bins (mean predicted probability vs observed fraud
  rate per bin).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

MODEL = "model"


@dataclass(frozen=True)
class FraudEvaluation:
    """Metrics of the model and the rule baselines on one holdout."""

    orders: int
    frauds: int
    days: int
    scorers: pl.DataFrame
    what_if: pl.DataFrame
    reliability: pl.DataFrame

    def scorer(self, name: str) -> dict[str, Any]:
        """One row of ``scorers`` as a dict."""
        return self.scorers.filter(pl.col("scorer") == name).row(0, named=True)

    def best_rule(self, metric: str = "pr_auc") -> dict[str, Any]:
        """The rule baseline with the highest ``metric``."""
        rules = self.scorers.filter(pl.col("scorer") != MODEL).sort(
            metric, "scorer", descending=[True, False], nulls_last=True
        )
        return rules.row(0, named=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (for a model card or JSON)."""
        return {
            "orders": self.orders,
            "frauds": self.frauds,
            "days": self.days,
            "scorers": self.scorers.to_dicts(),
            "what_if": self.what_if.to_dicts(),
            "reliability": self.reliability.to_dicts(),
        }


def _auc(labels: np.ndarray, score: np.ndarray) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if labels.min() == labels.max():
        return None, None
    return float(roc_auc_score(labels, score)), float(average_precision_score(labels, score))


def _at_capacity(
    labels: np.ndarray, score: np.ndarray, day_ids: np.ndarray, share: float
) -> tuple[float, float]:
    """Expected precision and recall when each day's top ``share`` of orders is reviewed."""
    _, day, sizes = np.unique(day_ids, return_inverse=True, return_counts=True)
    # At least one review a day; the epsilon keeps 5 % of 20 orders at 1, not 2.
    k = np.maximum(1, np.ceil(share * sizes - 1e-9).astype(np.int64))
    order = np.lexsort((-score, day))  # by day, then highest score first
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cut = score[order][starts + k - 1][day]  # each order's day's cut-off score
    above, tied = score > cut, score == cut
    n_days = len(sizes)
    above_n = np.bincount(day, weights=above, minlength=n_days)
    tied_n = np.bincount(day, weights=tied, minlength=n_days)
    tied_frauds = np.bincount(day, weights=tied & (labels == 1), minlength=n_days)
    caught = labels[above].sum() + np.sum(tied_frauds * (k - above_n) / tied_n)
    reviewed = int(k.sum())
    frauds = labels.sum()
    return float(caught / reviewed), float(caught / frauds) if frauds else 0.0


def _flagged(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float | None]:
    n_flagged = int(flagged.sum())
    caught = int(labels[flagged].sum())
    frauds = int(labels.sum())
    return {
        "flagged_share": n_flagged / len(labels),
        "flagged_precision": caught / n_flagged if n_flagged else None,
        "flagged_recall": caught / frauds if frauds else None,
    }


def evaluate(
    labels: Sequence[int] | np.ndarray | pl.Series,
    probability: np.ndarray,
    rules: pl.DataFrame,
    *,
    days: Sequence[Any] | np.ndarray | pl.Series | None = None,
    review_threshold: int = 65,
    block_threshold: int = 75,
    capacities: tuple[float, ...] = (0.01, 0.05),
    thresholds: Sequence[int] = tuple(range(5, 100, 5)),
    bins: int = 10,
) -> FraudEvaluation:
    """Evaluate calibrated ``probability`` and the 0/1 ``rules`` columns (a frame from
    :func:`models.fraud_rules.rule_scores`; ``order_key`` is ignored) against ``labels``.

    ``days`` gives each order's day for the daily capacity and review load (without it the
    whole holdout is one day).
    """
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(probability, dtype=np.float64)
    if not len(y) == len(p) == rules.height:
        raise ValueError("labels, probability and rules must have one row per order")
    day_ids = (
        np.zeros(len(y), dtype=np.int64)
        if days is None
        else pl.Series(days).rank("dense").to_numpy().astype(np.int64)
    )
    n_days = len(np.unique(day_ids)) if len(y) else 0
    score = np.minimum(np.floor(p * 100), 99)

    rows: list[dict[str, Any]] = []
    candidates: list[tuple[str, np.ndarray, np.ndarray]] = [
        (MODEL, p, score >= review_threshold)
    ] + [
        (
            name,
            rules.get_column(name).to_numpy().astype(np.float64),
            rules.get_column(name).to_numpy() > 0,
        )
        for name in rules.columns
        if name != "order_key"
    ]
    for name, values, flagged in candidates:
        roc, pr = _auc(y, values)
        row: dict[str, Any] = {"scorer": name, "roc_auc": roc, "pr_auc": pr}
        for share in capacities:
            precision, recall = _at_capacity(y, values, day_ids, share)
            label = f"{share * 100:g}pct"
            row[f"precision_at_{label}"] = precision
            row[f"recall_at_{label}"] = recall
        row |= _flagged(y, flagged)
        row["brier"] = float(np.mean((p - y) ** 2)) if name == MODEL else None
        rows.append(row)
    scorers = pl.DataFrame(rows)

    frauds = int(y.sum())
    what_if_rows = []
    for threshold in sorted({*thresholds, review_threshold, block_threshold}):
        reviewed = score >= threshold
        n = int(reviewed.sum())
        caught = int(y[reviewed].sum())
        what_if_rows.append(
            {
                "threshold": threshold,
                "orders": n,
                "share": n / len(y) if len(y) else 0.0,
                "per_day": n / n_days if n_days else 0.0,
                "frauds_caught": caught,
                "recall": caught / frauds if frauds else None,
                "precision": caught / n if n else None,
            }
        )
    what_if = pl.DataFrame(what_if_rows)

    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    reliability = pl.DataFrame(
        [
            {
                "bin": b,
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "orders": int((which == b).sum()),
                "mean_probability": float(p[which == b].mean()) if (which == b).any() else None,
                "fraud_rate": float(y[which == b].mean()) if (which == b).any() else None,
            }
            for b in range(bins)
        ]
    )
    return FraudEvaluation(len(y), frauds, n_days, scorers, what_if, reliability)


def split_customers(
    customers: pl.Series | Sequence[str | None],
    labels: Sequence[int] | np.ndarray | pl.Series,
    *,
    test_share: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """Boolean holdout mask: whole customers (all their orders) go to the holdout, drawn per
    stratum (customers with a fraud, customers without) with a fixed seed, so both sides keep
    the fraud rate and no customer's history is split. Orders without a customer are drawn
    one by one the same way."""
    keys = pl.Series("customer", customers, dtype=pl.String)
    y = np.asarray(labels, dtype=np.int64)
    frame = pl.DataFrame({"customer": keys, "label": y}).with_row_index("row")
    frame = frame.with_columns(
        pl.coalesce(pl.col("customer"), pl.lit("\x00row:") + pl.col("row").cast(pl.String)).alias(
            "unit"
        )
    )
    units = frame.group_by("unit").agg(pl.col("label").max().alias("fraud")).sort("unit")
    rng = np.random.default_rng(seed)
    chosen: list[str] = []
    for stratum in (0, 1):
        members = units.filter(pl.col("fraud") == stratum).get_column("unit").to_numpy()
        take = round(test_share * len(members))
        chosen.extend(rng.permutation(members)[:take].tolist())
    return frame.get_column("unit").is_in(chosen).to_numpy()


def split_time(
    created_at: pl.Series, *, test_from: Any, label_delay_days: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) masks of a time split: test is every order from ``test_from``; train is
    every order placed at least ``label_delay_days`` before it, since frauds placed just
    before the cut-off would not be known (charged back) yet when the model is trained."""
    gap = pl.duration(microseconds=round(label_delay_days * 86_400 * 1_000_000))
    frame = pl.DataFrame({"t": created_at})
    masks = frame.select(
        (pl.col("t") < pl.lit(test_from) - gap).alias("train"),
        (pl.col("t") >= pl.lit(test_from)).alias("test"),
    )
    return masks.get_column("train").to_numpy(), masks.get_column("test").to_numpy()
