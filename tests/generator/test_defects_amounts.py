"""Amount, range, reference and time defects (``pipelines/generator/defects_amounts.py``).

Every injected order breaks exactly the entry-accuracy rule its ground truth names and no
other of these rules; every other order is the clean run's, byte for byte; and the clean
generator breaks none of these rules. The landing files are read back with polars (every
column as text) and the rules are written here from their spec, not from the generator.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pycountry
import pytest

from orderlens.contracts import GENERIC_ORDER_FIELDS
from orderlens.reasons import ReasonCode
from pipelines.generator import (
    INJECTORS,
    GroundTruthRow,
    InjectorSpec,
    generate_merchant,
    read_ground_truth,
)
from pipelines.generator.defects_amounts import AMOUNT_DEFECTS

START, END = date(2026, 11, 1), date(2027, 1, 31)  # Black Friday, a price cut, the spike
AS_OF = datetime(2027, 2, 1, tzinfo=ZoneInfo("America/New_York"))
"""When the generator's statuses stand (the merchant's midnight after the last day)."""
SEED = 13
ORDERS = 6_000
RATE = 0.02
CHAIN = ("created_at", "paid_at", "shipped_at", "delivered_at")
TIMES = (*CHAIN, "cancelled_at", "refunded_at")
PAID_STATUSES = ("paid", "partially_refunded", "refunded")
ORDER_FIELDS = [f.name for f in GENERIC_ORDER_FIELDS if f.name != "source_order_id"]

_MOVES_A_LINE = {"line_total", "subtotal", "total", "paid_amount", "refunded_amount"}
CHANGEABLE: dict[str, set[str]] = {
    # the stated paid amount is the total, whatever it became
    "subtotal_mismatch": {"subtotal", "total", "paid_amount"},
    "total_mismatch": {"total", "paid_amount"},
    "quantity_invalid": {"quantity", "line_discount", *_MOVES_A_LINE},
    "negative_price": {"unit_price", *_MOVES_A_LINE},
    "price_outlier": {"unit_price", "line_discount", *_MOVES_A_LINE},
    "unknown_sku": {"sku"},
    "paid_before_created": {"paid_at", "shipped_at"},
    "future_timestamp": {*TIMES, "promised_delivery_date"},
    "invalid_status_transition": {
        "shipped_at",
        "carrier",
        "tracking_number",
        "paid_at",
        "paid_amount",
        "financial_status",
    },
    "line_amount_mismatch": {"line_total"},
    "payment_mismatch": {"paid_amount"},
    "currency_invalid": {"currency"},
}
"""Columns each injector may change (every other column stays the clean run's)."""


# --------------------------------------------------------------------------------------------
# Reading a landing folder back


@dataclass
class Landing:
    rows: pl.DataFrame
    """One row per line, every column as text; order fields filled from the order's first
    line; plus ``source`` and ``file``."""
    catalogue: set[str]
    truth: list[GroundTruthRow]

    def orders(self) -> dict[tuple[str, str], list[dict[str, str | None]]]:
        grouped: dict[tuple[str, str], list[dict[str, str | None]]] = defaultdict(list)
        for row in self.rows.iter_rows(named=True):
            grouped[(row["source"], row["source_order_id"])].append(row)
        return grouped


def read_landing(out: Path, truth: Path) -> Landing:
    frames = []
    for path in sorted(out.glob("*/orders_*.csv")):
        frame = pl.read_csv(path, infer_schema=False)
        source, file = path.parent.name, path.relative_to(out).as_posix()
        frames.append(frame.with_columns(source=pl.lit(source), file=pl.lit(file)))
    rows = pl.concat(frames)
    key = ["file", "source_order_id"]
    first = rows.filter(pl.col("line_number") == "1").select(
        *key, *(pl.col(c).alias(f"_first_{c}") for c in ORDER_FIELDS)
    )
    rows = (
        rows.join(first, on=key, how="left")
        .with_columns(pl.col(f"_first_{c}").alias(c) for c in ORDER_FIELDS)
        .drop(f"_first_{c}" for c in ORDER_FIELDS)
        .sort("file", "source_order_id", pl.col("line_number").cast(pl.Int64))
    )
    catalogue = set(pl.read_csv(out / "_reference" / "products.csv", infer_schema=False)["sku"])
    return Landing(rows, catalogue, read_ground_truth(truth))


def generate(root: Path, orders: int, injectors: list[InjectorSpec]) -> Landing:
    out = root / "landing"
    report = generate_merchant(
        out, orders=orders, start=START, end=END, seed=SEED, injectors=injectors
    )
    return read_landing(out, report.ground_truth)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    return generate(tmp_path_factory.mktemp("clean"), ORDERS, [])


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Landing:
    specs = [InjectorSpec(name, RATE) for name in AMOUNT_DEFECTS]
    return generate(tmp_path_factory.mktemp("dirty"), ORDERS, specs)


# --------------------------------------------------------------------------------------------
# The rules, from the spec


def money(text: str | None) -> Decimal:
    return Decimal(text or "0")


def minor_unit(currency: str | None) -> Decimal:
    return Decimal(1) if currency == "JPY" else Decimal("0.01")


def when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def sku_medians(rows: pl.DataFrame) -> dict[tuple[str, str], tuple[Decimal, int]]:
    """Median unit price and lines of every (SKU, currency), over lines priced above 0."""
    prices: dict[tuple[str, str], list[Decimal]] = defaultdict(list)
    for sku, currency, price in rows.select("sku", "currency", "unit_price").iter_rows():
        if money(price) > 0:
            prices[(sku, currency)].append(money(price))
    return {k: (statistics.median(v), len(v)) for k, v in prices.items()}


def codes_that_fire(landing: Landing, checked_at: datetime) -> dict[tuple[str, str], set[str]]:
    """The codes of the amount, range, reference and time rules each order breaks."""
    medians = sku_medians(landing.rows)
    fired: dict[tuple[str, str], set[str]] = {}
    for key, lines in landing.orders().items():
        o = lines[0]
        codes: set[str] = set()
        unit = minor_unit(o["currency"])
        line_sum = sum(
            (
                money(x["quantity"]) * money(x["unit_price"]) - money(x["line_discount"])
                for x in lines
            ),
            Decimal(0),
        )
        subtotal = money(o["subtotal"])
        if abs(subtotal - line_sum) > unit:
            codes.add(ReasonCode.SUBTOTAL_MISMATCH)
        expected = (
            subtotal - money(o["total_discounts"]) + money(o["shipping"]) + money(o["total_tax"])
        )
        if abs(money(o["total"]) - expected) > unit:
            codes.add(ReasonCode.TOTAL_MISMATCH)
        paid = o["paid_at"] is not None or o["financial_status"] in PAID_STATUSES
        if (
            paid
            and o["paid_amount"] is not None
            and abs(money(o["paid_amount"]) - money(o["total"])) > unit
        ):
            codes.add(ReasonCode.PAYMENT_MISMATCH)
        if pycountry.currencies.get(alpha_3=(o["currency"] or "").strip().upper()) is None:
            codes.add(ReasonCode.CURRENCY_INVALID)
        for x in lines:
            quantity, price = money(x["quantity"]), money(x["unit_price"])
            if quantity <= 0 or quantity != quantity.to_integral_value():
                codes.add(ReasonCode.QUANTITY_INVALID)
            if price < 0:
                codes.add(ReasonCode.PRICE_NEGATIVE)
            stated = x["line_total"]
            amount = quantity * price - money(x["line_discount"])
            if stated is not None and abs(money(stated) - amount) > unit:
                codes.add(ReasonCode.LINE_AMOUNT_MISMATCH)
            median, n = medians.get((x["sku"] or "", o["currency"] or ""), (Decimal(0), 0))
            if price > 0 and n >= 5 and not median / 5 <= price <= 5 * median:
                codes.add(ReasonCode.PRICE_OUTLIER)
            if x["sku"] not in landing.catalogue:
                codes.add(ReasonCode.SKU_UNKNOWN)
        times = {name: when(o[name]) for name in TIMES}
        chain = [t for t in (times[name] for name in CHAIN) if t is not None]
        if any(a > b for a, b in combinations(chain, 2)):
            codes.add(ReasonCode.TIMESTAMP_ORDER)
        if max(t for t in times.values() if t is not None) > checked_at + timedelta(days=1):
            codes.add(ReasonCode.FUTURE_TIMESTAMP)
        ships = o["channel"] != "pos" and any(x["requires_shipping"] == "true" for x in lines)
        delivered = times["delivered_at"] is not None or o["fulfillment_status"] == "delivered"
        refund = times["refunded_at"] is not None or o["refunded_amount"] is not None
        paid = times["paid_at"] is not None or o["financial_status"] in PAID_STATUSES
        cancelled, delivered_at = times["cancelled_at"], times["delivered_at"]
        if (
            (delivered and times["shipped_at"] is None and ships)
            or (refund and not paid)
            or (cancelled is not None and delivered_at is not None and delivered_at > cancelled)
        ):
            codes.add(ReasonCode.STATUS_TRANSITION_INVALID)
        fired[key] = codes
    return fired


def truth_codes(truth: Iterable[GroundTruthRow]) -> dict[tuple[str, str], set[str]]:
    codes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row in truth:
        assert row.source_order_id is not None
        codes[(row.source, row.source_order_id)] |= set(row.reason_codes)
    return codes


# --------------------------------------------------------------------------------------------
# The injectors


def test_the_injectors_are_registered_with_their_codes() -> None:
    expected = {
        "subtotal_mismatch": ReasonCode.SUBTOTAL_MISMATCH,
        "total_mismatch": ReasonCode.TOTAL_MISMATCH,
        "quantity_invalid": ReasonCode.QUANTITY_INVALID,
        "negative_price": ReasonCode.PRICE_NEGATIVE,
        "price_outlier": ReasonCode.PRICE_OUTLIER,
        "unknown_sku": ReasonCode.SKU_UNKNOWN,
        "paid_before_created": ReasonCode.TIMESTAMP_ORDER,
        "future_timestamp": ReasonCode.FUTURE_TIMESTAMP,
        "invalid_status_transition": ReasonCode.STATUS_TRANSITION_INVALID,
        "line_amount_mismatch": ReasonCode.LINE_AMOUNT_MISMATCH,
        "payment_mismatch": ReasonCode.PAYMENT_MISMATCH,
        "currency_invalid": ReasonCode.CURRENCY_INVALID,
    }
    assert tuple(expected) == AMOUNT_DEFECTS
    for name, code in expected.items():
        cls = INJECTORS[name]
        assert cls.reason_codes == (code,)
        assert 0 < cls.default_rate <= 0.001
        assert cls.__doc__ and "Rate:" in cls.__doc__


def test_each_injected_order_breaks_exactly_its_own_rules(dirty: Landing) -> None:
    truth = truth_codes(dirty.truth)
    assert {row.injector for row in dirty.truth} == set(AMOUNT_DEFECTS)
    per_injector = defaultdict(set)
    for row in dirty.truth:
        per_injector[row.injector].add((row.source, row.source_order_id))
    for name in AMOUNT_DEFECTS:
        assert len(per_injector[name]) >= 40, (name, len(per_injector[name]))
    fired = codes_that_fire(dirty, AS_OF)
    assert set(truth) <= set(fired)
    wrong = {
        key: (codes, truth.get(key, set()))
        for key, codes in fired.items()
        if codes != truth.get(key, set())
    }
    assert not wrong, list(wrong.items())[:10]


def test_ground_truth_marks_the_changed_line_and_the_first_line(
    dirty: Landing, clean: Landing
) -> None:
    records = {
        (r["source"], r["source_order_id"], int(r["line_number"])): r
        for r in dirty.rows.iter_rows(named=True)
    }
    before = {
        (r["source"], r["source_order_id"], int(r["line_number"])): r
        for r in clean.rows.iter_rows(named=True)
    }
    marked: dict[tuple[str, str, str], set[int]] = defaultdict(set)
    for row in dirty.truth:
        assert row.source_order_id is not None and row.line_number is not None
        key = (row.source, row.source_order_id, row.line_number)
        assert records[key]["file"] == row.file == before[key]["file"], "stays in its file"
        marked[(row.injector, row.source, row.source_order_id)].add(row.line_number)
    line_fields = ("quantity", "unit_price", "line_discount", "line_total", "sku")
    changed_lines: dict[tuple[str, str], set[int]] = defaultdict(set)
    for (source, order_id, number), record in records.items():
        if any(record[c] != before[(source, order_id, number)][c] for c in line_fields):
            changed_lines[(source, order_id)].add(number)
    for (injector, source, order_id), lines in marked.items():
        changed = changed_lines[(source, order_id)]
        if injector in ("unknown_sku", "line_amount_mismatch"):
            assert len(lines) == 1 and lines <= changed
        elif injector in ("quantity_invalid", "negative_price", "price_outlier"):
            assert 1 in lines and len(lines) <= 2 and lines & changed
        else:  # order fields only: the first line, where they are written
            assert lines == {1}


def test_unmarked_orders_are_the_clean_runs_and_marked_ones_change_only_their_fields(
    dirty: Landing, clean: Landing
) -> None:
    marked = defaultdict(set)
    for row in dirty.truth:
        marked[(row.source, row.source_order_id)].add(row.injector)
    keys = pl.DataFrame(
        [(s, o) for s, o in marked], schema=["source", "source_order_id"], orient="row"
    )

    def split(landing: Landing) -> tuple[pl.DataFrame, pl.DataFrame]:
        rows = landing.rows
        return (
            rows.join(keys, on=["source", "source_order_id"], how="anti"),
            rows.join(keys, on=["source", "source_order_id"], how="semi"),
        )

    dirty_kept, dirty_hit = split(dirty)
    clean_kept, clean_hit = split(clean)
    assert dirty_kept.height > 0.8 * clean.rows.height
    assert dirty_kept.equals(clean_kept)
    assert dirty_hit.select("source", "source_order_id", "line_number", "file").equals(
        clean_hit.select("source", "source_order_id", "line_number", "file")
    )
    columns = [c for c in clean_hit.columns if c not in ("source", "file")]
    changed_somewhere = defaultdict(set)
    for new, old in zip(
        dirty_hit.iter_rows(named=True), clean_hit.iter_rows(named=True), strict=True
    ):
        injectors = marked[(new["source"], new["source_order_id"])]
        allowed = set().union(*(CHANGEABLE[i] for i in injectors))
        changed = {c for c in columns if new[c] != old[c]}
        assert changed <= allowed, (injectors, changed - allowed, new["source_order_id"])
        if len(injectors) == 1:
            changed_somewhere[next(iter(injectors))] |= changed
    assert changed_somewhere["total_mismatch"] == {"total", "paid_amount"}
    assert changed_somewhere["unknown_sku"] == {"sku"}
    assert changed_somewhere["subtotal_mismatch"] == {"subtotal", "total", "paid_amount"}
    assert changed_somewhere["line_amount_mismatch"] == {"line_total"}
    assert changed_somewhere["payment_mismatch"] == {"paid_amount"}
    assert changed_somewhere["currency_invalid"] == {"currency"}


def test_the_variants_of_each_defect_occur(dirty: Landing, clean: Landing) -> None:
    injectors = defaultdict(set)
    for row in dirty.truth:
        injectors[(row.source, row.source_order_id)].add(row.injector)
    hit = defaultdict(set)  # lines of orders only one injector changed
    for row in dirty.truth:
        assert row.source_order_id is not None and row.line_number is not None
        if len(injectors[(row.source, row.source_order_id)]) == 1:
            hit[row.injector].add((row.source, row.source_order_id, row.line_number))
    new = {
        (r["source"], r["source_order_id"], int(r["line_number"])): r
        for r in dirty.rows.iter_rows(named=True)
    }
    old = {
        (r["source"], r["source_order_id"], int(r["line_number"])): r
        for r in clean.rows.iter_rows(named=True)
    }

    def values(injector: str, column: str) -> list[tuple[str | None, str | None]]:
        return [
            (old[k][column], new[k][column])
            for k in hit[injector]
            if old[k][column] != new[k][column]
        ]

    quantities = {q for _, q in values("quantity_invalid", "quantity")}
    assert "0" in quantities and any(q and q.startswith("-") for q in quantities)
    assert any(q and q.endswith(".5") for q in quantities)
    ratios = {money(b) / money(a) for a, b in values("price_outlier", "unit_price")}
    assert any(r > 9 for r in ratios) and any(r < Decimal("0.11") for r in ratios)
    assert all(money(b) == -money(a) for a, b in values("negative_price", "unit_price"))
    assert all(b and b.startswith("ZZ-") for _, b in values("unknown_sku", "sku"))
    future = values("future_timestamp", "created_at")
    assert future and all(b and b.startswith("2099-") for _, b in future), [
        x for x in future if not (x[1] and x[1].startswith("2099-"))
    ]
    deltas = {money(b) - money(a) for a, b in values("subtotal_mismatch", "subtotal")}
    assert any(d > 0 for d in deltas) and any(d < 0 for d in deltas)
    stated = values("line_amount_mismatch", "line_total")
    assert len(stated) == len(hit["line_amount_mismatch"]) > 0
    captured = {
        (money(b) - money(a)).copy_sign(1) != 0 and money(b) < money(a)
        for a, b in values("payment_mismatch", "paid_amount")
    }
    assert captured == {True, False}  # short and over
    currencies = {b for _, b in values("currency_invalid", "currency")}
    assert any(c and len(c) == 4 for c in currencies) and any(c in ("€", "US$") for c in currencies)
    unshipped = values("invalid_status_transition", "shipped_at")
    unpaid = values("invalid_status_transition", "paid_at")
    assert all(b is None for _, b in unshipped + unpaid) and unshipped and unpaid


def test_an_earlier_export_of_an_order_shows_the_same_amounts_and_times(
    tmp_path: Path,
) -> None:
    """Overlapping exports re-render an order as an earlier export showed it: the defect
    (amounts, lines, creation time) is the same in both copies."""
    specs = [
        InjectorSpec("overlapping_exports", 1.0),
        *(InjectorSpec(name, 0.05) for name in AMOUNT_DEFECTS),
    ]
    landing = generate(tmp_path, 3_000, specs)
    hit = {(r.source, r.source_order_id) for r in landing.truth if r.injector in AMOUNT_DEFECTS}
    same = ["subtotal", "total", "created_at", "sku", "quantity", "unit_price", "line_discount"]
    keys = pl.DataFrame(sorted(hit), schema=["source", "source_order_id"], orient="row")
    copies = (
        landing.rows.join(keys, on=["source", "source_order_id"], how="semi")
        .group_by("source", "source_order_id", "line_number")
        .agg(
            pl.col("file").n_unique().alias("files"), *(pl.col(c).n_unique().alias(c) for c in same)
        )
        .filter(pl.col("files") == 2)
    )
    assert copies.height > 20
    assert copies.select(same).max().row(0) == (1,) * len(same)


# --------------------------------------------------------------------------------------------
# The clean generator


def test_the_clean_generator_breaks_none_of_these_rules(clean: Landing) -> None:
    assert clean.truth == []
    fired = codes_that_fire(clean, AS_OF)
    assert len(fired) > 0.9 * ORDERS
    broken = {key: codes for key, codes in fired.items() if codes}
    assert not broken, list(broken.items())[:10]


def test_clean_lines_and_times_are_in_range(clean: Landing) -> None:
    rows = clean.rows
    assert rows["quantity"].str.contains(r"^[1-9]\d*$").all()
    assert (rows["unit_price"].cast(pl.Decimal(18, 2)) >= 0).all()
    assert set(rows["sku"]) <= clean.catalogue
    # Prices of one SKU never vary beyond [0.2, 5] x its median (in one currency; line
    # discounts carry the promotions).
    for (sku, currency), group in rows.group_by("sku", "currency"):
        prices = [money(p) for p in group["unit_price"]]
        median = statistics.median(prices)
        assert all(median / 5 <= p <= median * 5 for p in prices), (sku, currency)
    # Nothing after the last day; created <= paid <= shipped <= delivered; delivered
    # implies shipped; refunded implies paid; nothing delivered after it was cancelled.
    for lines in clean.orders().values():
        o = lines[0]
        times = {name: when(o[name]) for name in (*TIMES, "customer_created_at")}
        assert all(t < AS_OF for t in times.values() if t is not None), o["source_order_id"]
        chain = [t for t in (times[name] for name in CHAIN) if t is not None]
        assert chain == sorted(chain), o["source_order_id"]
        if o["fulfillment_status"] == "delivered" or times["delivered_at"]:
            assert times["shipped_at"] is not None
        if o["financial_status"] in ("refunded", "partially_refunded") or times["refunded_at"]:
            assert times["paid_at"] is not None and o["financial_status"] in PAID_STATUSES
        if times["cancelled_at"] and times["delivered_at"]:
            assert times["delivered_at"] <= times["cancelled_at"]


def test_clean_orders_are_created_in_their_window(clean: Landing) -> None:
    first = datetime(START.year, START.month, START.day, tzinfo=UTC) - timedelta(days=1)
    created = [when(t) for t in clean.rows["created_at"]]
    assert all(t is not None and first <= t < AS_OF for t in created)
