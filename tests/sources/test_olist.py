"""Olist: each table stored on its own, assembled per source into orders, lines and streams.

Data: Olist Brazilian E-Commerce Public Dataset (CC BY-NC-SA 4.0), attribute "Olist".
"""

from __future__ import annotations

import csv
import hashlib
import shutil
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orderlens.contracts import (
    EVENT_FIELDS,
    GENERIC_FIELDS,
    GENERIC_LINE_FIELDS,
    PAYMENT_FIELDS,
    PRODUCT_FIELDS,
)
from pipelines.sources import olist
from pipelines.sources.formats import detect
from tests.conftest import SHARED_DATA

FOLDER = SHARED_DATA / "olist"
FILES = {
    "orders": "olist_orders_dataset.csv",
    "order_items": "olist_order_items_dataset.csv",
    "order_payments": "olist_order_payments_dataset.csv",
    "order_reviews": "olist_order_reviews_dataset.csv",
    "customers": "olist_customers_dataset.csv",
    "products": "olist_products_dataset.csv",
    "products_full": "olist_products_dataset.full.csv",
    "sellers": "olist_sellers_dataset.csv",
    "sellers_full": "olist_sellers_dataset.full.csv",
    "geolocation": "olist_geolocation_dataset.csv",
    "category_translation": "product_category_name_translation.csv",
}


def register(
    con: duckdb.DuckDBPyConnection, paths: list[Path], source: str = "olist"
) -> list[tuple[str, str, str]]:
    """Store each file as the landing does: ``raw_file_<content id>`` (+ ``_lines``)."""
    files = []
    for path in paths:
        file_id = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        result = olist.parse(con, path, f"raw_file_{file_id}")
        assert result.reconciles and result.rejected_records == 0, path.name
        files.append((file_id, source, result.file_format))
    return files


def _csv(name: str) -> list[dict[str, str]]:
    with open(FOLDER / FILES[name], newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class Assembled:
    def __init__(self, con: duckdb.DuckDBPyConnection, files: list[tuple[str, str, str]]):
        self.con = con
        self.files = files
        self.sql = olist.assemble(con, files)

    def rows(self, key: str, where: str = "true") -> list[dict]:
        return self.con.sql(f"SELECT * FROM ({self.sql[key]}) WHERE {where}").pl().to_dicts()


@pytest.fixture(scope="module")
def assembled(tmp_path_factory: pytest.TempPathFactory) -> Assembled:
    con = duckdb.connect(str(tmp_path_factory.mktemp("olist") / "warehouse.duckdb"))
    files = register(con, [FOLDER / name for name in FILES.values()])
    return Assembled(con, files)


@pytest.mark.shared_data
def test_each_file_is_recognised_by_its_header() -> None:
    for name, file_name in FILES.items():
        path = FOLDER / file_name
        table = name.removesuffix("_full")
        assert olist.table_of(path.read_bytes()[:65536]) == table, file_name
        assert detect(path).name == "olist"
    retail = SHARED_DATA / "online_retail" / "online_retail_random20k.csv"
    assert not olist.sniff(retail, retail.read_bytes()[:65536])


@pytest.mark.shared_data
def test_files_are_stored_as_they_are(assembled: Assembled) -> None:
    con = assembled.con
    by_format = Counter(f[2] for f in assembled.files)
    assert by_format["olist:products"] == 2 and by_format["olist:sellers"] == 2
    for file_id, _source, file_format in assembled.files:
        name = file_format.split(":")[1]
        columns = [r[0] for r in con.execute(f"DESCRIBE raw_file_{file_id}").fetchall()]
        assert columns == [f.name for f in olist.TABLES[name]] + ["_line"]
    orders = olist.parse(duckdb.connect(), FOLDER / FILES["orders"], "raw_file_o")
    assert (orders.file_format, orders.records, orders.orders) == ("olist:orders", 3_000, 3_000)
    # Reviews have multi-line comments: each row keeps the line its record starts on.
    reviews_id = next(f[0] for f in assembled.files if f[2] == "olist:order_reviews")
    stored = con.execute(
        f"SELECT review_id, _line FROM raw_file_{reviews_id} ORDER BY _line"
    ).fetchall()
    expected = []
    with open(FOLDER / FILES["order_reviews"], newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        start = reader.line_num + 1
        for record in reader:
            expected.append((record[0], start))
            start = reader.line_num + 1
    assert stored == expected


@pytest.mark.shared_data
def test_zips_keep_their_leading_zeros(assembled: Assembled) -> None:
    customers = {r["customer_id"]: r for r in _csv("customers")}
    orders = {r["order_id"]: customers[r["customer_id"]] for r in _csv("orders")}
    leading_zero = {k for k, c in orders.items() if c["customer_zip_code_prefix"].startswith("0")}
    assert len(leading_zero) > 600
    rows = assembled.rows("order_lines")
    got = {r["source_order_id"]: r["shipping_zip"] for r in rows}
    assert got == {k: c["customer_zip_code_prefix"] for k, c in orders.items()}
    sellers_id = next(f[0] for f in assembled.files if f[2] == "olist:sellers")
    zips = [
        r[0]
        for r in assembled.con.execute(
            f"SELECT seller_zip_code_prefix FROM raw_file_{sellers_id}"
        ).fetchall()
    ]
    assert sum(z.startswith("0") for z in zips) == sum(
        r["seller_zip_code_prefix"].startswith("0") for r in _csv("sellers")
    )


@pytest.mark.shared_data
def test_orders_and_lines(assembled: Assembled) -> None:
    orders = {r["order_id"]: r for r in _csv("orders")}
    customers = {r["customer_id"]: r for r in _csv("customers")}
    items = _csv("order_items")
    rows = assembled.rows("order_lines")
    con = assembled.con
    columns = con.sql(f"DESCRIBE {assembled.sql['order_lines']}").fetchall()
    assert [(c[0], c[1]) for c in columns] == [
        ("file_id", "VARCHAR"),
        ("source", "VARCHAR"),
        ("_record_no", "BIGINT"),
        ("_line", "BIGINT"),
        *((f.name, f.type) for f in GENERIC_FIELDS),
    ]
    assert len({r["source_order_id"] for r in rows}) == len(orders) == 3_000
    # One row per item; an order without items is one row with every line field NULL.
    with_items = {i["order_id"] for i in items}
    line_fields = [f.name for f in GENERIC_LINE_FIELDS]
    assert line_fields[0] == "line_number"
    itemless = [r for r in rows if r["source_order_id"] not in with_items]
    assert len(itemless) == len(set(orders) - with_items) == 24
    assert all(all(r[f] is None for f in line_fields) for r in itemless)
    assert len(rows) == len(items) + len(itemless)
    # Totals: sum(price) + sum(freight) per order, recomputed from the items file.
    price: dict[str, Decimal] = defaultdict(Decimal)
    freight: dict[str, Decimal] = defaultdict(Decimal)
    for item in items:
        price[item["order_id"]] += Decimal(item["price"])
        freight[item["order_id"]] += Decimal(item["freight_value"])
    items_file = next(f[0] for f in assembled.files if f[2] == "olist:order_items")
    by_key = {(i["order_id"], int(i["order_item_id"])): i for i in items}
    for row in rows:
        order = orders[row["source_order_id"]]
        key = row["source_order_id"]
        assert row["total"] == price[key] + freight[key]
        assert row["shipping"] == freight[key]
        assert row["customer_id"] == customers[order["customer_id"]]["customer_unique_id"]
        assert row["created_at"] == order["order_purchase_timestamp"].replace(" ", "T")
        assert row["order_status"] == order["order_status"]
        assert (row["channel"], row["currency"], row["source_channel"]) == (
            "marketplace",
            "BRL",
            "olist",
        )
        if row["sku"] is not None:
            item = by_key[(key, row["line_number"])]
            assert row["sku"] == item["product_id"] and row["vendor"] == item["seller_id"]
            assert row["unit_price"] == Decimal(item["price"]) and row["quantity"] == 1
            assert row["file_id"] == items_file
    # Each order's rows come from one file: one version of the order.
    versions = Counter((r["source_order_id"], r["file_id"]) for r in rows)
    assert len(versions) == 3_000


@pytest.mark.shared_data
def test_categories_are_translated(assembled: Assembled) -> None:
    english = {
        r["product_category_name"]: r["product_category_name_english"]
        for r in _csv("category_translation")
    }
    products = {r["product_id"]: r for r in _csv("products_full")}
    rows = assembled.rows("order_lines", "sku IS NOT NULL")
    for row in rows:
        portuguese = products[row["sku"]]["product_category_name"] or None
        expected = english.get(portuguese, portuguese) if portuguese else None
        assert row["product_category"] == expected
        assert row["product_name"].endswith(row["sku"][:8])
    catalogue = assembled.rows("products")
    assert len(catalogue) == len(products) == 32_951  # sample ⊂ full: deduplicated
    assert [
        c[0] for c in assembled.con.sql(f"DESCRIBE {assembled.sql['products']}").fetchall()
    ] == [
        "file_id",
        "source",
        "_line",
        *(f.name for f in PRODUCT_FIELDS),
    ]


@pytest.mark.shared_data
def test_payments_stream(assembled: Assembled) -> None:
    payments = _csv("order_payments")
    rows = assembled.rows("payments")
    assert [
        c[0] for c in assembled.con.sql(f"DESCRIBE {assembled.sql['payments']}").fetchall()
    ] == [
        "file_id",
        "source",
        "_line",
        *(f.name for f in PAYMENT_FIELDS),
    ]
    assert len(rows) == len(payments) == 3_170
    expected = {
        (p["order_id"], int(p["payment_sequential"])): (
            p["payment_type"],
            Decimal(p["payment_value"]),
            int(p["payment_installments"]),
        )
        for p in payments
    }
    got = {
        (r["source_order_id"], r["payment_sequence"]): (
            r["payment_method"],
            r["payment_amount"],
            r["installments"],
        )
        for r in rows
    }
    assert got == expected
    assert {r["currency"] for r in rows} == {"BRL"}


@pytest.mark.shared_data
def test_status_events_in_lifecycle_order(assembled: Assembled) -> None:
    orders = _csv("orders")
    reviews = _csv("order_reviews")
    columns = {
        "created": "order_purchase_timestamp",
        "paid": "order_approved_at",
        "shipped": "order_delivered_carrier_date",
        "delivered": "order_delivered_customer_date",
    }
    expected = Counter({event: sum(1 for o in orders if o[c]) for event, c in columns.items()})
    expected["reviewed"] = len(reviews)
    rows = assembled.rows("events")
    assert [c[0] for c in assembled.con.sql(f"DESCRIBE {assembled.sql['events']}").fetchall()] == [
        "file_id",
        "source",
        "_line",
        *(f.name for f in EVENT_FIELDS),
    ]
    assert Counter(r["event"] for r in rows) == expected
    assert expected == {
        "created": 3_000,
        "paid": 2_991,
        "shipped": 2_946,
        "delivered": 2_904,
        "reviewed": 2_993,
    }
    # Per order, events come in lifecycle order, timestamps as received (never reordered).
    order = [*columns, "reviewed"]
    by_order: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_order[r["source_order_id"]].append(r)
    for events in by_order.values():
        ranks = [order.index(e["event"]) for e in events]
        assert ranks == sorted(ranks)
    scores = Counter(f"score {r['review_score']}" for r in reviews)
    assert Counter(r["detail"] for r in rows if r["event"] == "reviewed") == scores


@pytest.mark.shared_data
def test_contradictions_are_counted_not_reordered(assembled: Assembled) -> None:
    def ts(value: str) -> datetime | None:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S") if value else None

    steps = [
        ("created", "order_purchase_timestamp"),
        ("paid", "order_approved_at"),
        ("shipped", "order_delivered_carrier_date"),
        ("delivered", "order_delivered_customer_date"),
    ]
    expected: Counter[str] = Counter()
    for o in _csv("orders"):
        for i, (later, later_column) in enumerate(steps):
            for earlier, earlier_column in steps[:i]:
                a, b = ts(o[later_column]), ts(o[earlier_column])
                expected[f"{later}_before_{earlier}"] += bool(a and b and a < b)
        delivered = ts(o["order_delivered_customer_date"])
        expected["delivered_without_date"] += o["order_status"] == "delivered" and not delivered
    counts = olist.count_contradictions(assembled.con, assembled.files)
    assert counts == dict(expected)
    assert counts["shipped_before_paid"] == 50
    assert len(counts) == 7  # six pairs of lifecycle steps, and delivered without a date
    # The contradictory timestamps reach the order lines as received.
    listed = assembled.con.execute(
        f"SELECT source_order_id FROM ({olist.contradictions_sql(assembled.files)}) "
        "WHERE kind = 'shipped_before_paid'"
    ).fetchall()
    flagged = {r[0] for r in listed}
    lines = assembled.rows("order_lines")
    assert all(r["shipped_at"] < r["paid_at"] for r in lines if r["source_order_id"] in flagged)


def _write(path: Path, header: str, *rows: str) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


ORDERS_HEADER = (
    "order_id,customer_id,order_status,order_purchase_timestamp,order_approved_at,"
    "order_delivered_carrier_date,order_delivered_customer_date,order_estimated_delivery_date"
)
ITEMS_HEADER = "order_id,order_item_id,product_id,seller_id,shipping_limit_date,price,freight_value"


def test_overlapping_files_and_orphan_items(tmp_path: Path) -> None:
    """Two orders files of one source: one version per order, the most advanced status
    wins; an item whose order is in no orders file is kept (order fields NULL)."""
    old = _write(
        tmp_path / "orders_1.csv",
        ORDERS_HEADER,
        "o1,c1,shipped,2018-01-01 10:00:00,2018-01-01 11:00:00,2018-01-02 09:00:00,,"
        "2018-01-20 00:00:00",
        "o2,c2,delivered,2018-01-03 10:00:00,2018-01-03 11:00:00,2018-01-04 09:00:00,,"
        "2018-01-25 00:00:00",
    )
    new = _write(
        tmp_path / "orders_2.csv",
        ORDERS_HEADER,
        "o1,c1,delivered,2018-01-01 10:00:00,2018-01-01 11:00:00,2018-01-02 09:00:00,"
        "2018-01-05 15:00:00,2018-01-20 00:00:00",
    )
    items = _write(
        tmp_path / "items.csv",
        ITEMS_HEADER,
        "o1,1,p1,s1,2018-01-05 00:00:00,10.00,2.50",
        "o1,2,p2,s1,2018-01-05 00:00:00,5.00,2.50",
        "o9,1,p1,s2,2018-01-05 00:00:00,7.00,1.00",
    )
    items_again = tmp_path / "items_copy.csv"
    shutil.copy(items, items_again)
    items_again.write_text(items.read_text() + "o2,1,p2,s1,2018-01-06 00:00:00,5.00,0.00\n")
    con = duckdb.connect()
    files = register(con, [old, new, items, items_again], source="shop")
    built = Assembled(con, files)
    rows = built.rows("order_lines")
    by_order: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_order[r["source_order_id"]].append(r)
    assert sorted(by_order) == ["o1", "o2", "o9"]
    assert [r["order_status"] for r in by_order["o1"]] == ["delivered", "delivered"]
    assert [r["line_number"] for r in by_order["o1"]] == [1, 2]  # not doubled by the copy
    assert {r["file_id"] for r in by_order["o1"]} | {r["file_id"] for r in by_order["o9"]} == {
        min(files[2][0], files[3][0])
    }
    assert by_order["o1"][0]["total"] == Decimal("20.0000")
    orphan = by_order["o9"][0]
    assert (orphan["created_at"], orphan["customer_id"], orphan["sku"]) == (None, None, "p1")
    assert orphan["total"] == Decimal("8.0000")
    assert olist.count_contradictions(con, files)["delivered_without_date"] == 1  # o2
    # Order by order, the result does not depend on the order files were registered in.
    again = duckdb.connect()
    reversed_files = register(again, [items_again, items, new, old], source="shop")
    other = Assembled(again, reversed_files).rows("order_lines")
    assert sorted(rows, key=str) == sorted(other, key=str)


def test_unreadable_rows_are_rejected_with_their_order(tmp_path: Path) -> None:
    items = _write(
        tmp_path / "items.csv",
        ITEMS_HEADER,
        "o1,1,p1,s1,2018-01-05 00:00:00,10.00,2.50",
        "o1,2,p2,s1,2018-01-05 00:00:00,ten,2.50",
        "o2,1,p1,s2,2018-01-05 00:00:00,7.00",
    )
    con = duckdb.connect()
    result = olist.parse(con, items, "raw_file_i")
    assert (result.records, result.loaded, result.rejected_records) == (3, 1, 2)
    assert [(r.line, r.column, r.order_id) for r in result.rejects] == [
        (3, "price", "o1"),
        (4, "freight_value", "o2"),
    ]
    assert con.execute("SELECT order_id, _line FROM raw_file_i").fetchall() == [("o1", 2)]
    assert con.execute("SELECT * FROM raw_file_i_lines").fetchall() == [(1, 2)]
    # A file that is no Olist table is rejected whole, not guessed at.
    other = _write(tmp_path / "other.csv", "a,b", "1,2")
    assert not olist.sniff(other, other.read_bytes())
    rejected = olist.parse(con, other, "raw_file_x")
    assert rejected.records == rejected.rejected_records == 1 and rejected.loaded == 0
