"""UCI Online Retail: invoices become orders, cancellations refunds, nothing is lost."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orderlens.contracts import GENERIC_FIELDS, REFUND_FIELDS
from pipelines.sources import online_retail
from pipelines.sources.formats import detect
from tests.conftest import SHARED_DATA

FILE = SHARED_DATA / "online_retail" / "online_retail_random20k.csv"
HEADER = '"InvoiceNo","StockCode","Description","Quantity","InvoiceDate","UnitPrice","CustomerID","Country"'


def _parse(path: Path):
    con = duckdb.connect()
    result = online_retail.parse(con, path, "raw_file_t")
    return con, result


@pytest.fixture(scope="module")
def parsed() -> tuple[duckdb.DuckDBPyConnection, online_retail.ParseResult]:
    """The shared file parsed once for the module's tests (they only read it)."""
    return _parse(FILE)


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict]:
    return con.sql(sql).pl().to_dicts()


def _file_rows() -> list[dict[str, str]]:
    with open(FILE, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.shared_data
def test_every_record_is_a_line_a_refund_or_a_reject(parsed) -> None:
    con, result = parsed
    source = _file_rows()
    lines = _rows(con, "SELECT * FROM raw_file_t")
    refunds = _rows(con, "SELECT * FROM raw_file_t_refunds")
    assert result.file_format == "online_retail"
    assert result.records == len(source) == 20_000
    assert result.reconciles
    assert len(lines) + len(refunds) + result.rejected_records == 20_000
    assert result.rejected_records == 0
    cancellations = [r for r in source if r["InvoiceNo"].startswith("C")]
    assert len(refunds) == len(cancellations) == 350
    assert len(lines) == 20_000 - 350
    # The raw tables follow the contract exactly.
    described = con.execute("DESCRIBE raw_file_t").fetchall()
    assert [(r[0], r[1]) for r in described] == [(f.name, f.type) for f in GENERIC_FIELDS]
    described = con.execute("DESCRIBE raw_file_t_refunds").fetchall()
    assert [(r[0], r[1]) for r in described] == [
        *((f.name, f.type) for f in REFUND_FIELDS),
        ("_record_no", "BIGINT"),
        ("_line", "BIGINT"),
    ]


@pytest.mark.shared_data
def test_invoices_are_orders_with_derived_totals(parsed) -> None:
    con, _ = parsed
    source = [r for r in _file_rows() if not r["InvoiceNo"].startswith("C")]
    expected_total: dict[str, Decimal] = defaultdict(Decimal)
    expected_lines: Counter[str] = Counter()
    for r in source:
        expected_total[r["InvoiceNo"]] += Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])
        expected_lines[r["InvoiceNo"]] += 1
    got = {
        row["source_order_id"]: row
        for row in _rows(
            con,
            "SELECT source_order_id, any_value(total) AS total, count(*) AS n, "
            "count(DISTINCT total) AS totals, count(DISTINCT created_at) AS dates, "
            "sum(quantity) AS units FROM raw_file_t GROUP BY ALL",
        )
    }
    assert len(got) == len(expected_total) == 9_049
    for invoice, total in expected_total.items():
        assert got[invoice]["total"] == total, invoice
        assert got[invoice]["n"] == expected_lines[invoice]
        assert got[invoice]["totals"] == 1 and got[invoice]["dates"] == 1  # on every row
    units = sum(Decimal(r["Quantity"]) for r in source)
    assert sum(row["units"] for row in got.values()) == units


@pytest.mark.shared_data
def test_rows_keep_their_physical_line_and_values(parsed) -> None:
    con, _ = parsed
    source = _file_rows()  # no multi-line fields: record k is on line k + 1
    first_time: dict[str, str] = {}
    for r in source:  # an invoice's lines may straddle a minute: the order is the first
        first_time[r["InvoiceNo"]] = min(first_time.get(r["InvoiceNo"], "9"), r["InvoiceDate"])
    rows = _rows(
        con,
        "SELECT l._record_no, l._line, t.source_order_id, t.sku, t.quantity, t.unit_price, "
        "t.created_at, t.customer_id, t.billing_country, t.currency, t.channel "
        "FROM raw_file_t t POSITIONAL JOIN raw_file_t_lines l",
    )
    refunds = _rows(con, "SELECT _line FROM raw_file_t_refunds")
    lines = {r["_line"] for r in rows} | {r["_line"] for r in refunds}
    assert lines == set(range(2, 20_002))
    record_numbers = [r["_record_no"] for r in rows]
    assert record_numbers == sorted(record_numbers) and len(set(record_numbers)) == len(rows)
    for row in rows:
        record = source[row["_line"] - 2]
        assert row["source_order_id"] == record["InvoiceNo"]
        assert row["sku"] == record["StockCode"]
        assert row["quantity"] == Decimal(record["Quantity"])
        assert row["unit_price"] == Decimal(record["UnitPrice"])
        assert row["created_at"] == first_time[record["InvoiceNo"]].replace(" ", "T")
        assert row["customer_id"] == (
            None if record["CustomerID"] == "NA" else record["CustomerID"]
        )
        assert (row["currency"], row["channel"]) == ("GBP", "online_store")


@pytest.mark.shared_data
def test_cancellations_are_positive_unlinked_refunds(parsed) -> None:
    con, _ = parsed
    source = _file_rows()
    refunds = _rows(con, "SELECT * FROM raw_file_t_refunds")
    for refund in refunds:
        record = source[refund["_line"] - 2]
        assert refund["refund_id"] == record["InvoiceNo"] and record["InvoiceNo"].startswith("C")
        assert refund["source_order_id"] is None
        assert refund["amount"] == abs(Decimal(record["Quantity"]) * Decimal(record["UnitPrice"]))
        assert refund["quantity"] == -Decimal(record["Quantity"]) > 0
        assert refund["sku"] == record["StockCode"]
        assert refund["refunded_at"] == record["InvoiceDate"].replace(" ", "T")
        assert refund["currency"] == "GBP"
    assert sum(r["amount"] for r in refunds) == sum(
        -Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])
        for r in source
        if r["InvoiceNo"].startswith("C")
    )


@pytest.mark.shared_data
def test_non_product_codes_are_not_products(parsed) -> None:
    con, _ = parsed
    source = [r for r in _file_rows() if not r["InvoiceNo"].startswith("C")]
    expected = Counter(
        online_retail.LINE_KINDS.get(
            r["StockCode"].upper(), "adjustment" if Decimal(r["Quantity"]) < 0 else "product"
        )
        for r in source
    )
    got = dict(con.execute("SELECT line_kind, count(*) FROM raw_file_t GROUP BY ALL").fetchall())
    assert got == dict(expected)
    # The file's postage lines (POST, DOT, C2) are shipping, and the order's shipping sums them.
    postage = sum(1 for r in source if r["StockCode"] in {"POST", "DOT", "C2"})
    assert got["shipping"] == postage == 79
    shipping = {
        row[0]: row[1]
        for row in con.execute(
            "SELECT source_order_id, any_value(shipping) FROM raw_file_t GROUP BY ALL"
        ).fetchall()
    }
    expected_shipping: dict[str, Decimal] = defaultdict(Decimal)
    for r in source:
        if r["StockCode"] in {"POST", "DOT", "C2"}:
            expected_shipping[r["InvoiceNo"]] += Decimal(r["Quantity"]) * Decimal(r["UnitPrice"])
    assert {k: v for k, v in shipping.items() if v is not None} == dict(expected_shipping)


@pytest.mark.shared_data
def test_country_names_become_iso_codes(parsed) -> None:
    con, result = parsed
    source = _file_rows()
    rows = con.execute(
        "SELECT l._line, t.billing_country, t.shipping_country "
        "FROM raw_file_t t POSITIONAL JOIN raw_file_t_lines l"
    ).fetchall()
    codes: dict[str, set[str | None]] = defaultdict(set)
    for line, billing, shipping in rows:
        assert billing == shipping
        codes[source[line - 2]["Country"]].add(billing)
    assert all(len(found) == 1 for found in codes.values())
    pairs = {name: found.pop() for name, found in codes.items()}
    assert pairs["United Kingdom"] == "GB"
    assert pairs["EIRE"] == "IE"
    assert pairs["USA"] == "US"
    assert pairs["Czech Republic"] == "CZ"
    assert pairs["Channel Islands"] is None
    assert pairs["Unspecified"] is None
    assert pairs["European Community"] is None
    assert online_retail.country_code("RSA") == "ZA"
    assert any("Channel Islands" in note for note in result.notes)


def test_unreadable_values_are_rejected_with_line_and_order(tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text(
        HEADER + "\n"
        '"536365","85123A","WHITE HANGING HEART",6,"2010-12-01 08:26:00",2.55,17850,"United Kingdom"\n'
        '"536365","71053","WHITE METAL LANTERN",six,"2010-12-01 08:26:00",3.39,17850,"United Kingdom"\n'
        '"536366","22633","HAND WARMER",6,"2010-12-01 08:28:00",n/a,NA,"EIRE"\n'
        '"536367","POST","POSTAGE",1,"someday",18,12583,"France"\n'
        '"C536379","D","Discount",-1,"2010-12-01 09:41:00",27.5,14527,"United Kingdom"\n'
        '"536368","22960","JAM MAKING SET",0,"2010-12-01 08:34:00",0,NA,"Unspecified"\n'
        '"536369","21756","BATH BUILDING BLOCK WORD",3,"2010-12-01 08:35:00"',
        encoding="utf-8",
    )
    con, result = _parse(path)
    assert result.records == 7 and result.reconciles
    lines = con.execute("SELECT count(*) FROM raw_file_t").fetchall()[0][0]
    refunds = con.execute("SELECT count(*) FROM raw_file_t_refunds").fetchall()[0][0]
    assert (lines, refunds, result.rejected_records) == (2, 1, 4)
    by_line = {r.line: r for r in result.rejects}
    assert (by_line[3].column, by_line[3].order_id) == ("quantity", "536365")
    assert (by_line[4].column, by_line[4].order_id) == ("unit_price", "536366")
    assert (by_line[5].column, by_line[5].order_id) == ("invoice_date", "536367")
    assert "truncated" in by_line[8].reason and by_line[8].order_id == "536369"
    # The order whose second line was rejected keeps its first line (staging holds it).
    assert con.execute(
        "SELECT source_order_id, total, line_kind FROM raw_file_t ORDER BY source_order_id"
    ).fetchall() == [("536365", Decimal("15.3000"), "product"), ("536368", 0, "product")]
    assert con.execute("SELECT reason FROM raw_file_t_refunds").fetchall() == [
        ("cancelled invoice line: Discount",)
    ]


@pytest.mark.shared_data
def test_detected_from_the_header() -> None:
    assert detect(FILE).name == "online_retail"
    head = FILE.read_bytes()[:65536]
    assert online_retail.sniff(FILE, head)
    olist = SHARED_DATA / "olist" / "olist_orders_dataset.csv"
    assert not online_retail.sniff(olist, olist.read_bytes()[:65536])
    assert not online_retail.sniff(Path("x.txt"), head)


def test_online_retail_ii_header_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "retail_ii.csv"
    path.write_text(
        "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
        "489434,85048,15CM CHRISTMAS GLASS BALL 20 LIGHTS,12,2009-12-01 07:45:00,6.95,"
        "13085.0,United Kingdom\n",
        encoding="utf-8",
    )
    assert online_retail.sniff(path, path.read_bytes())
    con, result = _parse(path)
    assert result.loaded == 1
    assert con.execute(
        "SELECT source_order_id, customer_id, unit_price, created_at FROM raw_file_t"
    ).fetchall() == [("489434", "13085", Decimal("6.9500"), "2009-12-01T07:45:00")]
