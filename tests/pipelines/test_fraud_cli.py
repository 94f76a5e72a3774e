"""`orderlens fraud train|score` end to end: a generated history through the real pipeline,
a champion in the installation's registry, a formula-safe score CSV, one-line errors."""

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from models.fraud_registry import FraudRegistry
from pipelines.cli import EXIT_OK, EXIT_USAGE, main
from pipelines.defs.fraud.history import labels_from_ground_truth
from pipelines.generator import generate_merchant, parse_injector_specs

pytestmark = pytest.mark.slow

SCORE_COLUMNS = [
    "source_order_id",
    "score",
    "level",
    "probability",
    "reasons",
    "model_version",
    "model_sha256",
    "not_scored_because",
]
_PATHS = ("ORDERLENS_LANDING", "ORDERLENS_WAREHOUSE", "ORDERLENS_SNAPSHOT", "ORDERLENS_STATE",
          "ORDERLENS_MODEL_STORE", "ORDERLENS_USERS_FILE")  # fmt: skip


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str


def _main(args: list[str]) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return Run(code, out.getvalue(), err.getvalue())


@dataclass(frozen=True)
class Trained:
    home: Path
    history: Path
    labels: Path
    train: Run

    @property
    def registry(self) -> FraudRegistry:
        return FraudRegistry(self.home / "models" / "fraud")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    """A generated history (3,000 orders, fraud at 5 %) and its labels file, trained on once
    with `orderlens fraud train` in a fresh installation."""
    root = tmp_path_factory.mktemp("fraud_cli")
    history, truth = root / "history", root / "ground_truth.parquet"
    generate_merchant(
        history,
        orders=3000,
        start=date(2025, 1, 1),
        end=date(2025, 6, 30),
        seed=9,
        injectors=parse_injector_specs("fraud=0.05"),
        ground_truth=truth,
    )
    labels = root / "labels.csv"
    labels_from_ground_truth(truth).write_csv(labels)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERLENS_HOME", str(root / "home"))
        env.setenv("DAGSTER_HOME", str(root / "home" / "dagster"))
        for name in _PATHS:
            env.delenv(name, raising=False)
        run = _main(["fraud", "train", "--history", str(history), "--labels", str(labels)])
        yield Trained(root / "home", history, labels, run)


def test_train_prints_the_evaluation_beside_the_rules_and_promotes(trained: Trained) -> None:
    run = trained.train
    assert run.code == EXIT_OK, run.err
    assert "Traceback" not in run.err
    champion = trained.registry.champion()
    assert champion is not None
    assert f"promoted {champion.version}" in run.out and "first model" in run.out
    lines = run.out.splitlines()
    header = next(line for line in lines if "ROC-AUC" in line)
    assert "PR-AUC" in header and "prec@1%" in header
    scorers = {line.split()[0] for line in lines[lines.index(header) + 1 :][:4]}
    assert scorers == {"challenger", "rule_fast_signup", "rule_shared_device",
                       "rule_country_mismatch"}  # fmt: skip
    assert "holdout:" in run.out and "time split" in run.out
    card = json.loads(
        (trained.registry.versions / champion.version / "model_card.json").read_text()
    )
    assert card["sha256"] == champion.sha256


def test_training_again_on_the_same_history_changes_nothing(trained: Trained) -> None:
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERLENS_HOME", str(trained.home))
        before = trained.registry.champion()
        run = _main(
            ["fraud", "train", "--history", str(trained.history), "--labels", str(trained.labels)]
        )
    assert run.code == EXIT_OK, run.err
    assert "not trained: orders, labels and settings unchanged" in run.out
    assert trained.registry.champion() == before


def test_score_writes_every_order_as_a_formula_safe_csv(trained: Trained, tmp_path: Path) -> None:
    source = sorted((trained.history / "online_store").glob("*.csv"))[-1]
    rows = pl.read_csv(source, infer_schema=False)
    hostile = rows.head(1).with_columns(
        pl.lit('=HYPERLINK("http://example.invalid","x")').alias("source_order_id"),
        pl.lit("=1+2").alias("customer_first_name"),
    )
    file = tmp_path / "to_score.csv"
    pl.concat([rows, hostile]).write_csv(file)
    out = tmp_path / "scores.csv"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERLENS_HOME", str(trained.home))
        run = _main(["fraud", "score", str(file), "--out", str(out)])
    assert run.code == EXIT_OK, run.err
    assert "orders scored by fraud-" in run.err
    with out.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table[0] == SCORE_COLUMNS
    body = [dict(zip(SCORE_COLUMNS, row, strict=True)) for row in table[1:]]
    ids = {r["source_order_id"] for r in body}
    assert len(ids) == len(body) == rows.get_column("source_order_id").n_unique() + 1
    assert '\'=HYPERLINK("http://example.invalid","x")' in ids  # defused, not a formula
    assert not any(cell.startswith(("=", "+", "@")) for row in table for cell in row)
    champion = trained.registry.champion()
    assert champion is not None
    scored = [r for r in body if r["score"]]
    assert scored and all(r["model_version"] == champion.version for r in scored)
    assert all(r["reasons"] for r in scored if int(r["score"]) >= 65)
    assert all(r["not_scored_because"] for r in body if not r["score"])


def test_errors_are_one_line_messages(trained: Trained, tmp_path: Path) -> None:
    bad = tmp_path / "bad_labels.csv"
    bad.write_text("source,source_order_id,label\nonline_store,1,fraud\nonline_store,2,maybe\n")
    no_labels = tmp_path / "no_labels.csv"
    no_labels.write_text("source_order_id,total\n1,10\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERLENS_HOME", str(tmp_path / "empty"))
        missing = _main(["fraud", "score", str(tmp_path / "missing.csv")])
        no_model = _main(["fraud", "score", str(trained.labels)])
        bad_labels = _main(
            ["fraud", "train", "--history", str(trained.history), "--labels", str(bad)]
        )
        unlabelled = _main(["fraud", "train", "--history", str(no_labels)])
    assert missing.code == EXIT_USAGE and "no such file" in missing.err
    assert no_model.code == EXIT_USAGE and "no fraud model" in no_model.err
    assert bad_labels.code == EXIT_USAGE
    assert f"{bad}, line 3, column label" in bad_labels.err and "maybe" in bad_labels.err
    assert unlabelled.code == EXIT_USAGE and "no labels" in unlabelled.err
    for run in (missing, no_model, bad_labels, unlabelled):
        assert "Traceback" not in run.err


@pytest.mark.shared_data
def test_fraud_history_trains_through_the_pipeline(tmp_path: Path) -> None:
    """``../shared/data/fraud/fraud_history.csv`` converted by the benchmark's documented
    conversion, labels without a source column, the IP ranges table: trained through the
    same pipeline, evaluated on a stratified quarter of its users (its frauds are bound to
    January), and better than every rule."""
    from benchmarks.fraud_history import (
        HISTORY,
        read_history,
        read_ip_ranges,
        to_generic,
        to_labels,
    )

    history = read_history(HISTORY)
    orders, labels, ranges = tmp_path / "orders.csv", tmp_path / "labels.csv", tmp_path / "ip.csv"
    to_generic(history.purchases).write_csv(orders)
    to_labels(history.purchases).write_csv(labels)
    prepared, _ = read_ip_ranges()
    prepared.select("ip_from", "ip_to", pl.col("ip_country").alias("country")).drop_nulls(
        "country"
    ).write_csv(ranges)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERLENS_HOME", str(tmp_path / "home"))
        for name in _PATHS:
            env.delenv(name, raising=False)
        run = _main(["fraud", "train", "--history", str(orders), "--labels", str(labels),
                     "--ip-ranges", str(ranges), "--holdout", "customers",
                     "--source", "fraud_history"])  # fmt: skip
    assert run.code == EXIT_OK, run.err
    assert f"{history.purchases.height:,} orders staged" in run.out
    registry = FraudRegistry(tmp_path / "home" / "models" / "fraud")
    record = registry.last_challenge()
    assert record is not None and record["promoted"]
    scorers = {s["scorer"]: s for s in record["challenger_evaluation"]["scorers"]}
    best_rule = max(s["pr_auc"] for name, s in scorers.items() if name != "model")
    assert scorers["model"]["pr_auc"] >= best_rule + 0.05
    print(run.out)
