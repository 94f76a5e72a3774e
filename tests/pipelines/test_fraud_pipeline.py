"""Fraud assets in real Dagster runs: a generated merchant with injected fraud and a labels
file; the pipeline trains the first champion, scores every order, queues and holds."""

import hashlib
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from models.fraud_persistence import MODEL_FILE
from models.fraud_registry import FraudRegistry
from orderlens.settings import Settings
from orderlens.warehouse import connect, open_writer, transaction
from pipelines.defs.fraud.history import labels_from_ground_truth
from pipelines.generator import generate_merchant, parse_injector_specs
from tests.conftest import make_settings, run_all, table_hashes

pytestmark = pytest.mark.slow

REVIEW, BLOCK, CAPACITY = 65, 75, 5
ENVIRONMENT = {
    "ORDERLENS_FRAUD_REVIEW_CAPACITY": str(CAPACITY),
    "ORDERLENS_FRAUD_MIN_FRAUDS": "30",
    "ORDERLENS_FRAUD_MIN_LEGITIMATE": "300",
}


@dataclass(frozen=True)
class FraudHome:
    settings: Settings
    registry: FraudRegistry


def _frame(settings: Settings, sql: str) -> pl.DataFrame:
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


@pytest.fixture(scope="module")
def fraud_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FraudHome]:
    """Four thousand orders of the first half of 2025 with fraud injected at 4 %, the
    frauds labelled in ``_reference/fraud_labels.csv``, after one full run."""
    root = tmp_path_factory.mktemp("fraud")
    landing = root / "landing"
    truth = root / "ground_truth.parquet"
    generate_merchant(
        landing,
        orders=4000,
        start=date(2025, 1, 1),
        end=date(2025, 6, 30),
        seed=5,
        injectors=parse_injector_specs("fraud=0.04,fraud_lookalikes=0.05"),
        ground_truth=truth,
    )
    labels_from_ground_truth(truth).write_csv(landing / "_reference" / "fraud_labels.csv")
    settings = make_settings(root / "home", landing)
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENVIRONMENT.items():
            env.setenv(name, value)
        env.delenv("ORDERLENS_MODEL_STORE", raising=False)
        outcome = run_all(settings)
        assert outcome.success, outcome.error
        yield FraudHome(settings, FraudRegistry(settings.fraud_registry))


def test_the_first_run_trains_and_promotes_a_champion(fraud_home: FraudHome) -> None:
    champion = fraud_home.registry.champion()
    assert champion is not None and champion.why.startswith("first model")
    records = fraud_home.registry.challenges()
    assert len(records) == 1 and records[0]["promoted"]
    evaluations = _frame(fraud_home.settings, "SELECT * FROM fraud_model_evaluations")
    assert set(evaluations.get_column("scorer")) == {
        "model",
        "rule_fast_signup",
        "rule_shared_device",
        "rule_country_mismatch",
    }
    assert set(evaluations.get_column("role")) == {"challenger"}
    model = evaluations.filter(pl.col("scorer") == "model").row(0, named=True)
    assert model["model_version"] == champion.version and model["promoted"]
    assert 0 < model["pr_auc"] <= 1 and 0 < model["roc_auc"] <= 1
    assert model["precision_at_capacity"] is not None and model["review_capacity_share"] > 0
    what_if = _frame(fraud_home.settings, "SELECT * FROM fraud_model_what_if")
    assert {REVIEW, BLOCK} <= set(what_if.get_column("threshold"))


def test_every_scorable_order_is_scored_by_the_champion(fraud_home: FraudHome) -> None:
    champion = fraud_home.registry.champion()
    assert champion is not None
    scores = _frame(fraud_home.settings, "SELECT * FROM fraud_scores")
    orders = _frame(fraud_home.settings, "SELECT order_key FROM fct_orders")
    assert scores.height == orders.height > 3000
    assert set(scores.get_column("order_key")) == set(orders.get_column("order_key"))
    assert set(scores.get_column("model_version")) == {champion.version}
    model_file = fraud_home.registry.versions / champion.version / MODEL_FILE
    assert set(scores.get_column("model_sha256")) == {
        hashlib.sha256(model_file.read_bytes()).hexdigest()
    }
    assert scores.get_column("scored_at").null_count() == 0
    levels = scores.select(
        pl.when(pl.col("score") >= BLOCK)
        .then(pl.lit("highest"))
        .when(pl.col("score") >= REVIEW)
        .then(pl.lit("elevated"))
        .otherwise(pl.lit("normal"))
    ).to_series()
    assert scores.get_column("level").equals(levels, check_names=False)


def test_every_order_at_or_above_review_has_reasons_without_personal_data(
    fraud_home: FraudHome,
) -> None:
    flagged = _frame(
        fraud_home.settings,
        f"SELECT s.order_key, s.reasons, o.customer_email, o.client_ip, o.device_id "
        f"FROM fraud_scores s JOIN fct_orders o USING (order_key) WHERE s.score >= {REVIEW}",
    )
    assert flagged.height > 0
    assert flagged.get_column("reasons").list.len().min() >= 1  # type: ignore[operator]
    below = _frame(fraud_home.settings, f"SELECT reasons FROM fraud_scores WHERE score < {REVIEW}")
    assert below.get_column("reasons").null_count() == below.height
    ipv4 = re.compile(r"\b\d{1,3}(\.\d{1,3}){3}\b")
    for row in flagged.iter_rows(named=True):
        text = " | ".join(row["reasons"])
        assert "@" not in text and not ipv4.search(text), text
        for value in (row["customer_email"], row["client_ip"], row["device_id"]):
            assert not value or value not in text


def test_the_queue_is_ranked_by_expected_loss_and_capped_at_capacity(
    fraud_home: FraudHome,
) -> None:
    queue = _frame(fraud_home.settings, "SELECT * FROM review_queue ORDER BY rank")
    expected = _frame(
        fraud_home.settings,
        f"""SELECT s.order_key, s.probability * f.order_value AS loss
        FROM fraud_scores s JOIN fraud_features f USING (order_key)
        JOIN fct_orders o USING (order_key)
        WHERE s.score >= {REVIEW} AND o.cancelled_at IS NULL
        ORDER BY loss DESC, s.score DESC, f.created_at, s.order_key""",
    )
    assert expected.height > CAPACITY  # more to review than the reviewers can: capped
    assert queue.height == CAPACITY
    assert queue.get_column("rank").to_list() == list(range(1, CAPACITY + 1))
    assert (
        queue.get_column("order_key").to_list()
        == expected.get_column("order_key").to_list()[:CAPACITY]
    )
    losses = queue.get_column("expected_loss").to_list()
    assert losses == sorted(losses, reverse=True)
    assert queue.get_column("held").to_list() == [s >= BLOCK for s in queue.get_column("score")]
    assert queue.get_column("reasons").list.len().min() >= 1  # type: ignore[operator]


def test_orders_at_or_above_block_are_held(fraud_home: FraudHome) -> None:
    holds = _frame(fraud_home.settings, "SELECT * FROM fraud_holds")
    blocked = _frame(
        fraud_home.settings, f"SELECT order_key FROM fraud_scores WHERE score >= {BLOCK}"
    )
    assert holds.height == blocked.height > 0
    assert set(holds.get_column("order_key")) == set(blocked.get_column("order_key"))
    assert holds.get_column("decision").null_count() == holds.height
    assert all(h.startswith("score at or above") for h in holds.get_column("held_because"))


def test_the_snapshot_has_the_fraud_tables(fraud_home: FraudHome) -> None:
    con = connect(fraud_home.settings.snapshot, read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    assert {
        "fraud_features",
        "fraud_labels",
        "fraud_decisions",
        "fraud_scores",
        "fraud_model_evaluations",
        "fraud_model_what_if",
        "review_queue",
        "fraud_holds",
    } <= tables


def test_rerunning_changes_nothing_then_decisions_release_and_confirm_holds(
    fraud_home: FraudHome,
) -> None:
    settings = fraud_home.settings
    before = table_hashes(settings.warehouse)
    champion = fraud_home.registry.champion()
    assert run_all(settings).success
    assert table_hashes(settings.warehouse) == before
    assert fraud_home.registry.champion() == champion
    assert len(fraud_home.registry.challenges()) == 1  # the same data is not trained again

    holds = _frame(settings, "SELECT order_key FROM fraud_holds ORDER BY order_key")
    approved, cancelled = holds.get_column("order_key").to_list()[:2]
    queued_low = _frame(
        settings,
        f"SELECT order_key FROM fraud_scores WHERE score < {BLOCK} ORDER BY score DESC LIMIT 1",
    ).item()
    with open_writer(settings.warehouse) as con, transaction(con):
        con.executemany(
            "INSERT INTO fraud_decisions VALUES (?, ?, 'reviewer', now(), NULL)",
            [[approved, "approve"], [cancelled, "cancel_fraud"], [queued_low, "hold"]],
        )
    assert run_all(settings).success
    holds = {r["order_key"]: r for r in _frame(settings, "SELECT * FROM fraud_holds").to_dicts()}
    assert approved not in holds
    assert holds[cancelled]["held_because"] == "cancelled as fraud by a reviewer"
    assert holds[queued_low]["held_because"] == "held by a reviewer"
    queue = set(_frame(settings, "SELECT order_key FROM review_queue").get_column("order_key"))
    assert not queue & {approved, cancelled, queued_low}
    labels = {
        r["order_key"]: (r["label"], r["label_source"])
        for r in _frame(settings, "SELECT * FROM fraud_labels").to_dicts()
    }
    assert labels[approved] == (False, "review") and labels[cancelled] == (True, "review")
    # New labels are new data: a challenger met the champion and the run says how.
    records = fraud_home.registry.challenges()
    assert len(records) == 2
    why = _frame(settings, "SELECT DISTINCT why FROM fraud_model_evaluations").item()
    assert why == records[-1]["why"]
    assert ("promoted" in why) or ("champion kept" in why)


def test_without_a_model_the_pipeline_scores_nothing_and_says_so(
    published_demo: Settings, tmp_path: Path
) -> None:
    from pipelines.defs.fraud.features import read_features
    from pipelines.defs.fraud.labels import read_labels
    from pipelines.defs.fraud.training import train_challenger

    con = connect(published_demo.warehouse, read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM fraud_scores").fetchall() == [(0,)]
        assert con.execute("SELECT count(*) FROM review_queue").fetchall() == [(0,)]
        features, labels = read_features(con), read_labels(con)
    finally:
        con.close()
    assert features.height > 400
    outcome = train_challenger(
        features, labels, published_demo, FraudRegistry(tmp_path / "registry")
    )
    assert not outcome.trained
    assert outcome.why.startswith("too few labels to train: 0 frauds")
    assert outcome.why.endswith("no champion yet")
    shutil.rmtree(tmp_path / "registry", ignore_errors=True)
