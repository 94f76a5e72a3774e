"""The compiled forest scores exactly as the scikit-learn estimator it is compiled from."""

import numpy as np
import polars as pl
import pytest

from models.fraud_features import fraud_features
from models.fraud_forest import SMALL_ROWS
from models.fraud_model import (
    FraudConfig,
    FraudModel,
    levels,
    limit_threads,
    model_input,
    scores,
    train_fraud_model,
)
from models.fraud_reasons import contributions, explain
from tests.models.conftest import Trained


def sklearn_probability(model: FraudModel, features: pl.DataFrame) -> np.ndarray:
    with limit_threads(1):
        return model.estimator.predict_proba(model_input(features, model.config.features))[:, 1]


def sklearn_log_odds(model: FraudModel, features: pl.DataFrame) -> np.ndarray:
    with limit_threads(1):
        return model.pipeline.decision_function(model_input(features, model.config.features))


def sklearn_contributions(model: FraudModel, features: pl.DataFrame) -> np.ndarray:
    """The definition: each feature alone set to its typical value, one sklearn call."""
    names = model.config.features
    x = model_input(features, names)
    variants = [x] + [
        x.with_columns(pl.lit(model.reference[n], dtype=x.schema[n]).alias(n)) for n in names
    ]
    with limit_threads(1):
        odds = model.pipeline.decision_function(pl.concat(variants))
    odds = odds.reshape(len(variants), x.height)
    return (odds[0] - odds[1:]).T


def test_batch_scores_equal_the_estimator_bit_for_bit(trained: Trained) -> None:
    model, features = trained.model, trained.features
    np.testing.assert_array_equal(model.probability(features), sklearn_probability(model, features))
    np.testing.assert_array_equal(model.log_odds(features), sklearn_log_odds(model, features))


def test_single_orders_score_as_in_a_batch(trained: Trained) -> None:
    model, features = trained.model, trained.features
    forest = model.forest
    batch = forest.matrix(features)
    expected = sklearn_log_odds(model, features)
    for n in range(1, SMALL_ROWS + 2):  # the small path and the first batch size after it
        for start in range(0, 300, 37):
            rows = features.slice(start, n)
            x = forest.matrix(rows)
            np.testing.assert_array_equal(x, batch[start : start + n])
            np.testing.assert_array_equal(forest.log_odds(x), expected[start : start + n])


def test_contributions_equal_the_definition(trained: Trained) -> None:
    model = trained.model
    flagged = trained.features.filter(
        pl.Series(model.score(trained.features).get_column("score") >= 50)
    )
    assert flagged.height > SMALL_ROWS
    for rows in (flagged.head(1), flagged.head(SMALL_ROWS), flagged):
        np.testing.assert_array_equal(
            contributions(model, rows), sklearn_contributions(model, rows)
        )


def test_unseen_rare_and_missing_categories_score_as_in_scikit_learn(trained: Trained) -> None:
    # Many sources: some frequent, some below the encoder's min_frequency (pooled), more than
    # its max_categories; then values never seen, nulls and the missing marker at scoring.
    rng = np.random.default_rng(3)
    features = trained.features
    sources = [f"source-{k}" for k in rng.zipf(1.6, features.height) % 150]
    varied = features.with_columns(pl.Series("marketing_source", sources))
    train = varied.filter(pl.Series(trained.train))
    model = train_fraud_model(train, trained.labels[trained.train])
    encoder = model.pipeline.named_steps["columns"].named_transformers_["categorical"]
    assert any(c is not None for c in encoder.infrequent_categories_)
    scoring = varied.with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0)
        .then(pl.lit("never-seen"))
        .when(pl.int_range(pl.len()) % 11 == 0)
        .then(None)
        .when(pl.int_range(pl.len()) % 13 == 0)
        .then(pl.lit("(none)"))
        .otherwise(pl.col("marketing_source"))
        .alias("marketing_source"),
        pl.when(pl.int_range(pl.len()) % 5 == 0)
        .then(pl.lit("telephone"))
        .otherwise(pl.col("channel"))
        .alias("channel"),
    )
    np.testing.assert_array_equal(model.probability(scoring), sklearn_probability(model, scoring))
    for start in range(0, 91, 13):
        one = scoring.slice(start, 1)
        np.testing.assert_array_equal(model.probability(one), sklearn_probability(model, one))
        np.testing.assert_array_equal(contributions(model, one), sklearn_contributions(model, one))


def test_explain_on_one_order_matches_explain_on_the_batch(trained: Trained) -> None:
    model, features = trained.model, trained.features
    batch = explain(model, features, threshold=0)
    assert batch.height == features.height
    for i in range(0, features.height, 97):
        one = explain(model, features.slice(i, 1), threshold=0)
        assert one.row(0) == batch.row(i)


def test_an_empty_frame_has_no_scores_and_no_reasons(trained: Trained) -> None:
    empty = trained.features.head(0)
    assert trained.model.score(empty).height == 0
    assert explain(trained.model, empty).height == 0


def test_features_typed_otherwise_are_read_as_the_pipeline_reads_them(trained: Trained) -> None:
    model, features = trained.model, trained.features.head(50)
    retyped = features.with_columns(
        pl.col("channel").cast(pl.Categorical),
        pl.col("hour_of_day").cast(pl.Int8),
        pl.col("email_free").cast(pl.Boolean),
    )
    expected = sklearn_probability(model, retyped)
    np.testing.assert_array_equal(model.probability(retyped), expected)
    for i in range(0, 50, 7):
        one = retyped.slice(i, 1)
        np.testing.assert_array_equal(model.probability(one), expected[i : i + 1])


@pytest.mark.slow
@pytest.mark.shared_data
def test_fast_scores_equal_the_estimator_on_fraud_history() -> None:
    from benchmarks.fraud_history import (
        HISTORY,
        IP_RANGES,
        orders_from_generic,
        read_history,
        read_ip_ranges,
        to_generic,
    )

    history = read_history(HISTORY)
    orders = orders_from_generic(to_generic(history.purchases))
    labels = history.purchases.get_column("label").to_numpy()
    ranges, _ = read_ip_ranges(IP_RANGES)
    features = fraud_features(orders, ip_ranges=ranges)
    train = np.random.default_rng(5).random(features.height) < 0.3
    model = train_fraud_model(features.filter(pl.Series(train)), labels[train])
    # The other orders: IP countries the training rows may not have seen.
    rest = features.filter(pl.Series(~train))
    np.testing.assert_array_equal(model.probability(rest), sklearn_probability(model, rest))
    flagged = rest.filter(pl.Series(model.score(rest).get_column("score") >= 65)).head(200)
    assert flagged.height == 200
    np.testing.assert_array_equal(
        contributions(model, flagged), sklearn_contributions(model, flagged)
    )
    for i in range(0, 200, 17):
        one = flagged.slice(i, 1)
        np.testing.assert_array_equal(contributions(model, one), sklearn_contributions(model, one))


def test_the_score_frame_is_what_the_score_and_level_expressions_give(trained: Trained) -> None:
    model, features = trained.model, trained.features
    scored = model.score(features)
    expected = pl.DataFrame(
        {"order_key": features.get_column("order_key"), "probability": scored["probability"]}
    ).with_columns(
        scores(pl.col("probability")).alias("score"),
        levels(scores(pl.col("probability")), model.config).alias("level"),
        pl.lit(None, pl.String).alias("model_version"),
        pl.lit(None, pl.String).alias("model_sha256"),
    )
    assert scored.equals(expected)
    assert scored.get_column("level").n_unique() == 3
    assert model.score(features.slice(5, 1)).equals(expected.slice(5, 1))


def test_values_at_and_next_to_every_threshold_score_as_in_scikit_learn(trained: Trained) -> None:
    # Large batches read ranks among the split thresholds in float32: a value equal to a
    # threshold, or one float64 step either side of it (where a float32 cast would round
    # onto the threshold), must still go the booster's way; so must infinities, integer
    # columns with nulls and integers far apart.
    model = trained.model
    forest = model.forest
    base = trained.features.head(1)
    rows = []
    for j, name in enumerate(forest.columns):
        if forest.categorical[j] or trained.features.schema[name] != pl.Float64:
            continue
        for threshold in forest.batch.split_values[j].tolist():
            for value in (threshold, np.nextafter(threshold, np.inf),
                          np.nextafter(threshold, -np.inf)):  # fmt: skip
                rows.append(base.with_columns(pl.lit(value, pl.Float64).alias(name)))
        for value in (np.inf, -np.inf, None):
            rows.append(base.with_columns(pl.lit(value, pl.Float64).alias(name)))
    edges = pl.concat(rows)
    assert edges.height > 300
    np.testing.assert_array_equal(model.probability(edges), sklearn_probability(model, edges))
    counts = trained.features.head(400).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(None)
        .otherwise(pl.col("device_other_customers"))
        .alias("device_other_customers"),
        (pl.col("customer_prior_orders") * 10**12).alias("customer_prior_orders"),
        pl.when(pl.int_range(pl.len()) % 4 == 0)
        .then(None)
        .otherwise(pl.col("email_disposable"))
        .alias("email_disposable"),
    )
    np.testing.assert_array_equal(model.probability(counts), sklearn_probability(model, counts))


@pytest.mark.parametrize(
    "names",
    [
        ("seconds_since_signup", "order_value", "shipping_rushed", "device_other_customers"),
        ("channel",),
    ],
)
def test_models_on_feature_subsets_compile_and_score_exactly(
    trained: Trained, names: tuple[str, ...]
) -> None:
    # No categorical feature at all (the booster has no category preprocessing), or only one.
    train = trained.features.filter(pl.Series(trained.train))
    model = train_fraud_model(train, trained.labels[trained.train], FraudConfig(features=names))
    features = trained.features
    expected = sklearn_probability(model, features)
    np.testing.assert_array_equal(model.probability(features), expected)
    np.testing.assert_array_equal(model.probability(features.slice(7, 1)), expected[7:8])
    assert explain(model, features.slice(7, 1), threshold=0).get_column("reasons").list.len()[0]
