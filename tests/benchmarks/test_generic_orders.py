"""The generic-format order writer: deterministic, arithmetically sound, and the committed demo
sample is exactly what ``write_demo_sample`` makes."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmarks.generic_orders import (
    CURRENCIES,
    PARQUET_SCHEMA,
    DemoSample,
    write_demo_sample,
    write_generic_orders,
)
from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_ORDER_FIELDS, REFERENCE_DATA

SAMPLE = Path(__file__).resolve().parents[2] / "pipelines" / "sample_landing"
ORDER_FIELDS = [f.name for f in GENERIC_ORDER_FIELDS]
ALWAYS_ON_LINES = {"source_order_id", "order_number"}
MONEY = ("subtotal", "total_discounts", "shipping", "total_tax", "total", "refunded_amount")
LINE_MONEY = ("unit_price", "line_discount", "line_tax")
TIMESTAMPS = (
    "created_at",
    "paid_at",
    "cancelled_at",
    "customer_created_at",
    "refunded_at",
    "shipped_at",
    "delivered_at",
)
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


def _write(path: Path, seed: int = 7, n_lines: int = 3000) -> None:
    write_generic_orders(path, n_lines, seed, start=date(2026, 10, 1), days=31)


def _orders(text: str) -> dict[str, list[dict[str, str]]]:
    """Rows grouped by order, order fields of later lines filled from the first one."""
    reader = csv.DictReader(text.splitlines(keepends=True))
    assert tuple(reader.fieldnames or ()) == GENERIC_FIELD_NAMES
    orders: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in reader:
        assert None not in row, f"ragged row {row}"  # too many fields
        assert None not in row.values(), f"ragged row {row}"  # too few fields
        lines = orders[row["source_order_id"]]
        if lines:
            for name in ORDER_FIELDS:  # first non-blank value wins
                row[name] = lines[0][name] or row[name]
        lines.append(row)
    return orders


def _check_order(lines: list[dict[str, str]]) -> None:
    first = lines[0]
    for line in lines[1:]:
        assert {n: line[n] for n in ORDER_FIELDS} == {n: first[n] for n in ORDER_FIELDS}
    assert [int(line["line_number"]) for line in lines] == list(range(1, len(lines) + 1))
    decimals = 0 if first["currency"] == "JPY" else 2
    pattern = re.compile(r"^\d+$" if decimals == 0 else r"^\d+\.\d\d$")
    for name in MONEY:
        assert first[name] == "" or pattern.match(first[name]), (name, first[name])
    for line in lines:
        for name in LINE_MONEY:
            assert pattern.match(line[name]), (name, line[name])
        assert re.fullmatch(r"[1-9]\d*", line["quantity"])

    def money(value: str) -> Decimal:
        return Decimal(value or "0")

    subtotal = sum(
        (
            Decimal(x["quantity"]) * money(x["unit_price"]) - money(x["line_discount"])
            for x in lines
        ),
        Decimal(0),
    )
    assert money(first["subtotal"]) == subtotal
    assert money(first["total_tax"]) == sum((money(x["line_tax"]) for x in lines), Decimal(0))
    assert money(first["total"]) == (
        money(first["subtotal"])
        - money(first["total_discounts"])
        + money(first["shipping"])
        + money(first["total_tax"])
    )
    assert money(first["refunded_amount"]) <= money(first["total"])

    times = {n: datetime.fromisoformat(first[n]) for n in TIMESTAMPS if first[n]}
    for name, value in times.items():
        assert OFFSET.match(first[name]) and value.utcoffset() is not None, name
    created = times["created_at"]
    for name in ("paid_at", "cancelled_at", "refunded_at", "shipped_at"):
        assert times.get(name, created) >= created, name
    if "delivered_at" in times:
        assert times["delivered_at"] > times["shipped_at"]
    if "customer_created_at" in times:
        assert times["customer_created_at"] <= created
    if first["shipped_at"]:
        assert first["carrier"] and first["tracking_number"]
        assert first["fulfillment_status"] in ("fulfilled", "partial", "delivered")
    if first["cancelled_at"]:
        assert first["financial_status"] in ("voided", "refunded")
        assert first["fulfillment_status"] == "unfulfilled"

    if first["payment_method"] == "card":
        assert first["card_brand"] in ("visa", "mastercard", "amex", "discover")
        assert re.fullmatch(r"\d{4}", first["card_last4"])
        assert re.fullmatch(r"tok_[0-9a-f]{24}", first["payment_token"])
        assert first["card_bin"] == "" or re.fullmatch(r"\d{6}", first["card_bin"])
    else:
        assert not (first["card_brand"] or first["card_last4"] or first["payment_token"])
    if first["channel"] == "pos":
        assert not (first["client_ip"] or first["user_agent"] or first["device_id"])
        assert first["fulfillment_location"] and not first["shipping_address1"]
    elif first["channel"] in ("online_store", "mobile_app"):
        assert first["client_ip"] and first["user_agent"] and first["device_id"]
    if not first["customer_id"]:
        assert not first["customer_email"]
    assert re.fullmatch(r"[A-Z]{2}", first["billing_country"])


def _check_file(text: str) -> dict[str, list[dict[str, str]]]:
    orders = _orders(text)
    for lines in orders.values():
        _check_order(lines)
    return orders


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    _write(tmp_path / "a.csv", n_lines=1500)
    _write(tmp_path / "b.csv", n_lines=1500)
    _write(tmp_path / "c.csv", seed=8, n_lines=1500)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()
    _write(tmp_path / "a.parquet", n_lines=1500)
    _write(tmp_path / "b.parquet", n_lines=1500)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_orders_add_up_and_look_real(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    stats = write_generic_orders(path, 3000, 11, start=date(2026, 10, 20), days=20)
    raw = path.read_bytes()
    assert stats.n_bytes == len(raw)
    assert stats.physical_lines == raw.count(b"\n")
    orders = _check_file(raw.decode("utf-8"))
    assert sum(len(lines) for lines in orders.values()) == 3000 == stats.n_lines
    assert len(orders) == stats.n_orders
    firsts = [lines[0] for lines in orders.values()]
    assert {len(lines) for lines in orders.values()} == {1, 2, 3, 4}
    assert {o["currency"] for o in firsts} == set(CURRENCIES)
    assert {o["channel"] for o in firsts} == {"online_store", "marketplace", "mobile_app", "pos"}
    assert any("\n" in o["note"] for o in firsts)
    # The window spans the end of US daylight saving time: both offsets appear.
    assert {o["created_at"][-6:] for o in firsts} >= {"-04:00", "-05:00"}
    # Customers come back, not always typing their e-mail or phone the same way.
    by_customer: dict[str, list[dict[str, str]]] = defaultdict(list)
    for o in firsts:
        if o["customer_id"]:
            by_customer[o["customer_id"]].append(o)
    repeat = [v for v in by_customer.values() if len(v) > 1]
    assert len(repeat) > 50
    emails = [{o["customer_email"] for o in v if o["customer_email"]} for v in repeat]
    assert any(len(e) > 1 and len({x.lower() for x in e}) == 1 for e in emails)
    assert any(len({o["customer_phone"] for o in v}) > 1 for v in repeat)
    assert any(o["channel"] == "online_store" and not o["customer_email"] for o in firsts)
    assert all(not o["customer_email"] or o["customer_id"] for o in firsts)
    # Fulfilment follows time: delivered, in transit and not yet shipped orders all exist.
    statuses = {o["fulfillment_status"] for o in firsts}
    assert statuses == {"unfulfilled", "partial", "fulfilled", "delivered"}
    assert len({row["sku"] for lines in orders.values() for row in lines}) > 150


def test_parquet_has_the_contract_types(tmp_path: Path) -> None:
    _write(tmp_path / "orders.parquet", n_lines=500)
    _write(tmp_path / "orders.csv", n_lines=500)
    table = pq.read_table(tmp_path / "orders.parquet")
    assert table.schema.equals(PARQUET_SCHEMA)
    rows = list(csv.DictReader((tmp_path / "orders.csv").open(newline="", encoding="utf-8")))
    assert table.num_rows == len(rows) == 500
    assert table.column("total").to_pylist() == [Decimal(r["total"]) for r in rows]
    assert table.column("created_at").to_pylist() == [r["created_at"] for r in rows]


def test_exact_line_count_and_bad_arguments(tmp_path: Path) -> None:
    stats = write_generic_orders(tmp_path / "one.csv", 1, start=date(2026, 1, 1), days=1)
    assert stats.n_lines == stats.n_orders == 1
    with pytest.raises(ValueError, match="unknown channel"):
        write_generic_orders(tmp_path / "x.csv", 10, channel_mix={"phone": 1.0})
    with pytest.raises(ValueError, match="format"):
        write_generic_orders(tmp_path / "x.json", 10)


@pytest.fixture(scope="module")
def fresh_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSample]:
    folder = tmp_path_factory.mktemp("sample")
    return folder, write_demo_sample(folder)


def test_committed_sample_is_what_write_demo_sample_makes(
    fresh_sample: tuple[Path, DemoSample],
) -> None:
    folder, _ = fresh_sample
    made = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(SAMPLE) for p in SAMPLE.rglob("*") if p.is_file() and p.name != "README.md"
    )
    assert committed == made, "re-make it: uv run python -m benchmarks.generic_orders --demo ..."
    for relative in made:
        assert (SAMPLE / relative).read_bytes() == (folder / relative).read_bytes(), relative
    assert sum((SAMPLE / r).stat().st_size for r in made) < 420_000


def test_sample_defects_are_where_the_readme_says(fresh_sample: tuple[Path, DemoSample]) -> None:
    folder, sample = fresh_sample
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    online = folder / "online_store" / "orders_2026-10.csv"
    physical = online.read_bytes().split(b"\n")
    assert physical[-1] == b""
    first_defect = len(physical) - 3  # the last three lines (1-based numbering)
    assert [d.line for d in sample.defects] == [first_defect, first_defect + 1, first_defect + 2]
    for defect in sample.defects:
        assert f"line {defect.line}" in readme
        assert defect.source_order_id in readme
    quantity, ragged, encoding = (physical[d.line - 1] for d in sample.defects)
    assert next(csv.reader([quantity.decode()]))[GENERIC_FIELD_NAMES.index("quantity")] == "two"
    assert len(next(csv.reader([ragged.decode()]))) == len(GENERIC_FIELD_NAMES) - 1
    with pytest.raises(UnicodeDecodeError):
        encoding.decode("utf-8")
    assert "Caf\xe9".encode("cp1252") in encoding

    # Everything else is clean and adds up.
    clean = b"\n".join(physical[: first_defect - 1]) + b"\n"
    _check_file(clean.decode("utf-8"))
    market = (folder / "marketplace" / "orders_2026-10.csv").read_text(encoding="utf-8")
    lines = list(csv.DictReader(market.splitlines(keepends=True)))
    later = [row for row in lines if row["line_number"] != "1"]
    assert later and all(not row["total"] and row["source_order_id"] for row in later)
    _check_file(market)


def test_sample_reference_files_cover_the_orders(fresh_sample: tuple[Path, DemoSample]) -> None:
    folder, _ = fresh_sample
    ref = folder / "_reference"
    tables = {}
    for spec in REFERENCE_DATA:
        with (ref / f"{spec.file_stem}.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == [f.name for f in spec.fields]
            tables[spec.file_stem] = list(reader)
    skus = {row["sku"] for row in tables["products"]}
    assert 200 <= len(skus) <= 400
    sold = {r["sku"] for r in pq.read_table(folder / "pos" / "orders_2026-10.parquet").to_pylist()}
    assert sold <= skus
    rates = {
        (r["rate_date"], r["currency"]): Decimal(r["rate_to_reporting"]) for r in tables["fx_rates"]
    }
    days = sorted({d for d, _ in rates})
    assert len(days) == 60 and days[0] == "2026-09-22" and days[-1] == "2026-11-20"
    assert len(rates) == 60 * len(CURRENCIES)
    assert all(rates[(d, "USD")] == 1 for d in days)
    assert Decimal("0.005") < rates[("2026-10-15", "JPY")] < Decimal("0.009")
