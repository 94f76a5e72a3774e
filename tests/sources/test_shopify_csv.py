"""The Shopify orders export parser on small hand-made files, one defect at a time.

Each fixture is written with the plain ``csv`` module in Shopify's own shape (one row per
line item, order fields only on an order's first row); expected values are written out by
hand, never computed with the parser's code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orderlens.contracts import GENERIC_FIELDS
from pipelines.generator import generate_merchant
from pipelines.generator.shopify_export import convert_landing
from pipelines.sources import shopify_csv
from pipelines.sources.formats import detect
from pipelines.sources.generic import ParseResult

FULL = shopify_csv.LAYOUTS[79]
CARD = "4111 1111 1111 1111"


def order(
    name: str,
    order_id: str,
    lines: Sequence[Mapping[str, str]],
    **fields: str,
) -> list[dict[str, str]]:
    """Rows of one order as Shopify writes them: order fields on the first row only."""
    first = {
        "Name": name,
        "Id": order_id,
        "Email": "ana@example.com",
        "Financial Status": "paid",
        "Fulfillment Status": "fulfilled",
        "Currency": "USD",
        "Subtotal": "30.00",
        "Shipping": "5.00",
        "Taxes": "2.40",
        "Total": "37.40",
        "Discount Amount": "0.00",
        "Created at": "2023-03-11 10:00:00 -0800",
        "Paid at": "2023-03-11 10:00:05 -0800",
        "Risk Level": "Low",
        "Source": "web",
        "Payment Method": "Shopify Payments",
        "Payment Reference": "c123.1",
        "Refunded Amount": "0.00",
        "Billing Zip": "'97213",
        "Shipping Zip": "'04071",
        "Phone": "+15035550100",
        **fields,
    }
    rows = []
    for i, line in enumerate(lines):
        row = dict(first) if i == 0 else {"Name": name}
        row.update(
            {
                "Lineitem quantity": "1",
                "Lineitem name": "Mug",
                "Lineitem price": "10.00",
                "Lineitem sku": "MUG-1",
                "Lineitem discount": "0.00",
                "Lineitem requires shipping": "true",
                **line,
            }
        )
        rows.append(row)
    return rows


def write_export(
    path: Path,
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str] = FULL,
    *,
    crlf: bool = False,
    bom: bool = False,
) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + buffer.getvalue().encode("utf-8"))
    return path


def parse(path: Path) -> tuple[ParseResult, list[dict[str, Any]], duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    result = shopify_csv.parse(con, path, "raw_t")
    assert result.reconciles
    frame = con.sql(
        "SELECT l._record_no, l._line, t.* FROM raw_t t POSITIONAL JOIN raw_t_lines l"
    ).fetchall()
    names = ["_record_no", "_line", *(d[0] for d in con.sql("DESCRIBE raw_t").fetchall())]
    return result, [dict(zip(names, r, strict=True)) for r in frame], con


TWO_ORDERS = [
    *order("#1001", "5001", [{"Lineitem quantity": "2"}, {"Lineitem sku": "CUP-2"}]),
    *order("#1002", "5002", [{}], Total="12.00", Source="pos"),
]


@pytest.mark.parametrize("size", sorted(shopify_csv.LAYOUTS))
def test_every_known_layout_is_detected_and_bound_by_name(tmp_path: Path, size: int) -> None:
    columns = shopify_csv.LAYOUTS[size]
    path = write_export(tmp_path / "orders_export.csv", TWO_ORDERS, columns)
    result, rows, con = parse(path)
    assert f"Shopify export layout: {size} columns" in result.notes
    assert result.file_format == "shopify_csv"
    assert (result.records, result.loaded, result.rejected_records) == (3, 3, 0)
    assert [(r["order_number"], r["line_number"], r["quantity"]) for r in rows] == [
        ("#1001", 1, Decimal(2)),
        ("#1001", 2, Decimal(1)),
        ("#1002", 1, Decimal(1)),
    ]
    table_columns = {d[0]: d[1] for d in con.sql("DESCRIBE raw_t").fetchall()}
    assert all(table_columns[f.name] == f.type for f in GENERIC_FIELDS)
    if size == 34:
        # The 34-column export carries no amounts: they stay empty, and it is said.
        assert "layout has no amounts (prices and totals are left empty)" in result.notes
        assert result.has_amounts is False
        assert {r["total"] for r in rows} == {None}
        assert {r["unit_price"] for r in rows} == {None}
        assert [r["source_order_id"] for r in rows] == ["#1001", "#1001", "#1002"]
    else:
        assert result.has_amounts is True
        assert [r["total"] for r in rows] == [Decimal("37.40"), None, Decimal("12.00")]
        assert [r["source_order_id"] for r in rows] == ["5001", "5001", "5002"]


def test_columns_in_another_order_give_the_same_rows(tmp_path: Path) -> None:
    shuffled = list(reversed(FULL))
    _, straight, _ = parse(write_export(tmp_path / "a.csv", TWO_ORDERS))
    _, reversed_rows, _ = parse(write_export(tmp_path / "b.csv", TWO_ORDERS, shuffled))
    assert reversed_rows == straight


def test_a_layout_missing_known_columns_loads_and_names_them(tmp_path: Path) -> None:
    columns = [c for c in FULL if c not in ("Payment References", "Tags")]
    result, rows, _ = parse(write_export(tmp_path / "orders.csv", TWO_ORDERS, columns))
    assert [r["total"] for r in rows] == [Decimal("37.40"), None, Decimal("12.00")]
    # Closest known layout: the 78-column one (no Payment References), less Tags.
    assert result.notes[0] == "Shopify export layout: 78 columns without Tags (read as empty)"


def test_continuation_rows_carry_the_order_id_but_no_order_fields(tmp_path: Path) -> None:
    _, rows, _ = parse(write_export(tmp_path / "orders.csv", TWO_ORDERS))
    first, second, other = rows
    assert (first["source_order_id"], second["source_order_id"]) == ("5001", "5001")
    assert (first["order_number"], second["order_number"]) == ("#1001", "#1001")
    assert (first["channel"], first["source_channel"]) == ("online_store", "web")
    assert (other["channel"], other["source_channel"]) == ("pos", "pos")
    for column in ("channel", "created_at", "total", "currency", "customer_email", "billing_zip"):
        assert second[column] is None, column
    assert (first["sku"], second["sku"]) == ("MUG-1", "CUP-2")
    assert first["financial_status"] == "paid"
    assert first["source_risk_level"] == "low"
    assert first["payment_token"] == "c123.1"
    assert (first["subtotal"], first["shipping"], first["total_tax"]) == (
        Decimal("30.00"),
        Decimal("5.00"),
        Decimal("2.40"),
    )


def test_order_names_of_every_shape_are_kept(tmp_path: Path) -> None:
    rows = [
        *order("#AP-123456", "7001", [{}]),
        *order("#12345-EXC", "7002", [{}, {}]),
        *order("J-939719", "7003", [{}]),
    ]
    _, parsed, _ = parse(write_export(tmp_path / "orders.csv", rows))
    assert [(r["order_number"], r["source_order_id"], r["line_number"]) for r in parsed] == [
        ("#AP-123456", "7001", 1),
        ("#12345-EXC", "7002", 1),
        ("#12345-EXC", "7002", 2),
        ("J-939719", "7003", 1),
    ]


@pytest.mark.parametrize(
    ("source", "channel"),
    [
        ("web", "online_store"),
        ("pos", "pos"),
        ("iphone", "mobile_app"),
        ("tiktok", "marketplace"),
        ("580111", "other"),
        ("shopify_draft_order", "online_store"),
        ("subscription_contract", "online_store"),
        ("", "online_store"),
    ],
)
def test_source_maps_to_a_channel_and_is_kept(tmp_path: Path, source: str, channel: str) -> None:
    path = write_export(tmp_path / "orders.csv", order("#1", "1", [{}], Source=source))
    _, rows, _ = parse(path)
    assert (rows[0]["channel"], rows[0]["source_channel"]) == (channel, source or None)


def test_multi_line_note_crlf_and_bom(tmp_path: Path) -> None:
    note = "Leave at the door.\r\nRing twice,\r\nthen wait."
    rows = [
        *order("#1001", "5001", [{}], Notes=note),
        *order("#1002", "5002", [{}, {}]),
    ]
    path = write_export(tmp_path / "orders.csv", rows, crlf=True, bom=True)
    assert shopify_csv.sniff(path, path.read_bytes()[:65536])
    result, parsed, _ = parse(path)
    assert result.loaded == 3
    assert parsed[0]["note"] == note
    # The note spans lines 2-4; the next records start on lines 5 and 6.
    assert [(r["_record_no"], r["_line"]) for r in parsed] == [(1, 2), (2, 5), (3, 6)]


def test_spreadsheet_zips_keep_their_text(tmp_path: Path) -> None:
    rows = order("#1", "1", [{}], **{"Billing Zip": "'97213", "Shipping Zip": "'04071"})
    rows += order("#2", "2", [{}], **{"Billing Zip": "M5V 2T6", "Shipping Zip": "97217-2208"})
    _, parsed, _ = parse(write_export(tmp_path / "orders.csv", rows))
    assert [(r["billing_zip"], r["shipping_zip"]) for r in parsed] == [
        ("97213", "04071"),
        ("M5V 2T6", "97217-2208"),
    ]


def test_phones_in_scientific_notation_become_digits_only_when_exact(tmp_path: Path) -> None:
    rows = order("#1", "1", [{}], Phone="9.23456789012E+11", **{"Shipping Phone": "'+1 503"})
    rows += order("#2", "2", [{}], Phone="", **{"Billing Phone": "9.23E+11"})
    result, parsed, _ = parse(write_export(tmp_path / "orders.csv", rows))
    assert [r["customer_phone"] for r in parsed] == ["923456789012", "9.23E+11"]
    assert parsed[0]["shipping_phone"] == "+1 503"
    assert (
        "2 phone(s) in scientific notation: 1 converted to digits (every digit present), "
        "1 kept as received (digits were lost)"
    ) in result.notes


def test_shopify_timestamps_keep_their_daylight_saving_offsets(tmp_path: Path) -> None:
    rows = order("#1", "1", [{}], **{"Created at": "2023-03-11 23:59:59 -0800"})
    rows += order(
        "#2",
        "2",
        [{}],
        **{
            "Created at": "2023-03-12 03:00:00 -0700",
            "Fulfilled at": "2023-11-05 01:30:00 -0800",
            "Cancelled at": "2023-11-05 01:30:00 -0700",
        },
    )
    _, parsed, _ = parse(write_export(tmp_path / "orders.csv", rows))
    assert [r["created_at"] for r in parsed] == [
        "2023-03-11T23:59:59-08:00",
        "2023-03-12T03:00:00-07:00",
    ]
    assert (parsed[1]["shipped_at"], parsed[1]["cancelled_at"]) == (
        "2023-11-05T01:30:00-08:00",
        "2023-11-05T01:30:00-07:00",
    )


def _dated(values: Sequence[str]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for i, value in enumerate(values):
        rows += order(f"#{i}", str(i), [{}], **{"Created at": value, "Paid at": ""})
    return rows


@pytest.mark.parametrize(
    ("values", "expected", "order_note"),
    [
        (
            ["05/03/2023 14:22", "31/12/2023 09:05"],
            ["2023-03-05T14:22:00", "2023-12-31T09:05:00"],
            "read day-first (DD/MM): 1 value(s) have a day above 12 first",
        ),
        (
            ["3/5/19 4:07", "12/31/19 23:59"],
            ["2019-03-05T04:07:00", "2019-12-31T23:59:00"],
            "read month-first (MM/DD): 1 value(s) have a day above 12 second",
        ),
        (
            ["05/03/2023 14:22", "01/02/2023 09:05"],
            ["2023-03-05T14:22:00", "2023-02-01T09:05:00"],
            "read day-first (DD/MM): no value decides; assumed from the four-digit years",
        ),
        (
            ["3/5/19 4:07", "1/2/20 9:05"],
            ["2019-03-05T04:07:00", "2020-01-02T09:05:00"],
            "read month-first (MM/DD): no value decides; assumed from the two-digit years",
        ),
    ],
)
def test_spreadsheet_dates_are_read_in_the_files_day_month_order(
    tmp_path: Path, values: list[str], expected: list[str], order_note: str
) -> None:
    result, parsed, _ = parse(write_export(tmp_path / "orders.csv", _dated(values)))
    assert [r["created_at"] for r in parsed] == expected
    assert any(order_note in n for n in result.notes), result.notes


def test_dates_that_disagree_keep_the_impossible_ones_as_received(tmp_path: Path) -> None:
    values = ["31/12/2023 09:05", "30/11/2023 10:00", "12/31/2023 08:00"]
    result, parsed, _ = parse(write_export(tmp_path / "orders.csv", _dated(values)))
    assert [r["created_at"] for r in parsed] == [
        "2023-12-31T09:05:00",
        "2023-11-30T10:00:00",
        "12/31/2023 08:00",
    ]
    assert any("values disagree (2 read day-first, 1 month-first)" in n for n in result.notes)


def test_an_unknown_header_rejects_the_file_naming_unexpected_and_missing(
    tmp_path: Path,
) -> None:
    columns = [c for c in FULL if c not in ("Vendor", "Risk Level")] + ["Lineitem colour"]
    path = write_export(tmp_path / "orders.csv", TWO_ORDERS, columns)
    assert shopify_csv.sniff(path, path.read_bytes())
    result, parsed, _ = parse(path)
    assert parsed == []
    assert (result.records, result.loaded, result.rejected_records) == (3, 0, 3)
    message = (
        "not a known Shopify export layout: unexpected column(s) Lineitem colour; missing "
        "against the closest layout (79 columns): Vendor, Risk Level"
    )
    assert result.rejects[0].line == 1
    assert result.rejects[0].reason == message
    assert [r.line for r in result.rejects[1:]] == [2, 3, 4]
    assert result.notes == [f"file rejected: {message}"]


def test_a_trailing_unnamed_column_is_named_in_the_message(tmp_path: Path) -> None:
    path = write_export(tmp_path / "orders.csv", TWO_ORDERS, [*FULL, ""])
    result, parsed, _ = parse(path)
    assert (parsed, result.rejected_records) == ([], 3)
    assert result.rejects[0].reason == (
        "not a known Shopify export layout: unexpected column(s) (a column without a name); "
        "missing against the closest layout (79 columns): none"
    )


def test_a_bad_money_value_rejects_its_record_with_line_and_column(tmp_path: Path) -> None:
    rows = [
        *order("#1001", "5001", [{}, {"Lineitem price": "12,50"}]),
        *order("#1002", "5002", [{}], Total="N/A", Notes="two\r\nlines"),
        *order("#1003", "5003", [{}]),
    ]
    path = write_export(tmp_path / "orders.csv", rows, crlf=True, bom=True)
    result, parsed, _ = parse(path)
    assert (result.records, result.loaded, result.rejected_records) == (4, 2, 2)
    assert [(r.line, r.column, r.order_id) for r in result.rejects] == [
        (3, "Lineitem price", "5001"),
        (4, "Total", "5002"),
    ]
    assert result.rejects[0].reason == (
        "value '12,50' is not a valid DECIMAL(18,4) for column Lineitem price"
    )
    # Each reject carries its record's text as in the file, a quoted line break included.
    physical = path.read_bytes().decode("utf-8-sig").split("\r\n")
    assert result.rejects[0].raw_text == physical[2]
    assert result.rejects[1].raw_text == physical[3] + "\r\n" + physical[4]
    assert "N/A" in physical[3]
    # The rest loads, numbered 1..loaded, each with its own physical line.
    assert [(r["_record_no"], r["_line"], r["order_number"]) for r in parsed] == [
        (1, 2, "#1001"),
        (2, 6, "#1003"),
    ]


def test_amounts_with_blanks_around_them_load(tmp_path: Path) -> None:
    rows = order("#1", "1", [{"Lineitem price": " 12.50 ", "Lineitem requires shipping": " TRUE"}])
    rows += order("#2", "2", [{}], Total="   ")
    result, parsed, _ = parse(write_export(tmp_path / "orders.csv", rows))
    assert (result.loaded, result.rejects) == (2, [])
    assert (parsed[0]["unit_price"], parsed[0]["requires_shipping"]) == (Decimal("12.50"), True)
    assert parsed[1]["total"] is None


def test_a_truncated_last_row_is_reported(tmp_path: Path) -> None:
    path = write_export(tmp_path / "orders.csv", TWO_ORDERS)
    content = path.read_bytes()
    path.write_bytes(content[: content.rindex(b"\n", 0, len(content) - 1) + 40])
    result, parsed, _ = parse(path)
    assert (result.records, result.loaded, result.rejected_records) == (3, 2, 1)
    assert result.rejects[0].line == 4
    assert result.rejects[0].reason.startswith("truncated last row")
    # The cut came before the Id: the order is named by its Name, so staging holds it.
    assert result.rejects[0].order_id == "#1002"
    assert len(parsed) == 2


def test_card_numbers_are_redacted_and_card_like_references_dropped(tmp_path: Path) -> None:
    rows = order(
        "#1",
        "1",
        [{}],
        Notes=f"please charge {CARD} again",
        **{"Payment Reference": "4111-1111-1111-1111"},
    )
    rows += order("#2", "2", [{}], Total=f"{CARD}")
    result, parsed, con = parse(write_export(tmp_path / "orders.csv", rows))
    assert parsed[0]["note"] == "please charge [card ••••1111] again"
    assert parsed[0]["payment_token"] is None
    assert result.cards_redacted == 1
    assert "1 payment reference(s) look like a card number and were not stored" in result.notes
    # The rejected record's text and reason carry no card number either.
    reject = result.rejects[0]
    assert reject.column == "Total"
    assert "1111 1111 1111 1111" not in (reject.raw_text or "") + reject.reason
    stored = con.sql("SELECT string_agg(CAST(COLUMNS(*) AS VARCHAR), '|') FROM raw_t").fetchall()
    assert "4111" not in str(stored)


def test_sniff_takes_shopify_exports_and_nothing_else(tmp_path: Path) -> None:
    shopify = write_export(tmp_path / "a.csv", TWO_ORDERS, bom=True)
    generic = tmp_path / "b.csv"
    generic.write_text("source_order_id,channel,created_at,currency,total,product_name\n")
    other = tmp_path / "c.csv"
    other.write_text("Name,Email\n#1,a@b.c\n")
    assert shopify_csv.sniff(shopify, shopify.read_bytes())
    assert not shopify_csv.sniff(generic, generic.read_bytes())
    assert not shopify_csv.sniff(other, other.read_bytes())
    assert detect(shopify).name == "shopify_csv"


def test_a_windows_1252_export_is_decoded_and_says_so(tmp_path: Path) -> None:
    path = write_export(tmp_path / "orders.csv", order("#1", "1", [{"Lineitem name": "Café"}]))
    path.write_bytes(path.read_bytes().decode("utf-8").encode("cp1252"))
    result, parsed, _ = parse(path)
    assert parsed[0]["product_name"] == "Café"
    assert "decoded as Windows-1252 (the file is not UTF-8)" in result.notes


def test_an_empty_file_and_a_header_only_file(tmp_path: Path) -> None:
    header_only = write_export(tmp_path / "a.csv", [])
    result, parsed, _ = parse(header_only)
    assert (result.records, result.loaded, parsed) == (0, 0, [])
    empty = tmp_path / "b.csv"
    empty.write_bytes(b"")
    result, parsed, _ = parse(empty)
    assert (result.records, result.loaded, parsed) == (0, 0, [])


def _generic_recount(files: Sequence[Path]) -> dict[str, Any]:
    """Orders, lines, units, totals and creation instants of generic files, via csv."""
    ids: set[str] = set()
    lines = 0
    quantity = Decimal(0)
    totals: dict[str, Decimal] = {}
    created: dict[str, datetime] = {}
    for path in files:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                order_id = row["source_order_id"]
                ids.add(order_id)
                lines += 1
                quantity += Decimal(row["quantity"])
                if row["total"] and order_id not in totals:
                    totals[order_id] = Decimal(row["total"])
                if row["created_at"] and order_id not in created:
                    created[order_id] = datetime.fromisoformat(row["created_at"])
    return {
        "orders": ids,
        "lines": lines,
        "quantity": quantity,
        "total": sum(totals.values(), Decimal(0)),
        "created": created,
    }


@pytest.mark.slow  # the generator's first run warms up for ~4 s
def test_generated_orders_converted_to_a_shopify_export_parse_back(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    generate_merchant(
        landing, orders=240, start=date(2026, 3, 1), end=date(2026, 4, 30), seed=5, injectors=[]
    )
    reports = convert_landing(landing, tmp_path / "shopify")
    assert sorted(r.path.parent.name for r in reports) == [
        "marketplace",
        "mobile_app",
        "online_store",
        "pos",
    ]
    all_orders = 0
    for report in reports:
        expected = _generic_recount(sorted((landing / report.path.parent.name).glob("*.csv")))
        with report.path.open(encoding="utf-8", newline="") as handle:
            exported = list(csv.DictReader(handle))
        assert list(exported[0]) == list(FULL)
        # Shopify's shape: order fields on an order's first row only.
        seen: set[str] = set()
        for row in exported:
            assert bool(row["Created at"]) == (row["Name"] not in seen)
            seen.add(row["Name"])

        result, rows, con = parse(report.path)
        assert "Shopify export layout: 79 columns" in result.notes
        assert (result.records, result.loaded, result.rejected_records) == (
            expected["lines"],
            expected["lines"],
            0,
        )
        assert {r["source_order_id"] for r in rows} == expected["orders"]
        assert report.lines == len(rows) == expected["lines"]
        assert sum(r["quantity"] for r in rows) == expected["quantity"]
        assert sum(r["total"] for r in rows if r["total"] is not None) == expected["total"]
        assert {
            r["source_order_id"]: datetime.fromisoformat(r["created_at"])
            for r in rows
            if r["created_at"]
        } == expected["created"]
        assert con.sql("SELECT count(*) FROM raw_t WHERE channel IS NOT NULL").fetchall() == [
            (len(expected["orders"]),)
        ]
        all_orders += len(expected["orders"])
    assert all_orders == 240
