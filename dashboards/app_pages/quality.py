"""Data quality: where order entry breaks, and the orders held for it.

Reads the quality tables the pipeline publishes (``quality_findings``, ``quality_quarantine``,
``quality_daily``); a snapshot from a release without them says so.

* **Headline**: orders checked, orders with a finding, orders quarantined and how many of
  them are paid (their money still reaches the books, flagged).
* **Trend per channel**: share of each day's orders (order date, merchant time zone) with no
  finding, per channel; the rule filter narrows it to chosen rules.
* **Top failing rules**: findings and orders per reason code and severity, with what the
  rule means.
* **Quarantine browser**: the held orders, filtered by channel, source, reason code, paid,
  and order key, a page of :data:`PAGE_SIZE` at a time; below it the findings of the page's
  orders (code, severity, column, message, file and line). The downloads hold every
  matching order and its findings (up to :data:`EXPORT_LIMIT` orders), as CSV safe against
  spreadsheet formula injection. The offending value can be personal data (an e-mail, a
  phone): it is read and shown only for roles that may see personal data.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import auth, queries, ui
from orderlens.reasons import REASONS, ReasonCode
from orderlens.users import Page, can_see_personal_data

PAGE_SIZE = 25
"""Held orders per page of the browser: what the page sends stays small whatever the number
of quarantined orders."""
FINDINGS_SHOWN = 100
"""At most this many findings of a page's orders are shown (the download has them all)."""
EXPORT_LIMIT = 10_000
"""Orders (and their findings) in a download at most."""
QUALITY_TABLES = ("quality_findings", "quality_quarantine", "quality_daily")


def _in_list(column: str, chosen: list[str], where: list[str], params: list[Any]) -> None:
    if chosen:
        where.append(f"list_contains(?::VARCHAR[], {column})")
        params.append(list(chosen))


def describe(code: str) -> str:
    """What a reason code means (the code itself for one this release does not know)."""
    try:
        return REASONS[ReasonCode(code)].description
    except ValueError:
        return code


def headline() -> dict[str, int]:
    """Orders checked, with any finding, quarantined, and quarantined while paid."""
    row = queries.query(
        "SELECT (SELECT coalesce(sum(orders), 0) FROM (SELECT channel, order_date, "
        "max(checked) AS orders FROM quality_daily GROUP BY ALL)) AS checked, "
        "(SELECT count(DISTINCT order_key) FROM quality_findings) AS flagged, "
        "(SELECT count(*) FROM quality_quarantine) AS quarantined, "
        "(SELECT count(*) FILTER (WHERE is_paid) FROM quality_quarantine) AS quarantined_paid"
    ).row(0, named=True)
    return {k: int(v or 0) for k, v in row.items()}


def trend(codes: list[str]) -> pl.DataFrame:
    """One row per order day and channel: orders, orders with a finding (of ``codes`` when
    given) and the clean share."""
    where, params = ["TRUE"], []
    _in_list("reason_code", codes, where, params)
    return queries.query(
        "WITH orders AS (SELECT channel, order_date, max(checked) AS orders FROM quality_daily "
        "GROUP BY ALL), flagged AS (SELECT channel, order_date, count(DISTINCT order_key) AS "
        f"flagged FROM quality_findings WHERE {' AND '.join(where)} GROUP BY ALL) "
        "SELECT o.order_date, o.channel, o.orders, coalesce(f.flagged, 0) AS flagged, "
        "round(1 - coalesce(f.flagged, 0) / o.orders, 4) AS clean_share "
        "FROM orders o LEFT JOIN flagged f USING (channel, order_date) "
        "ORDER BY o.order_date, o.channel",
        params,
    )


def top_rules() -> pl.DataFrame:
    """One row per reason code and severity: findings and orders, most orders first."""
    frame = queries.query(
        "SELECT reason_code, severity, family, count(*) AS findings, "
        "count(DISTINCT order_key) AS orders, "
        "list(DISTINCT channel ORDER BY channel) AS channels "
        "FROM quality_findings GROUP BY ALL ORDER BY orders DESC, reason_code, severity"
    )
    return frame.with_columns(
        pl.col("reason_code").map_elements(describe, return_dtype=pl.String).alias("meaning"),
        pl.col("channels").list.join(", "),
    )


def held_codes() -> list[str]:
    """The error codes that hold at least one order (the quarantine browser's code filter)."""
    frame = queries.query(
        "SELECT DISTINCT unnest(error_codes) AS code FROM quality_quarantine ORDER BY 1"
    )
    return [str(code) for code in frame["code"].to_list()]


def quarantined(
    channels: list[str], sources: list[str], codes: list[str], paid_only: bool, search: str
) -> pl.DataFrame:
    where, params = ["TRUE"], []
    _in_list("channel", channels, where, params)
    _in_list("source", sources, where, params)
    if codes:
        where.append("list_has_any(error_codes, ?::VARCHAR[])")
        params.append(list(codes))
    if paid_only:
        where.append("is_paid")
    if search.strip():
        where.append("order_key ILIKE ? ESCAPE '\\'")
        params.append(queries.like_pattern(search.strip()))
    return queries.query(
        "SELECT order_key, source, channel, order_date, currency, total, is_paid AS paid, "
        "errors, warnings, array_to_string(error_codes, ', ') AS error_codes, "
        f"file_name AS file, line FROM quality_quarantine WHERE {' AND '.join(where)} "
        f"ORDER BY order_date DESC, order_key LIMIT {EXPORT_LIMIT + 1}",
        params,
    )


def findings_of(order_keys: list[str], allowed: bool) -> pl.DataFrame:
    """Every finding of the given orders; the offending value only for ``allowed`` roles."""
    value = ", value" if allowed else ""
    return queries.query(
        "SELECT order_key, line_number AS order_line, reason_code, severity, "
        f"column_name AS column, message{value}, file_name AS file, line "
        "FROM quality_findings WHERE list_contains(?::VARCHAR[], order_key) "
        "ORDER BY order_key, line_number NULLS FIRST, severity, reason_code",
        [order_keys],
    )


def _headline() -> None:
    numbers = headline()
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Orders checked", f"{numbers['checked']:,}")
    c2.metric("Orders with a finding", f"{numbers['flagged']:,}")
    c3.metric("Orders quarantined", f"{numbers['quarantined']:,}")
    c4.metric(
        "Quarantined and paid",
        f"{numbers['quarantined_paid']:,}",
        help="Paid orders held by an error still reach the books, flagged.",
    )


def _trend(codes_known: list[str]) -> None:
    st.subheader("Clean orders per day and channel")
    codes = st.multiselect("Rules", codes_known, key="trend_codes", format_func=_code_label)
    frame = trend(codes)
    if frame.height == 0:
        st.info("No orders were checked.")
        return
    st.line_chart(frame.to_pandas(), x="order_date", y="clean_share", color="channel", height=260)
    st.caption(
        "Share of each day's orders with no finding"
        + (" of the chosen rules." if codes else " (errors or warnings).")
    )


def _top_rules() -> None:
    st.subheader("Top failing rules")
    frame = top_rules()
    if frame.height == 0:
        st.success("No rule failed on any order.", icon=":material/check_circle:")
        return
    st.dataframe(
        frame.select(
            "reason_code", "severity", "family", "orders", "findings", "channels", "meaning"
        ),
        hide_index=True,
        width="stretch",
    )


def _quarantine(allowed: bool) -> None:
    st.subheader("Quarantine")
    st.caption(
        "Orders held out of the analytics marts, fraud scoring and fulfilment by an error; "
        "fix the source file (or send a corrected one) and the next run checks them again."
    )
    c1, c2, c3, c4 = st.columns(4)
    channels = c1.multiselect(
        "Channel", queries.distinct("quality_quarantine", "channel"), key="q_channels"
    )
    sources = c2.multiselect(
        "Source", queries.distinct("quality_quarantine", "source"), key="q_sources"
    )
    codes = c3.multiselect("Error", held_codes(), key="q_codes", format_func=_code_label)
    search = c4.text_input("Order key contains", key="q_search", max_chars=200)
    paid_only = st.toggle("Paid orders only", key="q_paid")
    matching = quarantined(channels, sources, codes, paid_only, search)
    ui.truncation_note(matching.height, EXPORT_LIMIT)
    matching = matching.head(EXPORT_LIMIT)
    if matching.height == 0:
        st.info("No quarantined orders match these filters.")
        return
    st.caption(f"{matching.height:,} order(s) · {int(matching['paid'].sum()):,} paid")
    pages = -(-matching.height // PAGE_SIZE)
    if st.session_state.get("q_page", 1) > pages:
        st.session_state["q_page"] = 1  # the filters left fewer pages
    page = 1
    if pages > 1:
        page = int(st.number_input("Page", 1, pages, key="q_page", step=1))
    first = (page - 1) * PAGE_SIZE
    frame = matching.slice(first, PAGE_SIZE)
    st.caption(f"Orders {first + 1:,} to {first + frame.height:,} of {matching.height:,}")
    st.dataframe(frame, hide_index=True, width="stretch")
    every_finding = findings_of(matching["order_key"].to_list(), allowed)
    ui.csv_download(matching, "quarantined_orders.csv", "Download quarantine CSV", "q_csv")
    details = every_finding.filter(pl.col("order_key").is_in(frame["order_key"].implode()))
    st.markdown("**Findings of these orders**")
    if not allowed:
        st.caption("Offending values are hidden for your role (they can be personal data).")
    if details.height > FINDINGS_SHOWN:
        st.caption(
            f"Showing {FINDINGS_SHOWN:,} of these orders' {details.height:,} findings; "
            "the download has them all."
        )
    st.dataframe(details.head(FINDINGS_SHOWN), hide_index=True, width="stretch")
    ui.csv_download(every_finding, "quarantine_findings.csv", "Download findings CSV", "qf_csv")


def _code_label(code: str) -> str:
    return f"{code} — {describe(code)}"


def render() -> None:
    user = auth.require_page(Page.QUALITY)
    st.title("Data quality")
    ui.snapshot_or_stop()
    missing = [t for t in QUALITY_TABLES if not queries.has_table(t)]
    if missing:
        st.info(
            "This snapshot has no entry-accuracy results (it was published by a release "
            f"without {', '.join(missing)}). Publish it again with `orderlens run`."
        )
        return
    codes_known = queries.distinct("quality_findings", "reason_code")
    _headline()
    st.divider()
    _trend(codes_known)
    st.divider()
    _top_rules()
    st.divider()
    _quarantine(can_see_personal_data(user.role))


if __name__ == "__main__":
    render()
