"""Recall and precision of the entry-accuracy rules on a generated merchant, end to end.

One merchant of 20,000 orders with every entry-accuracy injector (the field, address,
identity and security ones of ``defects_fields``, the amount, range, reference and time ones
of ``defects_amounts``, and ``duplicate_submission``) goes through the real pipeline once;
the findings in the published snapshot are scored against the generator's ground truth at
order level (:mod:`quality.evaluation`): every injector's code must have cases, and each must
be found with recall and precision of at least 0.99. Every rule has an injector.

Rates: ``defects_fields`` rates are shares of each injector's eligible orders in a disjoint
slot (at most 0.1 each); ``defects_amounts`` and ``duplicate_submission`` rates are shares of
all orders (of web and app orders of registered customers for re-submissions). The rates
below give 40 or more cases per code at this size.

The scoring itself is checked first on a small hand-made example (fast).
"""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from orderlens.warehouse import SnapshotReader
from pipelines.generator import INJECTORS, InjectorSpec, generate_merchant
from pipelines.generator.defects_amounts import AMOUNT_DEFECTS
from pipelines.generator.defects_fields import FIELD_DEFECTS
from quality.evaluation import RULE_CODES, compare, score, shortfalls
from tests.conftest import make_settings, run_all

ORDERS = 20_000
MIN_CASES = 20
TARGET = 0.99
RATES = {
    **dict.fromkeys(FIELD_DEFECTS, 0.02),
    **dict.fromkeys(AMOUNT_DEFECTS, 0.005),
    "duplicate_submission": 0.005,
}
CODES = [code for name in RATES for code in INJECTORS[name].reason_codes]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(scores of every rule code, misses) of one pipeline run over the generated merchant."""
    root = tmp_path_factory.mktemp("recall")
    landing, truth_path = root / "landing", root / "ground_truth.parquet"
    generate_merchant(
        landing,
        orders=ORDERS,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        seed=11,
        injectors=[InjectorSpec(name, rate) for name, rate in RATES.items()],
        ground_truth=truth_path,
    )
    settings = make_settings(root / "home", landing)
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    findings = SnapshotReader(settings.snapshot).query(
        "SELECT order_key, reason_code FROM quality_findings"
    )
    truth = pl.read_parquet(truth_path)
    misses = compare(findings, truth, RULE_CODES).filter(pl.col("outcome") != "tp")
    return score(findings, truth, RULE_CODES), misses


def test_every_rule_has_an_injector_of_its_own() -> None:
    assert sorted(CODES) == sorted(RULE_CODES)


@pytest.mark.slow
def test_every_injected_code_has_cases(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    scores, _ = scored
    injected = scores.filter(pl.col("reason_code").is_in(CODES))
    assert sorted(injected["reason_code"]) == sorted(CODES)
    few = injected.filter(pl.col("cases") < MIN_CASES)
    assert few.is_empty(), few


@pytest.mark.slow
def test_recall_and_precision_of_every_code(scored: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    scores, misses = scored
    short = shortfalls(scores, min_precision=TARGET, min_recall=TARGET)
    assert short.is_empty(), f"{short}\nfirst misses:\n{misses.head(20)}"


def test_scoring_counts_orders_once_and_leaves_out_ingest_codes() -> None:
    truth = pl.DataFrame(
        {
            "source": ["web", "web", "web", "web", "app", "web"],
            "source_order_id": ["1", "1", "2", "3", "9", None],
            "reason_codes": [
                ["PRICE_NEGATIVE"],  # two lines of order 1: one case
                ["PRICE_NEGATIVE"],
                ["PRICE_NEGATIVE", "BAD_ENCODING"],
                ["EMAIL_INVALID"],
                ["OVERLAPPING_EXPORT"],
                ["COLUMN_ORDER"],  # a file-level row: no order
            ],
        }
    )
    findings = pl.DataFrame(
        {
            "order_key": ["web:1", "web:1", "web:4", "app:9"],
            "reason_code": ["PRICE_NEGATIVE", "PRICE_NEGATIVE", "PRICE_NEGATIVE", "TOTAL_MISMATCH"],
        }
    )
    codes = [
        "PRICE_NEGATIVE",
        "EMAIL_INVALID",
        "TOTAL_MISMATCH",
        "CURRENCY_INVALID",
        "BAD_ENCODING",
    ]
    scores = score(findings, truth, codes)
    assert scores.rows(named=True) == [
        {"reason_code": "PRICE_NEGATIVE", "cases": 2, "found": 2, "tp": 1, "fp": 1, "fn": 1,
         "precision": 0.5, "recall": 0.5},
        {"reason_code": "EMAIL_INVALID", "cases": 1, "found": 0, "tp": 0, "fp": 0, "fn": 1,
         "precision": None, "recall": 0.0},
        {"reason_code": "TOTAL_MISMATCH", "cases": 0, "found": 1, "tp": 0, "fp": 1, "fn": 0,
         "precision": 0.0, "recall": None},
        {"reason_code": "CURRENCY_INVALID", "cases": 0, "found": 0, "tp": 0, "fp": 0, "fn": 0,
         "precision": None, "recall": None},
    ]  # fmt: skip
    # Nothing found for a code with cases misses; a code without cases never does.
    short = shortfalls(scores, min_precision=0.5, min_recall=0.5)
    assert short["reason_code"].to_list() == ["EMAIL_INVALID"]
