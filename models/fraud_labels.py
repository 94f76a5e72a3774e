"""Fraud labels: which orders were fraud, which were not, and which are not known yet.

Grain: :func:`resolve_labels` returns one row per labelled order (``order_key``, ``label``:
True for fraud, ``labelled_at``, ``label_source``); :func:`training_labels` one row per order
the model may learn from (``order_key``, ``label`` 0/1, ``basis``).

Where labels come from (``label_source``):

- ``file``: the merchant's ``_reference/fraud_labels.csv`` (fraud or legitimate);
- ``refund``: a refund whose reason says fraud (fraud);
- ``cancellation``: an order cancelled for fraud (Shopify ``cancel_reason`` fraud) (fraud);
- ``chargeback``: a dispute whose reason is fraud (Shopify ``fraudulent``) (fraud);
- ``review``: a reviewer's decision in ``fraud_decisions``: ``cancel_fraud`` is fraud,
  ``approve`` is legitimate (``hold`` is not a verdict and gives no label).

Precedence: an order's **latest** label wins (by ``labelled_at``; a label without a time is
older than any timed one), so a chargeback after a reviewer's approval makes the order fraud,
and a reviewer clearing an order after a fraud refund makes it legitimate. Labels at the same
instant are ranked review > file > chargeback > cancellation > refund (a person's explicit
verdict over an inference from a status), then fraud over legitimate.

Maturity: fraud is reported late (chargebacks take weeks). An order is learnt from only once
it is ``maturity_days`` older than the data's latest order: with its label, or as legitimate
when it has none. Younger orders wait, labelled or not: their fraud labels have arrived but
most of their legitimate verdicts have not (nobody labels an order legitimate), so taking
them would over-represent fraud in the most recent orders, which are the holdout. The clock
is the data's (the latest order), not the wall clock, so re-running on the same data trains
on the same labels.
"""

from datetime import datetime, timedelta

import polars as pl

LABEL_SOURCES: tuple[str, ...] = ("refund", "cancellation", "chargeback", "file", "review")
"""Label sources from the weakest to the strongest (ties at the same instant)."""

LABEL_SCHEMA: dict[str, pl.DataType] = {
    "order_key": pl.String(),
    "label": pl.Boolean(),
    "labelled_at": pl.Datetime("us", "UTC"),
    "label_source": pl.String(),
}


def resolve_labels(candidates: pl.DataFrame) -> pl.DataFrame:
    """One label per order from every candidate label (``order_key``, ``label``,
    ``labelled_at``, ``label_source``): the latest wins, ties as the module says."""
    unknown = set(candidates.get_column("label_source").unique().drop_nulls()) - set(LABEL_SOURCES)
    if unknown:
        raise ValueError(f"unknown label source(s): {', '.join(sorted(unknown))}")
    rank = pl.col("label_source").replace_strict(
        {s: i for i, s in enumerate(LABEL_SOURCES)}, return_dtype=pl.Int8
    )
    return (
        candidates.select(LABEL_SCHEMA.keys())
        .cast(LABEL_SCHEMA)  # type: ignore[arg-type]
        .filter(pl.col("order_key").is_not_null() & pl.col("label").is_not_null())
        .with_columns(rank.alias("_rank"))
        .sort(
            ["order_key", "labelled_at", "_rank", "label"],
            nulls_last=False,
        )
        .group_by("order_key", maintain_order=True)
        .last()
        .drop("_rank")
        .sort("order_key")
    )


def training_labels(
    orders: pl.DataFrame,
    labels: pl.DataFrame,
    *,
    maturity_days: float,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """The orders a model may learn from, those at least ``maturity_days`` older than
    ``as_of`` (default: the latest order's ``created_at``): ``order_key``, ``label`` (1
    fraud, 0 legitimate), ``basis`` (``labelled``: an explicit label; ``matured``: none, so
    legitimate).

    ``orders`` has ``order_key`` and ``created_at``; ``labels`` is :func:`resolve_labels`'
    output (labels of orders not in ``orders`` are ignored)."""
    if orders.height == 0:
        return pl.DataFrame(schema={"order_key": pl.String, "label": pl.Int8, "basis": pl.String})
    as_of = as_of or orders.get_column("created_at").max()  # type: ignore[assignment]
    cutoff = as_of - timedelta(days=maturity_days)  # type: ignore[operator]
    joined = orders.select("order_key", "created_at").join(
        labels.select("order_key", "label"), on="order_key", how="left"
    )
    return joined.filter(pl.col("created_at") <= pl.lit(cutoff)).select(
        "order_key",
        pl.col("label").fill_null(False).cast(pl.Int8),
        pl.when(pl.col("label").is_not_null())
        .then(pl.lit("labelled"))
        .otherwise(pl.lit("matured"))
        .alias("basis"),
    )
