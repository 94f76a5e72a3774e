"""Rule baselines: the simple checks a fraud team starts with, scored on the feature frame.

Grain: :func:`rule_scores` returns one row per order of the feature frame (``order_key`` and
one 0/1 column per rule), in its row order. A missing signal never fires a rule.

Every evaluation reports the model beside these rules: a model that cannot beat "account
created less than a minute before the purchase" is not worth its reasons.
"""

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl


@dataclass(frozen=True)
class Rule:
    """One baseline: a name, what it checks in reviewer words, and its condition."""

    name: str
    description: str
    condition: Callable[[], pl.Expr]


def _fast_signup() -> pl.Expr:
    return pl.col("seconds_since_signup") < 60


def _shared_device() -> pl.Expr:
    return pl.col("device_other_customers") >= 1


def _country_mismatch() -> pl.Expr:
    return pl.any_horizontal(
        pl.col("billing_shipping_mismatch").fill_null(False),
        pl.col("ip_billing_mismatch").fill_null(False),
        pl.col("ip_shipping_mismatch").fill_null(False),
    )


RULES: tuple[Rule, ...] = (
    Rule("rule_fast_signup", "Account created less than 60 s before the purchase", _fast_signup),
    Rule("rule_shared_device", "Device already used by another customer", _shared_device),
    Rule(
        "rule_country_mismatch",
        "Billing, shipping or IP countries disagree",
        _country_mismatch,
    ),
)
RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)


def rule_scores(features: pl.DataFrame, rules: tuple[Rule, ...] = RULES) -> pl.DataFrame:
    """``order_key`` and one Int8 column per rule: 1 where the rule fires, 0 elsewhere
    (including where its signal is missing)."""
    return features.select(
        "order_key",
        *(r.condition().fill_null(False).cast(pl.Int8).alias(r.name) for r in rules),
    )
