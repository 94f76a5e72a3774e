"""Parser of WooCommerce REST API v3 payloads: orders (one object, a list, NDJSON, or the
batch response ``{"create": [...], "update": [...], "delete": [...]}``), order refunds and
order notes.

Grain: one source record per order object (or per refund or note object). The order table
has one row per line item, then one per fee line (``line_kind`` fee); an order without
either keeps one row whose line fields are NULL.

Order fields: ``source_order_id`` = ``id``, ``order_number`` = ``number``, ``order_status``
= ``status`` (pending, processing, on-hold, completed, cancelled, refunded, failed), channel
``online_store`` with ``created_via`` (checkout, rest-api, admin...) in ``source_channel``.
Times: the ``*_gmt`` fields are UTC and are written with ``+00:00``; without them the local
time is kept without offset. ``subtotal`` is the sum of the line totals (after coupons, as
Shopify's ``subtotal_price``), a line's discount is its ``subtotal - total`` and its unit
price ``subtotal / quantity``. WooCommerce has no shipment record: **completed means
fulfilled**, so ``date_completed_gmt`` is ``shipped_at`` (not ``delivered_at``) and
``fulfillment_status`` is ``fulfilled`` for completed orders, ``unfulfilled`` for pending,
processing and on-hold ones. ``financial_status``: refunded; partially_refunded when the
order lists refunds; paid when it has ``date_paid`` or is processing/completed; voided when
cancelled or failed unpaid; else pending. ``cancelled_at`` is ``date_modified_gmt`` of a
cancelled order (the best time WooCommerce gives).

Streams: ``_refunds`` (the order's ``refunds`` summaries, and standalone refund payloads
with their line items; amounts positive), ``_events`` (``refunded``, ``cancelled``,
``deleted`` for orders in a batch's ``delete`` list, ``note`` for order notes). Refund and
note payloads name their order only in ``_links.up`` (``.../orders/723``): that id is used;
a refund that names none keeps ``source_order_id`` NULL, a note that names none is
rejected. Customers and other objects are rejected as not orders.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb

from orderlens.contracts import EVENT_FIELDS, REFUND_FIELDS
from pipelines.sources import json_records as jr
from pipelines.sources.generic import LINE, RECORD_NO, ParseResult, Reject

FORMAT = "woocommerce_json"
BATCH_KEYS: frozenset[str] = frozenset({"create", "update", "delete"})

_V = "VARCHAR"
_ADDRESS = jr.struct(
    {
        k: _V
        for k in (
            "first_name",
            "last_name",
            "company",
            "address_1",
            "address_2",
            "city",
            "state",
            "postcode",
            "country",
            "email",
            "phone",
        )
    }
)
_ITEM = {"sku": _V, "name": _V, "quantity": _V, "price": _V, "subtotal": _V, "total": _V}

COLUMNS: dict[str, str] = {
    "_kind": _V,
    "_deleted": _V,
    "id": _V,
    "number": _V,
    "created_via": _V,
    "status": _V,
    "currency": _V,
    **{
        k: _V
        for k in (
            "date_created",
            "date_created_gmt",
            "date_modified",
            "date_modified_gmt",
            "date_paid",
            "date_paid_gmt",
            "date_completed",
            "date_completed_gmt",
            "discount_total",
            "shipping_total",
            "total_tax",
            "prices_include_tax",
            "total",
            "customer_id",
            "customer_note",
            "customer_ip_address",
            "customer_user_agent",
            "payment_method",
            "payment_method_title",
            "transaction_id",
        )
    },
    "billing": _ADDRESS,
    "shipping": _ADDRESS,
    "line_items": jr.struct({**_ITEM, "total_tax": _V}) + "[]",
    "fee_lines": jr.struct({"name": _V, "total": _V, "total_tax": _V}) + "[]",
    "shipping_lines": jr.struct({"method_title": _V, "total": _V}) + "[]",
    "coupon_lines": jr.struct({"code": _V}) + "[]",
    "refunds": jr.struct({"id": _V, "refund": _V, "total": _V}) + "[]",
    # Standalone refund and note payloads, wrapped by the parser (see ``_envelope``).
    "refund_payloads": jr.struct(
        {
            "id": _V,
            "date_created": _V,
            "date_created_gmt": _V,
            "amount": _V,
            "reason": _V,
            "line_items": jr.struct(_ITEM) + "[]",
        }
    )
    + "[]",
    "notes": jr.struct(
        {"id": _V, "note": _V, "customer_note": _V, "date_created": _V, "date_created_gmt": _V}
    )
    + "[]",
}

txt, money, utc = jr.txt, jr.money, jr.utc


def _html(expr: str) -> str:
    """SQL: the few HTML entities WooCommerce writes into names, decoded."""
    pairs = [
        ("&ndash;", "\u2013"),
        ("&#8211;", "\u2013"),
        ("&mdash;", "\u2014"),
        ("&#8212;", "\u2014"),
        ("&times;", "\u00d7"),
        ("&quot;", '"'),
        ("&#039;", "'"),
        ("&#39;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&nbsp;", " "),
        ("&amp;", "&"),
    ]
    for entity, char in pairs:
        expr = f"replace({expr}, {jr.sql_str(entity)}, {jr.sql_str(char)})"
    return expr


# Line items then fee lines, as one list of {kind, sku, name, quantity, subtotal, total, tax}.
SELECT = (
    "*, list_concat("
    "list_transform(line_items, lambda l: {'kind': 'product', 'sku': l.sku, 'name': l.name, "
    "'quantity': l.quantity, 'price': l.price, 'subtotal': l.subtotal, 'total': l.total, "
    "'tax': l.total_tax}), "
    "list_transform(fee_lines, lambda f: {'kind': 'fee', 'sku': NULL, 'name': f.name, "
    "'quantity': '1', 'price': f.total, 'subtotal': f.total, 'total': f.total, "
    "'tax': f.total_tax})) AS items"
)

_IS_ORDER = "coalesce(r._kind, 'order') = 'order'"

CHECKS: tuple[tuple[str, str], ...] = (
    ("id", "id IS NULL AND coalesce(_kind, 'order') = 'order'"),
    *(
        (name, f"coalesce(_kind, 'order') = 'order' AND {jr.bad_money(name)}")
        for name in ("total", "total_tax", "discount_total", "shipping_total")
    ),
    (
        "line_items.quantity",
        "list_bool_or(list_transform(line_items, lambda l: "
        f"{jr.bad_money('l.quantity')} OR {jr.bad_money('l.subtotal')} OR "
        f"{jr.bad_money('l.total')}))",
    ),
    (
        "fee_lines.total",
        f"list_bool_or(list_transform(fee_lines, lambda f: {jr.bad_money('f.total')}))",
    ),
)


def _address(prefix: str, column: str, phone: bool) -> dict[str, str]:
    a = f"r.{column}"
    exprs = {
        f"{prefix}_name": (
            f"nullif(trim(concat_ws(' ', {txt(a + '.first_name')}, {txt(a + '.last_name')})), '')"
        ),
        f"{prefix}_address1": txt(f"{a}.address_1"),
        f"{prefix}_address2": txt(f"{a}.address_2"),
        f"{prefix}_city": txt(f"{a}.city"),
        f"{prefix}_province": txt(f"{a}.state"),
        f"{prefix}_zip": txt(f"{a}.postcode"),
        f"{prefix}_country": txt(f"{a}.country"),
    }
    if phone:
        exprs[f"{prefix}_phone"] = txt(f"{a}.phone")
    return exprs


_STATUS = "lower(r.status)"
_PAID_AT = f"coalesce({utc('r.date_paid_gmt')}, {txt('r.date_paid')})"
_REFUNDED = f"list_sum(list_transform(r.refunds, lambda f: abs({money('f.total')})))"

ORDER_EXPRS: dict[str, str] = {
    "source_order_id": "r.id",
    "order_number": f"coalesce({txt('r.number')}, r.id)",
    "channel": "'online_store'",
    "source_channel": txt("r.created_via"),
    "order_status": txt("r.status"),
    "created_at": f"coalesce({utc('r.date_created_gmt')}, {txt('r.date_created')})",
    "currency": txt("r.currency"),
    "subtotal": f"list_sum(list_transform(r.line_items, lambda l: {money('l.total')}))",
    "total_discounts": money("r.discount_total"),
    "discount_codes": (
        "nullif(array_to_string(list_filter(list_transform(r.coupon_lines, lambda c: "
        f"{txt('c.code')}), lambda c: c IS NOT NULL), ';'), '')"
    ),
    "shipping": money("r.shipping_total"),
    "shipping_method": txt("r.shipping_lines[1].method_title"),
    "total_tax": money("r.total_tax"),
    "taxes_included": "TRY_CAST(r.prices_include_tax AS BOOLEAN)",
    "total": money("r.total"),
    "financial_status": (
        f"CASE WHEN {_STATUS} = 'refunded' THEN 'refunded' "
        "WHEN len(coalesce(r.refunds, [])) > 0 THEN 'partially_refunded' "
        f"WHEN {_PAID_AT} IS NOT NULL OR {_STATUS} IN ('processing', 'completed') THEN 'paid' "
        f"WHEN {_STATUS} IN ('cancelled', 'failed') THEN 'voided' ELSE 'pending' END"
    ),
    "fulfillment_status": (
        f"CASE WHEN {_STATUS} = 'completed' THEN 'fulfilled' "
        f"WHEN {_STATUS} IN ('pending', 'processing', 'on-hold') THEN 'unfulfilled' END"
    ),
    "paid_at": _PAID_AT,
    "cancelled_at": (
        f"CASE WHEN {_STATUS} = 'cancelled' THEN "
        f"coalesce({utc('r.date_modified_gmt')}, {txt('r.date_modified')}) END"
    ),
    "note": txt("r.customer_note"),
    "customer_id": f"CASE WHEN {txt('r.customer_id')} <> '0' THEN {txt('r.customer_id')} END",
    "customer_email": txt("r.billing.email"),
    "customer_phone": txt("r.billing.phone"),
    "customer_first_name": txt("r.billing.first_name"),
    "customer_last_name": txt("r.billing.last_name"),
    **_address("billing", "billing", phone=False),
    **_address("shipping", "shipping", phone=True),
    "client_ip": txt("r.customer_ip_address"),
    "user_agent": txt("r.customer_user_agent"),
    "payment_method": f"coalesce({txt('r.payment_method')}, {txt('r.payment_method_title')})",
    "payment_token": txt("r.transaction_id"),
    "refunded_amount": _REFUNDED,
    "shipped_at": f"coalesce({utc('r.date_completed_gmt')}, {txt('r.date_completed')})",
    # Line fields, from the unnested item ``li`` (NULL for an order without items).
    "line_number": "CASE WHEN li IS NULL THEN NULL ELSE li_no END",
    "sku": txt("li.sku"),
    "product_name": _html(txt("li.name")),
    "quantity": money("li.quantity"),
    "unit_price": (
        f"coalesce(round({money('li.subtotal')} / nullif({money('li.quantity')}, 0), 4), "
        f"{money('li.price')})"
    ),
    "line_discount": f"{money('li.subtotal')} - {money('li.total')}",
    "line_tax": money("li.tax"),
    "line_kind": "li.kind",
}


def _events_sql(recs: str) -> str:
    """Events; ``c5`` is the text people typed (refund reasons, notes), redacted apart."""
    parts = [
        "SELECT r.id AS c0, 'refunded' AS c1, NULL AS c2, "
        f"concat_ws('; ', 'refund: ' || u.f.id, 'amount: ' || abs({money('u.f.total')})) AS c3, "
        f"r.{LINE} AS c4, r.{RECORD_NO} AS c6, 'reason: ' || {txt('u.f.refund')} AS c5 "
        f"FROM {recs} r, (SELECT unnest(r.refunds) AS f) u",
        "SELECT r.id, 'refunded', "
        f"coalesce({utc('u.f.date_created_gmt')}, {txt('u.f.date_created')}), "
        f"concat_ws('; ', 'refund: ' || u.f.id, 'amount: ' || {money('u.f.amount')}), r.{LINE}, r.{RECORD_NO}, "
        f"'reason: ' || {txt('u.f.reason')} "
        f"FROM {recs} r, (SELECT unnest(r.refund_payloads) AS f) u",
        f"SELECT r.id, 'cancelled', {ORDER_EXPRS['cancelled_at']}, NULL, r.{LINE}, r.{RECORD_NO}, NULL "
        f"FROM {recs} r WHERE {_IS_ORDER} AND {_STATUS} = 'cancelled'",
        "SELECT r.id, 'deleted', NULL, 'in the delete list of a batch response', "
        f"r.{LINE}, r.{RECORD_NO}, NULL FROM {recs} r WHERE {_IS_ORDER} AND r._deleted = 'true'",
        "SELECT r.id, 'note', "
        f"coalesce({utc('u.n.date_created_gmt')}, {txt('u.n.date_created')}), NULL, r.{LINE}, r.{RECORD_NO}, "
        "CASE WHEN TRY_CAST(u.n.customer_note AS BOOLEAN) THEN 'to customer: ' ELSE '' END "
        f"|| {txt('u.n.note')} FROM {recs} r, (SELECT unnest(r.notes) AS n) u",
    ]
    return (
        "SELECT c0 AS source_order_id, c1 AS event, c2 AS occurred_at, "
        f"nullif(c3, '') AS detail, c4 AS {LINE}, c6 AS {RECORD_NO}, c5 AS free_detail "
        f"FROM ({' UNION ALL '.join(parts)})"
    )


def _refunds_sql(recs: str) -> str:
    summaries = (
        "SELECT u.f.id AS refund_id, r.id AS _order, NULL AS _at, r.currency AS _currency, "
        f"{txt('u.f.refund')} AS reason, [] AS items, abs({money('u.f.total')}) AS paid, "
        f"r.{LINE}, r.{RECORD_NO} FROM {recs} r, (SELECT unnest(r.refunds) AS f) u"
    )
    items = (
        "list_transform(u.f.line_items, lambda x: {'sku': "
        + txt("x.sku")
        + ", 'quantity': abs("
        + money("x.quantity")
        + "), 'value': abs(coalesce("
        + money("x.total")
        + ", "
        + money("x.subtotal")
        + "))})"
    )
    payloads = (
        "SELECT u.f.id, r.id, "
        f"coalesce({utc('u.f.date_created_gmt')}, {txt('u.f.date_created')}), r.currency, "
        f"{txt('u.f.reason')}, {items}, abs({money('u.f.amount')}), r.{LINE}, r.{RECORD_NO} "
        f"FROM {recs} r, (SELECT unnest(r.refund_payloads) AS f) u"
    )
    return jr.refund_rows_sql(f"{summaries} UNION ALL {payloads}")


# --------------------------------------------------------------------------- Python side

_ORDER_LINK = re.compile(r"/orders/(\d+)(?:/|$)")


def _order_of(value: dict[str, Any]) -> str | None:
    """The order a refund or note belongs to: ``order_id`` if given, else ``_links.up``."""
    if value.get("order_id") not in (None, "", 0):
        return str(value["order_id"])
    links = value.get("_links")
    ups = links.get("up") if isinstance(links, dict) else None
    for link in ups if isinstance(ups, list) else []:
        href = link.get("href") if isinstance(link, dict) else None
        found = _ORDER_LINK.search(href) if isinstance(href, str) else None
        if found:
            return found.group(1)
    return None


def _kind(value: Any) -> str:
    if not isinstance(value, dict):
        return "unknown"
    keys = set(value)
    if (
        "refunded_by" in keys
        or "refunded_payment" in keys
        or ({"amount", "reason"} <= keys and "billing" not in keys)
    ):
        return "refund"
    if {"author", "note"} <= keys or ({"note", "customer_note"} <= keys and "billing" not in keys):
        return "note"
    if "username" in keys or "role" in keys or "is_paying_customer" in keys:
        return "customer"
    if keys & {"line_items", "order_key", "billing", "number"} and "date_created" in keys:
        return "order"
    if "line_items" in keys or "order_key" in keys:
        return "order"
    return "unknown"


def _envelope(piece: jr.Piece) -> tuple[dict[str, Any] | None, Reject | None]:
    value = piece.value
    kind = _kind(value)
    if kind == "order":
        deleted = "true" if piece.wrapper == "delete" else None
        return {**value, "_kind": "order", "_deleted": deleted}, None
    if kind == "refund":
        return {"_kind": "refund", "id": _order_of(value), "refund_payloads": [value]}, None
    if kind == "note":
        order_id = _order_of(value)
        if order_id is None:
            return None, jr.reject(
                piece.line,
                None,
                "NOT_AN_ORDER",
                "order note that names no order (no order_id, no _links.up)",
                jr.raw_text(value),
            )
        return {"_kind": "note", "id": order_id, "notes": [value]}, None
    reason = (
        "customer record, not an order"
        if kind == "customer"
        else ("not a WooCommerce order, refund or order note")
    )
    return None, jr.reject(piece.line, None, "NOT_AN_ORDER", reason, jr.raw_text(value))


# --------------------------------------------------------------------------- protocol


def sniff(path: Path, head: bytes) -> bool:
    """A WooCommerce order, order list or batch, NDJSON of orders, refund(s) or note(s)."""
    if path.suffix.lower() not in jr.JSON_SUFFIXES:
        return False
    try:
        wrapper, first, keys = jr.first_object(head)
    except Exception:  # a sniffer never raises
        return False
    if wrapper is not None:
        return wrapper in BATCH_KEYS
    found = set(first) if first else keys
    if "source_order_id" in found or "total_price" in found:
        return False  # the generic format; Shopify
    if "date_created" in found and (
        {"billing", "line_items", "order_key", "prices_include_tax"} & found
    ):
        return True
    return "date_created" in found and _kind(first or dict.fromkeys(found)) in {"refund", "note"}


SPEC = jr.JsonFormat(
    name=FORMAT,
    columns=COLUMNS,
    select=SELECT,
    checks=CHECKS,
    wrappers=BATCH_KEYS,
    envelope=_envelope,
    order_exprs=ORDER_EXPRS,
    items="items",
    is_order=_IS_ORDER,
    streams=(
        jr.Stream("events", EVENT_FIELDS, None, jr.FreeText("detail", "free_detail", _events_sql)),
        jr.Stream("refunds", REFUND_FIELDS, None, jr.FreeText("reason", "reason", _refunds_sql)),
    ),
)


def parse(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> ParseResult:
    """Parse a WooCommerce JSON payload into ``table`` (+ ``_lines`` and the streams)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 20)
    wrapper, first, _keys = jr.first_object(head)
    fast = jr.is_ndjson(head) and wrapper is None and first is not None and _kind(first) == "order"
    return jr.parse_json_file(con, path, table, SPEC, fast=fast)
