"""A small published snapshot for the dashboard tests.

The tables and columns are exactly those the pipeline publishes, so this builder can later be
swapped for a real ``orderlens run`` over a tiny landing folder. Six orders in three channels;
one order (``#1004``, GBP) has no FX rate and so a NULL ``total_reporting``; one (``#1006``) is
cancelled. Two ingested files are not clean (one partial, one rejected). Two orders are held
out of staging (``stg_rejects``): ``amazon:AMZ-7`` (lines 6 and 7, ``created_at`` is not a
timestamp) and ``shopify:SHOP-8`` (line 5 has no quantity, so line 4 is held with it), and
line 6 of the Shopify file has no order id at all.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from orderlens.runlog import RunLog
from orderlens.warehouse import SCHEMA_VERSION, connect

DDL = """
CREATE TABLE fct_orders(
    order_key VARCHAR, source VARCHAR, store VARCHAR, channel VARCHAR, source_order_id VARCHAR,
    order_number VARCHAR, created_at TIMESTAMPTZ, created_at_offset_minutes INTEGER,
    order_date DATE, currency VARCHAR, subtotal DECIMAL(18,4), total_discounts DECIMAL(18,4),
    discount_codes VARCHAR[], shipping DECIMAL(18,4), shipping_method VARCHAR,
    total_tax DECIMAL(18,4), taxes_included BOOLEAN, total DECIMAL(18,4), fx_rate DECIMAL(18,8),
    total_reporting DECIMAL(18,4), financial_status VARCHAR, fulfillment_status VARCHAR,
    cancelled_at TIMESTAMPTZ, promised_delivery_date DATE, customer_key VARCHAR,
    is_guest BOOLEAN, customer_email VARCHAR, customer_phone VARCHAR, customer_name VARCHAR,
    shipping_address VARCHAR, shipping_country VARCHAR, billing_country VARCHAR,
    client_ip VARCHAR, device_id VARCHAR, payment_method VARCHAR, card_brand VARCHAR,
    card_last4 VARCHAR, line_count INTEGER, units DECIMAL(18,4), file_name VARCHAR, line BIGINT
);
CREATE TABLE fct_order_lines(
    order_key VARCHAR, line_number INTEGER, order_date DATE, channel VARCHAR, currency VARCHAR,
    sku VARCHAR, product_name VARCHAR, quantity DECIMAL(18,4), unit_price DECIMAL(18,4),
    line_discount DECIMAL(18,4), line_tax DECIMAL(18,4), line_amount DECIMAL(18,4),
    vendor VARCHAR, requires_shipping BOOLEAN, fulfillment_location VARCHAR
);
CREATE TABLE dim_customers(
    customer_key VARCHAR, email VARCHAR, phone VARCHAR, name VARCHAR,
    account_created_at TIMESTAMPTZ, first_order_at TIMESTAMPTZ, last_order_at TIMESTAMPTZ,
    orders BIGINT, channels VARCHAR[], revenue_reporting DECIMAL(18,4)
);
CREATE TABLE dim_products(
    sku VARCHAR, name VARCHAR, category VARCHAR, pack_size INTEGER, unit_cost DECIMAL(18,4),
    in_catalogue BOOLEAN, first_sold_date DATE, last_sold_date DATE, units_sold DECIMAL(18,4)
);
CREATE TABLE ingest_files(
    file_id VARCHAR, source VARCHAR, file_name VARCHAR, file_format VARCHAR, file_hash VARCHAR,
    size_bytes BIGINT, records BIGINT, loaded BIGINT, rejected BIGINT, status VARCHAR,
    message VARCHAR, ingested_at TIMESTAMPTZ, duration_s DOUBLE
);
CREATE TABLE ingest_rejects(
    file_id VARCHAR, source VARCHAR, file_name VARCHAR, line BIGINT, column_name VARCHAR,
    error_type VARCHAR, reason VARCHAR, raw_text VARCHAR
);
CREATE TABLE stg_rejects(
    file_id VARCHAR, source VARCHAR, file_name VARCHAR, line BIGINT, order_key VARCHAR,
    reason VARCHAR
);
CREATE TABLE _meta(key VARCHAR PRIMARY KEY, value VARCHAR);
"""


def _ts(day: int, hour: int) -> datetime:
    return datetime(2024, 3, day, hour, 15, tzinfo=UTC)


def _customer(n: int) -> dict[str, Any]:
    names = ["Alice Archer", "Bruno Bauer", "Chloe Chen", "Dario Diaz", "Emma Evans", "Femi Fola"]
    first = names[n - 1].split()[0].lower()
    return {
        "customer_key": f"ck{n:02d}",
        "customer_email": f"{first}@example.com",
        "customer_phone": f"+1415555010{n}",
        "customer_name": names[n - 1],
        "shipping_address": f"{n} Main Street, Springfield, 1234{n}",
        "client_ip": f"203.0.113.{10 + n}",
        "device_id": f"dev-{n:04d}",
    }


# order_number, source, channel, day, hour, currency, total, fx_rate, financial, fulfillment,
# cancelled
_ORDERS: list[tuple[Any, ...]] = [
    ("#1001", "shopify", "online_store", 1, 9, "USD", "100.0000", "1", "paid", "fulfilled", False),
    (
        "#1002",
        "shopify",
        "online_store",
        2,
        10,
        "EUR",
        "50.0000",
        "1.1",
        "paid",
        "fulfilled",
        False,
    ),
    ("#1003", "amazon", "marketplace", 2, 11, "USD", "20.5000", "1", "paid", "unfulfilled", False),
    ("#1004", "amazon", "marketplace", 3, 12, "GBP", "40.0000", None, "pending", None, False),
    ("#1005", "pos", "pos", 3, 13, "USD", "12.3456", "1", "paid", "fulfilled", False),
    ("#1006", "pos", "pos", 4, 14, "USD", "7.2500", "1", "refunded", None, True),
]

ORDER_COUNT = len(_ORDERS)
CHANNELS = ("online_store", "marketplace", "pos")
EMAILS = tuple(_customer(n)["customer_email"] for n in range(1, ORDER_COUNT + 1))
_CREATED_AT = "created_at is missing or not an ISO 8601 timestamp"
# file_id, source, file_name, line, order_key, reason: as the pipeline writes stg_rejects.
HELD_LINES: list[tuple[Any, ...]] = [
    (
        "f1",
        "shopify",
        "shopify_orders.csv",
        4,
        "shopify:SHOP-8",
        "held with its order: quantity is missing",
    ),
    ("f1", "shopify", "shopify_orders.csv", 5, "shopify:SHOP-8", "quantity is missing"),
    ("f1", "shopify", "shopify_orders.csv", 6, None, "source_order_id is missing"),
    ("f2", "amazon", "amazon_orders.csv", 6, "amazon:AMZ-7", f"held with its order: {_CREATED_AT}"),
    ("f2", "amazon", "amazon_orders.csv", 7, "amazon:AMZ-7", f"held with its order: {_CREATED_AT}"),
]
HELD_ORDERS = 3
"""Two orders, and one line without an order id (counted as one, as ``orderlens status`` does)."""
REJECT_RAW_EMAIL = "zed@example.com"
"""Appears only in ``ingest_rejects`` (``raw_text``, and quoted in a type error's reason): must
not reach roles without personal data."""


def _order_rows() -> list[dict[str, Any]]:
    rows = []
    for n, spec in enumerate(_ORDERS, start=1):
        number, source, channel, day, hour, currency, total, fx, fin, ful, cancelled = spec
        total_d = Decimal(total)
        fx_d = Decimal(fx) if fx is not None else None
        created = _ts(day, hour)
        rows.append(
            {
                "order_key": f"{source}:{number}",
                "source": source,
                "store": f"{source}-store",
                "channel": channel,
                "source_order_id": f"{source.upper()}-{n}",
                "order_number": number,
                "created_at": created,
                "created_at_offset_minutes": 0,
                "order_date": created.date(),
                "currency": currency,
                "subtotal": total_d,
                "total_discounts": Decimal(0),
                "discount_codes": ["SPRING"] if n == 1 else [],
                "shipping": Decimal(0),
                "shipping_method": "standard",
                "total_tax": Decimal(0),
                "taxes_included": True,
                "total": total_d,
                "fx_rate": fx_d,
                "total_reporting": (total_d * fx_d).quantize(Decimal("0.0001")) if fx_d else None,
                "financial_status": fin,
                "fulfillment_status": ful,
                "cancelled_at": _ts(day, hour + 1) if cancelled else None,
                "promised_delivery_date": date(2024, 3, day + 5),
                "is_guest": n % 2 == 0,
                **_customer(n),
                "shipping_country": "US",
                "billing_country": "US",
                "payment_method": "card",
                "card_brand": "visa",
                "card_last4": f"424{n}",
                "line_count": 1,
                "units": Decimal(1),
                "file_name": f"{source}_orders.csv",
                "line": n + 1,
            }
        )
    return rows


def build_snapshot(
    path: Path,
    *,
    published_at: datetime | None = None,
    timezone: str = "UTC",
    reporting_currency: str = "USD",
) -> Path:
    """Write the fixture snapshot at ``path`` (replacing it atomically) and return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.tmp")
    staging.unlink(missing_ok=True)
    published_at = published_at or datetime.now(UTC).replace(microsecond=0)
    orders = _order_rows()
    con = connect(staging)
    try:
        con.execute(DDL)
        columns = list(orders[0])
        con.executemany(
            f"INSERT INTO fct_orders ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' for _ in columns)})",
            [[o[c] for c in columns] for o in orders],
        )
        con.executemany(
            "INSERT INTO fct_order_lines VALUES (?, 1, ?, ?, ?, ?, ?, 1, ?, 0, 0, ?, 'acme', "
            "true, 'main')",
            [
                [
                    o["order_key"],
                    o["order_date"],
                    o["channel"],
                    o["currency"],
                    f"SKU-{i}",
                    f"Widget {i}",
                    o["total"],
                    o["total"],
                ]
                for i, o in enumerate(orders, start=1)
            ],
        )
        con.executemany(
            "INSERT INTO dim_customers VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
            [
                [
                    o["customer_key"],
                    o["customer_email"],
                    o["customer_phone"],
                    o["customer_name"],
                    o["created_at"],
                    o["created_at"],
                    o["created_at"],
                    [o["channel"]],
                    o["total_reporting"],
                ]
                for o in orders
            ],
        )
        con.executemany(
            "INSERT INTO dim_products VALUES (?, ?, 'widgets', 1, 1, true, ?, ?, 1)",
            [
                [f"SKU-{i}", f"Widget {i}", o["order_date"], o["order_date"]]
                for i, o in enumerate(orders, start=1)
            ],
        )
        ingested = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
        con.executemany(
            "INSERT INTO ingest_files VALUES (?, ?, ?, ?, ?, 1000, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    "f1",
                    "shopify",
                    "shopify_orders.csv",
                    "csv",
                    "h1",
                    5,
                    5,
                    0,
                    "loaded",
                    None,
                    ingested,
                    0.4,
                ],
                [
                    "f2",
                    "amazon",
                    "amazon_orders.csv",
                    "csv",
                    "h2",
                    6,
                    4,
                    2,
                    "partial",
                    "2 of 6 records rejected",
                    ingested,
                    0.7,
                ],
                [
                    "f3",
                    "pos",
                    "pos_broken.parquet",
                    "parquet",
                    "h3",
                    1,
                    0,
                    1,
                    "rejected",
                    "no usable records",
                    ingested,
                    0.1,
                ],
            ],
        )
        con.executemany(
            "INSERT INTO ingest_rejects VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    "f2",
                    "amazon",
                    "amazon_orders.csv",
                    4,
                    "created_at",
                    "invalid_timestamp",
                    "not an ISO 8601 timestamp",
                    "A-9,yesterday,USD,10",
                ],
                [
                    "f2",
                    "amazon",
                    "amazon_orders.csv",
                    5,
                    "currency",
                    "invalid_currency",
                    "unknown currency code 'XXY'",
                    "A-10,2024-03-02T10:00:00Z,XXY,5",
                ],
                [
                    "f3",
                    "pos",
                    "pos_broken.parquet",
                    1,
                    "customer_email",
                    "invalid_email",
                    "not an e-mail address",
                    f"P-1,{REJECT_RAW_EMAIL},,",
                ],
                # The same record again: ragged, so the e-mail landed in a typed column.
                [
                    "f3",
                    "pos",
                    "pos_broken.parquet",
                    1,
                    "customer_created_at",
                    "CAST",
                    f"value '{REJECT_RAW_EMAIL}' is not a valid TIMESTAMP WITH TIME ZONE for "
                    "column customer_created_at",
                    f"P-1,{REJECT_RAW_EMAIL},,",
                ],
            ],
        )
        con.executemany("INSERT INTO stg_rejects VALUES (?, ?, ?, ?, ?, ?)", HELD_LINES)
        con.executemany(
            "INSERT INTO _meta VALUES (?, ?)",
            [
                ["schema_version", str(SCHEMA_VERSION)],
                ["published_at", published_at.isoformat()],
                ["timezone", timezone],
                ["reporting_currency", reporting_currency],
            ],
        )
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(staging, path)
    return path


def record_runs(run_log: Path, *, fail_last: bool = False) -> None:
    """Write two runs to the run log; the last one failed when ``fail_last``."""
    log = RunLog(run_log)
    log.start("run-0001")
    log.finish("run-0001", success=True)
    log.start("run-0002")
    if fail_last:
        log.finish(
            "run-0002",
            success=False,
            failed_step="stg_orders",
            error_summary="ValueError: column 'total' is missing in shopify_orders.csv",
        )
    else:
        log.finish("run-0002", success=True)
