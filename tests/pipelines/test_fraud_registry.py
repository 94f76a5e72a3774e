"""The fraud model registry: champion/challenger on one holdout, why, hashes checked."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from benchmarks.bench_fraud_features import synthetic_orders
from models.fraud_features import fraud_features
from models.fraud_model import FraudModel, train_fraud_model
from models.fraud_persistence import MODEL_FILE
from models.fraud_registry import CHALLENGES, POINTER, FraudRegistry, Holdout, RegistryError


@dataclass(frozen=True)
class Data:
    train: pl.DataFrame
    train_labels: np.ndarray
    holdout: Holdout
    good: FraudModel
    shuffled: FraudModel


@pytest.fixture(scope="module")
def data() -> Data:
    orders = synthetic_orders(6000, seed=3, fraud_rate=0.05)
    features = fraud_features(orders.drop("label"))
    labels = orders.get_column("label").to_numpy()
    test = np.arange(len(labels)) >= 4500  # the latest quarter (orders are in time order)
    train = features.filter(pl.Series(~test))
    holdout = Holdout(
        features.filter(pl.Series(test)),
        labels[test],
        features.filter(pl.Series(test)).get_column("created_at").dt.date(),
    )
    good = train_fraud_model(train, labels[~test])
    # A challenger that learnt nothing: the same orders with their labels shuffled.
    shuffled = np.random.default_rng(0).permutation(labels[~test])
    return Data(train, labels[~test], holdout, good, train_fraud_model(train, shuffled))


def _copy(model: FraudModel) -> FraudModel:
    """The same trained model as a new object (saving records its version on the object)."""
    return FraudModel(model.estimator, model.config, model.reference, model.summary, {})


def test_the_first_model_becomes_champion_and_says_why(data: Data, tmp_path: Path) -> None:
    registry = FraudRegistry(tmp_path / "fraud")
    assert registry.champion() is None and registry.load_champion() is None
    outcome = registry.challenge(_copy(data.good), data.holdout, fingerprint="f1")
    assert outcome.promoted
    assert outcome.why.startswith("first model: no champion yet")
    champion = registry.champion()
    assert champion is not None
    assert (champion.version, champion.sha256) == (
        outcome.challenger.version,
        outcome.challenger.sha256,
    )
    assert champion.metrics["holdout"]["orders"] == data.holdout.features.height
    assert champion.metrics["pr_auc"] > champion.metrics["best_rule_pr_auc"]
    pointer = json.loads((registry.folder / POINTER).read_text())
    assert set(pointer) == {"version", "sha256", "metrics", "promoted_at", "why"}
    loaded = registry.load_champion()
    assert loaded is not None
    np.testing.assert_array_equal(
        loaded.probability(data.holdout.features), data.good.probability(data.holdout.features)
    )
    assert registry.last_challenge()["fingerprint"] == "f1"  # type: ignore[index]


def test_a_worse_challenger_leaves_the_champion_in_place(data: Data, tmp_path: Path) -> None:
    registry = FraudRegistry(tmp_path / "fraud")
    first = registry.challenge(_copy(data.good), data.holdout)
    worse = registry.challenge(_copy(data.shuffled), data.holdout)
    assert not worse.promoted
    assert worse.champion.version == first.challenger.version
    assert registry.champion() == first.champion
    assert "champion kept" in worse.why and first.challenger.version in worse.why
    new_pr = worse.challenger_evaluation.scorer("model")["pr_auc"]
    assert worse.champion_evaluation is not None
    old_pr = worse.champion_evaluation.scorer("model")["pr_auc"]
    assert new_pr < old_pr and f"{new_pr:.4f} < champion" in worse.why
    # The challenger is kept as a version all the same, and the log has both challenges.
    assert (registry.versions / worse.challenger.version / MODEL_FILE).is_file()
    records = registry.challenges()
    assert [r["promoted"] for r in records] == [True, False]
    assert records[-1]["champion_evaluation"]["scorers"][0]["pr_auc"] == old_pr


def test_a_better_challenger_replaces_the_champion(data: Data, tmp_path: Path) -> None:
    registry = FraudRegistry(tmp_path / "fraud")
    weak = registry.challenge(_copy(data.shuffled), data.holdout)
    better = registry.challenge(_copy(data.good), data.holdout)
    assert better.promoted
    assert registry.champion().version == better.challenger.version  # type: ignore[union-attr]
    assert f"champion {weak.challenger.version}" in better.why and "promoted" in better.why


def test_a_tampered_or_missing_champion_is_refused(data: Data, tmp_path: Path) -> None:
    registry = FraudRegistry(tmp_path / "fraud")
    outcome = registry.challenge(_copy(data.good), data.holdout)
    model_file = outcome.challenger.folder / MODEL_FILE
    model_file.write_bytes(model_file.read_bytes() + b"\0")
    with pytest.raises(RegistryError, match="SHA-256"):
        registry.load_champion()
    # A challenger meeting an unusable champion replaces it, and says so.
    replaced = registry.challenge(_copy(data.good), data.holdout)
    assert replaced.promoted and "cannot be used" in replaced.why
    (registry.folder / POINTER).write_text("{not json")
    with pytest.raises(RegistryError, match=POINTER):
        registry.champion()
    (registry.folder / CHALLENGES).write_text("garbage\n")
    with pytest.raises(RegistryError, match="line 1"):
        registry.challenges()


def test_a_holdout_needs_both_classes(data: Data) -> None:
    frame = data.holdout.features.head(10)
    with pytest.raises(ValueError, match="both"):
        Holdout(frame, np.zeros(10, dtype=np.int64))
    with pytest.raises(ValueError, match="one label"):
        Holdout(frame, np.array([0, 1]))
