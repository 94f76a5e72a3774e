"""How the fraud score agrees with weak labels on the real Shopify exports: Shopify's own
``Risk Level`` and the merchant's cancellations. A figure, not a gate: neither is a fraud
label (most cancellations are customers changing their minds; a medium risk level is
Shopify's suspicion, not a chargeback).

Model: the exports carry no fraud labels, so the model is the one ``orderlens demo-data``
bootstraps (:func:`pipelines.defs.fraud.history.train_on_generated_history`: 20,000
generated orders, fraud at 2 %, no IP ranges). Its training orders have no source risk
level, so the model cannot copy Shopify's verdict: agreement is independent evidence.

Orders: every file of ``../shared/data/shopify_exports`` (one landing source per store)
through a real Dagster run of every asset in a scratch home. Output (JSON on stdout): per
Risk Level the orders, mean and median score and the share at or above the review
threshold; the ROC-AUC of the score for "Shopify says medium or high" and for "cancelled";
the same per store where a store has both classes. AUCs rank by the probability.

Usage: ``uv run python -m benchmarks.fraud_shopify_agreement [--shared ../shared/data]``.
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from orderlens.settings import Settings
from orderlens.warehouse import connect
from pipelines.defs.fraud.history import GeneratedHistory, train_on_generated_history
from pipelines.runner import run_pipeline

SCORED_ORDERS_SQL = """
SELECT o.source AS store, lower(coalesce(o.source_risk_level, 'none')) AS risk_level,
       o.cancelled_at IS NOT NULL AS cancelled, s.score, s.probability, s.level
FROM fct_orders o JOIN fraud_scores s USING (order_key)
"""


def _auc(labels: pl.Series, scores: pl.Series) -> float | None:
    """ROC-AUC of ``scores`` (the probability: the 0-99 score ties most orders at 0), or
    None when only one class is present."""
    y = labels.to_numpy().astype(bool)
    if y.all() or not y.any():
        return None
    return round(float(roc_auc_score(y, scores.to_numpy().astype(np.float64))), 3)


def agreement(orders: pl.DataFrame, review_threshold: int) -> dict[str, Any]:
    """The figures of the module docstring, from one row per scored order (``store``,
    ``risk_level``, ``cancelled``, ``score``, ``probability``)."""
    per_level = (
        orders.group_by("risk_level")
        .agg(
            pl.len().alias("orders"),
            pl.col("score").mean().round(2).alias("mean_score"),
            pl.col("score").median().alias("median_score"),
            pl.col("probability").mean().round(5).alias("mean_probability"),
            (pl.col("score") >= review_threshold).mean().round(4).alias("share_at_review"),
            pl.col("cancelled").sum().alias("cancelled"),
        )
        .sort("risk_level")
    )
    risky = orders.get_column("risk_level").is_in(["medium", "high"])
    per_store = {}
    for (store,), group in orders.group_by("store", maintain_order=True):
        per_store[str(store)] = {
            "orders": group.height,
            "auc_risk_medium_or_high": _auc(
                group.get_column("risk_level").is_in(["medium", "high"]),
                group.get_column("probability"),
            ),
            "auc_cancelled": _auc(group.get_column("cancelled"), group.get_column("probability")),
        }
    return {
        "orders_scored": orders.height,
        "review_threshold": review_threshold,
        "per_risk_level": per_level.to_dicts(),
        "auc_risk_medium_or_high": _auc(risky, orders.get_column("probability")),
        "auc_cancelled": _auc(orders.get_column("cancelled"), orders.get_column("probability")),
        "per_store": dict(sorted(per_store.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Fraud score vs Shopify's Risk Level")
    parser.add_argument("--shared", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    exports = sorted((args.shared / "shopify_exports").glob("*.csv"))
    if not exports:
        raise SystemExit(f"no Shopify exports under {args.shared / 'shopify_exports'}")
    with tempfile.TemporaryDirectory(prefix="orderlens-agreement-") as tmp:
        root = Path(tmp)
        landing = root / "landing"
        for path in exports:
            store = path.name.split("__")[0]
            (landing / f"shopify_{store}").mkdir(parents=True)
            shutil.copy(path, landing / f"shopify_{store}" / path.name)
        settings = Settings.from_env(env={}, home=root / "home", landing=landing)
        settings.ensure_dirs()
        trained = train_on_generated_history(settings, GeneratedHistory())
        if trained.outcome is None or trained.outcome.challenge is None:
            raise SystemExit(f"no model trained: {trained.outcome.why if trained.outcome else '?'}")
        with dg.DagsterInstance.ephemeral() as instance:
            outcome = run_pipeline(settings=settings, instance=instance)
        if not outcome.success:
            raise SystemExit(f"pipeline failed at {outcome.failed_step}: {outcome.error}")
        with connect(settings.warehouse, read_only=True) as con:
            orders = con.sql(SCORED_ORDERS_SQL).pl()
        report = agreement(orders, settings.fraud_review_threshold)
        report["model_version"] = trained.outcome.challenge.challenger.version
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
