"""Fraud features: what each one says on hand-made orders, agreement with a brute-force
reference on random orders (ties included), and no leakage from later orders."""

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.bench_fraud_features import synthetic_ip_ranges, synthetic_orders
from models.fraud_features import (
    CONTEXT_COLUMNS,
    FEATURES,
    ORDER_COLUMNS,
    conform_orders,
    fraud_features,
)
from models.ip_country import prepare_ip_ranges

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _orders(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c.name: c.dtype for c in ORDER_COLUMNS}
    return pl.DataFrame(rows, schema=schema)


def _row(key: str, seconds: int, **fields: object) -> dict[str, object]:
    return {"order_key": key, "created_at": T0 + timedelta(seconds=seconds), "total": 50.0} | fields


def _by_key(features: pl.DataFrame) -> dict[str, dict[str, object]]:
    return {r["order_key"]: r for r in features.to_dicts()}


def test_the_feature_frame_has_one_row_per_order_in_input_order() -> None:
    orders = _orders([_row("b", 10), _row("a", 0), _row("c", 5)])
    features = fraud_features(orders)
    assert features.columns == [*CONTEXT_COLUMNS, *(f.name for f in FEATURES)]
    assert features.get_column("order_key").to_list() == ["b", "a", "c"]


def test_signup_value_history_and_first_order() -> None:
    signup = T0 - timedelta(seconds=30)
    orders = _orders(
        [
            _row("1", 0, customer_key="c1", account_created_at=signup, total=10.0),
            _row("2", 60, customer_key="c1", account_created_at=signup, total=30.0),
            _row("3", 120, customer_key="c1", account_created_at=signup, total=80.0),
            _row("4", 130, customer_key=None, total=99.0),  # a guest
            # The account was made after the order (a guest who registered later).
            _row("5", 140, customer_key="c2", account_created_at=T0 + timedelta(hours=1)),
        ]
    )
    f = _by_key(fraud_features(orders))
    assert f["1"]["seconds_since_signup"] == 30.0
    assert f["3"]["seconds_since_signup"] == 150.0
    assert [f[k]["is_first_order"] for k in "1234"] == [True, False, False, None]
    assert [f[k]["customer_prior_orders"] for k in "1234"] == [0, 1, 2, None]
    assert f["1"]["value_to_prior_mean"] is None
    assert f["2"]["value_to_prior_mean"] == pytest.approx(3.0)
    assert f["3"]["value_to_prior_mean"] == pytest.approx(4.0)  # 80 / mean(10, 30)
    assert f["4"]["seconds_since_signup"] is None
    assert f["5"]["seconds_since_signup"] is None


def test_velocity_counts_orders_in_the_hour_and_day_before_never_the_order_itself() -> None:
    orders = _orders(
        [
            _row("a", 0, device_id="d1", client_ip="9.9.9.9", payment_token="t1"),
            _row("b", 1800, device_id="d1", client_ip="9.9.9.9", payment_token="t1"),
            _row("c", 3600, device_id="d1", client_ip="9.9.9.9", payment_token="t2"),
            _row("d", 3601, device_id="d1", client_ip=None, payment_token="t1"),
            _row("e", 90_002, device_id="d1", client_ip="9.9.9.9", payment_token="t1"),
        ]
    )
    f = _by_key(fraud_features(orders))
    # The hour before c is (0 s, 3600 s]: a, placed exactly an hour earlier, is out.
    assert [f[k]["device_orders_1h"] for k in "abcde"] == [0, 1, 1, 2, 0]
    assert [f[k]["device_orders_24h"] for k in "abcde"] == [0, 1, 2, 3, 0]
    assert [f[k]["ip_orders_1h"] for k in "abcde"] == [0, 1, 1, None, 0]
    assert [f[k]["card_orders_24h"] for k in "abcde"] == [0, 1, 0, 2, 0]
    assert f["e"]["device_orders_24h"] == 0  # d was 86,401 s earlier: more than a day
    assert [f[k]["customer_orders_1h"] for k in "abcde"] == [None] * 5  # guests


def test_same_instant_orders_are_ordered_by_key() -> None:
    orders = _orders([_row("y", 0, device_id="d"), _row("x", 0, device_id="d")])
    f = _by_key(fraud_features(orders))
    assert (f["x"]["device_orders_1h"], f["y"]["device_orders_1h"]) == (0, 1)


def test_devices_and_ips_shared_by_other_customers_so_far() -> None:
    orders = _orders(
        [
            _row("1", 0, customer_key="c1", device_id="d", client_ip="1.1.1.1"),
            _row("2", 10, customer_key="c1", device_id="d", client_ip="1.1.1.1"),
            _row("3", 20, customer_key="c2", device_id="d", client_ip="2.2.2.2"),
            _row("4", 30, customer_key="c3", device_id="d", client_ip="1.1.1.1"),
            _row("5", 40, customer_key="c1", device_id="d", client_ip="1.1.1.1"),
            _row("6", 50, customer_key=None, device_id="d", client_ip=None),  # guest, no IP
        ]
    )
    f = _by_key(fraud_features(orders))
    assert [f[k]["device_other_customers"] for k in "123456"] == [0, 0, 1, 2, 2, 3]
    assert [f[k]["ip_other_customers"] for k in "123456"] == [0, 0, 0, 1, 1, None]


def test_country_mismatches_use_the_ip_country_from_the_ranges_table() -> None:
    ranges = prepare_ip_ranges(
        pl.DataFrame(
            {
                "lower_bound_ip_address": [16777216, 33554432],
                "upper_bound_ip_address": [33554431, 50331647],
                "country": ["Germany", "United States"],
            }
        )
    )
    orders = _orders(
        [
            _row("de", 0, client_ip="1.0.0.1", billing_country="de", shipping_country="DE"),
            _row("us", 1, client_ip="2.0.0.1", billing_country="DE", shipping_country="FR"),
            _row("pos", 2, billing_country="DE"),  # no IP, no shipping
        ]
    )
    f = _by_key(fraud_features(orders, ip_ranges=ranges))
    assert [f[k]["ip_country"] for k in ("de", "us", "pos")] == ["DE", "US", None]
    assert [f[k]["billing_shipping_mismatch"] for k in ("de", "us", "pos")] == [False, True, None]
    assert [f[k]["ip_billing_mismatch"] for k in ("de", "us", "pos")] == [False, True, None]
    assert [f[k]["ip_shipping_mismatch"] for k in ("de", "us", "pos")] == [False, True, None]
    without = _by_key(fraud_features(orders))
    assert without["us"]["ip_billing_mismatch"] is None


def test_email_shipping_browser_hour_and_categorical_signals() -> None:
    chrome = "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/130.0 Safari/537.36"
    edge = chrome + " Edg/130.0"
    orders = _orders(
        [
            _row("1", 0, email="Jane1987@Mailinator.com", shipping_method="Express",
                 user_agent=chrome, channel="Online_Store", source_risk_level="High"),
            _row("2", 3600, email="jane@gmail.com", shipping_method="Standard", user_agent=edge),
            _row("3", 7200, email="jane@shop.example", shipping_method="Next Day Air",
                 user_agent="FireFox"),
            _row("4", 7300, email="not-an-email", user_agent="IE"),
        ]
    )  # fmt: skip
    f = _by_key(fraud_features(orders, timezone="America/New_York"))
    assert [f[k]["email_disposable"] for k in "1234"] == [True, False, False, None]
    assert [f[k]["email_free"] for k in "1234"] == [False, True, False, None]
    assert [f[k]["email_numeric_local"] for k in "1234"] == [True, False, False, None]
    assert [f[k]["shipping_rushed"] for k in "1234"] == [True, False, True, None]
    assert [f[k]["browser"] for k in "1234"] == ["chrome", "edge", "firefox", "ie"]
    assert f["1"]["hour_of_day"] == 7  # 12:00 UTC is 07:00 in New York in March
    assert (f["1"]["channel"], f["1"]["source_risk_level"]) == ("online_store", "high")


def test_point_of_sale_orders_without_signals_give_nulls_not_errors() -> None:
    minimal = pl.DataFrame(
        {"order_key": ["p1", "p2"], "created_at": [T0, T0], "total": [5.0, None]}
    )
    features = fraud_features(minimal)
    assert features.height == 2
    row = features.row(0, named=True)
    for name in ("device_orders_1h", "ip_other_customers", "email_free", "shipping_rushed",
                 "seconds_since_signup", "ip_country", "browser", "is_first_order"):  # fmt: skip
        assert row[name] is None, name
    assert features.get_column("order_value").to_list() == [5.0, None]


def test_the_contract_is_checked() -> None:
    with pytest.raises(ValueError, match="total"):
        conform_orders(pl.DataFrame({"order_key": ["a"], "created_at": [T0]}))
    duplicated = pl.DataFrame({"order_key": ["a", "a"], "created_at": [T0, T0], "total": [1, 2]})
    with pytest.raises(ValueError, match="unique"):
        conform_orders(duplicated)
    text_time = pl.DataFrame({"order_key": ["a"], "created_at": ["2026-01-01"], "total": [1]})
    with pytest.raises(TypeError, match="created_at"):
        conform_orders(text_time)
    naive = conform_orders(
        pl.DataFrame({"order_key": ["a"], "created_at": [datetime(2026, 1, 1)], "total": [1]})
    )
    assert naive.get_column("created_at").dtype == pl.Datetime("us", "UTC")


def _reference(orders: pl.DataFrame) -> pl.DataFrame:
    """Brute force: every feature of the point-in-time kernels, one order at a time."""
    rows = orders.sort("created_at", "order_key").to_dicts()
    out = []
    for i, row in enumerate(rows):
        before = rows[:i]
        t = row["created_at"]
        result: dict[str, object] = {"order_key": row["order_key"]}
        for label, key in (("customer", "customer_key"), ("device", "device_id"),
                           ("ip", "client_ip"), ("card", "payment_token")):  # fmt: skip
            same = [r for r in before if row[key] is not None and r[key] == row[key]]
            for window, span in (("1h", timedelta(hours=1)), ("24h", timedelta(days=1))):
                count = sum(1 for r in same if r["created_at"] > t - span)
                result[f"{label}_orders_{window}"] = None if row[key] is None else count
            if label == "customer":
                result["customer_prior_orders"] = None if row[key] is None else len(same)
                totals = [r["total"] for r in same]
                result["value_to_prior_mean"] = (
                    row["total"] / (sum(totals) / len(totals)) if totals else None
                )
            if label in ("device", "ip"):
                seen = {r["customer_key"] for r in [*same, row] if r["customer_key"] is not None}
                own = 1 if row["customer_key"] is not None else 0
                result[f"{label}_other_customers"] = None if row[key] is None else len(seen) - own
        out.append(result)
    return pl.DataFrame(out)


def _random_orders(seed: int, n: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(seed)

    def pick(prefix: str, k: int, null_share: float) -> list[str | None]:
        values = rng.integers(0, k, n)
        nulls = rng.random(n) < null_share
        return [None if z else f"{prefix}{v}" for v, z in zip(values, nulls, strict=True)]

    # Few distinct instants over three days: many same-instant ties, many window edges.
    instants = np.sort(rng.integers(0, 3 * 86_400, 120))
    return pl.DataFrame(
        {
            "order_key": [f"k{i:04d}" for i in rng.permutation(n)],
            "created_at": [T0 + timedelta(seconds=int(s)) for s in rng.choice(instants, n)],
            "total": np.round(rng.uniform(1, 200, n), 2),
            "customer_key": pick("c", 40, 0.15),
            "device_id": pick("d", 25, 0.2),
            "client_ip": [None if v is None else f"10.0.0.{v[1:]}" for v in pick("i", 30, 0.2)],
            "payment_token": pick("t", 35, 0.3),
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kernels_agree_with_a_brute_force_reference(seed: int) -> None:
    orders = _random_orders(seed)
    expected = _reference(orders)
    got = fraud_features(orders).select(expected.columns)
    assert_frame_equal(
        got.sort("order_key"), expected.sort("order_key"), check_dtypes=False, rel_tol=1e-9
    )


def test_later_orders_and_row_order_never_change_earlier_features() -> None:
    orders = synthetic_orders(4000, seed=11).drop("label")
    ranges = prepare_ip_ranges(synthetic_ip_ranges(1000))
    cutoff = orders.get_column("created_at").quantile(0.6, interpolation="lower")
    past = orders.filter(pl.col("created_at") <= cutoff)
    alone = fraud_features(past, ip_ranges=ranges)
    # The future reuses the same customers, devices, IPs and cards (it is the same stream).
    future = orders.filter(pl.col("created_at") > cutoff)
    with_future = fraud_features(
        pl.concat([future, past]).sample(fraction=1.0, shuffle=True, seed=3), ip_ranges=ranges
    )
    assert with_future.height == orders.height
    again = with_future.filter(pl.col("created_at") <= cutoff)
    assert_frame_equal(alone.sort("order_key"), again.sort("order_key"))
    # The test has teeth: the later orders do see the earlier ones.
    later = with_future.filter(pl.col("created_at") > cutoff)
    assert later.get_column("customer_prior_orders").sum() > 0
