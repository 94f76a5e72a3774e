"""The fraud injectors (``pipelines.generator.fraud``): fraudulent orders show the signals their
ground truth names, legitimate orders show the same signals now and then, the base rate holds,
the ground truth labels every line of every fraudulent order, the IP ranges written beside the
orders locate every address, and the Shopify layouts carry the signals.

Files are read back with Polars as text (never with the generator's code); signals are checked
from the written fields: times, countries, e-mails, devices, addresses, shipping methods.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from models.fraud_features import DISPOSABLE_EMAIL_DOMAINS, FREE_EMAIL_DOMAINS
from orderlens.contracts import REFERENCE_INPUTS
from pipelines.generator import (
    InjectorSpec,
    default_injector_specs,
    generate_merchant,
)
from pipelines.generator.catalog import build_catalog
from pipelines.generator.fraud import FRAUD_INJECTORS, MAX_FRAUD_RATE
from pipelines.generator.plan import Plan
from pipelines.generator.reference import IP_RANGES_HEADER
from pipelines.generator.signals import SIGNAL_NAMES
from pipelines.generator.world import DISPOSABLE_DOMAINS, FREE_WEBMAIL, IP_BLOCKS

SIGNALS = [name for _, name in SIGNAL_NAMES]
FRAUD_SPECS = [InjectorSpec("fraud", 0.02), InjectorSpec("fraud_lookalikes", 0.05)]


# --------------------------------------------------------------------------------------------
# Reading a generated landing back


@dataclass
class Generated:
    orders: pl.DataFrame
    """One row per order (its first line's fields), with ``source``, ``lines`` and the
    order's ground truth (``fraud_label``, ``fraud_pattern``; null when none)."""
    truth: pl.DataFrame
    ranges: list[tuple[int, int, str]]
    out: Path
    report_orders: int


def _read(out: Path, truth_path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    frames = [
        pl.read_csv(path, infer_schema=False).with_columns(
            pl.lit(path.parent.name).alias("source"), pl.lit(path.relative_to(out).as_posix())
            .alias("file")
        )
        for path in sorted(out.glob("*/orders_*.csv"))
    ]  # fmt: skip
    lines = pl.concat(frames, how="diagonal")
    truth = pl.read_parquet(truth_path)
    per_order = lines.group_by("source", "source_order_id").agg(
        pl.len().alias("lines"), pl.col("sku").alias("skus")
    )
    orders = (
        lines.filter(pl.col("line_number") == "1")
        .join(per_order, on=["source", "source_order_id"])
        .join(
            truth.group_by("source", "source_order_id").agg(
                pl.col("fraud_label").first(), pl.col("fraud_pattern").first()
            ),
            on=["source", "source_order_id"],
            how="left",
        )
    )
    return orders, truth


def _ranges(out: Path) -> list[tuple[int, int, str]]:
    frame = pl.read_csv(out / "_reference" / "ip_ranges.csv", infer_schema=False)
    return sorted((int(a), int(b), c) for a, b, c in frame.iter_rows())


def ip_country(ranges: list[tuple[int, int, str]], ip: str | None) -> str | None:
    if not ip:
        return None
    value = int(ipaddress.IPv4Address(ip))
    at = bisect.bisect_right([r[0] for r in ranges], value) - 1
    if at >= 0 and ranges[at][0] <= value <= ranges[at][1]:
        return ranges[at][2]
    return None


def _generate(
    root: Path, specs: list[InjectorSpec], orders: int = 15_000, seed: int = 9
) -> Generated:
    out = root / "landing"
    report = generate_merchant(
        out, orders=orders, start=date(2026, 3, 1), end=date(2026, 5, 31), seed=seed,
        injectors=specs,
    )  # fmt: skip
    frame, truth = _read(out, report.ground_truth)
    return Generated(frame, truth, _ranges(out), out, report.orders)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    return _generate(tmp_path_factory.mktemp("fraud"), FRAUD_SPECS)


def _seconds(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


@dataclass
class Observed:
    """Which signals each order shows, computed from its written fields alone."""

    by_key: dict[tuple[str, str], set[str]]


def observe(g: Generated) -> Observed:
    o = g.orders
    catalog = build_catalog()
    ships = catalog.requires_shipping
    dear_cut = np.quantile(catalog.usd_cents[ships], 0.85)
    dear = {
        sku for sku, cents, ship in zip(catalog.skus, catalog.usd_cents, ships, strict=True)
        if (ship and cents >= dear_cut) or (not ship and cents >= 5000)
    }  # fmt: skip
    customers_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    rows = o.to_dicts()
    for r in rows:
        customer = r["customer_id"] or f"guest:{r['customer_phone']}"
        for kind in ("device_id", "client_ip"):
            if r[kind]:
                customers_of[(kind, r[kind])].add(customer)
        created = _seconds(r["created_at"])
        assert created is not None
        for kind in ("customer_id", "device_id", "client_ip", "payment_token"):
            if r[kind]:
                times[(kind, r[kind])].append(created)
    seen: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        shown: set[str] = set()
        created = _seconds(r["created_at"])
        signed = _seconds(r["customer_created_at"])
        assert created is not None
        if signed is not None and 0 <= created - signed < 60:
            shown.add("new_account_fast")
        if r["device_id"] and len(customers_of[("device_id", r["device_id"])]) > 1:
            shown.add("shared_device")
        if r["client_ip"] and len(customers_of[("client_ip", r["client_ip"])]) > 1:
            shown.add("shared_ip")
        country = ip_country(g.ranges, r["client_ip"])
        if country is not None and country != r["billing_country"]:
            shown.add("ip_country_mismatch")
        if r["shipping_country"] and r["shipping_country"] != r["billing_country"]:
            shown.add("billing_shipping_mismatch")
        if set(r["skus"]) & dear:
            shown.add("high_value_goods")
        if r["shipping_method"] in ("Express", "Expedited"):
            shown.add("rushed_shipping")
        email = (r["customer_email"] or "").lower()
        if email.partition("@")[2] in DISPOSABLE_EMAIL_DOMAINS:
            shown.add("disposable_email")
        if re.search(r"\d{4,}", email.partition("@")[0]):
            shown.add("numeric_email")
        for kind in ("customer_id", "device_id", "client_ip", "payment_token"):
            if r[kind] and sum(abs(t - created) < 3600 for t in times[(kind, r[kind])]) > 1:
                shown.add("velocity_burst")
        seen[(r["source"], r["source_order_id"])] = shown
    return Observed(seen)


@pytest.fixture(scope="module")
def observed(generated: Generated) -> Observed:
    return observe(generated)


# --------------------------------------------------------------------------------------------
# Fraudulent orders


def test_fraud_is_on_by_default_at_about_one_percent() -> None:
    defaults = {s.name: s.rate for s in default_injector_specs()}
    assert set(FRAUD_INJECTORS) <= set(defaults)
    assert defaults["fraud"] == pytest.approx(0.01)
    assert 0 < defaults["fraud_lookalikes"] <= 0.1


def test_the_base_rate_holds(generated: Generated, tmp_path: Path) -> None:
    fraud = generated.orders.filter(pl.col("fraud_label").fill_null(False))
    assert fraud.height / generated.orders.height == pytest.approx(0.02, rel=0.2)
    assert generated.orders.height == generated.report_orders
    low = _generate(tmp_path, [InjectorSpec("fraud", 0.005)], orders=20_000)
    share = low.orders.filter(pl.col("fraud_label").fill_null(False)).height / low.orders.height
    assert share == pytest.approx(0.005, rel=0.3)
    with pytest.raises(ValueError, match="above"):
        generate_merchant(
            tmp_path / "x", orders=10, start=date(2026, 1, 1), end=date(2026, 1, 31), seed=1,
            injectors=[InjectorSpec("fraud", MAX_FRAUD_RATE + 0.1)],
        )  # fmt: skip


def test_every_line_of_a_fraudulent_order_is_labelled_with_one_pattern(
    generated: Generated,
) -> None:
    truth = generated.truth
    fraud = truth.filter(pl.col("injector") == "fraud")
    assert fraud["fraud_label"].to_list() == [True] * fraud.height
    per_order = fraud.group_by("source", "source_order_id").agg(
        pl.len().alias("marked"), pl.col("fraud_pattern").n_unique().alias("patterns")
    )
    assert per_order["patterns"].max() == 1
    orders = generated.orders.join(per_order, on=["source", "source_order_id"])
    assert orders.height == per_order.height > 100
    assert (orders["marked"] == orders["lines"]).all(), "every line, once"
    # Only web and app orders, paid by card, by registered accounts.
    assert set(orders["channel"]) == {"online_store", "mobile_app"}
    assert set(orders["payment_method"]) == {"card"}
    assert orders["customer_id"].null_count() == 0
    # Legitimate rows never say fraud.
    legit = truth.filter(pl.col("injector") != "fraud")
    assert legit["fraud_label"].to_list() == [False] * legit.height


def test_each_fraudulent_order_shows_the_signals_its_pattern_names(
    generated: Generated, observed: Observed
) -> None:
    fraud = generated.orders.filter(pl.col("fraud_label").fill_null(False))
    counts = dict.fromkeys(SIGNALS, 0)
    for source, order_id, pattern in fraud.select(
        "source", "source_order_id", "fraud_pattern"
    ).iter_rows():
        names = pattern.split("+")
        assert names and set(names) <= set(SIGNALS), pattern
        assert len(names) < len(SIGNALS), "never every signal"
        missing = set(names) - observed.by_key[(source, order_id)]
        assert not missing, (order_id, pattern, missing)
        for name in names:
            counts[name] += 1
    # Every signal occurs, none on every fraudulent order, and the orders mix them.
    assert all(0.05 * fraud.height < n < 0.95 * fraud.height for n in counts.values()), counts
    assert fraud["fraud_pattern"].n_unique() > 30


def test_legitimate_orders_show_the_same_signals(generated: Generated, observed: Observed) -> None:
    legit = generated.orders.filter(~pl.col("fraud_label").fill_null(False))
    lookalikes = legit.filter(pl.col("fraud_pattern").is_not_null())
    assert 0.02 < lookalikes.height / legit.height < 0.07
    for source, order_id, pattern in lookalikes.select(
        "source", "source_order_id", "fraud_pattern"
    ).iter_rows():
        missing = set(pattern.split("+")) - observed.by_key[(source, order_id)]
        assert not missing, (order_id, pattern, missing)
    # Every rule-like signal fires on legitimate orders too, so no rule is exact.
    shown_legit: dict[str, int] = dict.fromkeys(SIGNALS, 0)
    for key in legit.select("source", "source_order_id").iter_rows():
        for name in observed.by_key[key]:
            shown_legit[name] += 1
    assert all(n >= 20 for n in shown_legit.values()), shown_legit
    # Orders nobody gave a signal ship at home, from an address at home, after a sign-up
    # at least a minute old.
    plain = legit.filter(pl.col("fraud_pattern").is_null())
    for key in plain.select("source", "source_order_id").iter_rows():
        shown = observed.by_key[key]
        assert not shown & {"new_account_fast", "ip_country_mismatch",
                            "billing_shipping_mismatch", "disposable_email"}, (key, shown)  # fmt: skip


def test_orders_shipped_abroad_carry_the_validator_warning(generated: Generated) -> None:
    truth = generated.truth.filter(pl.col("fraud_pattern").str.contains("billing_shipping"))
    assert truth.height > 0
    assert all(codes == ["COUNTRY_MISMATCH"] for codes in truth["reason_codes"].to_list())
    others = generated.truth.filter(~pl.col("fraud_pattern").str.contains("billing_shipping"))
    assert all(codes == [] for codes in others["reason_codes"].to_list())


def test_the_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    def digest(name: str, seed: int) -> dict[str, str]:
        out = tmp_path / name / "landing"
        report = generate_merchant(
            out, orders=3_000, start=date(2026, 1, 1), end=date(2026, 2, 28), seed=seed,
            injectors=FRAUD_SPECS,
        )  # fmt: skip
        files = {p.relative_to(out).as_posix(): p for p in out.rglob("*") if p.is_file()}
        files["ground truth"] = report.ground_truth
        return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in sorted(files.items())}

    first, again, other = digest("a", 5), digest("b", 5), digest("c", 6)
    assert first == again
    assert first["ground truth"] != other["ground truth"]
    assert first["_reference/ip_ranges.csv"] == other["_reference/ip_ranges.csv"]


# --------------------------------------------------------------------------------------------
# IP ranges and vocabularies


def test_the_ip_ranges_locate_every_address_and_home_orders_are_at_home(
    generated: Generated, observed: Observed
) -> None:
    with (generated.out / "_reference" / "ip_ranges.csv").open() as fh:
        assert fh.readline().strip() == ",".join(IP_RANGES_HEADER)
    starts = [r[0] for r in generated.ranges]
    assert starts == sorted(starts)
    assert all(a[1] < b[0] for a, b in zip(generated.ranges, generated.ranges[1:], strict=False))
    ips = generated.orders["client_ip"].drop_nulls().to_list()
    assert len(ips) > 5_000
    assert all(ip_country(generated.ranges, ip) is not None for ip in ips)
    codes = {r[2] for r in generated.ranges}
    assert codes == set(IP_BLOCKS)
    # The declared reference input, once there is one, has these columns.
    for spec in REFERENCE_INPUTS:
        if spec.file_stem == "ip_ranges":
            assert tuple(f.name for f in spec.fields) == IP_RANGES_HEADER


def test_generated_email_domains_are_the_ones_the_features_know() -> None:
    assert set(DISPOSABLE_DOMAINS) <= DISPOSABLE_EMAIL_DOMAINS
    assert set(FREE_WEBMAIL) <= FREE_EMAIL_DOMAINS


def test_new_orders_merge_in_time_and_copies_stay_after_their_originals() -> None:
    plan = Plan(
        n_orders=4,
        lines=np.array([1, 1, 1, 1]),
        created=np.array([10, 50, 20, 90]),  # order 2 copies order 1 (30 s later)
        channel=np.zeros(4, dtype=np.int64),
        customer=np.arange(4),
        store=np.full(4, -1),
        customers=pl.DataFrame({"x": [1, 2, 3, 4]}),
        as_of=100,
        window_start=0,
        n_registered=4,
        twin_of=np.array([-1, -1, 1, -1]),
        added_by=np.array([-1, -1, 0, -1]),
    )
    merged = plan.with_orders(
        created=np.array([60, 5, 50]),
        channel=np.ones(3, dtype=np.int64),
        customer=np.array([4, 5, 4]),
        lines=np.array([2, 2, 2]),
        signals=np.array([1, 1, 1]),
        added_by=1,
        customers=pl.DataFrame({"x": [5, 6]}),
    )
    assert merged.created.tolist() == [5, 10, 50, 20, 50, 60, 90]
    assert merged.twin_of is not None and merged.twin_of.tolist() == [-1, -1, -1, 2, -1, -1, -1]
    assert merged.added_by is not None and merged.added_by.tolist() == [1, -1, -1, 0, 1, 1, -1]
    assert merged.signals is not None and merged.signals.tolist() == [1, 0, 0, 0, 1, 1, 0]
    assert merged.customers.height == 6
    kept = merged.subset(merged.channel == 1)
    assert kept.signals is not None and kept.signals.tolist() == [1, 1, 1]


# --------------------------------------------------------------------------------------------
# Shopify layouts


def test_shopify_layouts_carry_the_signals(generated: Generated, tmp_path: Path) -> None:
    from pipelines.generator.shopify_export import convert_landing as to_csv
    from pipelines.generator.shopify_ndjson import convert_landing as to_ndjson

    fraud = generated.orders.filter(pl.col("fraud_label").fill_null(False))
    expected = {row["source_order_id"]: row for row in fraud.to_dicts()}
    to_ndjson(generated.out, tmp_path / "json")
    seen = 0
    for path in (tmp_path / "json").glob("*/orders.ndjson"):
        for line in path.read_text().splitlines():
            order = json.loads(line)
            row = expected.get(order["id"])
            if row is None:
                continue
            seen += 1
            assert order["browser_ip"] == row["client_ip"]
            assert order["device_id"] == row["device_id"]
            assert order["customer"]["created_at"] == row["customer_created_at"]
            assert order["email"] == row["customer_email"]
            assert order["billing_address"]["country_code"] == row["billing_country"]
            assert order["transactions"][0]["authorization"] == row["payment_token"]
            if row["shipping_country"]:
                assert order["shipping_address"]["country_code"] == row["shipping_country"]
    assert seen == fraud.height
    to_csv(generated.out, tmp_path / "csv")
    exported = pl.concat(
        [
            pl.read_csv(p, infer_schema=False)
            for p in (tmp_path / "csv").glob("*/orders_export.csv")
        ],
        how="diagonal",
    ).filter(pl.col("Id").is_in(list(expected)))
    assert exported["Id"].n_unique() == fraud.height
    for row in exported.filter(pl.col("Email").is_not_null()).to_dicts():
        source = expected[row["Id"]]
        assert row["Email"] == source["customer_email"]
        assert row["Device ID"] == source["device_id"]
        assert row["Shipping Method"] == source["shipping_method"]
        assert row["Billing Country"] == source["billing_country"]
        assert row["Shipping Country"] == source["shipping_country"]
