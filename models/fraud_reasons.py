"""Reasons: the top factors behind an order's score, in words a reviewer understands.

Grain: :func:`explain` returns one row per order scored at or above the review threshold
(``order_key``, ``score``, ``reasons``: list of text, ``reason_features``: the features
behind them), in the feature frame's row order.

Attribution (deterministic): for each flagged order and each feature, the feature alone is
set to its typical value from training (median, or most common flag or category:
:attr:`FraudModel.reference`) and the drop in the trees' log-odds is that feature's
contribution. All these variants are scored together by the compiled trees
(:class:`models.fraud_forest.Forest`; for one order, in well under a millisecond). The calibrator is a strictly increasing function of the log-odds,
so the ranking is the same as for the score. Features whose contribution is positive are the
reasons, largest first, at most ``max_reasons``; an order at or above the threshold whose
risk comes only from a combination (no single feature lowers it) is given its largest
contributor, so every such order has at least one reason.
"""

import math
from collections.abc import Callable

import numpy as np
import polars as pl

from models.fraud_features import FEATURE_BY_NAME
from models.fraud_forest import SMALL_ROWS
from models.fraud_model import MISSING_CATEGORY, FraudModel, score_values


def _duration(seconds: float) -> str:
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if abs(seconds) >= size:
            count = round(seconds / size)
            return f"{count} {unit}{'s' if count != 1 else ''}"
    count = round(seconds)
    return f"{count} second{'s' if count != 1 else ''}"


def _count(what: str) -> Callable[[float], str]:
    def phrase(value: float) -> str:
        n = round(value)
        return f"{n} {what}" if n != 1 else f"1 {what.replace('orders', 'order')}"

    return phrase


def _flag(yes: str, no: str) -> Callable[[float], str]:
    return lambda value: yes if value >= 0.5 else no


_PHRASES: dict[str, Callable[[float], str]] = {
    "seconds_since_signup": lambda v: f"Account created {_duration(v)} before the order",
    "is_first_order": _flag("First order of this customer", "Repeat customer"),
    "customer_prior_orders": _count("earlier orders by this customer"),
    "order_value": lambda v: f"Order value {v:,.2f}",
    "value_to_prior_mean": lambda v: f"Order value {v:.1f}x the customer's average",
    "units": lambda v: f"{round(v)} unit(s) in the order",
    "max_unit_price": lambda v: f"Dearest item {v:,.2f}",
    "digital_goods_share": lambda v: (
        f"{v:.0%} of the value in goods that ship nothing (gift cards, digital goods)"
    ),
    "billing_shipping_mismatch": _flag(
        "Billing and shipping countries differ", "Billing and shipping countries match"
    ),
    "ip_billing_mismatch": _flag(
        "IP address in another country than the billing address",
        "IP address in the billing country",
    ),
    "ip_shipping_mismatch": _flag(
        "IP address in another country than the shipping address",
        "IP address in the shipping country",
    ),
    "customer_orders_1h": _count("orders by this customer in the hour before"),
    "customer_orders_24h": _count("orders by this customer in the day before"),
    "device_orders_1h": _count("orders from this device in the hour before"),
    "device_orders_24h": _count("orders from this device in the day before"),
    "ip_orders_1h": _count("orders from this IP address in the hour before"),
    "ip_orders_24h": _count("orders from this IP address in the day before"),
    "card_orders_1h": _count("orders with this card in the hour before"),
    "card_orders_24h": _count("orders with this card in the day before"),
    "device_other_customers": lambda v: f"Device already used by {round(v)} other customer(s)",
    "ip_other_customers": lambda v: f"IP address already used by {round(v)} other customer(s)",
    "email_disposable": _flag("Disposable e-mail address", "Regular e-mail domain"),
    "email_free": _flag("Free webmail address", "E-mail at a company or ISP domain"),
    "email_numeric_local": _flag("E-mail name with a long number", "E-mail name without numbers"),
    "shipping_rushed": _flag("Express or overnight shipping", "Standard shipping"),
    "hour_of_day": lambda v: f"Placed at {round(v):02d}:00",
}

_MISSING: dict[str, str] = {
    "seconds_since_signup": "No account when the order was placed",
    "is_first_order": "Guest checkout (no customer record)",
    "customer_prior_orders": "Guest checkout (no customer record)",
    "value_to_prior_mean": "No earlier orders to compare the value with",
    "order_value": "Order value unknown",
    "units": "No product lines",
    "max_unit_price": "No product lines",
    "digital_goods_share": "No product value",
    "billing_shipping_mismatch": "Billing or shipping country missing",
    "ip_billing_mismatch": "IP or billing country unknown",
    "ip_shipping_mismatch": "IP or shipping country unknown",
    "device_other_customers": "No device id",
    "ip_other_customers": "No IP address",
    "email_disposable": "No e-mail address",
    "email_free": "No e-mail address",
    "email_numeric_local": "No e-mail address",
    "shipping_rushed": "No shipping method",
}

_CATEGORY_PHRASES: dict[str, str] = {
    "channel": "Sold through {}",
    "source_risk_level": "Selling system rated the order {} risk",
    "browser": "Browser: {}",
    "marketing_source": "Came from {}",
    "ip_country": "IP address in {}",
}


def reason_text(feature: str, value: float | str | None) -> str:
    """The reviewer's sentence for one feature's value."""
    missing = value is None or value == MISSING_CATEGORY
    missing = missing or (isinstance(value, float) and math.isnan(value))
    if missing:
        if feature in _MISSING:
            return _MISSING[feature]
        return f"{FEATURE_BY_NAME[feature].description.rstrip('.')}: unknown"
    if feature in _CATEGORY_PHRASES:
        return _CATEGORY_PHRASES[feature].format(value)
    return _PHRASES[feature](float(value))  # type: ignore[arg-type]


def contributions(model: FraudModel, features: pl.DataFrame) -> np.ndarray:
    """Log-odds contribution of each feature (columns in ``model.config.features`` order) for
    each order: its log-odds minus the log-odds with that feature at its typical value."""
    forest = model.forest
    contrib = forest.contributions(forest.matrix(features))
    return contrib[:, _feature_order(model)]


def _feature_order(model: FraudModel) -> list[int]:
    """Positions of ``model.config.features`` among the forest's matrix columns."""
    return [model.forest.columns.index(name) for name in model.config.features]


def _value(column: pl.Series, i: int, categorical: bool) -> float | str | None:
    value = column[i]
    if categorical:
        return MISSING_CATEGORY if value is None else str(value)
    return None if value is None else float(value)


EXPLAIN_SCHEMA = pl.Schema(
    {
        "order_key": pl.String,
        "score": pl.Int8,
        "reasons": pl.List(pl.String),
        "reason_features": pl.List(pl.String),
    }
)
"""The columns :func:`explain` returns."""


def explain(
    model: FraudModel,
    features: pl.DataFrame,
    *,
    threshold: int | None = None,
    max_reasons: int | None = None,
) -> pl.DataFrame:
    """Reasons for every order whose score is at or above ``threshold`` (default: the
    model's review threshold)."""
    threshold = model.config.review_threshold if threshold is None else threshold
    limit = model.config.max_reasons if max_reasons is None else max_reasons
    forest = model.forest
    walk = None
    if features.height <= SMALL_ROWS:  # a few orders: one walk gives scores and reasons
        x = forest.matrix(features)
        walk = forest.walk(x)
        log_odds = walk.log_odds
    else:
        log_odds = forest.frame_log_odds(features)
    score = score_values(forest.probability(log_odds))
    flagged = np.flatnonzero(score >= threshold)
    if walk is not None:
        contrib = forest.walk_contributions(walk)[flagged]
    else:
        contrib = forest.contributions(forest.matrix(features[flagged]), log_odds[flagged])
    names = model.config.features
    contrib = contrib[:, _feature_order(model)]  # ``names`` order (the matrix: categories first)
    reasons: list[list[str]] = []
    reason_features: list[list[str]] = []
    # Largest first; ties by feature position (stable sort), so never by chance.
    ranked_all = np.argsort(-contrib, axis=1, kind="stable")
    columns = {}
    for i, row in enumerate(flagged.tolist()):
        ranked = ranked_all[i].tolist()
        chosen = [j for j in ranked[:limit] if contrib[i, j] > 0] or ranked[:1]
        texts = []
        for j in chosen:
            name = names[j]
            if name not in columns:
                columns[name] = features.get_column(name)
            categorical = FEATURE_BY_NAME[name].kind == "categorical"
            texts.append(reason_text(name, _value(columns[name], row, categorical)))
        reason_features.append([names[j] for j in chosen])
        reasons.append(texts)
    keys = features.get_column("order_key")
    if features.height <= SMALL_ROWS:  # row dicts: a few times cheaper for one order
        rows = zip(flagged.tolist(), reasons, reason_features, strict=True)
        return pl.from_dicts(
            [
                {"order_key": keys[i], "score": int(score[i]), "reasons": r, "reason_features": f}
                for i, r, f in rows
            ],
            schema=EXPLAIN_SCHEMA,
        )
    return pl.DataFrame(
        {
            "order_key": keys.gather(flagged) if len(flagged) < len(keys) else keys,
            "score": pl.Series(score[flagged], dtype=pl.Int8),
            "reasons": pl.Series(reasons, dtype=pl.List(pl.String)),
            "reason_features": pl.Series(reason_features, dtype=pl.List(pl.String)),
        }
    )
