"""`orderlens demo-data`, the first half of `make demo`: the sample landing folder, a first
fraud model trained on a generated history, and a published run that scores the sample."""

from pathlib import Path

import pytest

from models.fraud_registry import FraudRegistry
from orderlens.settings import Settings
from orderlens.warehouse import connect, scalar
from pipelines.cli import EXIT_OK, main


@pytest.mark.slow
def test_demo_data_trains_a_first_champion_and_scores_every_sample_order(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo-data"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "no fraud model yet" in out and "PR-AUC" in out
    settings = Settings.from_env()
    champion = FraudRegistry(settings.fraud_registry).champion()
    assert champion is not None
    with connect(settings.warehouse, read_only=True) as con:
        orders = scalar(con, "SELECT count(*) FROM fct_orders")
        scored = scalar(
            con,
            "SELECT count(*) FROM fraud_scores WHERE model_version = ? AND model_sha256 = ?",
            [champion.version, champion.sha256],
        )
    assert orders > 0 and scored == orders
