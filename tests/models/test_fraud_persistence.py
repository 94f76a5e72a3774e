"""skops persistence: round trip, trusted types only, hashes, the model card."""

import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from skops.io.exceptions import UntrustedTypesFoundException

from models.fraud_eval import evaluate
from models.fraud_model import limit_threads, model_input
from models.fraud_persistence import (
    CARD_JSON,
    CARD_MARKDOWN,
    MODEL_FILE,
    _state,
    dump_state,
    load_model,
    save_model,
)
from models.fraud_rules import rule_scores
from tests.models.conftest import Trained


def test_a_saved_model_loads_and_scores_the_same(trained: Trained, tmp_path: Path) -> None:
    holdout = trained.features.filter(pl.Series(trained.test))
    evaluation = evaluate(
        trained.labels[trained.test], trained.model.probability(holdout), rule_scores(holdout)
    )
    saved = save_model(trained.model, tmp_path, evaluation=evaluation)
    assert saved.folder.parent == tmp_path and saved.version.startswith("fraud-")
    assert saved.version.endswith(saved.sha256[:8])
    assert {p.name for p in saved.folder.iterdir()} == {MODEL_FILE, CARD_JSON, CARD_MARKDOWN}
    assert not (saved.folder / MODEL_FILE).read_bytes().startswith(b"\x80")  # not a pickle
    loaded = load_model(saved.folder, expected_sha256=saved.sha256)
    assert loaded.metadata == {"version": saved.version, "sha256": saved.sha256}
    assert loaded.config == trained.model.config
    assert loaded.summary == trained.model.summary
    np.testing.assert_array_equal(
        loaded.probability(trained.features), trained.model.probability(trained.features)
    )
    # The loaded estimator itself (not only the forest compiled from it) scores the same.
    x = model_input(trained.features, loaded.config.features)
    with limit_threads(1):
        np.testing.assert_array_equal(
            loaded.estimator.predict_proba(x)[:, 1], trained.model.probability(trained.features)
        )
    scored = loaded.score(trained.features.head(3))
    assert scored.get_column("model_version").to_list() == [saved.version] * 3
    assert scored.get_column("model_sha256").to_list() == [saved.sha256] * 3


def test_the_model_card_says_what_the_model_is(trained: Trained, tmp_path: Path) -> None:
    saved = save_model(trained.model, tmp_path)
    card = json.loads((saved.folder / CARD_JSON).read_text())
    assert card["version"] == saved.version and card["sha256"] == saved.sha256
    assert card["thresholds"] == {"review": 65, "block": 75}
    assert card["data_window"]["start"] < card["data_window"]["end"]
    assert [f["name"] for f in card["features"]] == list(trained.model.config.features)
    assert card["limits"]
    text = (saved.folder / CARD_MARKDOWN).read_text()
    assert saved.version in text and "## Limits" in text and "seconds_since_signup" in text


def test_a_model_file_with_an_untrusted_type_fails_to_load(
    trained: Trained, tmp_path: Path
) -> None:
    state = _state(trained.model)
    state["estimator"] = Pipeline([("run", FunctionTransformer(os.system))])
    path = tmp_path / MODEL_FILE
    path.write_bytes(dump_state(state))
    with pytest.raises(UntrustedTypesFoundException, match="system"):
        load_model(path)


def test_a_file_that_is_not_the_expected_one_is_refused(trained: Trained, tmp_path: Path) -> None:
    saved = save_model(trained.model, tmp_path)
    with pytest.raises(ValueError, match="not the expected"):
        load_model(saved.model_path, expected_sha256="0" * 64)
    other = save_model(trained.model, tmp_path / "other")
    # A card from another file beside this model is refused, not believed.
    (saved.folder / CARD_JSON).write_text((other.folder / CARD_JSON).read_text())
    if other.sha256[:8] != saved.sha256[:8]:
        with pytest.raises(ValueError, match="another model file"):
            load_model(saved.folder)
    state = {"format": "something-else"}
    foreign = tmp_path / "foreign.skops"
    foreign.write_bytes(dump_state(state))
    with pytest.raises(ValueError, match="not an OrderLens fraud model"):
        load_model(foreign)
