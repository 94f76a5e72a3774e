"""Recall and precision of the entry-accuracy rules against the generator's ground truth.

Grain: ORDER level, per reason code. A case is one (order, reason code): the ground truth's
(``source``, ``source_order_id``, code) for every code of its ``reason_codes`` (a record two
injectors touched counts for both; the several lines of one order count once), against the
(``order_key``, ``reason_code``) pairs of ``quality_findings`` (a line rule that fires on two
lines of an order, or an order rule on two columns, counts once). Orders are matched on
``order_key`` = ``source || ':' || source_order_id``, the key staging builds.

Only quality-rule codes (:data:`quality.rules.RULES_BY_CODE`) are scored: ingest-level codes
of the ground truth (``TRUNCATED_ROW``, ``BAD_ENCODING``, ``OVERLAPPING_EXPORT``,
``COLUMN_ORDER``) are no rule's to find and are left out, as are file-level rows (no order).

Pure polars; no Dagster, no warehouse access (the caller reads both tables).
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from quality.rules import RULES_BY_CODE

__all__ = ["RULE_CODES", "compare", "score", "shortfalls"]

RULE_CODES: tuple[str, ...] = tuple(code.value for code in RULES_BY_CODE)
"""Every code a quality rule reports (the codes :func:`score` can score)."""

_KEY = ["order_key", "reason_code"]


def _rule_codes(codes: Iterable[str]) -> list[str]:
    """``codes`` without duplicates and without codes that no quality rule reports."""
    return [str(code) for code in dict.fromkeys(codes) if str(code) in RULE_CODES]


def _truth_cases(truth: pl.DataFrame, codes: list[str]) -> pl.DataFrame:
    c = pl.col
    return (
        truth.filter(c("source_order_id").is_not_null())
        .select(
            (c("source") + ":" + c("source_order_id")).alias("order_key"),
            c("reason_codes").alias("reason_code"),
        )
        .explode("reason_code")
        .filter(c("reason_code").is_in(codes))
        .unique()
    )


def _found_cases(findings: pl.DataFrame, codes: list[str]) -> pl.DataFrame:
    return (
        findings.select(pl.col("order_key").cast(pl.String), pl.col("reason_code").cast(pl.String))
        .filter(pl.col("reason_code").is_in(codes))
        .unique()
    )


def compare(findings: pl.DataFrame, truth: pl.DataFrame, codes: Iterable[str]) -> pl.DataFrame:
    """One row per (``order_key``, ``reason_code``) in the ground truth or the findings, for
    the quality-rule codes among ``codes``: ``outcome`` is ``tp`` (in both), ``fn`` (injected,
    not found) or ``fp`` (found, not injected).

    ``findings``: rows of ``quality_findings`` (``order_key``, ``reason_code``); ``truth``:
    rows of the ground-truth Parquet (``source``, ``source_order_id``, ``reason_codes``).
    """
    wanted = _rule_codes(codes)
    injected = _truth_cases(truth, wanted).with_columns(pl.lit(True).alias("_injected"))
    found = _found_cases(findings, wanted).with_columns(pl.lit(True).alias("_found"))
    both = injected.join(found, on=_KEY, how="full", coalesce=True)
    return both.select(
        *_KEY,
        pl.when(pl.col("_injected") & pl.col("_found"))
        .then(pl.lit("tp"))
        .when(pl.col("_injected"))
        .then(pl.lit("fn"))
        .otherwise(pl.lit("fp"))
        .alias("outcome"),
    ).sort(_KEY)


def score(findings: pl.DataFrame, truth: pl.DataFrame, codes: Iterable[str]) -> pl.DataFrame:
    """Per quality-rule code among ``codes`` (in their order; other codes are dropped): the
    ground-truth cases (``cases`` = tp + fn), the orders found (``found`` = tp + fp), true
    positives ``tp``, false positives ``fp``, false negatives ``fn``, ``precision`` =
    tp / (tp + fp) (null when nothing was found) and ``recall`` = tp / (tp + fn) (null when
    the ground truth has no case). Order level: see the module docstring.
    """
    wanted = _rule_codes(codes)
    outcomes = compare(findings, truth, wanted)
    counts = outcomes.group_by("reason_code").agg(
        (pl.col("outcome") == o).sum().cast(pl.Int64).alias(o) for o in ("tp", "fp", "fn")
    )
    table = (
        pl.DataFrame({"reason_code": wanted}, schema={"reason_code": pl.String})
        .join(counts, on="reason_code", how="left", maintain_order="left")
        .with_columns(pl.col("tp", "fp", "fn").fill_null(0))
    )
    tp, fp, fn = pl.col("tp"), pl.col("fp"), pl.col("fn")
    return table.select(
        "reason_code",
        (tp + fn).alias("cases"),
        (tp + fp).alias("found"),
        "tp",
        "fp",
        "fn",
        pl.when(tp + fp > 0).then(tp / (tp + fp)).alias("precision"),
        pl.when(tp + fn > 0).then(tp / (tp + fn)).alias("recall"),
    )


def shortfalls(
    scores: pl.DataFrame, *, min_precision: float = 0.99, min_recall: float = 0.99
) -> pl.DataFrame:
    """The rows of a :func:`score` table that miss a target: codes with ground-truth cases
    whose recall or precision is below it. A null precision (nothing found) misses when the
    ground truth has cases; a code without cases never misses (its false positives, if any,
    are in its ``fp``)."""
    c = pl.col
    return scores.filter(
        (c("cases") > 0)
        & ((c("recall") < min_recall) | c("precision").is_null() | (c("precision") < min_precision))
    )
