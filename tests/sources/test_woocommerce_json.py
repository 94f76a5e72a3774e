"""WooCommerce REST v3 JSON: the order, batch, refund and note payloads of
``api_payloads/woocommerce`` mapped field by field (values read back from the fixture with
``json``), and NDJSON of orders with a broken line.

Fixtures: WooCommerce REST API documentation examples.
"""

from __future__ import annotations

import html
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orderlens.contracts import EVENT_FIELDS, GENERIC_FIELDS, GENERIC_ORDER_FIELDS, REFUND_FIELDS
from pipelines.sources import shopify_json, woocommerce_json
from pipelines.sources.formats import detect
from pipelines.sources.generic import ParseResult
from tests.conftest import SHARED_DATA
from tests.sources import json_tables
from tests.sources.json_tables import rows

FOLDER = SHARED_DATA / "api_payloads" / "woocommerce"
TABLE = "raw_file_w"


def parse(tmp_path: Path, path: Path) -> tuple[duckdb.DuckDBPyConnection, ParseResult]:
    con = duckdb.connect(str(tmp_path / f"{path.stem}.duckdb"))
    result = woocommerce_json.parse(con, path, TABLE)
    assert result.reconciles
    assert result.file_format == "woocommerce_json"
    return con, result


def order_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return json_tables.order_rows(con, TABLE)


def object_starts(text: str, indent: int) -> list[int]:
    opening = " " * indent + "{"
    return [n for n, line in enumerate(text.splitlines(), 1) if line == opening]


def fixture(name: str) -> Any:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def utc(value: str | None) -> str | None:
    return None if value is None else value + "+00:00"


def blank(value: Any) -> Any:
    return None if value in ("", None) else value


def assert_order(row: dict[str, Any], order: dict[str, Any]) -> None:
    """Every order field of one output row against the WooCommerce order object."""
    billing, shipping = order["billing"], order["shipping"]
    status = order["status"]
    assert row["source_order_id"] == str(order["id"])
    assert row["order_number"] == order["number"]
    assert (row["channel"], row["source_channel"]) == ("online_store", order["created_via"])
    assert row["order_status"] == status
    assert row["created_at"] == utc(order["date_created_gmt"])
    assert row["currency"] == order["currency"]
    assert row["subtotal"] == sum(Decimal(i["total"]) for i in order["line_items"])
    assert row["total_discounts"] == Decimal(order["discount_total"])
    assert row["discount_codes"] == (";".join(c["code"] for c in order["coupon_lines"]) or None)
    assert row["shipping"] == Decimal(order["shipping_total"])
    assert row["shipping_method"] == order["shipping_lines"][0]["method_title"]
    assert row["total_tax"] == Decimal(order["total_tax"])
    assert row["taxes_included"] is order["prices_include_tax"]
    assert row["total"] == Decimal(order["total"])
    assert row["paid_at"] == utc(order["date_paid_gmt"])
    # Completed means fulfilled: the completion time is when it shipped.
    assert row["shipped_at"] == utc(order["date_completed_gmt"])
    assert row["delivered_at"] is None
    assert row["fulfillment_status"] == ("fulfilled" if status == "completed" else "unfulfilled")
    expected_financial = (
        "partially_refunded"
        if order["refunds"]
        else "paid"
        if order["date_paid_gmt"] or status in ("processing", "completed")
        else "pending"
    )
    assert row["financial_status"] == expected_financial
    assert row["refunded_amount"] == (
        sum(-Decimal(r["total"]) for r in order["refunds"]) if order["refunds"] else None
    )
    assert row["note"] == blank(order["customer_note"])
    assert row["customer_id"] == (str(order["customer_id"]) if order["customer_id"] else None)
    assert row["customer_email"] == billing["email"]
    assert row["customer_phone"] == billing["phone"]
    assert row["customer_first_name"] == billing["first_name"]
    assert row["customer_last_name"] == billing["last_name"]
    for prefix, address in (("billing", billing), ("shipping", shipping)):
        assert row[f"{prefix}_name"] == f"{address['first_name']} {address['last_name']}"
        assert row[f"{prefix}_address1"] == address["address_1"]
        assert row[f"{prefix}_address2"] == blank(address["address_2"])
        assert row[f"{prefix}_city"] == address["city"]
        assert row[f"{prefix}_province"] == address["state"]
        assert row[f"{prefix}_zip"] == address["postcode"]
        assert row[f"{prefix}_country"] == address["country"]
    assert row["client_ip"] == blank(order["customer_ip_address"])
    assert row["user_agent"] == blank(order["customer_user_agent"])
    assert row["payment_method"] == order["payment_method"]
    assert row["payment_token"] == blank(order["transaction_id"])


def assert_later_lines_blank(got: list[dict[str, Any]]) -> None:
    """Order fields on the first line only; later lines keep the id and number."""
    order_fields = {f.name for f in GENERIC_ORDER_FIELDS} - {"source_order_id", "order_number"}
    for row in got[1:]:
        assert row["source_order_id"] == got[0]["source_order_id"]
        assert row["order_number"] == got[0]["order_number"]
        assert all(row[name] is None for name in order_fields)


def assert_lines(got: list[dict[str, Any]], order: dict[str, Any]) -> None:
    items = order["line_items"]
    assert len(got) == len(items)
    for number, (row, item) in enumerate(zip(got, items, strict=True), 1):
        quantity = Decimal(item["quantity"])
        assert row["line_number"] == number
        assert row["sku"] == blank(item["sku"])
        assert row["product_name"] == html.unescape(item["name"])
        assert row["quantity"] == quantity
        assert row["unit_price"] == Decimal(item["subtotal"]) / quantity
        assert row["line_discount"] == Decimal(item["subtotal"]) - Decimal(item["total"])
        assert row["line_tax"] == Decimal(item["total_tax"])
        assert row["line_kind"] == "product"


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name",
    [
        "orders__retrieve_an_order.json",
        "orders__create_an_order.json",
        "orders__update_an_order.json",
        "orders__delete_an_order.json",
    ],
)
def test_single_order_maps_field_by_field(tmp_path: Path, name: str) -> None:
    order = fixture(name)
    con, result = parse(tmp_path, FOLDER / name)
    assert (result.records, result.loaded, result.rejected_records) == (1, 1, 0)
    got = order_rows(con)
    described = con.execute(f"DESCRIBE {TABLE}").fetchall()
    assert [(r[0], r[1]) for r in described][: len(GENERIC_FIELDS)] == [
        (f.name, f.type) for f in GENERIC_FIELDS
    ]
    assert {(r["rec"], r["line"]) for r in got} == {(1, 1)}
    assert_order(got[0], order)
    assert_later_lines_blank(got)
    assert_lines(got, order)
    assert got[1]["product_name"] == "Ship Your Idea \u2013 Color: Black, Size: M Test"


@pytest.mark.shared_data
def test_order_list_with_refunds(tmp_path: Path) -> None:
    path = FOLDER / "orders__list_all_orders.json"
    orders = fixture(path.name)
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded) == (len(orders), len(orders))
    got = order_rows(con)
    starts = object_starts(path.read_text(), 2)
    for number, (order, start) in enumerate(zip(orders, starts, strict=True), 1):
        mine = [r for r in got if r["source_order_id"] == str(order["id"])]
        assert {(r["rec"], r["line"]) for r in mine} == {(number, start)}
        assert_order(mine[0], order)
        assert_later_lines_blank(mine)
        assert_lines(mine, order)
    refunded = next(o for o in orders if o["refunds"])
    refunds = rows(con, f"{TABLE}_refunds")
    assert [
        (r["refund_id"], r["source_order_id"], r["amount"], r["currency"]) for r in refunds
    ] == [
        (str(f["id"]), str(refunded["id"]), -Decimal(f["total"]), refunded["currency"])
        for f in refunded["refunds"]
    ]
    events = rows(con, f"{TABLE}_events")
    assert [(e["source_order_id"], e["event"]) for e in events] == [
        (str(refunded["id"]), "refunded") for _ in refunded["refunds"]
    ]


@pytest.mark.shared_data
def test_batch_response_each_order_is_a_record(tmp_path: Path) -> None:
    path = FOLDER / "orders__batch_update_orders.json"
    batch = fixture(path.name)
    orders = [(key, o) for key in ("create", "update", "delete") for o in batch[key]]
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (len(orders), len(orders), 0)
    got = order_rows(con)
    starts = object_starts(path.read_text(), 4)
    assert len(starts) == len(orders)
    for number, ((_key, order), start) in enumerate(zip(orders, starts, strict=True), 1):
        mine = [r for r in got if r["rec"] == number]
        assert {r["line"] for r in mine} == {start}
        assert_order(mine[0], order)
        assert_later_lines_blank(mine)
        assert_lines(mine, order)
    # The deleted order: an event says so (its status stays as received).
    deleted = [str(o["id"]) for key, o in orders if key == "delete"]
    events = rows(con, f"{TABLE}_events")
    assert [e["source_order_id"] for e in events if e["event"] == "deleted"] == deleted


@pytest.mark.shared_data
@pytest.mark.parametrize(
    "name",
    [
        "order-refunds__list_all_refunds.json",
        "order-refunds__create_a_refund.json",
        "order-refunds__retrieve_a_refund.json",
        "order-refunds__delete_a_refund.json",
    ],
)
def test_refund_payloads_name_their_order_through_links(tmp_path: Path, name: str) -> None:
    data = fixture(name)
    refunds = data if isinstance(data, list) else [data]
    con, result = parse(tmp_path, FOLDER / name)
    assert (result.records, result.loaded) == (len(refunds), len(refunds))
    assert rows(con, TABLE) == []
    got = rows(con, f"{TABLE}_refunds")
    for refund in refunds:
        order_id = refund["_links"]["up"][0]["href"].rsplit("/", 1)[1]
        mine = [r for r in got if r["refund_id"] == str(refund["id"])]
        assert {r["source_order_id"] for r in mine} == {order_id}
        assert {r["refunded_at"] for r in mine} == {utc(refund["date_created_gmt"])}
        assert sum(r["amount"] for r in mine) == Decimal(refund["amount"])
        items = refund["line_items"]
        assert sorted(r["quantity"] for r in mine if r["quantity"] is not None) == sorted(
            abs(Decimal(i["quantity"])) for i in items
        )
    assert all(r["amount"] > 0 for r in got)
    assert {e["event"] for e in rows(con, f"{TABLE}_events")} == {"refunded"}


@pytest.mark.shared_data
def test_notes_become_events_of_their_order(tmp_path: Path) -> None:
    path = FOLDER / "order-notes__list_all_order_notes.json"
    notes = fixture(path.name)
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded) == (len(notes), len(notes))
    events = rows(con, f"{TABLE}_events")
    assert [(e["source_order_id"], e["event"], e["occurred_at"], e["detail"]) for e in events] == [
        ("723", "note", utc(n["date_created_gmt"]), n["note"]) for n in notes
    ]
    assert [e["_line"] for e in events] == object_starts(path.read_text(), 2)
    described = con.execute(f"DESCRIBE {TABLE}_events").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        *((f.name, f.type) for f in EVENT_FIELDS),
        ("_record_no", "BIGINT"),
        ("_line", "BIGINT"),
    ]


def test_a_note_that_names_no_order_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    notes = [
        {"id": 1, "author": "system", "date_created": "2024-01-01T10:00:00", "note": "a",
         "customer_note": False, "_links": {"up": [{"href": "https://x/wp-json/wc/v3/orders/9"}]}},
        {"id": 2, "author": "system", "date_created": "2024-01-01T11:00:00", "note": "b",
         "customer_note": True},
    ]  # fmt: skip
    path.write_text(json.dumps(notes, indent=2))
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (2, 1, 1)
    (reject,) = result.rejects
    assert reject.line == object_starts(path.read_text(), 2)[1]
    assert "names no order" in reject.reason
    (event,) = rows(con, f"{TABLE}_events")
    # No _gmt time: the local time is kept without offset.
    assert (event["source_order_id"], event["occurred_at"], event["detail"]) == (
        "9",
        "2024-01-01T10:00:00",
        "a",
    )


@pytest.mark.shared_data
def test_ndjson_orders_with_a_broken_line(tmp_path: Path) -> None:
    order = fixture("orders__retrieve_an_order.json")
    lines = [
        json.dumps({**order, "id": 1, "number": "1"}),
        json.dumps({**order, "id": 2})[:300],
        json.dumps({**order, "id": 3, "number": "3", "customer_note": "card 4242424242424242"}),
        json.dumps({k: v for k, v in order.items() if k != "id"}),
    ]
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n")
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (4, 2, 2)
    assert [(r.line, r.column) for r in result.rejects] == [(2, None), (4, "id")]
    got = order_rows(con)
    assert sorted({(r["source_order_id"], r["rec"], r["line"]) for r in got}) == [
        ("1", 1, 1),
        ("3", 2, 3),
    ]
    assert next(r["note"] for r in got if r["source_order_id"] == "3") == "card [card ••••4242]"
    assert all("4242424242424242" not in json.dumps(r, default=str) for r in got)


@pytest.mark.shared_data
def test_every_woocommerce_payload_is_detected_as_woocommerce_json() -> None:
    for path in sorted(FOLDER.glob("*.json")):
        head = path.read_bytes()[:65536]
        assert detect(path).name == "woocommerce_json", path.name
        assert not shopify_json.sniff(path, head), path.name


@pytest.mark.shared_data
def test_refund_stream_shape(tmp_path: Path) -> None:
    con, _ = parse(tmp_path, FOLDER / "order-refunds__list_all_refunds.json")
    described = con.execute(f"DESCRIBE {TABLE}_refunds").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        *((f.name, f.type) for f in REFUND_FIELDS),
        ("_record_no", "BIGINT"),
        ("_line", "BIGINT"),
    ]
