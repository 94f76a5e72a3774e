"""The calibrated model, its score and levels, and the reasons behind flagged orders."""

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from models.fraud_eval import evaluate
from models.fraud_features import fraud_features
from models.fraud_model import FraudConfig, train_fraud_model
from models.fraud_reasons import contributions, explain, reason_text
from models.fraud_rules import RULE_NAMES, rule_scores
from tests.models.conftest import Trained


def test_the_model_beats_every_rule_on_the_holdout(trained: Trained) -> None:
    holdout = trained.features.filter(pl.Series(trained.test))
    y = trained.labels[trained.test]
    result = evaluate(y, trained.model.probability(holdout), rule_scores(holdout))
    assert result.scorers.get_column("scorer").to_list() == ["model", *RULE_NAMES]
    assert result.scorer("model")["pr_auc"] >= result.best_rule()["pr_auc"] + 0.05
    assert result.scorer("model")["roc_auc"] > 0.9


def test_probabilities_are_calibrated_to_the_fraud_rate(trained: Trained) -> None:
    holdout = trained.features.filter(pl.Series(trained.test))
    probability = trained.model.probability(holdout)
    assert probability.mean() == pytest.approx(trained.labels[trained.test].mean(), abs=0.015)


def test_score_and_levels_follow_the_thresholds(trained: Trained) -> None:
    scored = trained.model.score(trained.features)
    assert scored.height == trained.features.height
    assert scored.get_column("order_key").to_list() == trained.features["order_key"].to_list()
    assert scored.get_column("score").is_between(0, 99).all()
    expected = (
        pl.when(pl.col("score") >= 75)
        .then(pl.lit("highest"))
        .when(pl.col("score") >= 65)
        .then(pl.lit("elevated"))
        .otherwise(pl.lit("normal"))
    )
    assert (scored.get_column("level") == scored.select(expected).to_series()).all()
    assert scored.filter(pl.col("level") == "highest").height > 0
    strict = replace(trained.model, config=replace(trained.model.config, review_threshold=90,
                                                   block_threshold=99))  # fmt: skip
    levels = strict.score(trained.features).get_column("level").value_counts()
    assert set(levels.get_column("level")) <= {"normal", "elevated", "highest"}


def test_thresholds_and_features_are_validated() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        FraudConfig(review_threshold=80, block_threshold=70)
    with pytest.raises(ValueError, match="unknown"):
        FraudConfig(features=("seconds_since_signup", "shoe_size"))


def test_orders_without_signals_are_scored(trained: Trained) -> None:
    import datetime as dt

    pos = pl.DataFrame(
        {
            "order_key": ["pos-1", "pos-2"],
            "created_at": [dt.datetime(2026, 2, 1, 10, tzinfo=dt.UTC)] * 2,
            "total": [12.5, None],
            "channel": ["pos", "pos"],
        }
    )
    scored = trained.model.score(fraud_features(pos))
    assert scored.get_column("score").is_not_null().all()


def test_features_without_any_value_are_left_out_of_training(trained: Trained) -> None:
    # Without an IP ranges table the IP-country features are all null.
    model = trained.model
    assert "ip_billing_mismatch" in model.summary.features_without_values
    assert "ip_billing_mismatch" not in model.config.features
    assert model.summary.frauds == int(trained.labels[trained.train].sum())


def test_every_order_at_or_above_the_review_threshold_has_a_reason(trained: Trained) -> None:
    scored = trained.model.score(trained.features)
    flagged = scored.filter(pl.col("score") >= trained.model.config.review_threshold)
    reasons = explain(trained.model, trained.features)
    assert reasons.height == flagged.height > 20
    assert reasons.get_column("order_key").to_list() == flagged.get_column("order_key").to_list()
    lengths = reasons.get_column("reasons").list.len()
    assert lengths.is_between(1, trained.model.config.max_reasons).all()
    assert (reasons.get_column("reason_features").list.len() == lengths).all()
    # Deterministic: the same reasons on a second run.
    assert explain(trained.model, trained.features).equals(reasons)


def test_changing_the_driving_feature_changes_the_reason(trained: Trained) -> None:
    reasons = explain(trained.model, trained.features)
    fast = reasons.filter(pl.col("reason_features").list.first() == "seconds_since_signup")
    assert fast.height > 0
    key = fast.get_column("order_key")[0]
    order = trained.features.filter(pl.col("order_key") == key)
    before = explain(trained.model, order, threshold=0).row(0, named=True)
    assert before["reasons"][0].startswith("Account created")
    assert before["reasons"][0].endswith("seconds before the order")
    # An old account, but a device shared by many customers.
    changed = order.with_columns(
        pl.lit(400 * 86_400.0).alias("seconds_since_signup"),
        pl.lit(15, dtype=pl.Int64).alias("device_other_customers"),
    )
    after = explain(trained.model, changed, threshold=0).row(0, named=True)
    assert "seconds_since_signup" not in after["reason_features"]
    assert after["reason_features"][0] == "device_other_customers"
    assert after["reasons"][0] == "Device already used by 15 other customer(s)"


def test_contributions_are_zero_for_features_at_their_typical_value(trained: Trained) -> None:
    model = trained.model
    typical = trained.features.head(1).with_columns(
        pl.lit(value).cast(trained.features.schema[name]).alias(name)
        for name, value in model.reference.items()
        if not isinstance(value, str) and not np.isnan(value)
    )
    contrib = contributions(model, typical)
    names = model.config.features
    for j, name in enumerate(names):
        value = model.reference[name]
        if not isinstance(value, str) and not np.isnan(value):
            assert contrib[0, j] == pytest.approx(0.0, abs=1e-9), name


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("seconds_since_signup", 12.0, "Account created 12 seconds before the order"),
        ("seconds_since_signup", 7200.0, "Account created 2 hours before the order"),
        ("device_orders_1h", 1.0, "1 order from this device in the hour before"),
        ("ip_orders_24h", 4.0, "4 orders from this IP address in the day before"),
        ("email_disposable", 1.0, "Disposable e-mail address"),
        ("shipping_rushed", 0.0, "Standard shipping"),
        ("ip_country", "NG", "IP address in NG"),
        ("device_other_customers", float("nan"), "No device id"),
        ("browser", "(none)", "Browser family from the user agent: unknown"),
        ("value_to_prior_mean", 4.25, "Order value 4.2x the customer's average"),
    ],
)
def test_reasons_read_like_a_reviewer_would_say_them(
    feature: str, value: float | str, text: str
) -> None:
    assert reason_text(feature, value) == text


def test_training_needs_both_classes() -> None:
    frame = pl.DataFrame({"order_key": ["a"], "created_at": [None], "total": [1.0]})
    with pytest.raises(ValueError, match="10 frauds"):
        train_fraud_model(frame, np.array([1]))
