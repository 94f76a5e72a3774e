"""``fraud_history.csv`` (labelled e-commerce purchases) → OrderLens orders, and the fraud
model's evaluation on it beside the rule baselines.

The file lives in ``../shared/data/fraud/`` with an IP ranges table beside it; its licence
is unclear, so it is read from there at run time only and nothing of it enters the repository.
This conversion is benchmark code, not product code: a shop's real history arrives in the
generic format.

Mapping (one row per purchase; every user has one purchase in this file):

| fraud_history | generic format | canonical order (features) |
|---|---|---|
| user_id | customer_id; source_order_id = ``fh-<user_id>`` | customer_key |
| signup_time | customer_created_at | account_created_at |
| purchase_time | created_at | created_at |
| purchase_value | total (one line: unit_price, quantity 1) | total |
| device_id | device_id | device_id |
| source (SEO/Ads/Direct) | marketing_source | marketing_source |
| browser | user_agent | user_agent |
| ip_address (float) | client_ip (dotted IPv4) | client_ip |
| class (1 = fraud) | a label file: source_order_id, label, labelled_at | label |

``sex`` and ``age`` are dropped: personal attributes are never fraud features. Times have no
zone and are read as UTC; ``M/D/YYYY H:MM`` and two-digit-year ``M/D/YY H:MM`` dates (both
spreadsheet damage of the original ``YYYY-MM-DD HH:MM:SS``) and the original are accepted; a
file without the ``ip_address`` column converts with blank IPs. Rows without a purchase time,
value or class (a truncated last row) are left out and counted.

Why a stratified split of users and not a time split: in this file every fraud whose
purchase came in the same minute as its sign-up falls in January (78 % of January's orders
are fraud, about 5 % in every later month). A time split would train on January and test on
months where that pattern does not exist, measuring the calendar rather than the model (and
the "signup < 60 s" rule would find nothing to catch). Drawing whole users at random, with a
fixed seed, separately among fraudsters and the rest, keeps the fraud rate and the mix of fraud
patterns equal on both sides. Features are still computed point in time over all orders: what
a device or IP did before an order is known at that order's time whichever side it is on;
labels never enter the features.

    uv run python -m benchmarks.fraud_history                      # ../shared/data/fraud
    uv run python -m benchmarks.fraud_history --write-generic OUT  # the converted files
"""

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from models.ip_country import int_to_ipv4

REPO = Path(__file__).resolve().parent.parent
FRAUD_DATA = REPO.parent / "shared" / "data" / "fraud"
HISTORY = FRAUD_DATA / "fraud_history.csv"
IP_RANGES = FRAUD_DATA / "ip_address_to_country.csv"
SOURCE = "fraud_history"
SEED = 0
TEST_SHARE = 0.3

_DATE_FORMATS = (
    # (shape, strptime format): the shape picks the format so "2/24/15" never reads as 15 AD.
    (r"^\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2}", "%m/%d/%Y %H:%M:%S"),
    (r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}$", "%m/%d/%Y %H:%M"),
    (r"^\d{1,2}/\d{1,2}/\d{2} \d{1,2}:\d{2}$", "%m/%d/%y %H:%M"),
)


@dataclass(frozen=True)
class History:
    """The file's purchases, typed (one row per purchase), and how many rows were left out."""

    purchases: pl.DataFrame
    rows_read: int
    rows_left_out: int


def _timestamp(column: str) -> pl.Expr:
    text = pl.col(column).str.strip_chars().str.replace("T", " ")
    parsed = [
        pl.when(text.str.contains(shape)).then(text.str.to_datetime(fmt, strict=False))
        for shape, fmt in _DATE_FORMATS
    ]
    return pl.coalesce(parsed).dt.replace_time_zone("UTC").alias(column)


def read_history(source: Path | pl.DataFrame) -> History:
    """The purchases of a ``fraud_history.csv`` (a path, or its rows as text columns),
    typed: user_id, signup_time, purchase_time (UTC), purchase_value, device_id, source,
    browser, ip_int (Int64, null without the column), label (0/1)."""
    raw = (
        pl.read_csv(source, infer_schema=False, encoding="utf8-lossy")
        if isinstance(source, Path)
        else source.select(pl.all().cast(pl.String))
    )
    raw = raw.rename({c: c.lstrip("\ufeff").strip() for c in raw.columns})
    ip = (
        pl.col("ip_address").str.strip_chars().cast(pl.Float64, strict=False).floor().cast(pl.Int64)
        if "ip_address" in raw.columns
        else pl.lit(None, pl.Int64)
    )
    typed = raw.select(
        pl.col("user_id").str.strip_chars(),
        _timestamp("signup_time"),
        _timestamp("purchase_time"),
        pl.col("purchase_value").str.strip_chars().cast(pl.Float64, strict=False),
        pl.col("device_id").str.strip_chars(),
        pl.col("source").str.strip_chars(),
        pl.col("browser").str.strip_chars(),
        ip.alias("ip_int"),
        pl.col("class").str.strip_chars().cast(pl.Int8, strict=False).alias("label"),
    )
    usable = typed.filter(
        pl.col("user_id").is_not_null()
        & pl.col("purchase_time").is_not_null()
        & pl.col("purchase_value").is_not_null()
        & pl.col("label").is_in([0, 1])
    )
    return History(usable, raw.height, raw.height - usable.height)


def to_generic(purchases: pl.DataFrame) -> pl.DataFrame:
    """The purchases in the generic interchange format (every generic column, as text; one
    line per order)."""
    from orderlens.contracts import GENERIC_FIELD_NAMES

    iso = "%Y-%m-%dT%H:%M:%S+00:00"
    values = {
        "source_order_id": pl.lit("fh-") + pl.col("user_id"),
        "channel": pl.lit("online_store"),
        "created_at": pl.col("purchase_time").dt.strftime(iso),
        "currency": pl.lit("USD"),
        "total": pl.col("purchase_value").cast(pl.String),
        "customer_id": pl.col("user_id"),
        "customer_created_at": pl.col("signup_time").dt.strftime(iso),
        "client_ip": int_to_ipv4(pl.col("ip_int")),
        "user_agent": pl.col("browser"),
        "device_id": pl.col("device_id"),
        "marketing_source": pl.col("source"),
        "line_number": pl.lit("1"),
        "product_name": pl.lit("Purchase"),
        "quantity": pl.lit("1"),
        "unit_price": pl.col("purchase_value").cast(pl.String),
    }
    return purchases.select(
        values.get(name, pl.lit(None, pl.String)).cast(pl.String).alias(name)
        for name in GENERIC_FIELD_NAMES
    )


def to_labels(purchases: pl.DataFrame) -> pl.DataFrame:
    """The label file of the converted orders: source_order_id, label (fraud/legitimate),
    labelled_at (unknown: blank)."""
    return purchases.select(
        (pl.lit("fh-") + pl.col("user_id")).alias("source_order_id"),
        pl.when(pl.col("label") == 1)
        .then(pl.lit("fraud"))
        .otherwise(pl.lit("legitimate"))
        .alias("label"),
        pl.lit(None, pl.String).alias("labelled_at"),
    )


def orders_from_generic(generic: pl.DataFrame) -> pl.DataFrame:
    """Canonical orders (the fraud features' input) from generic rows, as staging maps them:
    ``order_key`` = source ':' source_order_id; the customer key stands for staging's keyed
    hash of the source's customer id (there is no e-mail or phone here)."""

    def ts(column: str) -> pl.Expr:
        return (
            pl.col(column)
            .str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False)
            .dt.convert_time_zone("UTC")
        )

    return generic.select(
        (pl.lit(f"{SOURCE}:") + pl.col("source_order_id")).alias("order_key"),
        ts("created_at").alias("created_at"),
        pl.col("total").cast(pl.Float64),
        (pl.lit(f"{SOURCE}:") + pl.col("customer_id")).alias("customer_key"),
        ts("customer_created_at").alias("account_created_at"),
        pl.col("channel"),
        pl.col("client_ip"),
        pl.col("device_id"),
        pl.col("user_agent"),
        pl.col("marketing_source"),
    )


def read_ip_ranges(path: Path = IP_RANGES) -> tuple[pl.DataFrame, int]:
    """The ranges table, prepared, and how many rows were dropped: bounds written in
    scientific notation (``1.74E+09``, spreadsheet damage) lost their precision and would
    overlap their neighbours."""
    from models.ip_country import prepare_ip_ranges

    raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    raw = raw.rename({c: c.lstrip("\ufeff").strip() for c in raw.columns})
    exact = pl.all_horizontal(
        pl.col(c).str.contains(r"^\s*\d+(\.0*)?\s*$")
        for c in ("lower_bound_ip_address", "upper_bound_ip_address")
    )
    kept = raw.filter(exact)
    return prepare_ip_ranges(kept), raw.height - kept.height


def evaluate_history(
    history_path: Path = HISTORY,
    ranges_path: Path | None = IP_RANGES,
    *,
    seed: int = SEED,
    test_share: float = TEST_SHARE,
) -> dict[str, Any]:
    """Convert, compute features, split users (stratified, fixed seed), train on one side,
    evaluate the model and the rule baselines on the other."""
    from models.fraud_eval import evaluate, split_customers
    from models.fraud_features import fraud_features
    from models.fraud_model import train_fraud_model
    from models.fraud_rules import rule_scores

    started = time.perf_counter()
    history = read_history(history_path)
    generic = to_generic(history.purchases)
    orders = orders_from_generic(generic)
    labels = history.purchases.get_column("label").to_numpy()
    ranges, ranges_dropped = read_ip_ranges(ranges_path) if ranges_path else (None, 0)
    features = fraud_features(orders, ip_ranges=ranges)
    holdout = split_customers(
        orders.get_column("customer_key"), labels, test_share=test_share, seed=seed
    )
    model = train_fraud_model(features.filter(pl.Series(~holdout)), labels[~holdout])
    test = features.filter(pl.Series(holdout))
    probability = model.probability(test)
    rules = rule_scores(test)
    review, block = model.config.review_threshold, model.config.block_threshold
    # The holdout is users drawn across the year, not a day's stream: capacity is a share of
    # the whole holdout. The daily view is reported too; it mostly measures the calendar
    # (January days hold dozens of frauds, later days almost none).
    result = evaluate(
        labels[holdout], probability, rules, review_threshold=review, block_threshold=block
    )
    daily = evaluate(
        labels[holdout],
        probability,
        rules,
        days=test.get_column("created_at").dt.date(),
        review_threshold=review,
        block_threshold=block,
    )
    return {
        "rows_read": history.rows_read,
        "rows_left_out": history.rows_left_out,
        "ip_ranges_dropped": ranges_dropped,
        "seed": seed,
        "test_share": test_share,
        "train_orders": int((~holdout).sum()),
        "model": model,
        "evaluation": result,
        "daily_evaluation": daily,
        "seconds": round(time.perf_counter() - started, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--history", type=Path, default=HISTORY)
    parser.add_argument("--ip-ranges", type=Path, default=IP_RANGES)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--write-generic", type=Path, help="write orders.csv and labels.csv here")
    args = parser.parse_args()
    if args.write_generic:
        history = read_history(args.history)
        args.write_generic.mkdir(parents=True, exist_ok=True)
        to_generic(history.purchases).write_csv(args.write_generic / "orders.csv")
        to_labels(history.purchases).write_csv(args.write_generic / "labels.csv")
        print(f"{history.purchases.height} orders written, {history.rows_left_out} rows left out")
        return
    outcome = evaluate_history(args.history, args.ip_ranges, seed=args.seed)
    evaluation = outcome.pop("evaluation")
    daily = outcome.pop("daily_evaluation")
    model = outcome.pop("model")
    columns = ["scorer", "roc_auc", "pr_auc", "precision_at_1pct", "recall_at_1pct",
               "precision_at_5pct", "recall_at_5pct", "flagged_share", "flagged_precision",
               "flagged_recall", "brier"]  # fmt: skip
    summary = {
        **outcome,
        "holdout_orders": evaluation.orders,
        "holdout_frauds": evaluation.frauds,
        "features_without_values": list(model.summary.features_without_values),
        "scorers": evaluation.scorers.select(columns).to_dicts(),
        "daily_capacity": daily.scorers.select(columns[0], *columns[3:7]).to_dicts(),
        "what_if": evaluation.what_if.to_dicts(),
        "reliability": evaluation.reliability.to_dicts(),
    }
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
