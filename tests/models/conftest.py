"""A small labelled order stream and a model trained on it, shared by the model tests."""

from dataclasses import dataclass

import numpy as np
import polars as pl
import pytest

from benchmarks.bench_fraud_features import synthetic_orders
from models.fraud_features import fraud_features
from models.fraud_model import FraudModel, train_fraud_model


@dataclass(frozen=True)
class Trained:
    features: pl.DataFrame
    labels: np.ndarray
    train: np.ndarray
    test: np.ndarray
    model: FraudModel


@pytest.fixture(scope="package")
def trained() -> Trained:
    orders = synthetic_orders(8000, seed=21, fraud_rate=0.04)
    features = fraud_features(orders.drop("label"))
    labels = orders.get_column("label").to_numpy()
    test = np.arange(len(labels)) >= 5600
    model = train_fraud_model(features.filter(pl.Series(~test)), labels[~test])
    return Trained(features, labels, ~test, test, model)
