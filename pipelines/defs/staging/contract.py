"""The declared schema of every staging table: its columns, in order, with their DuckDB types.

The quality rules and the marts read staging by these names and types, so a staging table
that drifts from them (a column lost, renamed or retyped by a change to the build, or
inherited from raw tables of another release) must stop the run before anything downstream
is rebuilt or published: the blocking ``schema_matches_contract`` check of each staging
table compares the warehouse with this declaration (``pipelines/defs/staging/assets.py``).

Types are DuckDB's own spelling (``information_schema.columns.data_type``). Columns copied
from the generic format take the type it declares (``orderlens.contracts``), so a type changed
there is followed here; a column added to, removed from or retyped in the staging build
(``pipelines/defs/staging/build.py``) is declared here in the same change (a test builds
staging on the demo landing and compares it with this declaration).
"""

from orderlens.contracts import GENERIC_FIELDS

RECEIVED: dict[str, str] = {f.name: f.type for f in GENERIC_FIELDS}
"""Generic-format field → its declared type: the type of a column staging copies as received."""

TEXT = "VARCHAR"
TEXT_LIST = "VARCHAR[]"
TIMESTAMPTZ = "TIMESTAMP WITH TIME ZONE"
BIGINT = "BIGINT"
INTEGER = "INTEGER"
BOOLEAN = "BOOLEAN"
DATE = "DATE"
MONEY = RECEIVED["total"]


STAGING_SCHEMA: dict[str, dict[str, str]] = {
    "stg_orders": {
        "order_key": TEXT,
        "source": TEXT,
        "store": TEXT,
        "channel": TEXT,
        "channel_raw": TEXT,
        "source_order_id": RECEIVED["source_order_id"],
        "order_number": RECEIVED["order_number"],
        "order_status": TEXT,
        "created_at": TIMESTAMPTZ,
        "created_at_offset_minutes": INTEGER,
        "order_date": DATE,
        "currency": TEXT,
        "subtotal": RECEIVED["subtotal"],
        "total_discounts": RECEIVED["total_discounts"],
        "discount_codes": TEXT_LIST,
        "shipping": RECEIVED["shipping"],
        "shipping_method": RECEIVED["shipping_method"],
        "total_tax": RECEIVED["total_tax"],
        "taxes_included": RECEIVED["taxes_included"],
        "total": RECEIVED["total"],
        "financial_status": TEXT,
        "fulfillment_status": TEXT,
        "paid_at": TIMESTAMPTZ,
        "cancelled_at": TIMESTAMPTZ,
        "promised_delivery_date": RECEIVED["promised_delivery_date"],
        "note": RECEIVED["note"],
        "customer_key": TEXT,
        "is_guest": BOOLEAN,
        "client_ip": RECEIVED["client_ip"],
        "user_agent": RECEIVED["user_agent"],
        "device_id": RECEIVED["device_id"],
        "marketing_source": RECEIVED["marketing_source"],
        "source_risk_level": TEXT,
        "has_amounts": BOOLEAN,
        "file_id": TEXT,
        "_line": BIGINT,
    },
    "stg_order_lines": {
        "order_key": TEXT,
        "line_number": BIGINT,
        "sku": TEXT,
        "product_name": RECEIVED["product_name"],
        "quantity": RECEIVED["quantity"],
        "unit_price": RECEIVED["unit_price"],
        "line_discount": RECEIVED["line_discount"],
        "line_tax": RECEIVED["line_tax"],
        # quantity x unit price: DuckDB widens the product of two decimals.
        "line_amount": "DECIMAL(23,8)",
        "stated_line_amount": RECEIVED["line_total"],
        "vendor": RECEIVED["vendor"],
        "product_category": TEXT,
        "line_kind": TEXT,
        "requires_shipping": RECEIVED["requires_shipping"],
        "fulfillment_location": RECEIVED["fulfillment_location"],
        "file_id": TEXT,
        "_line": BIGINT,
    },
    "stg_customers": {
        "customer_key": TEXT,
        "email": TEXT,
        "phone": TEXT,
        "name": TEXT,
        "account_created_at": TIMESTAMPTZ,
        "first_order_at": TIMESTAMPTZ,
        "last_order_at": TIMESTAMPTZ,
        "orders": BIGINT,
        "channels": TEXT_LIST,
    },
    "stg_order_contacts": {
        "order_key": TEXT,
        "email": TEXT,
        "phone": TEXT,
        "phone_e164": TEXT,
        "customer_id": TEXT,
        "first_name": TEXT,
        "last_name": TEXT,
    },
    "stg_addresses": {
        "order_key": TEXT,
        "address_type": TEXT,
        "name": TEXT,
        "address1": TEXT,
        "address2": TEXT,
        "city": TEXT,
        "province": TEXT,
        "zip": TEXT,
        "country": TEXT,
        "phone": TEXT,
    },
    "stg_payments": {
        "order_key": TEXT,
        "payment_sequence": BIGINT,
        "method": TEXT,
        "amount": MONEY,
        "currency": TEXT,
        "installments": INTEGER,
        "status": TEXT,
        "kind": TEXT,
        "processor_token": TEXT,
        "card_brand": TEXT,
        "card_last4": TEXT,
        "card_bin": TEXT,
        "paid_at": TIMESTAMPTZ,
    },
    "stg_refunds": {
        "source": TEXT,
        "refund_id": TEXT,
        "order_key": TEXT,
        "amount": MONEY,
        "currency": TEXT,
        "refunded_at": TIMESTAMPTZ,
        "sku": TEXT,
        "quantity": "DECIMAL(18,4)",
        "reason": TEXT,
        "customer_key": TEXT,
    },
    "stg_fulfilments": {
        "order_key": TEXT,
        "carrier": TEXT,
        "tracking_number": TEXT,
        "shipped_at": TIMESTAMPTZ,
        "delivered_at": TIMESTAMPTZ,
    },
    "stg_status_events": {
        "order_key": TEXT,
        "event": TEXT,
        "occurred_at": TIMESTAMPTZ,
        "detail": TEXT,
        "out_of_order": BOOLEAN,
    },
    "stg_rejects": {
        "file_id": TEXT,
        "source": TEXT,
        "file_name": TEXT,
        "line": BIGINT,
        "order_key": TEXT,
        "reason": TEXT,
    },
    "stg_corrections": {
        "source": TEXT,
        "source_order_id": TEXT,
        "line_number": INTEGER,
        "field": TEXT,
        "value": TEXT,
        "note": TEXT,
        "status": TEXT,
    },
}
"""Staging table → column → DuckDB type, in the order the build writes them."""


def schema_drift(declared: dict[str, str], actual: dict[str, str]) -> dict[str, list[str]]:
    """How ``actual`` (column → type, as the warehouse has it) departs from ``declared``:
    the missing, unexpected and retyped columns (``name: declared -> actual``), each sorted."""
    return {
        "missing": sorted(name for name in declared if name not in actual),
        "unexpected": sorted(
            f"{name} {kind}" for name, kind in actual.items() if name not in declared
        ),
        "retyped": sorted(
            f"{name}: {kind} -> {actual[name]}"
            for name, kind in declared.items()
            if name in actual and actual[name] != kind
        ),
    }
