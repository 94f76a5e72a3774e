"""Evaluation arithmetic on hand-made scores, and the customer and time splits."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from models.fraud_eval import evaluate, split_customers, split_time


def _rules(flags: list[int]) -> pl.DataFrame:
    return pl.DataFrame({"order_key": [str(i) for i in range(len(flags))], "rule_x": flags})


def test_capacity_counts_tied_orders_in_proportion() -> None:
    labels = [1, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    # The rule flags four orders, two of them frauds; 10 % capacity reviews one of them.
    rule = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    probability = np.array([0.9, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.7])
    result = evaluate(labels, probability, _rules(rule), capacities=(0.1, 0.4))
    model, ruled = result.scorer("model"), result.scorer("rule_x")
    assert model["precision_at_10pct"] == 1.0
    assert model["recall_at_10pct"] == pytest.approx(1 / 3)
    assert ruled["precision_at_10pct"] == pytest.approx(0.5)  # 2 frauds among 4 tied
    assert ruled["recall_at_10pct"] == pytest.approx(0.5 / 3)
    assert ruled["precision_at_40pct"] == pytest.approx(0.5)
    assert model["precision_at_40pct"] == pytest.approx(0.75)  # 3 frauds among the top 4
    assert ruled["flagged_share"] == 0.4 and ruled["flagged_recall"] == pytest.approx(2 / 3)
    assert result.best_rule()["scorer"] == "rule_x"
    assert model["brier"] == pytest.approx(np.mean((probability - np.array(labels)) ** 2))
    assert ruled["brier"] is None


def test_daily_capacity_reviews_each_day_separately() -> None:
    labels = [1, 0, 0, 0, 0, 1, 0, 0]
    probability = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
    days = ["d1"] * 4 + ["d2"] * 4
    result = evaluate(labels, probability, _rules([0] * 8), days=days, capacities=(0.25,))
    # One review a day: the top order of each day; d2's top (0.5) is legitimate.
    assert result.scorer("model")["precision_at_25pct"] == 0.5
    assert result.days == 2


def test_what_if_table_and_reliability_bins() -> None:
    labels = np.array([1, 1, 0, 0, 0, 0])
    probability = np.array([0.95, 0.70, 0.66, 0.30, 0.05, 0.01])
    result = evaluate(labels, probability, _rules([0] * 6), thresholds=(50, 90))
    table = {r["threshold"]: r for r in result.what_if.to_dicts()}
    assert sorted(table) == [50, 65, 75, 90]  # review and block thresholds always present
    assert (table[65]["orders"], table[65]["frauds_caught"]) == (3, 2)
    assert table[75]["precision"] == 1.0 and table[75]["recall"] == 0.5
    assert table[90]["orders"] == 1
    bins = result.reliability
    assert bins.height == 10 and bins.get_column("orders").sum() == 6
    top = bins.filter(pl.col("bin") == 9).row(0, named=True)
    assert (top["orders"], top["fraud_rate"]) == (1, 1.0)
    assert result.scorer("model")["flagged_share"] == 0.5  # score >= 65


def test_single_class_holdouts_report_no_auc() -> None:
    result = evaluate([0, 0], np.array([0.1, 0.2]), _rules([0, 1]))
    assert result.scorer("model")["roc_auc"] is None


def test_customer_split_keeps_customers_whole_and_strata_apart() -> None:
    rng = np.random.default_rng(0)
    customers = [f"c{i}" for i in rng.integers(0, 400, 3000)]
    fraudsters = {f"c{i}" for i in range(0, 400, 10)}
    labels = [int(c in fraudsters) for c in customers]
    holdout = split_customers(customers, labels, test_share=0.3, seed=4)
    frame = pl.DataFrame({"c": customers, "y": labels, "h": holdout})
    assert frame.group_by("c").agg(pl.col("h").n_unique()).get_column("h").max() == 1
    held = frame.filter(pl.col("h")).get_column("c").unique()
    assert len(held) == pytest.approx(0.3 * frame.get_column("c").n_unique(), abs=2)
    assert len(set(held) & fraudsters) == round(0.3 * len(fraudsters & set(customers)))
    again = split_customers(list(reversed(customers)), list(reversed(labels)), seed=4)
    assert (again[::-1] == holdout).all()  # same customers held out, whatever the row order
    guests = split_customers([None] * 10, [0] * 10, test_share=0.5)
    assert guests.sum() == 5


def test_time_split_leaves_a_label_delay_gap() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    created = pl.Series([t0 + timedelta(days=d) for d in range(10)])
    train, test = split_time(created, test_from=t0 + timedelta(days=7), label_delay_days=2)
    assert train.tolist() == [True] * 5 + [False] * 5
    assert test.tolist() == [False] * 7 + [True] * 3
