"""Shopify REST JSON: every payload of ``api_payloads/shopify`` mapped field by field (values
read back from the fixture with ``json``), NDJSON with broken lines, arrays and single
objects, and a generated merchant converted to NDJSON that parses back to the same orders.

Fixtures: Shopify's Python API client test fixtures (MIT).
"""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orderlens.contracts import (
    EVENT_FIELDS,
    GENERIC_FIELDS,
    GENERIC_ORDER_FIELDS,
    PAYMENT_FIELDS,
    REFUND_FIELDS,
)
from pipelines.generator import generate_merchant
from pipelines.generator.shopify_ndjson import convert_landing
from pipelines.sources import shopify_json, woocommerce_json
from pipelines.sources.formats import detect
from pipelines.sources.generic import ParseResult
from tests.conftest import SHARED_DATA
from tests.sources import json_tables
from tests.sources.json_tables import rows

FOLDER = SHARED_DATA / "api_payloads" / "shopify"
TABLE = "raw_file_t"


# --------------------------------------------------------------------------- helpers


def parse(tmp_path: Path, path: Path) -> tuple[duckdb.DuckDBPyConnection, ParseResult]:
    con = duckdb.connect(str(tmp_path / f"{path.stem}.duckdb"))
    result = shopify_json.parse(con, path, TABLE)
    assert result.reconciles
    assert result.file_format == "shopify_json"
    return con, result


def order_rows(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return json_tables.order_rows(con, TABLE)


def money(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """Physical line (1-based) of the n-th line containing ``needle``."""
    seen = 0
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found")


def object_starts(text: str, indent: int) -> list[int]:
    """Lines (1-based) where an object opens at this indentation (pretty-printed JSON)."""
    opening = " " * indent + "{"
    return [n for n, line in enumerate(text.splitlines(), 1) if line == opening]


def card_numbers(value: Any) -> list[str]:
    """Every credit_card_number in a JSON value."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "credit_card_number" and inner:
                found.append(str(inner))
            else:
                found += card_numbers(inner)
    elif isinstance(value, list):
        for inner in value:
            found += card_numbers(inner)
    return found


def all_text(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every value of every column of every table of the connection, as text."""
    texts: list[str] = []
    for (table,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
        for row in con.execute(f'SELECT * FROM "{table}"').fetchall():
            texts += [str(v) for v in row if v is not None]
    return texts


def assert_stream_shape(con: duckdb.DuckDBPyConnection, name: str, fields: Any) -> None:
    described = con.execute(f"DESCRIBE {TABLE}_{name}").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        *((f.name, f.type) for f in fields),
        ("_record_no", "BIGINT"),
        ("_line", "BIGINT"),
    ]


def fixture(name: str) -> Any:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- orders


@pytest.mark.shared_data
def test_order_payload_maps_field_by_field(tmp_path: Path) -> None:
    path = FOLDER / "order.json"
    order = fixture("order.json")["order"]
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (1, 1, 0)

    got = order_rows(con)
    items = order["line_items"]
    assert len(got) == len(items)
    described = con.execute(f"DESCRIBE {TABLE}").fetchall()
    assert [(r[0], r[1]) for r in described][: len(GENERIC_FIELDS)] == [
        (f.name, f.type) for f in GENERIC_FIELDS
    ]
    start = line_of(path.read_text(), '"order": {')
    customer, billing = order["customer"], order["billing_address"]
    row = got[0]
    assert (row["channel"], row["source_channel"]) == ("online_store", order["source_name"])
    assert row["order_status"] == "open"  # neither closed nor cancelled
    assert row["created_at"] == order["created_at"]
    assert row["currency"] == order["currency"]
    assert row["subtotal"] == money(order["subtotal_price"])
    assert row["total_discounts"] == money(order["total_discounts"])
    assert row["discount_codes"] == ";".join(d["code"] for d in order["discount_codes"])
    assert row["shipping"] == sum(money(s["price"]) or 0 for s in order["shipping_lines"])
    assert row["shipping_method"] == order["shipping_lines"][0]["title"]
    assert row["total_tax"] == money(order["total_tax"])
    assert row["taxes_included"] is order["taxes_included"]
    assert row["total"] == money(order["total_price"])
    assert row["financial_status"] == order["financial_status"]
    assert row["fulfillment_status"] == order["fulfillment_status"]
    assert row["customer_id"] == str(customer["id"])
    assert row["customer_email"] == order["email"]
    assert row["customer_first_name"] == customer["first_name"]
    assert row["customer_last_name"] == customer["last_name"]
    assert row["customer_created_at"] == customer["created_at"]
    assert row["billing_name"] == billing["name"]
    assert row["billing_address1"] == billing["address1"]
    assert row["billing_address2"] is None  # "" is no value
    assert row["billing_city"] == billing["city"]
    assert row["billing_province"] == billing["province_code"]
    assert row["billing_zip"] == billing["zip"]
    assert row["billing_country"] == billing["country_code"]
    assert row["shipping_zip"] == order["shipping_address"]["zip"]
    assert row["shipping_phone"] == order["shipping_address"]["phone"]
    assert row["client_ip"] == order["client_details"]["browser_ip"]
    assert row["user_agent"] is None
    assert row["marketing_source"] == order["referring_site"]
    assert row["payment_method"] == order["gateway"]
    assert row["card_brand"] == order["payment_details"]["credit_card_company"]
    assert row["card_last4"] == order["payment_details"]["credit_card_number"][-4:]
    assert row["card_bin"] is None
    # Later lines carry the order's id and number only (the first non-blank value wins).
    order_fields = {f.name for f in GENERIC_ORDER_FIELDS} - {"source_order_id", "order_number"}
    for later in got[1:]:
        assert all(later[name] is None for name in order_fields)
    for number, (row, item) in enumerate(zip(got, items, strict=True), 1):
        assert (row["rec"], row["line"]) == (1, start)
        assert row["source_order_id"] == str(order["id"])
        assert row["order_number"] == order["name"]
        # Line items, in order.
        assert row["line_number"] == number
        assert row["sku"] == item["sku"]
        assert row["product_name"] == item["name"]
        assert row["quantity"] == Decimal(item["quantity"])
        assert row["unit_price"] == money(item["price"])
        assert row["requires_shipping"] is item["requires_shipping"]
        assert row["vendor"] == item["vendor"]
        assert row["line_kind"] == "product"

    # The one fulfilment failed: an event that says so, with its tracking, and no shipment.
    assert got[0]["shipped_at"] is None and got[0]["tracking_number"] is None
    fulfilment = order["fulfillments"][0]
    events = rows(con, f"{TABLE}_events")
    assert [(e["source_order_id"], e["event"], e["occurred_at"], e["_line"]) for e in events] == [
        (str(order["id"]), f"fulfillment_{fulfilment['status']}", fulfilment["created_at"], start)
    ]
    assert f"tracking: {fulfilment['tracking_number']}" in events[0]["detail"]
    # No transactions: the gateway is the payment, for the whole total, with the masked card.
    assert_stream_shape(con, "payments", PAYMENT_FIELDS)
    (payment,) = rows(con, f"{TABLE}_payments")
    assert payment["source_order_id"] == str(order["id"])
    assert payment["payment_method"] == order["gateway"]
    assert payment["payment_amount"] == money(order["total_price"])
    assert (payment["card_brand"], payment["card_last4"]) == ("Visa", "4242")


@pytest.mark.shared_data
def test_order_list_without_line_items_keeps_the_order(tmp_path: Path) -> None:
    path = FOLDER / "orders.json"
    order = fixture("orders.json")["orders"][0]
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded) == (1, 1)
    (row,) = order_rows(con)
    assert row["line"] == line_of(path.read_text(), '"orders": [') + 1
    line_fields = [f.name for f in GENERIC_FIELDS if f.name == "line_number" or f.name == "sku"]
    assert all(row[name] is None for name in line_fields)
    assert row["source_order_id"] == str(order["id"])
    assert row["total"] == money(order["total_price"])
    assert row["total_discounts"] == money(order["total_discounts"])
    assert row["financial_status"] == "partially_refunded"
    assert row["customer_phone"] == order["phone"]
    assert row["customer_created_at"] == order["customer"]["created_at"]
    assert row["shipping"] == money(order["total_shipping_price_set"]["shop_money"]["amount"])
    assert row["payment_method"] == order["payment_gateway_names"][0]
    # Shopify's default source when the payload has none.
    assert (row["channel"], row["source_channel"]) == ("online_store", None)
    # The masked number "•••• •••• •••• 4242": its trailing digits only.
    assert row["card_last4"] == "4242"


# --------------------------------------------------------------------------- order resources


@pytest.mark.shared_data
def test_refund_payload_feeds_refunds_events_and_payments(tmp_path: Path) -> None:
    refund = fixture("refund.json")["refund"]
    con, result = parse(tmp_path, FOLDER / "refund.json")
    assert (result.records, result.loaded, result.rejected_records) == (1, 1, 0)
    assert rows(con, TABLE) == []  # no order rows: the refund names its order
    order_id = str(refund["order_id"])
    paid = sum(Decimal(t["amount"]) for t in refund["transactions"] if t["kind"] == "refund")
    items = refund["refund_line_items"]
    item_value = sum(Decimal(i["line_item"]["price"]) * i["quantity"] for i in items)
    assert paid < item_value  # the fixture refunds less money than the items are worth
    assert_stream_shape(con, "refunds", REFUND_FIELDS)
    got = rows(con, f"{TABLE}_refunds")
    # Items with their units and no amount, and one row with the money refunded.
    assert sorted((r["sku"], r["quantity"], r["amount"]) for r in got if r["sku"]) == sorted(
        (i["line_item"]["sku"], Decimal(i["quantity"]), None) for i in items
    )
    money_rows = [r for r in got if r["sku"] is None]
    assert [r["amount"] for r in money_rows] == [paid]
    assert sum(r["amount"] or 0 for r in got) == paid
    for r in got:
        assert r["refund_id"] == str(refund["id"])
        assert r["source_order_id"] == order_id
        assert r["refunded_at"] == refund["created_at"]
        assert r["reason"] == refund["note"]
        assert r["currency"] == "USD"
    (event,) = rows(con, f"{TABLE}_events")
    assert (event["event"], event["occurred_at"]) == ("refunded", refund["created_at"])
    assert refund["note"] in event["detail"]
    (payment,) = rows(con, f"{TABLE}_payments")
    txn = refund["transactions"][0]
    assert (payment["payment_kind"], payment["payment_amount"], payment["payment_token"]) == (
        "refund",
        Decimal(txn["amount"]),
        txn["authorization"],
    )


@pytest.mark.shared_data
@pytest.mark.parametrize("name", ["transaction.json", "transactions.json"])
def test_transaction_payloads_keep_token_brand_and_last4_only(tmp_path: Path, name: str) -> None:
    data = fixture(name)
    transactions = data if isinstance(data, list) else [data["transaction"]]
    con, result = parse(tmp_path, FOLDER / name)
    assert result.loaded == len(transactions)
    got = rows(con, f"{TABLE}_payments")
    assert len(got) == len(transactions)
    for row, txn in zip(got, transactions, strict=True):
        details = txn["payment_details"]
        assert row["source_order_id"] == str(txn["order_id"])
        assert row["payment_sequence"] == 1
        assert row["payment_amount"] == Decimal(txn["amount"])
        assert row["payment_kind"] == txn["kind"]
        assert row["payment_status"] == txn["status"]
        assert row["payment_method"] == txn["gateway"]
        assert row["payment_token"] == txn["authorization"]
        assert row["card_brand"] == details["credit_card_company"]
        assert row["card_last4"] == details["credit_card_number"].split("-")[-1]
        assert row["card_bin"] == details["credit_card_bin"]
        assert row["paid_at"] == txn["created_at"]
        # The transaction object starts on line 2 in both ([ or {"transaction": on line 1).
        assert row["_line"] == 2


@pytest.mark.shared_data
def test_risks_fulfilment_and_disputes_become_events(tmp_path: Path) -> None:
    risks = fixture("order_risks.json")["risks"]
    con, _ = parse(tmp_path, FOLDER / "order_risks.json")
    events = rows(con, f"{TABLE}_events")
    assert [(e["source_order_id"], e["event"]) for e in events] == [
        (str(r["order_id"]), "risk_assessed") for r in risks
    ]
    for event, risk in zip(events, risks, strict=True):
        assert "risk_level: high" in event["detail"]  # recommendation cancel
        assert f"recommendation: {risk['recommendation']}" in event["detail"]
        assert f"score: {risk['score']}" in event["detail"]
    text = (FOLDER / "order_risks.json").read_text()
    assert [e["_line"] for e in events] == object_starts(text, 4)

    fulfilment = fixture("fulfillment.json")["fulfillment"]
    con, _ = parse(tmp_path, FOLDER / "fulfillment.json")
    (event,) = rows(con, f"{TABLE}_events")
    assert event["source_order_id"] == str(fulfilment["order_id"])
    assert event["event"] == f"fulfillment_{fulfilment['status']}"  # pending: not shipped yet
    assert event["occurred_at"] == fulfilment["created_at"]
    assert f"carrier: {fulfilment['tracking_company']}" in event["detail"]
    assert f"tracking: {fulfilment['tracking_number']}" in event["detail"]

    disputes = fixture("disputes.json")["disputes"]
    con, result = parse(tmp_path, FOLDER / "disputes.json")
    named = [d for d in disputes if d["order_id"] is not None]
    assert (result.records, result.loaded) == (len(disputes), len(named))
    (reject,) = result.rejects
    starts = object_starts((FOLDER / "disputes.json").read_text(), 4)
    assert reject.line == starts[[d["order_id"] for d in disputes].index(None)]
    assert "names no order" in reject.reason
    events = rows(con, f"{TABLE}_events")
    assert [(e["source_order_id"], e["event"], e["occurred_at"]) for e in events] == [
        (str(d["order_id"]), "disputed", d["initiated_at"]) for d in named
    ]
    for event, dispute in zip(events, named, strict=True):
        assert f"type: {dispute['type']}" in event["detail"]
        assert f"reason: {dispute['reason']}" in event["detail"]


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "wrapper", "reason"),
    [
        ("checkouts.json", "checkouts", "abandoned checkout"),
        ("customer.json", "customer", "customer record"),
        ("draft_order.json", "draft_order", "draft order"),
        ("tender_transactions.json", "tender_transactions", "tender transaction"),
        ("refund_calculate.json", "refund", "refund calculation"),
    ],
)
def test_payloads_that_are_not_orders_are_rejected_one_by_one(
    tmp_path: Path, name: str, wrapper: str, reason: str
) -> None:
    inner = fixture(name)[wrapper]
    count = len(inner) if isinstance(inner, list) else 1
    con, result = parse(tmp_path, FOLDER / name)
    assert (result.records, result.loaded, result.rejected_records) == (count, 0, count)
    assert result.status == "rejected"
    assert all(reason in r.reason for r in result.rejects)
    assert all(r.order_id is None for r in result.rejects)  # no order is held for them
    assert rows(con, TABLE) == []


@pytest.mark.shared_data
def test_no_card_number_is_stored_from_any_payload(tmp_path: Path) -> None:
    for path in sorted(FOLDER.glob("*.json")):
        numbers = card_numbers(json.loads(path.read_text(encoding="utf-8")))
        con, result = parse(tmp_path, path)
        stored = all_text(con) + [r.raw_text or "" for r in result.rejects]
        for number in numbers:
            assert not any(number in text for text in stored), (path.name, number)
        assert not any("credit_card_number" in text for text in stored), path.name


@pytest.mark.shared_data
def test_every_shopify_payload_is_detected_as_shopify_json() -> None:
    for path in sorted(FOLDER.glob("*.json")):
        assert detect(path).name == "shopify_json", path.name


# --------------------------------------------------------------------------- layouts

ORDER: dict[str, Any] = {
    "id": 820982911946154508,
    "name": "#9999",
    "source_name": "pos",
    "created_at": "2024-03-10T09:15:00-05:00",
    "currency": "CAD",
    "subtotal_price": "30.00",
    "total_discounts": "0.00",
    "total_tax": "3.90",
    "taxes_included": False,
    "total_price": "33.90",
    "financial_status": "paid",
    "note": "call 4111 1111 1111 1111 before 5pm",
    "line_items": [
        {"sku": "A-1", "name": "Mug", "quantity": 2, "price": "10.00",
         "tax_lines": [{"price": "2.60"}]},
        {"sku": "B-2", "name": "Tea", "quantity": 1, "price": 10, "tax_lines": []},
    ],
    "transactions": [
        {"id": 5, "kind": "sale", "status": "success", "amount": "33.90", "gateway": "shopify_payments",
         "authorization": "ch_123", "created_at": "2024-03-10T09:16:00-05:00",
         "payment_details": {"credit_card_number": "•••• •••• •••• 4242",
                             "credit_card_company": "Visa", "credit_card_bin": "424242"}},
    ],
}  # fmt: skip


def order(number: int, **changes: Any) -> dict[str, Any]:
    return {**ORDER, "id": 1000 + number, "name": f"#{1000 + number}", **changes}


def test_ndjson_broken_line_is_rejected_with_its_line_and_the_rest_loads(tmp_path: Path) -> None:
    good = [json.dumps(order(n)) for n in range(4)]
    missing_id = {k: v for k, v in order(9).items() if k != "id"}
    lines = [
        good[0],
        good[1],
        json.dumps(order(2))[:120],  # cut mid-string
        "",  # a blank line is not a record
        good[3],
        json.dumps(missing_id),
        json.dumps(order(5, total_price="12,50")),
    ]
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (6, 3, 3)
    by_line = {r.line: r for r in result.rejects}
    assert set(by_line) == {3, 6, 7}
    assert by_line[3].error_type == "JSON" and "invalid JSON" in by_line[3].reason
    assert (by_line[6].column, by_line[6].reason) == ("id", "order has no id")
    assert (by_line[7].column, by_line[7].order_id) == ("total_price", "1005")
    got = order_rows(con)
    assert [(r["source_order_id"], r["rec"], r["line"], r["sku"]) for r in got] == [
        ("1000", 1, 1, "A-1"),
        ("1000", 1, 1, "B-2"),
        ("1001", 2, 2, "A-1"),
        ("1001", 2, 2, "B-2"),
        ("1003", 3, 5, "A-1"),
        ("1003", 3, 5, "B-2"),
    ]
    first = got[0]
    assert (first["channel"], first["source_channel"]) == ("pos", "pos")
    assert (first["quantity"], first["unit_price"], first["line_tax"]) == (
        Decimal(2),
        Decimal("10.00"),
        Decimal("2.60"),
    )
    assert got[1]["unit_price"] == Decimal(10)  # a number, not a string
    assert (first["payment_token"], first["card_bin"], first["card_last4"]) == (
        "ch_123",
        "424242",
        "4242",
    )
    assert first["paid_at"] == "2024-03-10T09:16:00-05:00"
    # The card number typed into the note is redacted; the masked one is never stored.
    assert first["note"] == "call [card ••••1111] before 5pm"
    assert result.cards_redacted == 3
    assert not any("4111 1111" in t or "•••• 4242" in t for t in all_text(con))
    assert not any("4111 1111" in (r.raw_text or "") for r in result.rejects)


def test_array_single_object_and_wrapped_ndjson_give_the_same_orders(tmp_path: Path) -> None:
    orders = [order(n) for n in range(3)]
    array = tmp_path / "array.json"
    array.write_text(json.dumps(orders, indent=2, ensure_ascii=False), encoding="utf-8")
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"order": orders[1]}, indent=2), encoding="utf-8")
    wrapped = tmp_path / "wrapped.ndjson"
    wrapped.write_text("".join(json.dumps({"order": o}) + "\n" for o in orders))

    def key(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
        return [
            (r["source_order_id"], r["rec"], r["sku"], r["quantity"], r["total"])
            for r in order_rows(con)
        ]

    con_array, _ = parse(tmp_path, array)
    con_wrapped, _ = parse(tmp_path, wrapped)
    assert key(con_array) == key(con_wrapped)
    starts = object_starts(array.read_text(), 2)
    assert sorted({r["line"] for r in order_rows(con_array)}) == starts
    assert sorted({r["line"] for r in order_rows(con_wrapped)}) == [1, 2, 3]
    con_single, _ = parse(tmp_path, single)
    assert [(r["source_order_id"], r["line"]) for r in order_rows(con_single)] == [
        ("1001", 2),
        ("1001", 2),
    ]


def test_a_broken_element_of_an_array_rejects_only_itself(tmp_path: Path) -> None:
    text = json.dumps({"orders": [order(n) for n in range(3)]}, indent=2)
    starts = object_starts(text, 4)
    broken = text.splitlines()
    broken[starts[1]] = broken[starts[1]].replace('"id": 1001,', '"id": 1001 "oops",')
    path = tmp_path / "orders.json"
    path.write_text("\n".join(broken), encoding="utf-8")
    con, result = parse(tmp_path, path)
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    (reject,) = result.rejects
    assert reject.line == starts[1]
    assert f"line {starts[1] + 1}" in reject.reason
    assert sorted({(r["source_order_id"], r["line"]) for r in order_rows(con)}) == [
        ("1000", starts[0]),
        ("1002", starts[2]),
    ]
    # A file cut short: the last order is rejected as such, the others load.
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) - 200], encoding="utf-8")
    _con, result = parse(tmp_path, cut)
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    assert result.rejects[0].line == starts[2]


def test_sniff_claims_shopify_orders_only(tmp_path: Path) -> None:
    shopify = tmp_path / "a.ndjson"
    shopify.write_text(json.dumps(ORDER) + "\n")
    generic = tmp_path / "b.ndjson"
    generic.write_text(json.dumps({"source_order_id": "1", "total": "3", "total_price": 1}) + "\n")
    woo = tmp_path / "c.json"
    woo.write_text(json.dumps({"id": 1, "date_created": "x", "billing": {}, "line_items": []}))
    csv_file = tmp_path / "d.csv"
    csv_file.write_text("total_price,line_items\n1,2\n")
    head = shopify.read_bytes()
    assert shopify_json.sniff(shopify, head)
    assert not woocommerce_json.sniff(shopify, head)
    assert not shopify_json.sniff(generic, generic.read_bytes())
    assert not shopify_json.sniff(woo, woo.read_bytes())
    assert not shopify_json.sniff(csv_file, csv_file.read_bytes())
    assert detect(shopify).name == "shopify_json"


# --------------------------------------------------------------------------- generated


@pytest.mark.slow
def test_generated_merchant_as_shopify_ndjson_parses_back_to_the_same_orders(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    generate_merchant(
        landing,
        orders=400,
        start=date(2026, 3, 1),
        end=date(2026, 4, 30),
        seed=11,
        injectors=[],
        ground_truth=tmp_path / "truth.parquet",
    )
    reports = convert_landing(landing, tmp_path / "ndjson")
    assert {r.path.parent.name for r in reports} == {
        "online_store",
        "mobile_app",
        "marketplace",
        "pos",
    }
    for report in reports:
        # Independent recount of the generic CSVs with the csv module.
        totals: dict[str, Decimal] = {}
        lines: Counter[str] = Counter()
        units: defaultdict[str, Decimal] = defaultdict(Decimal)
        for source in sorted((landing / report.path.parent.name).glob("*.csv")):
            with open(source, newline="", encoding="utf-8") as handle:
                for record in csv.DictReader(handle):
                    oid = record["source_order_id"]
                    if record["total"]:
                        totals[oid] = Decimal(record["total"])
                    if record["product_name"] or record["sku"]:
                        lines[oid] += 1
                        units[oid] += Decimal(record["quantity"])
        con, result = parse(tmp_path, report.path)
        assert (result.records, result.loaded, result.rejected_records) == (
            len(totals),
            len(totals),
            0,
        )
        assert report.orders == len(totals)
        got = con.execute(
            f"SELECT source_order_id, any_value(total), count(line_number), "
            f"coalesce(sum(quantity), 0), any_value(channel), count(total) "
            f"FROM ({result.rows_sql}) "
            "GROUP BY ALL"
        ).fetchall()
        assert {r[5] for r in got} == {1}  # order fields on the first line only
        assert {r[0]: r[1] for r in got} == totals
        assert {r[0]: r[2] for r in got if r[2]} == dict(lines)
        assert {r[0]: r[3] for r in got if r[3]} == dict(units)
        assert {r[4] for r in got} == {report.path.parent.name}
        record_lines = [
            r[0] for r in con.execute(f"SELECT DISTINCT _line FROM {TABLE}_lines").fetchall()
        ]
        assert sorted(record_lines) == list(range(1, len(totals) + 1))
        for name, fields in (("events", EVENT_FIELDS), ("payments", PAYMENT_FIELDS)):
            assert_stream_shape(con, name, fields)


def test_compact_one_line_response_and_undecodable_bytes(tmp_path: Path) -> None:
    compact = tmp_path / "response.json"
    orders = [order(0), order(1, total_price="12,50"), order(2)]
    compact.write_text(json.dumps({"orders": orders}))  # an API response: one line
    con, result = parse(tmp_path, compact)
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    (reject,) = result.rejects
    assert (reject.line, reject.column, reject.order_id) == (1, "total_price", "1001")
    assert reject.reason == "total_price '12,50' is not a number"
    assert [r["source_order_id"] for r in order_rows(con)] == ["1000", "1000", "1002", "1002"]

    latin = tmp_path / "latin.ndjson"
    latin.write_bytes(
        json.dumps(order(0)).encode()
        + b"\n"
        + json.dumps(order(1, note="caf\u00e9")).encode().replace(b"\\u00e9", b"\xe9")
        + b"\n"
    )
    _con, result = parse(tmp_path, latin)
    assert (result.records, result.loaded) == (2, 1)
    (reject,) = result.rejects
    assert reject.line == 2 and "not valid UTF-8" in reject.reason


def test_payments_are_numbered_within_each_record(tmp_path: Path) -> None:
    """A record's transactions count 1, 2, ..., then its refunds' transactions; gateway rows
    count among the gateways; a second record of the same order counts from 1 again (staging
    merges and renumbers an order's payments)."""
    sale = ORDER["transactions"][0]
    capture = {**sale, "id": 6, "kind": "capture", "authorization": "ch_456"}
    refund = {
        "id": 77,
        "created_at": "2024-03-12T10:00:00-05:00",
        "refund_line_items": [],
        "transactions": [
            {"id": 8, "kind": "refund", "status": "success", "amount": "5.00", "authorization": "re_1"},
            {"id": 9, "kind": "refund", "status": "success", "amount": "1.00", "authorization": "re_2"},
        ],
    }  # fmt: skip
    later_refund = {**refund, "id": 78, "transactions": [{**refund["transactions"][0], "id": 10}]}
    lines = [
        order(0, transactions=[sale, capture], refunds=[refund, later_refund]),
        order(1, transactions=[], payment_gateway_names=["gift_card", "manual"]),
        order(0, transactions=[sale]),
    ]
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(json.dumps(o) for o in lines) + "\n", encoding="utf-8")
    con, _result = parse(tmp_path, path)
    got = [
        (r["_record_no"], r["source_order_id"], r["payment_sequence"], r["payment_token"])
        for r in rows(con, f"{TABLE}_payments")
    ]
    assert sorted(got, key=lambda g: (g[0], g[2])) == [
        (1, "1000", 1, "ch_123"),
        (1, "1000", 2, "ch_456"),
        (1, "1000", 3, "re_1"),
        (1, "1000", 4, "re_2"),
        (1, "1000", 5, "re_1"),
        (2, "1001", 1, None),
        (2, "1001", 2, None),
        (3, "1000", 1, "ch_123"),
    ]
    methods = {r["payment_sequence"]: r["payment_method"] for r in rows(con, f"{TABLE}_payments")
               if r["source_order_id"] == "1001"}  # fmt: skip
    assert methods == {1: "gift_card", 2: "manual"}
