"""Orders: the order history explorer, one order's detail with its lines, CSV download.

Customer e-mail, phone, name, shipping address, IP address and device id are masked (with
``orderlens.security.mask_frame``) before anything reaches the browser, unless the role may
see personal data (``can_see_personal_data``). The card is only ever shown as brand and last
four digits. Search is by order number (or the selling system's order id) only, so a role
without personal data cannot probe for a customer's e-mail.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import streamlit as st

from dashboards import auth, queries, ui
from orderlens.security import card_display, mask_frame
from orderlens.users import Page, can_see_personal_data

ROW_LIMIT = 5_000

PERSONAL_COLUMNS: dict[str, str] = {
    "customer_email": "email",
    "customer_phone": "phone",
    "customer_name": "name",
    "shipping_address": "text",
    "client_ip": "ip",
    "device_id": "text",
}

_COLUMNS = (
    "order_key, order_number, source_order_id, created_at, order_date, channel, source, store, "
    "financial_status, fulfillment_status, cancelled_at, currency, subtotal, total_discounts, "
    "array_to_string(discount_codes, ', ') AS discount_codes, shipping, shipping_method, "
    "total_tax, taxes_included, total, fx_rate, total_reporting, line_count, units, "
    "customer_email, customer_phone, customer_name, is_guest, shipping_address, "
    "shipping_country, billing_country, client_ip, device_id, payment_method, card_brand, "
    "card_last4, promised_delivery_date, file_name, line"
)

# Shown in the table; the rest appears in the order detail.
_TABLE_COLUMNS = [
    "order_number",
    "created_at",
    "channel",
    "source",
    "financial_status",
    "fulfillment_status",
    "currency",
    "total",
    "total_reporting",
    "customer_name",
    "customer_email",
    "customer_phone",
    "shipping_country",
    "line_count",
]


def _filters(bounds: tuple[date, date]) -> tuple[str, list[Any]]:
    """The filter widgets; returns a WHERE clause (fixed text, values as parameters)."""
    c1, c2, c3 = st.columns([2, 2, 2])
    with c1:
        start, end = ui.date_range("orders_dates", bounds)
        number = st.text_input(
            "Order number", key="orders_search", placeholder="e.g. #1001", max_chars=100
        )
    with c2:
        channels = st.multiselect(
            "Channel", queries.distinct("fct_orders", "channel"), key="orders_channels"
        )
        sources = st.multiselect(
            "Source", queries.distinct("fct_orders", "source"), key="orders_sources"
        )
    with c3:
        financial = st.multiselect(
            "Financial status",
            queries.distinct("fct_orders", "financial_status"),
            key="orders_financial",
        )
        fulfillment = st.multiselect(
            "Fulfillment status",
            queries.distinct("fct_orders", "fulfillment_status"),
            key="orders_fulfillment",
        )
        cancelled = st.selectbox(
            "Cancelled", ["all orders", "not cancelled", "cancelled only"], key="orders_cancelled"
        )
    where = ["order_date BETWEEN ? AND ?"]
    params: list[Any] = [start, end]
    for column, chosen in (
        ("channel", channels),
        ("source", sources),
        ("financial_status", financial),
        ("fulfillment_status", fulfillment),
    ):
        if chosen:
            where.append(f"list_contains(?::VARCHAR[], {column})")
            params.append(list(chosen))
    if number.strip():
        where.append("(order_number ILIKE ? ESCAPE '\\' OR source_order_id ILIKE ? ESCAPE '\\')")
        pattern = queries.like_pattern(number.strip())
        params += [pattern, pattern]
    if cancelled == "not cancelled":
        where.append("cancelled_at IS NULL")
    elif cancelled == "cancelled only":
        where.append("cancelled_at IS NOT NULL")
    return " AND ".join(where), params


def _prepare(frame: pl.DataFrame, allowed: bool, tz: str) -> pl.DataFrame:
    """Mask personal data, show the card as brand and last four, times in merchant time."""
    frame = mask_frame(frame, PERSONAL_COLUMNS, allowed)
    cards = [
        card_display(brand, last4)
        for brand, last4 in zip(
            frame["card_brand"].to_list(), frame["card_last4"].to_list(), strict=True
        )
    ]
    frame = frame.with_columns(pl.Series("card", cards, dtype=pl.String)).drop(
        "card_brand", "card_last4"
    )
    return queries.to_local(frame, tz)


def _detail(order: dict[str, Any], currency: str) -> None:
    st.subheader(f"Order {order['order_number'] or order['source_order_id']}")
    left, right = st.columns(2)
    skip = {"order_key"}
    items = [(k, v) for k, v in order.items() if k not in skip]
    half = (len(items) + 1) // 2
    for column, chunk in ((left, items[:half]), (right, items[half:])):
        column.dataframe(
            pl.DataFrame(
                {
                    "field": [k for k, _ in chunk],
                    "value": ["" if v is None else str(v) for _, v in chunk],
                }
            ),
            hide_index=True,
            width="stretch",
        )
    lines = queries.query(
        "SELECT line_number, sku, product_name, quantity, unit_price, line_discount, line_tax, "
        "line_amount, vendor, requires_shipping, fulfillment_location FROM fct_order_lines "
        "WHERE order_key = ? ORDER BY line_number",
        (order["order_key"],),
    )
    st.markdown(f"**Lines** (amounts in {order['currency']}; reporting currency {currency})")
    if lines.height:
        st.dataframe(lines, hide_index=True, width="stretch")
    else:
        st.caption("This order has no lines in the snapshot.")


def render() -> None:
    user = auth.require_page(Page.ORDERS)
    st.title("Orders")
    ui.snapshot_or_stop()
    allowed = can_see_personal_data(user.role)
    tz = queries.timezone_name()
    currency = queries.reporting_currency()
    bounds = queries.order_date_bounds()
    if bounds is None:
        st.info("The published snapshot holds no orders yet.", icon=":material/inbox:")
        return
    if not allowed:
        st.caption(
            f":material/lock: Customer contact details are masked for your role ({user.role})."
        )
    where, params = _filters(bounds)
    raw = queries.query(
        f"SELECT {_COLUMNS} FROM fct_orders WHERE {where} "
        f"ORDER BY created_at DESC, order_key LIMIT {ROW_LIMIT + 1}",
        params,
    )
    frame = _prepare(raw.head(ROW_LIMIT), allowed, tz)
    if raw.height > ROW_LIMIT:
        st.markdown(f"**More than {ROW_LIMIT:,}** orders match.")
    else:
        st.markdown(f"**{raw.height:,}** order(s) match.")
    ui.truncation_note(raw.height, ROW_LIMIT)
    if frame.height == 0:
        st.info("No orders match these filters.")
        return
    table_columns = [c for c in _TABLE_COLUMNS if c in frame.columns]
    st.dataframe(frame.select(table_columns), hide_index=True, width="stretch")
    ui.csv_download(frame.drop("order_key"), "orders.csv", "Download CSV", "orders_csv")

    keys = frame["order_key"].to_list()
    labels = {
        row["order_key"]: (
            f"{row['order_number'] or row['source_order_id']} · {row['created_at']:%Y-%m-%d %H:%M}"
            f" · {row['channel']}"
        )
        for row in frame.select(
            "order_key", "order_number", "source_order_id", "created_at", "channel"
        ).iter_rows(named=True)
    }
    chosen = st.selectbox(
        "Order detail",
        keys,
        index=None,
        format_func=lambda key: labels.get(str(key)) or str(key),
        placeholder="Choose an order to see its detail and lines",
        key="orders_detail",
    )
    if chosen is not None:
        order = frame.filter(pl.col("order_key") == chosen).row(0, named=True)
        _detail(order, currency)


if __name__ == "__main__":
    render()
