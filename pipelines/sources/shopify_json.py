"""Parser of Shopify REST Admin API payloads: orders (one object, a list, ``{"order": ...}``,
``{"orders": [...]}`` or NDJSON, one order per line) and the resources that hang off an order.

Grain: one source record per order object (or per refund, transaction, risk, fulfillment or
dispute object of a standalone payload). The order table has one row per line item (an
order without line items keeps one row whose line fields are NULL); the streams:

- ``_payments``: one row per transaction (``transactions`` of the order, standalone
  ``transaction(s)`` payloads, and the transactions of refunds as kind ``refund``); an order
  without transactions gets one row per payment gateway it names. Card data kept: brand,
  BIN and the last four digits of the masked ``credit_card_number`` (never the field
  itself); the transaction's ``authorization`` (else its id) is the payment token.
  ``payment_sequence`` numbers the payments of one record: its transactions in order, then
  its refunds' (a gateway row: its place among the gateways). Records of the same order
  each count from 1, as files do; staging renumbers an order's payments once merged.
- ``_events``: ``shipped`` per successful fulfilment (carrier and tracking in the detail;
  other fulfilment statuses as ``fulfillment_<status>``), ``delivered`` when its
  ``shipment_status`` is delivered, ``refunded`` per refund, ``cancelled`` (reason in the
  detail), ``closed``, ``processed`` when an app set an order date other than
  ``created_at``, ``risk_assessed`` per order risk (Shopify's risk level from the
  recommendation: cancel → high, investigate → medium, accept → low) and ``disputed`` per
  chargeback or inquiry.
- ``_refunds``: per refund, one row per refunded line item (sku, quantity, value =
  ``subtotal``, else price * quantity) plus, when its transactions refunded more than the
  items' value, a row without sku for the rest (shipping, taxes); when the transactions
  refunded less than the items' value (a restock without full refund), the items carry no
  amount and one row without sku carries the money. So the amounts of a refund always sum
  to the money refunded.

Order fields: ``source_order_id`` = the numeric ``id``; ``order_number`` = ``name``;
``channel`` from ``source_name`` (Shopify's default ``web`` when absent), raw in
``source_channel``; ``order_status`` = Shopify's order status (open, closed, cancelled).

Not orders, each record rejected with its reason so that records = loaded + rejected:
abandoned checkouts, customers, draft orders (not placed yet), refund calculations
(suggestions), tender transactions (a shop-level report of the same money as the orders'
transactions: loading both would count payments twice), and disputes or other objects that
name no order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from orderlens.contracts import (
    EVENT_FIELDS,
    PAYMENT_FIELDS,
    REFUND_FIELDS,
    channel_sql,
)
from pipelines.sources import json_records as jr
from pipelines.sources.generic import LINE, RECORD_NO, ParseResult, Reject

FORMAT = "shopify_json"

# Wrapper key → kind of record inside it.
WRAPPERS: dict[str, str] = {
    "order": "order",
    "orders": "order",
    "refund": "refund",
    "refunds": "refund",
    "transaction": "transaction",
    "transactions": "transaction",
    "risk": "risk",
    "risks": "risk",
    "fulfillment": "fulfillment",
    "fulfillments": "fulfillment",
    "dispute": "dispute",
    "disputes": "dispute",
    "checkout": "checkout",
    "checkouts": "checkout",
    "customer": "customer",
    "customers": "customer",
    "draft_order": "draft_order",
    "draft_orders": "draft_order",
    "tender_transaction": "tender_transaction",
    "tender_transactions": "tender_transaction",
}

NOT_ORDERS: dict[str, str] = {
    "checkout": "abandoned checkout, not an order",
    "customer": "customer record, not an order",
    "draft_order": "draft order, not an order (it becomes one when completed)",
    "tender_transaction": (
        "tender transaction: a shop-level payments report of money already in the orders' "
        "transactions, not loaded (it would count payments twice)"
    ),
    "refund_calculation": "refund calculation (a suggested refund), not a refund that was made",
    "unknown": "not a Shopify order or order resource",
}

_V = "VARCHAR"
_PAYMENT_DETAILS = jr.struct(
    {"credit_card_bin": _V, "credit_card_number": _V, "credit_card_company": _V}
)
# Only the fields the SQL reads: each one read costs parse time on every record (an
# order's id on its transactions and line items' own ids are not used).
_TRANSACTION_FIELDS = {
    "id": _V,
    "kind": _V,
    "gateway": _V,
    "status": _V,
    "amount": _V,
    "currency": _V,
    "authorization": _V,
    "created_at": _V,
    "processed_at": _V,
}
_TRANSACTION_READ = jr.struct({**_TRANSACTION_FIELDS, "payment_details": _PAYMENT_DETAILS})
_ADDRESS = jr.struct(
    {
        k: _V
        for k in (
            "name",
            "first_name",
            "last_name",
            "address1",
            "address2",
            "city",
            "province",
            "province_code",
            "zip",
            "country",
            "country_code",
            "phone",
        )
    }
)
_LINE_ITEM = jr.struct(
    {
        "sku": _V,
        "name": _V,
        "title": _V,
        "quantity": _V,
        "price": _V,
        "total_discount": _V,
        "discount_allocations": jr.struct({"amount": _V}) + "[]",
        "tax_lines": jr.struct({"price": _V}) + "[]",
        "vendor": _V,
        "requires_shipping": _V,
        "origin_location": jr.struct({"name": _V}),
    }
)
_FULFILLMENT = jr.struct(
    {
        k: _V
        for k in (
            "id",
            "status",
            "shipment_status",
            "created_at",
            "updated_at",
            "tracking_company",
            "tracking_number",
        )
    }
)
_REFUND = jr.struct(
    {
        "id": _V,
        "created_at": _V,
        "processed_at": _V,
        "note": _V,
        "refund_line_items": jr.struct(
            {"quantity": _V, "subtotal": _V, "line_item": jr.struct({"sku": _V, "price": _V})}
        )
        + "[]",
        "transactions": jr.struct(_TRANSACTION_FIELDS) + "[]",
    }
)
_RISK = jr.struct({k: _V for k in ("id", "recommendation", "score", "source", "message")})
_DISPUTE = jr.struct(
    {k: _V for k in ("id", "type", "amount", "currency", "reason", "status", "initiated_at")}
)

COLUMNS: dict[str, str] = {
    "_kind": _V,
    "id": _V,
    "name": _V,
    "order_number": _V,
    "source_name": _V,
    "created_at": _V,
    "processed_at": _V,
    "closed_at": _V,
    "cancelled_at": _V,
    "cancel_reason": _V,
    "currency": _V,
    "subtotal_price": _V,
    "total_discounts": _V,
    "total_tax": _V,
    "taxes_included": _V,
    "total_price": _V,
    "financial_status": _V,
    "fulfillment_status": _V,
    "note": _V,
    "email": _V,
    "contact_email": _V,
    "phone": _V,
    "browser_ip": _V,
    "device_id": _V,
    "gateway": _V,
    "payment_gateway_names": "VARCHAR[]",
    "referring_site": _V,
    "landing_site": _V,
    "discount_codes": jr.struct({"code": _V}) + "[]",
    "shipping_lines": jr.struct({"title": _V, "price": _V}) + "[]",
    "total_shipping_price_set": jr.struct({"shop_money": jr.struct({"amount": _V})}),
    "customer": jr.struct(
        {k: _V for k in ("id", "email", "phone", "first_name", "last_name", "created_at")}
    ),
    "billing_address": _ADDRESS,
    "shipping_address": _ADDRESS,
    "client_details": jr.struct({"browser_ip": _V, "user_agent": _V}),
    "payment_details": _PAYMENT_DETAILS,
    "line_items": _LINE_ITEM + "[]",
    "transactions": _TRANSACTION_READ + "[]",
    "fulfillments": _FULFILLMENT + "[]",
    "refunds": _REFUND + "[]",
    "risks": _RISK + "[]",
    "disputes": _DISPUTE + "[]",
}


def _last4(expr: str) -> str:
    return f"nullif(right(regexp_extract({expr}, '([0-9]+)\\s*$', 1), 4), '')"


# The card number is reduced to its last four digits before anything is materialised.
_CARD_SELECT = (
    "payment_details.credit_card_company AS pd_brand, "
    "left(payment_details.credit_card_bin, 6) AS pd_bin, "
    f"{_last4('payment_details.credit_card_number')} AS pd_last4, "
    "list_transform(transactions, lambda t: {"
    + ", ".join(f"'{k}': t.{jr.quote(k)}" for k in _TRANSACTION_FIELDS)
    + ", 'brand': t.payment_details.credit_card_company, "
    "'bin': left(t.payment_details.credit_card_bin, 6), "
    f"'last4': {_last4('t.payment_details.credit_card_number')}"
    "}) AS transactions"
)
SELECT = f"* EXCLUDE (payment_details, transactions), {_CARD_SELECT}"

CHECKS: tuple[tuple[str, str], ...] = (
    ("id", "id IS NULL AND coalesce(_kind, 'order') = 'order'"),
    *(
        (name, f"coalesce(_kind, 'order') = 'order' AND {jr.bad_money(name)}")
        for name in ("total_price", "subtotal_price", "total_tax", "total_discounts")
    ),
    (
        "line_items.quantity",
        "list_bool_or(list_transform(line_items, lambda l: "
        f"{jr.bad_money('l.quantity')} OR {jr.bad_money('l.price')}))",
    ),
)

txt, money = jr.txt, jr.money


def _address(prefix: str, column: str) -> dict[str, str]:
    a = f"r.{column}"
    return {
        f"{prefix}_name": f"coalesce({txt(a + '.name')}, "
        f"nullif(trim(concat_ws(' ', {txt(a + '.first_name')}, {txt(a + '.last_name')})), ''))",
        f"{prefix}_address1": txt(f"{a}.address1"),
        f"{prefix}_address2": txt(f"{a}.address2"),
        f"{prefix}_city": txt(f"{a}.city"),
        f"{prefix}_province": f"coalesce({txt(a + '.province_code')}, {txt(a + '.province')})",
        f"{prefix}_zip": txt(f"{a}.zip"),
        f"{prefix}_country": f"coalesce({txt(a + '.country_code')}, {txt(a + '.country')})",
    }


_SUCCESS = "coalesce(lower({0}.status), 'success') = 'success'"
_SHIPPED = "list_filter(r.fulfillments, lambda f: coalesce(lower(f.status), 'success') = 'success')"
# A CASE inside one list_transform, not a list_filter then a transform: one list built
# per order instead of two (list_min/list_max skip the NULLs).
_PAID_AT = (
    "list_min(list_transform(r.transactions, lambda t: CASE WHEN lower(t.kind) IN "
    "('sale', 'capture') AND coalesce(lower(t.status), 'success') = 'success' "
    "THEN coalesce(t.processed_at, t.created_at) END))"
)
_CARD_TXN = "list_filter(r.transactions, lambda t: t.last4 IS NOT NULL OR t.brand IS NOT NULL)"


def _refund_money(refund: str) -> str:
    """SQL: money a refund paid back (its successful refund transactions)."""
    return (
        f"list_sum(list_transform(list_filter({refund}.transactions, lambda t: "
        "coalesce(lower(t.kind), 'refund') = 'refund' AND coalesce(lower(t.status), 'success') "
        "= 'success'), lambda t: " + money("t.amount") + "))"
    )


PREPARED: dict[str, str] = {
    "_card_txn": f"{_CARD_TXN}[1]",
    "_shipment": f"{_SHIPPED}[1]",
}
"""The first card transaction and the first successful fulfilment, each read by three
order fields (computed once per order)."""

ORDER_EXPRS: dict[str, str] = {
    "source_order_id": "r.id",
    "order_number": f"coalesce({txt('r.name')}, {txt('r.order_number')})",
    "channel": f"coalesce({channel_sql('r.source_name')}, 'online_store')",
    "source_channel": txt("r.source_name"),
    "order_status": (
        f"CASE WHEN {txt('r.cancelled_at')} IS NOT NULL THEN 'cancelled' "
        f"WHEN {txt('r.closed_at')} IS NOT NULL THEN 'closed' ELSE 'open' END"
    ),
    "created_at": txt("r.created_at"),
    "currency": txt("r.currency"),
    "subtotal": money("r.subtotal_price"),
    "total_discounts": money("r.total_discounts"),
    "discount_codes": (
        "nullif(array_to_string(list_filter(list_transform(r.discount_codes, lambda d: "
        f"{txt('d.code')}), lambda c: c IS NOT NULL), ';'), '')"
    ),
    "shipping": (
        f"coalesce(list_sum(list_transform(r.shipping_lines, lambda s: {money('s.price')})), "
        f"{money('r.total_shipping_price_set.shop_money.amount')})"
    ),
    "shipping_method": txt("r.shipping_lines[1].title"),
    "total_tax": money("r.total_tax"),
    "taxes_included": "TRY_CAST(r.taxes_included AS BOOLEAN)",
    "total": money("r.total_price"),
    "financial_status": txt("r.financial_status"),
    "fulfillment_status": txt("r.fulfillment_status"),
    "paid_at": _PAID_AT,
    "cancelled_at": txt("r.cancelled_at"),
    "note": txt("r.note"),
    "customer_id": txt("r.customer.id"),
    "customer_email": (
        f"coalesce({txt('r.email')}, {txt('r.contact_email')}, {txt('r.customer.email')})"
    ),
    "customer_phone": f"coalesce({txt('r.phone')}, {txt('r.customer.phone')})",
    "customer_first_name": txt("r.customer.first_name"),
    "customer_last_name": txt("r.customer.last_name"),
    "customer_created_at": txt("r.customer.created_at"),
    **_address("billing", "billing_address"),
    **_address("shipping", "shipping_address"),
    "shipping_phone": txt("r.shipping_address.phone"),
    "client_ip": f"coalesce({txt('r.client_details.browser_ip')}, {txt('r.browser_ip')})",
    "user_agent": txt("r.client_details.user_agent"),
    "device_id": txt("r.device_id"),
    "marketing_source": f"coalesce({txt('r.referring_site')}, {txt('r.landing_site')})",
    "payment_method": f"coalesce({txt('r.payment_gateway_names[1]')}, {txt('r.gateway')})",
    "payment_token": (
        "list_any_value(list_transform(r.transactions, lambda t: coalesce("
        f"{txt('t.authorization')}, {txt('t.id')})))"
    ),
    "card_brand": f"coalesce({txt('r.pd_brand')}, r._card_txn.brand)",
    "card_last4": "coalesce(r.pd_last4, r._card_txn.last4)",
    "card_bin": f"coalesce({txt('r.pd_bin')}, r._card_txn.bin)",
    "refunded_amount": f"list_sum(list_transform(r.refunds, lambda f: {_refund_money('f')}))",
    "refunded_at": (
        "list_max(list_transform(r.refunds, lambda f: "
        f"coalesce({txt('f.processed_at')}, {txt('f.created_at')})))"
    ),
    "carrier": txt("r._shipment.tracking_company"),
    "tracking_number": txt("r._shipment.tracking_number"),
    "shipped_at": txt("r._shipment.created_at"),
    "delivered_at": (
        "list_max(list_transform(r.fulfillments, lambda f: "
        "CASE WHEN lower(f.shipment_status) = 'delivered' THEN f.updated_at END))"
    ),
    # Line fields, from the unnested line item ``li`` (NULL for an order without items).
    "line_number": "CASE WHEN li IS NULL THEN NULL ELSE li_no END",
    "sku": txt("li.sku"),
    "product_name": f"coalesce({txt('li.name')}, {txt('li.title')})",
    "quantity": money("li.quantity"),
    "unit_price": money("li.price"),
    "line_discount": (
        "CASE WHEN len(li.discount_allocations) > 0 THEN list_sum(list_transform("
        f"li.discount_allocations, lambda d: {money('d.amount')})) "
        f"ELSE {money('li.total_discount')} END"
    ),
    "line_tax": f"list_sum(list_transform(li.tax_lines, lambda x: {money('x.price')}))",
    "vendor": txt("li.vendor"),
    "line_kind": "CASE WHEN li IS NULL THEN NULL ELSE 'product' END",
    "requires_shipping": "TRY_CAST(li.requires_shipping AS BOOLEAN)",
    "fulfillment_location": txt("li.origin_location.name"),
}

_IS_ORDER = "coalesce(r._kind, 'order') = 'order'"


def _payments_sql(recs: str) -> str:
    own = (
        f"SELECT r.id AS _order, r.{LINE}, r.{RECORD_NO}, u.i AS _seq, u.t.id AS _id, u.t.kind AS _kind2, "
        "u.t.gateway, u.t.status, u.t.amount, u.t.currency, u.t.authorization AS _auth, "
        "coalesce(u.t.processed_at, u.t.created_at) AS _at, u.t.brand, u.t.bin, u.t.last4 "
        f"FROM {recs} r, (SELECT unnest(r.transactions) AS t, "
        "unnest(range(1, len(r.transactions) + 1)) AS i) u"
    )
    # A refund's transactions follow the order's own, numbered on across its refunds.
    refunds = (
        f"SELECT r.id AS _order, r.{LINE}, r.{RECORD_NO}, len(coalesce(r.transactions, [])) "
        "+ coalesce(list_sum(list_transform(r.refunds[:f.i - 1], lambda x: "
        "len(coalesce(x.transactions, [])))), 0) + u.i AS _seq, u.t.id, "
        "coalesce(u.t.kind, 'refund'), u.t.gateway, u.t.status, u.t.amount, u.t.currency, "
        "u.t.authorization, coalesce(u.t.processed_at, u.t.created_at, f.r2.processed_at, "
        "f.r2.created_at), NULL, NULL, NULL "
        f"FROM {recs} r, (SELECT unnest(r.refunds) AS r2, "
        "unnest(range(1, len(r.refunds) + 1)) AS i) f, "
        "(SELECT unnest(f.r2.transactions) AS t, "
        "unnest(range(1, len(f.r2.transactions) + 1)) AS i) u"
    )
    gateways = (
        f"SELECT r.id, r.{LINE}, r.{RECORD_NO}, g.i, NULL, NULL, g.name, NULL, "
        f"CASE WHEN g.n = 1 THEN r.total_price END, r.currency, NULL, NULL, "
        f"r.pd_brand, left(r.pd_bin, 6), r.pd_last4 "
        f"FROM {recs} r, (SELECT unnest(gw) AS name, unnest(range(1, len(gw) + 1)) AS i, "
        "len(gw) AS n FROM (SELECT "
        f"coalesce(nullif(list_filter(r.payment_gateway_names, lambda x: {txt('x')} IS NOT NULL), "
        f"[]), CASE WHEN {txt('r.gateway')} IS NULL THEN [] ELSE [r.gateway] END) AS gw)) g "
        f"WHERE {_IS_ORDER} AND len(coalesce(r.transactions, [])) = 0"
    )
    return (
        "SELECT _order AS source_order_id, "
        "_seq AS payment_sequence, "
        f"{txt('gateway')} AS payment_method, {money('amount')} AS payment_amount, "
        f"{txt('currency')} AS currency, NULL AS installments, {txt('status')} AS payment_status, "
        f"{txt('_kind2')} AS payment_kind, coalesce({txt('_auth')}, {txt('_id')}) AS payment_token, "
        f"{txt('brand')} AS card_brand, last4 AS card_last4, bin AS card_bin, "
        f"{txt('_at')} AS paid_at, {RECORD_NO}, {LINE} "
        f"FROM ({own} UNION ALL {refunds} UNION ALL {gateways})"
    )


def _detail(*parts: tuple[str, str]) -> str:
    """SQL: 'label: value; ...' of the parts that are not NULL."""
    return (
        "nullif(concat_ws('; ', "
        + ", ".join(f"'{label}: ' || {txt(expr)}" for label, expr in parts)
        + "), '')"
    )


def _event_rows(parts: list[str]) -> str:
    """Event rows of SELECTs giving (order id, event, time, detail, line, record, free text)."""
    return (
        "SELECT c0 AS source_order_id, c1 AS event, "
        f"{txt('c2')} AS occurred_at, c3 AS detail, c4 AS {LINE}, c6 AS {RECORD_NO}, "
        "c5 AS free_detail FROM (" + " UNION ALL ".join(parts) + ") t(c0, c1, c2, c3, c4, c6, c5)"
    )


def _refund_events_sql(recs: str) -> str:
    """``refunded`` per refund; its note is text people typed (redacted apart)."""
    return _event_rows(
        [
            "SELECT r.id, 'refunded', coalesce(u.f.processed_at, u.f.created_at), "
            + _detail(
                ("refund", "u.f.id"),
                ("amount", f"CAST({_refund_money('u.f')} AS VARCHAR)"),
            )
            + f", r.{LINE}, r.{RECORD_NO}, {_detail(('note', 'u.f.note'))} FROM {recs} r, (SELECT unnest(r.refunds) AS f) u"
        ]
    )


def _events_sql(recs: str) -> str:
    """Every other event (fulfilments, cancel, close, app order dates, risks, disputes)."""
    fulfillments = "(SELECT unnest(r.fulfillments) AS f) u"
    risk_level = (
        "CASE lower(u.k.recommendation) WHEN 'cancel' THEN 'high' WHEN 'investigate' THEN "
        "'medium' WHEN 'accept' THEN 'low' END"
    )
    parts = [
        f"SELECT r.id, CASE WHEN {_SUCCESS.format('u.f')} THEN 'shipped' "
        "ELSE 'fulfillment_' || lower(u.f.status) END, u.f.created_at, "
        + _detail(
            ("carrier", "u.f.tracking_company"),
            ("tracking", "u.f.tracking_number"),
            ("status", "u.f.status"),
            ("fulfillment", "u.f.id"),
        )
        + f", r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r, {fulfillments}",
        # Unnested in the select list: a filter on a lateral unnest is decorrelated into a
        # join, about 7x slower.
        "SELECT u.id, 'delivered', u.f.updated_at, "
        + _detail(("carrier", "u.f.tracking_company"), ("tracking", "u.f.tracking_number"))
        + f", u.{LINE}, u.{RECORD_NO}, NULL FROM (SELECT r.id, r.{LINE}, r.{RECORD_NO}, "
        f"unnest(r.fulfillments) AS f FROM {recs} r) u "
        "WHERE lower(u.f.shipment_status) = 'delivered'",
        "SELECT r.id, 'cancelled', r.cancelled_at, "
        + _detail(("reason", "r.cancel_reason"))
        + f", r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r WHERE {_IS_ORDER} AND {txt('r.cancelled_at')} IS NOT NULL",
        f"SELECT r.id, 'closed', r.closed_at, NULL, r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r "
        f"WHERE {_IS_ORDER} AND {txt('r.closed_at')} IS NOT NULL",
        "SELECT r.id, 'processed', r.processed_at, 'order date set by the app that imported "
        f"it', r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r WHERE {_IS_ORDER} AND {txt('r.processed_at')} "
        f"IS NOT NULL AND r.processed_at <> coalesce(r.created_at, '')",
        "SELECT r.id, 'risk_assessed', NULL, "
        + _detail(
            ("risk_level", risk_level),
            ("recommendation", "u.k.recommendation"),
            ("score", "u.k.score"),
            ("source", "u.k.source"),
            ("message", "u.k.message"),
            ("risk", "u.k.id"),
        )
        + f", r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r, (SELECT unnest(r.risks) AS k) u",
        "SELECT r.id, 'disputed', u.d.initiated_at, "
        + _detail(
            ("type", "u.d.type"),
            ("reason", "u.d.reason"),
            ("status", "u.d.status"),
            ("amount", "u.d.amount || ' ' || coalesce(u.d.currency, '')"),
            ("dispute", "u.d.id"),
        )
        + f", r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r, (SELECT unnest(r.disputes) AS d) u",
    ]
    return _event_rows(parts)


def _refunds_sql(recs: str) -> str:
    items = (
        "list_transform(u.f.refund_line_items, lambda x: {'sku': "
        + txt("x.line_item.sku")
        + ", 'quantity': "
        + money("x.quantity")
        + ", 'value': coalesce("
        + money("x.subtotal")
        + ", "
        + money("x.line_item.price")
        + " * "
        + money("x.quantity")
        + ")})"
    )
    per_refund = (
        f"SELECT u.f.id AS refund_id, r.id AS _order, r.{LINE}, r.{RECORD_NO}, "
        f"coalesce({txt('u.f.processed_at')}, {txt('u.f.created_at')}) AS _at, "
        "coalesce(list_filter(list_transform(u.f.transactions, lambda t: t.currency), "
        f"lambda c: c IS NOT NULL)[1], r.currency) AS _currency, {txt('u.f.note')} AS reason, "
        f"{items} AS items, {_refund_money('u.f')} AS paid "
        f"FROM {recs} r, (SELECT unnest(r.refunds) AS f) u"
    )
    return jr.refund_rows_sql(per_refund)


# --------------------------------------------------------------------------- Python side


def _kind(piece: jr.Piece) -> str:
    """The kind of a document record: order, refund, transaction, risk, fulfillment,
    dispute, or one of the non-order kinds of :data:`NOT_ORDERS`."""
    value = piece.value
    kind = WRAPPERS.get(piece.wrapper or "")
    if not isinstance(value, dict):
        return "unknown"
    keys = set(value)
    if kind is None:
        kind = _bare_kind(keys)
    if kind == "refund" and value.get("id") is None:
        return "refund_calculation"
    return kind


def _bare_kind(keys: set[str]) -> str:
    if "abandoned_checkout_url" in keys or ("completed_at" in keys and "token" in keys):
        return "checkout"
    if "invoice_url" in keys or "invoice_sent_at" in keys:
        return "draft_order"
    if "refund_line_items" in keys:
        return "refund"
    if "recommendation" in keys and "order_id" in keys:
        return "risk"
    if "network_reason_code" in keys or "evidence_due_by" in keys:
        return "dispute"
    if "remote_reference" in keys and "order_id" in keys:
        return "tender_transaction"
    if {"kind", "gateway", "order_id"} <= keys:
        return "transaction"
    if "order_id" in keys and ("tracking_number" in keys or "tracking_company" in keys):
        return "fulfillment"
    if "orders_count" in keys and "line_items" not in keys:
        return "customer"
    if keys & {"line_items", "total_price", "financial_status", "order_number"}:
        return "order"
    return "unknown"


_STREAM_KEY = {
    "refund": "refunds",
    "transaction": "transactions",
    "risk": "risks",
    "fulfillment": "fulfillments",
    "dispute": "disputes",
}


def _envelope(piece: jr.Piece, kind: str) -> tuple[dict[str, Any] | None, Reject | None]:
    """The record as an order-shaped object for the SQL (standalone resources become
    ``{"_kind": ..., "id": <order id>, "<stream>": [object]}``), or why it is rejected."""
    value: dict[str, Any] = piece.value
    if kind == "order":
        return {**value, "_kind": "order"}, None
    if kind in _STREAM_KEY:
        order_id = value.get("order_id")
        if order_id is None and kind != "refund":
            return None, jr.reject(
                piece.line,
                "order_id",
                "NOT_AN_ORDER",
                f"{kind} that names no order (order_id is null)",
                jr.raw_text(value),
                None,
            )
        return {"_kind": kind, "id": order_id, _STREAM_KEY[kind]: [value]}, None
    # Not an order: its order (if it names one) is not held for it.
    return None, jr.reject(
        piece.line,
        None,
        "NOT_AN_ORDER",
        NOT_ORDERS.get(kind, NOT_ORDERS["unknown"]),
        jr.raw_text(value),
    )


# --------------------------------------------------------------------------- protocol


def sniff(path: Path, head: bytes) -> bool:
    """A Shopify order, order list, NDJSON of orders, or a Shopify order resource."""
    if path.suffix.lower() not in jr.JSON_SUFFIXES:
        return False
    try:
        wrapper, first, keys = jr.first_object(head)
    except Exception:  # a sniffer never raises
        return False
    if wrapper in WRAPPERS:
        return True
    if wrapper is not None:
        return False
    found = set(first) if first else keys
    if "source_order_id" in found or "date_created" in found:
        return False  # the generic format; WooCommerce
    if {"total_price", "financial_status"} & found and (
        {"line_items", "subtotal_price", "total_tax", "gateway"} & found
    ):
        return True
    return _bare_kind(found) not in {"order", "unknown"} and "order_id" in found


def _classified_envelope(piece: jr.Piece) -> tuple[dict[str, Any] | None, Reject | None]:
    return _envelope(piece, _kind(piece))


SPEC = jr.JsonFormat(
    name=FORMAT,
    columns=COLUMNS,
    select=SELECT,
    checks=CHECKS,
    wrappers=WRAPPERS,
    envelope=_classified_envelope,
    order_exprs=ORDER_EXPRS,
    items="line_items",
    is_order=_IS_ORDER,
    prepared=PREPARED,
    streams=(
        jr.Stream("payments", PAYMENT_FIELDS, _payments_sql),
        jr.Stream(
            "events",
            EVENT_FIELDS,
            _events_sql,
            jr.FreeText("detail", "free_detail", _refund_events_sql),
        ),
        jr.Stream("refunds", REFUND_FIELDS, None, jr.FreeText("reason", "reason", _refunds_sql)),
    ),
)


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse a Shopify JSON payload into ``table`` (+ ``_lines`` and the streams)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    wrapper, first, _keys = jr.first_object(head)
    fast = (
        jr.is_ndjson(head)
        and wrapper in (None, "order")
        and first is not None
        and _bare_kind(set(first)) == "order"
    )
    unwrap = "order" if wrapper == "order" else None
    return jr.parse_json_file(con, path, table, SPEC, fast=fast, unwrap=unwrap)
