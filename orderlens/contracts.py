"""The canonical order model and the inputs OrderLens accepts.

One definition serves the parser (column names and types of the generic interchange format),
the warehouse DDL, the README tables and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    """Where an order was placed."""

    ONLINE_STORE = "online_store"
    MARKETPLACE = "marketplace"
    MOBILE_APP = "mobile_app"
    POS = "pos"
    OTHER = "other"


@dataclass(frozen=True)
class Field:
    """One column of an input format: its name, DuckDB type, whether it must be filled."""

    name: str
    type: str
    description: str
    required: bool = False


# Money is DECIMAL(18,4): enough for three-decimal currencies (KWD, BHD) and exact sums.
MONEY = "DECIMAL(18,4)"

# Timestamps are kept as text in raw so the original UTC offset survives; staging parses them.
TIMESTAMP_TEXT = "VARCHAR"

GENERIC_ORDER_FIELDS: tuple[Field, ...] = (
    Field("source_order_id", "VARCHAR", "Order id in the selling system; unique per source.", True),
    Field("order_number", "VARCHAR", "Customer-facing order number (e.g. #1001)."),
    Field("store", "VARCHAR", "Store or source label (defaults to the landing subfolder)."),
    Field("channel", "VARCHAR", "online_store, marketplace, mobile_app, pos or other.", True),
    Field(
        "source_channel",
        "VARCHAR",
        "The selling system's own channel label as received (Shopify Source: web, pos, an "
        "app id...); kept beside the mapped channel.",
    ),
    Field(
        "order_status",
        "VARCHAR",
        "The selling system's own order status as received (e.g. Olist delivered, "
        "WooCommerce completed); ranks versions with the timestamps.",
    ),
    Field(
        "created_at",
        TIMESTAMP_TEXT,
        "ISO 8601 with UTC offset, e.g. 2024-03-10T09:15:00-05:00.",
        True,
    ),
    Field("currency", "VARCHAR", "ISO 4217 code of every amount on the order.", True),
    Field("subtotal", MONEY, "Sum of line amounts after line discounts, before order discounts."),
    Field("total_discounts", MONEY, "Order-level discounts."),
    Field("discount_codes", "VARCHAR", "Discount codes, separated by ';'."),
    Field("shipping", MONEY, "Shipping charged."),
    Field("shipping_method", "VARCHAR", "Shipping method or service level."),
    Field("total_tax", MONEY, "Taxes on the order."),
    Field("taxes_included", "BOOLEAN", "true when prices already include tax."),
    Field("total", MONEY, "Amount the customer pays.", True),
    Field(
        "paid_amount",
        MONEY,
        "Amount captured from the customer, when the selling system states it (blank: the "
        "total, once paid); checked against the total.",
    ),
    Field(
        "financial_status",
        "VARCHAR",
        "pending, authorized, paid, partially_refunded, refunded, voided.",
    ),
    Field("fulfillment_status", "VARCHAR", "unfulfilled, partial, fulfilled, delivered."),
    Field("paid_at", TIMESTAMP_TEXT, "When payment was captured."),
    Field("cancelled_at", TIMESTAMP_TEXT, "When the order was cancelled."),
    Field("promised_delivery_date", "DATE", "Delivery date promised to the customer."),
    Field("note", "VARCHAR", "Free-text order note (may span lines)."),
    Field("customer_id", "VARCHAR", "Customer id in the selling system."),
    Field("customer_email", "VARCHAR", "Customer e-mail (blank for guests and most POS orders)."),
    Field("customer_phone", "VARCHAR", "Customer phone, any format."),
    Field("customer_first_name", "VARCHAR", "Customer first name."),
    Field("customer_last_name", "VARCHAR", "Customer last name."),
    Field("customer_created_at", TIMESTAMP_TEXT, "When the customer account was created."),
    Field("billing_name", "VARCHAR", "Billing address: name."),
    Field("billing_address1", "VARCHAR", "Billing address: street."),
    Field("billing_address2", "VARCHAR", "Billing address: more street."),
    Field("billing_city", "VARCHAR", "Billing address: city."),
    Field("billing_province", "VARCHAR", "Billing address: ISO 3166-2 subdivision or name."),
    Field("billing_zip", "VARCHAR", "Billing address: postal code (kept as text)."),
    Field("billing_country", "VARCHAR", "Billing address: ISO 3166-1 alpha-2 country."),
    Field("shipping_name", "VARCHAR", "Shipping address: name."),
    Field("shipping_address1", "VARCHAR", "Shipping address: street."),
    Field("shipping_address2", "VARCHAR", "Shipping address: more street."),
    Field("shipping_city", "VARCHAR", "Shipping address: city."),
    Field("shipping_province", "VARCHAR", "Shipping address: ISO 3166-2 subdivision or name."),
    Field("shipping_zip", "VARCHAR", "Shipping address: postal code (kept as text)."),
    Field("shipping_country", "VARCHAR", "Shipping address: ISO 3166-1 alpha-2 country."),
    Field("shipping_phone", "VARCHAR", "Shipping address: phone."),
    Field("client_ip", "VARCHAR", "Buyer's IP address."),
    Field("user_agent", "VARCHAR", "Buyer's browser user agent."),
    Field("device_id", "VARCHAR", "Buyer's device id."),
    Field(
        "source_risk_level",
        "VARCHAR",
        "The selling system's own fraud verdict (Shopify Risk Level: low, medium, high).",
    ),
    Field("marketing_source", "VARCHAR", "Referrer or campaign that brought the buyer."),
    Field("payment_method", "VARCHAR", "card, paypal, cash, voucher, bank_transfer..."),
    Field(
        "payment_token", "VARCHAR", "Processor token of the payment method (never a card number)."
    ),
    Field("card_brand", "VARCHAR", "Card brand (visa, mastercard...)."),
    Field("card_last4", "VARCHAR", "Last four digits of the card."),
    Field("card_bin", "VARCHAR", "First six digits of the card (at most)."),
    Field("refunded_amount", MONEY, "Amount refunded so far."),
    Field("refunded_at", TIMESTAMP_TEXT, "When the (last) refund was made."),
    Field("carrier", "VARCHAR", "Shipping carrier."),
    Field("tracking_number", "VARCHAR", "Carrier tracking number."),
    Field("shipped_at", TIMESTAMP_TEXT, "When the parcel was handed to the carrier."),
    Field("delivered_at", TIMESTAMP_TEXT, "When the parcel was delivered."),
)

GENERIC_LINE_FIELDS: tuple[Field, ...] = (
    Field("line_number", "INTEGER", "Position of the line in the order (1, 2, ...)."),
    Field("sku", "VARCHAR", "Stock keeping unit."),
    Field("product_name", "VARCHAR", "Product name as sold.", True),
    Field("quantity", "DECIMAL(18,4)", "Units sold (must be a positive whole number).", True),
    Field("unit_price", MONEY, "Price of one unit before discounts.", True),
    Field("line_discount", MONEY, "Discount on the line."),
    Field(
        "line_total",
        MONEY,
        "Line amount as the selling system states it: quantity x unit price - line discount "
        "(blank when not stated); checked against its parts.",
    ),
    Field("line_tax", MONEY, "Tax on the line."),
    Field("vendor", "VARCHAR", "Vendor, brand or marketplace seller."),
    Field("product_category", "VARCHAR", "Product category (English where translated)."),
    Field(
        "line_kind",
        "VARCHAR",
        "product (default), shipping, fee, discount or adjustment: legacy systems book "
        "postage, bank charges and manual adjustments as invoice lines; only products count "
        "as units sold.",
    ),
    Field("requires_shipping", "BOOLEAN", "false for services, gift cards and in-store pickup."),
    Field("fulfillment_location", "VARCHAR", "Warehouse or store that fulfils the line."),
)

GENERIC_FIELDS: tuple[Field, ...] = GENERIC_ORDER_FIELDS + GENERIC_LINE_FIELDS
"""The generic interchange format: one row per order line, order fields repeated or blank on
the order's later lines (the first non-blank value wins). Columns are bound by name, in any
order; unknown columns are reported and ignored; a missing required column rejects the file.
A row whose line fields are all blank carries an order without lines (a cancelled marketplace
order that never had items): the order is kept, no line is made of it.

Every source format is parsed into this shape (``raw_file_<id>``), so one staging serves all;
the streams below carry what one row per line cannot (several payments, status events,
refunds, a product catalogue)."""

LINE_KINDS: tuple[str, ...] = ("product", "shipping", "fee", "discount", "adjustment")

PAYMENT_FIELDS: tuple[Field, ...] = (
    Field("source_order_id", "VARCHAR", "Order the payment belongs to.", True),
    Field("payment_sequence", "INTEGER", "1, 2, ... within the order (split payments)."),
    Field("payment_method", "VARCHAR", "card, voucher, boleto, paypal, cash..."),
    Field("payment_amount", MONEY, "Amount of this payment."),
    Field("currency", "VARCHAR", "ISO 4217 code of the amount."),
    Field("installments", "INTEGER", "Number of instalments (Olist credit cards)."),
    Field("payment_status", "VARCHAR", "success, pending, failure, error (as received)."),
    Field("payment_kind", "VARCHAR", "sale, authorization, capture, refund, void."),
    Field("payment_token", "VARCHAR", "Processor token / transaction id (never a card number)."),
    Field("card_brand", "VARCHAR", "Card brand."),
    Field("card_last4", "VARCHAR", "Last four digits of the card."),
    Field("card_bin", "VARCHAR", "First six digits of the card (at most)."),
    Field("paid_at", TIMESTAMP_TEXT, "When the payment was made."),
)
"""Stream ``<raw table>_payments``: one row per payment or transaction of an order. Present
for sources with several payments per order; otherwise staging takes the order's payment
fields."""

EVENT_FIELDS: tuple[Field, ...] = (
    Field("source_order_id", "VARCHAR", "Order the event belongs to.", True),
    Field(
        "event",
        "VARCHAR",
        "created, paid, shipped, delivered, cancelled, refunded, closed, reviewed, note...",
        True,
    ),
    Field("occurred_at", TIMESTAMP_TEXT, "When it happened, as received."),
    Field("detail", "VARCHAR", "Free text (carrier, review score, note), card numbers redacted."),
)
"""Stream ``<raw table>_events``: status events beyond the order's own timestamps (Olist
status timestamps, Shopify fulfilments and refunds, WooCommerce notes). Events of every
version of an order accumulate."""

REFUND_FIELDS: tuple[Field, ...] = (
    Field("refund_id", "VARCHAR", "Refund or cancellation id in the source.", True),
    Field("source_order_id", "VARCHAR", "Order refunded, when the source links it."),
    Field("refunded_at", TIMESTAMP_TEXT, "When the refund was made."),
    Field("amount", MONEY, "Amount refunded (positive)."),
    Field("currency", "VARCHAR", "ISO 4217 code of the amount."),
    Field("sku", "VARCHAR", "Item refunded, when per item."),
    Field("quantity", "DECIMAL(18,4)", "Units refunded or returned (positive)."),
    Field("reason", "VARCHAR", "Reason given, card numbers redacted."),
    Field("customer_id", "VARCHAR", "Customer in the source, when the order is not linked."),
)
"""Stream ``<raw table>_refunds``: one row per refund (or refunded item); the amounts of one
refund add up to the money refunded (items without an amount and one money row when a
restock refunded less than the items' value). Legacy logs book
cancellations as negative invoice lines (UCI Online Retail ``C…`` invoices) with no link to
the sale: they become refunds with ``source_order_id`` NULL."""

PRODUCT_FIELDS: tuple[Field, ...] = (
    Field("sku", "VARCHAR", "Stock keeping unit (the source's product id).", True),
    Field("name", "VARCHAR", "Product name."),
    Field("category", "VARCHAR", "Category, in English where a translation exists."),
    Field("vendor", "VARCHAR", "Vendor or seller."),
    Field("weight_g", "DECIMAL(18,4)", "Shipping weight in grams."),
)
"""Stream ``<raw table>_products``: a source's catalogue (Olist products with translated
categories); ``dim_products`` merges it with ``ref_products`` and what was sold."""

RAW_STREAMS: dict[str, tuple[Field, ...]] = {
    "payments": PAYMENT_FIELDS,
    "events": EVENT_FIELDS,
    "refunds": REFUND_FIELDS,
    "products": PRODUCT_FIELDS,
}
"""Optional per-file streams: table ``raw_file_<id>_<name>`` with these columns plus
``_record_no`` and ``_line`` (the source record they come from and its physical line),
unioned into view ``raw_<name>``."""

CHANNEL_ALIASES: dict[str, str] = {
    # Shopify ``Source`` / ``source_name`` values and common labels, lower-cased.
    "web": "online_store",
    "online_store": "online_store",
    "online store": "online_store",
    "checkout": "online_store",
    "storefront": "online_store",
    "shopify_draft_order": "online_store",
    "draft_order": "online_store",
    "subscription_contract": "online_store",
    "subscription_contract_checkout_one": "online_store",
    "woocommerce": "online_store",
    "rest-api": "online_store",
    "pos": "pos",
    "point_of_sale": "pos",
    "point of sale": "pos",
    "store": "pos",
    "iphone": "mobile_app",
    "android": "mobile_app",
    "mobile_app": "mobile_app",
    "mobile app": "mobile_app",
    "app": "mobile_app",
    "shop_app": "mobile_app",
    "marketplace": "marketplace",
    "tiktok": "marketplace",
    "facebook": "marketplace",
    "instagram": "marketplace",
    "google": "marketplace",
    "amazon": "marketplace",
    "sell-on-amazon": "marketplace",
    "amazon_marketplace": "marketplace",
    "ebay": "marketplace",
    "etsy": "marketplace",
    "walmart": "marketplace",
    "olist": "marketplace",
    "other": "other",
}
"""Raw channel label → canonical channel. Unknown labels, including Shopify's numeric app ids
(sales channels installed as apps), map to ``other``; the raw label is always kept."""


def channel_sql(expr: str) -> str:
    """DuckDB SQL mapping a raw channel label to a canonical channel (one definition with
    :data:`CHANNEL_ALIASES`)."""
    pairs = ", ".join(f"'{k}': '{v}'" for k, v in CHANNEL_ALIASES.items())
    return (
        f"CASE WHEN nullif(trim({expr}), '') IS NULL THEN NULL "
        f"ELSE coalesce(MAP {{{pairs}}}[lower(trim({expr}))], 'other') END"
    )


def channel_for(raw: str | None) -> str | None:
    """Python twin of :func:`channel_sql`."""
    if raw is None or not raw.strip():
        return None
    return CHANNEL_ALIASES.get(raw.strip().lower(), "other")


CARD_SCANNED_FIELDS: frozenset[str] = frozenset(
    {
        "note",
        "customer_first_name",
        "customer_last_name",
        "customer_email",
        "billing_name",
        "billing_address1",
        "billing_address2",
        "billing_city",
        "billing_province",
        "billing_zip",
        "shipping_name",
        "shipping_address1",
        "shipping_address2",
        "shipping_city",
        "shipping_province",
        "shipping_zip",
        "discount_codes",
        "marketing_source",
        "product_name",
    }
)
"""Text a person types (at checkout, in the admin, in a custom line item): where card numbers
leak in practice, so it is scanned and Luhn-valid numbers are redacted before storage.
Identifiers are not scanned (one random digit string in ten passes the Luhn check: order
ids, EAN SKUs, phones and tracking numbers would be corrupted), nor are machine-written
fields (timestamps, codes, statuses, user agents), which staging validates by format."""

GENERIC_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in GENERIC_FIELDS)
REQUIRED_GENERIC_FIELDS: frozenset[str] = frozenset(f.name for f in GENERIC_FIELDS if f.required)


@dataclass(frozen=True)
class ReferenceInput:
    """A reference file the merchant keeps in ``<landing>/_reference/``."""

    table: str
    file_stem: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    description: str


REFERENCE_INPUTS: tuple[ReferenceInput, ...] = (
    ReferenceInput(
        "ref_products",
        "products",
        (
            Field("sku", "VARCHAR", "Stock keeping unit.", True),
            Field("name", "VARCHAR", "Product name.", True),
            Field("category", "VARCHAR", "Product category."),
            Field("pack_size", "INTEGER", "Units per pack ordered from the supplier."),
            Field("unit_cost", MONEY, "Cost of one unit."),
            Field("cost_currency", "VARCHAR", "ISO 4217 currency of unit_cost."),
        ),
        ("sku",),
        "Product catalogue: one row per SKU.",
    ),
    ReferenceInput(
        "ref_inventory",
        "inventory",
        (
            Field("sku", "VARCHAR", "Stock keeping unit.", True),
            Field("location", "VARCHAR", "Warehouse or store.", True),
            Field("on_hand", "INTEGER", "Units in stock.", True),
            Field("on_order", "INTEGER", "Units ordered from suppliers, not yet received."),
            Field("as_of", "DATE", "Date the snapshot was taken.", True),
        ),
        ("sku", "location"),
        "Inventory snapshot: one row per SKU and location.",
    ),
    ReferenceInput(
        "ref_lead_times",
        "lead_times",
        (
            Field("sku", "VARCHAR", "Stock keeping unit.", True),
            Field("supplier", "VARCHAR", "Supplier name."),
            Field("lead_time_days", "INTEGER", "Days from purchase order to receipt.", True),
        ),
        ("sku",),
        "Supplier lead times: one row per SKU.",
    ),
    ReferenceInput(
        "ref_fx_rates",
        "fx_rates",
        (
            Field("rate_date", "DATE", "Day the rate applies from.", True),
            Field("currency", "VARCHAR", "ISO 4217 code converted from.", True),
            Field(
                "rate_to_reporting", "DECIMAL(18,8)", "Units of reporting currency per unit.", True
            ),
        ),
        ("rate_date", "currency"),
        "FX rates into the reporting currency: one row per currency and day. The rate of an "
        "order is the latest on or before its day; none means the amount is reported missing.",
    ),
    ReferenceInput(
        "ref_corrections",
        "corrections",
        (
            Field("source", "VARCHAR", "Landing source (subfolder) of the order.", True),
            Field("source_order_id", "VARCHAR", "The order's id in its source.", True),
            Field(
                "line_number", "INTEGER", "Line of the order to correct; blank for an order field."
            ),
            Field(
                "field", "VARCHAR", "Generic field to correct (e.g. shipping_zip, quantity).", True
            ),
            Field("value", "VARCHAR", "Corrected value, as in a generic file; blank clears it."),
            Field("note", "VARCHAR", "Why (who fixed it, ticket)."),
        ),
        ("source", "source_order_id", "line_number", "field"),
        "Corrections of received orders: one row per order (or order line) and field. Staging "
        "applies them on top of the order's chosen version on every run, so a quarantined order "
        "is replayed through validation once its fields are corrected; the received files stay "
        "untouched.",
    ),
    ReferenceInput(
        "ref_ip_ranges",
        "ip_ranges",
        (
            Field("ip_from", "BIGINT", "First IPv4 address of the range, as an integer.", True),
            Field("ip_to", "BIGINT", "Last IPv4 address of the range (inclusive).", True),
            Field("country", "VARCHAR", "Country: ISO 3166-1 alpha-2 code or name.", True),
        ),
        ("ip_from",),
        "IPv4 address ranges and their country (any vendor's IP-to-country table): the fraud "
        "features locate each order's IP address with it. Without it the IP country and its "
        "mismatches with the billing and shipping countries are unknown.",
    ),
    ReferenceInput(
        "ref_fraud_labels",
        "fraud_labels",
        (
            Field("source", "VARCHAR", "Landing source (subfolder) of the order.", True),
            Field("source_order_id", "VARCHAR", "The order's id in its source.", True),
            Field("label", "ENUM('fraud', 'legitimate')", "fraud or legitimate.", True),
            Field("labelled_at", "TIMESTAMPTZ", "When the order was found to be so (ISO 8601)."),
            Field("note", "VARCHAR", "Why (chargeback id, ticket, who decided)."),
        ),
        ("source", "source_order_id", "labelled_at"),
        "Fraud labels the merchant drops (chargebacks, confirmed fraud, orders cleared): one "
        "row per order and labelling. The fraud model learns from them (table fraud_labels).",
    ),
)


REFERENCE_BY_TABLE: dict[str, ReferenceInput] = {r.table: r for r in REFERENCE_INPUTS}
CORRECTIONS: ReferenceInput = REFERENCE_BY_TABLE["ref_corrections"]
IP_RANGES: ReferenceInput = REFERENCE_BY_TABLE["ref_ip_ranges"]
FRAUD_LABELS: ReferenceInput = REFERENCE_BY_TABLE["ref_fraud_labels"]
REFERENCE_DATA: tuple[ReferenceInput, ...] = tuple(
    r for r in REFERENCE_INPUTS if r not in (CORRECTIONS, IP_RANGES, FRAUD_LABELS)
)
"""The reference data describing the merchant's catalogue and money (what every generated
merchant and the demo sample carry); corrections and fraud labels are written by people
fixing or judging orders, and IP ranges are a vendor's table that only some merchants have."""

ORDER_FILE_SUFFIXES: tuple[str, ...] = (".csv", ".parquet", ".json", ".ndjson", ".jsonl", ".txt")
"""Landing files OrderLens reads (``<landing>/<source>/<file>``); the format is detected from
the content (see ``pipelines/sources/formats.py``)."""
