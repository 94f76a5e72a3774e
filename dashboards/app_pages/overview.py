"""Overview: active alerts, order KPIs, orders and revenue by channel and day, pipeline health,
orders by source and channel, and the ingestion log.

Active alerts (a failed run or blocking check, until a later run succeeds) are shown first,
one box each, to every role; a stale-data warning with "data as of" follows when no run has
succeeded (and nothing was published) within ``Settings.stale_after_hours``.

KPI definitions (all over the selected order-date range, merchant time zone):

* **Orders**: every order placed (cancelled ones too, unless excluded with the toggle).
* **Revenue**: sum of ``total_reporting`` (order totals converted to the reporting currency).
  Orders without an FX rate have a NULL ``total_reporting`` and are left out (a warning
  gives their count).
* **AOV**: revenue / number of orders *with* a known rate.

Each KPI is also written as a plain marker for browser tests:
``<span data-testid="kpi-orders">``, ``kpi-revenue`` and ``kpi-aov``, holding the raw number
(orders as an integer; revenue and AOV rounded half-up to 2 decimals, no thousands separators;
``n/a`` for an AOV without any order with a rate).

**Orders by source and channel** (the selected range and cancelled toggle apply): one row per
landing source (its subfolder) and canonical channel, with orders, revenue, share of the range's
orders and the source's own channel labels (``channel_raw``, e.g. Shopify ``web`` or an app
id). **Ingestion log**: one row per order file ingested (newest first) with the detected
format, records, orders, rejected records, status, parse time and message; reference files are
listed apart. Both hold file names, labels and counts only: no personal data, so every role
sees them. A snapshot published before ``channel_raw`` or ``ingest_files.orders`` existed
shows those cells blank.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl
import streamlit as st

from dashboards import auth, queries, ui
from orderlens.runlog import RunLog
from orderlens.users import Page

_RANGE = "order_date BETWEEN ? AND ? AND (NOT ? OR cancelled_at IS NULL)"

# Raw channel labels listed per source and channel before "(+N more)".
MAX_RAW_LABELS = 10
# Newest order files listed in the ingestion log (the Ingestion page lists and filters all).
LOG_LIMIT = 1_000


@dataclass(frozen=True)
class Kpis:
    orders: int
    orders_with_rate: int
    revenue: Decimal | None
    aov: Decimal | None

    @property
    def orders_without_rate(self) -> int:
        return self.orders - self.orders_with_rate


def kpis(start: date, end: date, exclude_cancelled: bool = False) -> Kpis:
    """The headline numbers, exactly as shown (revenue and AOV rounded to cents)."""
    row = queries.query(
        "SELECT count(*) AS orders, count(total_reporting) AS orders_with_rate, "
        f"sum(total_reporting) AS revenue FROM fct_orders WHERE {_RANGE}",
        (start, end, exclude_cancelled),
    ).row(0, named=True)
    orders = int(row["orders"] or 0)
    with_rate = int(row["orders_with_rate"] or 0)
    revenue_exact = Decimal(str(row["revenue"])) if row["revenue"] is not None else None
    aov = revenue_exact / with_rate if revenue_exact is not None and with_rate else None
    return Kpis(orders, with_rate, queries.cents(revenue_exact), queries.cents(aov))


def _marker(value: Decimal | int | None) -> str:
    if value is None:
        return "n/a"
    return str(value)


def _money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _render_kpis(k: Kpis, currency: str) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Orders", f"{k.orders:,}")
    c2.metric(f"Revenue ({currency})", _money(k.revenue))
    c3.metric(f"Average order value ({currency})", _money(k.aov))
    st.caption(
        f'Orders <span data-testid="kpi-orders">{_marker(k.orders)}</span> · '
        f'revenue <span data-testid="kpi-revenue">{_marker(k.revenue)}</span> · '
        f'AOV <span data-testid="kpi-aov">{_marker(k.aov)}</span>',
        unsafe_allow_html=True,
    )
    if k.orders_without_rate:
        st.warning(
            f"{k.orders_without_rate:,} order(s) in this range have no FX rate to {currency}: "
            "they count in Orders but not in Revenue or AOV. Add the missing rates to the "
            "FX reference file and run the pipeline again.",
            icon=":material/currency_exchange:",
        )


def _daily(start: date, end: date, exclude_cancelled: bool) -> pl.DataFrame:
    """Orders and revenue per day and channel; days without orders are 0 (continuous lines)."""
    return queries.query(
        "WITH days AS (SELECT CAST(unnest(generate_series(CAST(? AS DATE), CAST(? AS DATE), "
        "INTERVAL 1 DAY)) AS DATE) AS order_date), "
        f"channels AS (SELECT DISTINCT channel FROM fct_orders WHERE {_RANGE}), "
        "agg AS (SELECT order_date, channel, count(*) AS orders, sum(total_reporting) AS revenue "
        f"FROM fct_orders WHERE {_RANGE} GROUP BY ALL) "
        "SELECT d.order_date, c.channel, coalesce(a.orders, 0) AS orders, "
        "CAST(coalesce(a.revenue, 0) AS DOUBLE) AS revenue "
        "FROM days d CROSS JOIN channels c LEFT JOIN agg a USING (order_date, channel) "
        "ORDER BY d.order_date, c.channel",
        (start, end, start, end, exclude_cancelled, start, end, exclude_cancelled),
    )


def _by_channel(start: date, end: date, exclude_cancelled: bool) -> pl.DataFrame:
    frame = queries.query(
        "SELECT channel, count(*) AS orders, "
        "count(*) - count(total_reporting) AS orders_without_fx_rate, "
        "sum(total_reporting) AS revenue FROM fct_orders "
        f"WHERE {_RANGE} GROUP BY channel ORDER BY revenue DESC NULLS LAST, channel",
        (start, end, exclude_cancelled),
    )
    with_rate = pl.col("orders") - pl.col("orders_without_fx_rate")
    revenue = pl.col("revenue").cast(pl.Float64)
    return frame.with_columns(
        pl.when(with_rate > 0).then(revenue / with_rate).otherwise(None).round(2).alias("aov"),
        # No share when the range has no revenue (avoids 0/0 = NaN).
        pl.when(revenue.sum() > 0)
        .then(revenue / revenue.sum() * 100)
        .otherwise(None)
        .round(1)
        .alias("revenue_share_pct"),
        revenue.round(2).alias("revenue"),
    )


def _render_charts(start: date, end: date, exclude_cancelled: bool, currency: str) -> None:
    daily = _daily(start, end, exclude_cancelled)
    left, right = st.columns(2)
    with left:
        st.subheader("Orders by day and channel")
        st.bar_chart(daily, x="order_date", y="orders", color="channel", x_label="", y_label="")
    with right:
        st.subheader(f"Revenue by day and channel ({currency})")
        st.line_chart(daily, x="order_date", y="revenue", color="channel", x_label="", y_label="")
    st.subheader("By channel")
    st.dataframe(
        _by_channel(start, end, exclude_cancelled),
        hide_index=True,
        width="stretch",
        column_config={
            "revenue": st.column_config.NumberColumn(f"revenue ({currency})", format="%.2f"),
            "aov": st.column_config.NumberColumn(f"AOV ({currency})", format="%.2f"),
            "revenue_share_pct": st.column_config.NumberColumn("share of revenue %"),
        },
    )


def _render_freshness(tz: str, stale_after_hours: float) -> None:
    published = queries.published_at()
    latest = queries.query("SELECT max(created_at) AS latest FROM fct_orders").item()
    st.caption(
        f"Data as of **{queries.local_time(published, tz)}** (published) · latest order "
        f"**{queries.local_time(latest, tz)}** · times in {tz}"
    )
    try:
        fresh = RunLog(queries.settings().run_log).freshness(stale_after_hours, published)
    except (sqlite3.Error, OSError):
        return  # the last-run section below says the run log cannot be read
    if fresh.stale:
        last = queries.local_time(fresh.last_success_at, tz) if fresh.last_success_at else "never"
        st.warning(
            f"**Stale data**: no successful pipeline run in the last {stale_after_hours:g} "
            f"hours (last success: {last}). Data as of {queries.local_time(published, tz)}; "
            "check the alerts and the last pipeline run.",
            icon=":material/schedule:",
        )


_MAX_ALERT_BOXES = 5


def _render_alerts(tz: str) -> None:
    """One box per active alert (newest first), until a later run succeeds.

    Alerts hold run ids, step and asset names and a redacted one-line error: no personal
    data, so every signed-in role sees them.
    """
    try:
        alerts = RunLog(queries.settings().run_log).active_alerts()
    except (sqlite3.Error, OSError):
        return  # the last-run section says the run log cannot be read
    for alert in alerts[:_MAX_ALERT_BOXES]:
        what = (
            "A blocking data check failed"
            if alert.kind == "check_failed"
            else "A pipeline run failed"
        )
        st.error(
            f"**{what}** · run `{alert.run_id}` at `{alert.where}` · raised "
            f"{queries.local_time(alert.raised_at, tz)}\n\n{alert.error_summary}\n\n"
            "The dashboard shows the last published snapshot; this alert stays until a later "
            "run succeeds.",
            icon=":material/notification_important:",
        )
    if len(alerts) > _MAX_ALERT_BOXES:
        st.error(
            f"{len(alerts) - _MAX_ALERT_BOXES} more active alert(s): `orderlens status` lists "
            "them all.",
            icon=":material/notification_important:",
        )


def _render_last_run(tz: str) -> None:
    st.subheader("Last pipeline run")
    try:
        run = RunLog(queries.settings().run_log).latest()
    except (sqlite3.Error, OSError) as exc:
        st.warning(f"The run log cannot be read: {exc}")
        return
    if run is None:
        st.info("No pipeline run recorded yet.")
        return
    finished = queries.local_time(run.finished_at, tz) if run.finished_at else "—"
    summary = f"Run `{run.run_id}` · started {queries.local_time(run.started_at, tz)} · finished {finished}"
    if run.status == "success":
        st.success(f"{summary} · **succeeded**", icon=":material/check_circle:")
    elif run.status == "failure":
        step = f" at step `{run.failed_step}`" if run.failed_step else ""
        st.error(
            f"{summary} · **failed**{step}: {run.error_summary or 'no error summary recorded'}. "
            "The dashboard still shows the last published snapshot.",
            icon=":material/error:",
        )
    else:
        st.info(f"{summary} · **{run.status}**", icon=":material/pending:")


def _render_rejects(show_link: bool) -> None:
    st.subheader("Ingestion quality")
    files = queries.query(
        # Order files only for files and lines; rejects of reference files count too.
        "SELECT count(*) FILTER (WHERE source <> '_reference') AS files, "
        "coalesce(sum(records) FILTER (WHERE source <> '_reference'), 0) AS records, "
        "coalesce(sum(loaded) FILTER (WHERE source <> '_reference'), 0) AS loaded, "
        "coalesce(sum(rejected), 0) AS rejected, "
        "count(*) FILTER (WHERE status = 'partial') AS partial_files, "
        "count(*) FILTER (WHERE status = 'rejected') AS rejected_files FROM ingest_files"
    ).row(0, named=True)
    held = queries.held_counts()
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Order files", f"{files['files']:,}")
    c2.metric("Order lines loaded", f"{files['loaded']:,}")
    c3.metric(
        "Records rejected",
        f"{files['rejected']:,}",
        help="Records of order and reference files that could not be parsed at ingest and "
        "were not loaded.",
    )
    c4.metric(
        "Orders held",
        "n/a" if held is None else f"{held.orders:,}",
        help="Orders whose records were loaded but that cannot enter staging (for example "
        "created_at is not a timestamp); they are in no KPI.",
    )
    c5.metric(
        "Files not clean",
        f"{files['partial_files'] + files['rejected_files']:,}",
        help="Files partly (status 'partial') or wholly (status 'rejected') rejected.",
    )
    rejected = _count(files["rejected"], "record", "records")
    if held is None:
        st.caption(
            f"{rejected} rejected at ingest; this snapshot does not record the orders held out "
            "of staging (publish it again with `orderlens run`)."
        )
    else:
        orphans = (
            f" ({_count(held.lines_without_order, 'line', 'lines')} without an order id)"
            if held.lines_without_order
            else ""
        )
        st.caption(
            f"{rejected} rejected at ingest, "
            f"{_count(held.orders, 'order', 'orders')} held out of staging{orphans}."
        )
    # ingest_rejects has one row per problem; a record with several problems counts once.
    by_type = queries.query(
        "SELECT error_type, count(DISTINCT (file_id, line)) AS rejected_records "
        "FROM ingest_rejects GROUP BY error_type ORDER BY rejected_records DESC, error_type"
    )
    if by_type.height:
        st.dataframe(by_type, hide_index=True, width="content")
    if show_link and (files["rejected"] or (held is not None and held.orders)):
        st.caption("The Ingestion page lists every file, rejected record and held order.")


def by_source_and_channel(start: date, end: date, exclude_cancelled: bool) -> pl.DataFrame:
    """One row per source and channel in the range: orders, revenue (reporting currency, cents
    half-up; orders without an FX rate left out), share of the range's orders (%) and the raw
    channel labels seen (sorted; blank when the snapshot predates ``channel_raw``)."""
    labels = (
        "list_sort(list_distinct(list(channel_raw)))"
        if queries.has_column("fct_orders", "channel_raw")
        else "CAST(NULL AS VARCHAR[])"
    )
    frame = queries.query(
        "SELECT source, channel, count(*) AS orders, "
        "count(*) - count(total_reporting) AS orders_without_fx_rate, "
        f"round(sum(total_reporting), 2) AS revenue, {labels} AS labels "
        f"FROM fct_orders WHERE {_RANGE} GROUP BY source, channel "
        "ORDER BY source, orders DESC, channel",
        (start, end, exclude_cancelled),
    )
    return frame.select(
        "source",
        "channel",
        "orders",
        (pl.col("orders") / pl.col("orders").sum() * 100).round(1).alias("share_of_orders_pct"),
        "revenue",
        "orders_without_fx_rate",
        joined_labels(pl.col("labels")).alias("raw_channel_labels"),
    )


def joined_labels(labels: pl.Expr, limit: int = MAX_RAW_LABELS) -> pl.Expr:
    """A list of labels as ``"a, b"``, cut after ``limit`` with ``" (+N more)"``; null stays
    null."""
    shown = labels.list.head(limit).list.join(", ")
    more = labels.list.len().cast(pl.Int64) - limit  # list.len() is unsigned
    return pl.when(more > 0).then(pl.format("{} (+{} more)", shown, more)).otherwise(shown)


def _render_sources(start: date, end: date, exclude_cancelled: bool, currency: str) -> None:
    st.subheader("Orders by source and channel")
    frame = by_source_and_channel(start, end, exclude_cancelled)
    cancelled = ", cancelled orders excluded" if exclude_cancelled else ""
    st.caption(
        f"Orders dated {start:%Y-%m-%d} to {end:%Y-%m-%d}{cancelled} (the filters above). "
        "Raw labels are the channel values of the source itself, mapped to the channel."
    )
    if frame.height == 0:
        st.info("No orders in this range.")
        return
    st.bar_chart(
        frame, x="source", y="orders", color="channel", horizontal=True, x_label="", y_label=""
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "share_of_orders_pct": st.column_config.NumberColumn(
                "share of orders %", format="%.1f"
            ),
            "revenue": st.column_config.NumberColumn(f"revenue ({currency})", format="%.2f"),
            "orders_without_fx_rate": st.column_config.NumberColumn(
                "orders without FX rate", help="Counted in orders, not in revenue."
            ),
            "raw_channel_labels": st.column_config.TextColumn("raw channel labels"),
        },
    )


def ingestion_log() -> pl.DataFrame:
    """One row per order file (newest first, at most ``LOG_LIMIT + 1``): file name relative to
    the landing folder, source, detected format (readable), records, orders (distinct orders
    in the file; blank for a file without orders of its own or a snapshot predating the
    column), rejected records, status, parse time (s), message."""
    orders = "orders" if queries.has_column("ingest_files", "orders") else "CAST(NULL AS BIGINT)"
    frame = queries.query(
        "SELECT ingested_at, file_name AS file, source, file_format AS format, records, "
        f"{orders} AS orders, rejected, status, round(duration_s, 3) AS time_s, "
        "coalesce(message, '') AS message FROM ingest_files WHERE source <> '_reference' "
        f"ORDER BY ingested_at DESC, file_name LIMIT {LOG_LIMIT + 1}"
    )
    return ui.with_format_labels(frame, "format")


def reference_log() -> pl.DataFrame:
    """One row per reference file (its current version): name, counts, status, time."""
    return queries.query(
        "SELECT ingested_at, file_name AS file, records, loaded, rejected, status, "
        "round(duration_s, 3) AS time_s, coalesce(message, '') AS message FROM ingest_files "
        "WHERE source = '_reference' ORDER BY file_name"
    )


def _render_ingestion_log(tz: str, show_link: bool) -> None:
    st.subheader("Ingestion log")
    log = ingestion_log()
    ui.truncation_note(log.height, LOG_LIMIT)
    log = queries.to_local(log.head(LOG_LIMIT), tz)
    time_config = {
        "ingested_at": st.column_config.DatetimeColumn("ingested", format="YYYY-MM-DD HH:mm:ss"),
        "time_s": st.column_config.NumberColumn(
            "time (s)", format="%.3f", help="Time to read, check and store the file."
        ),
        "message": st.column_config.TextColumn("message", width="large"),
    }
    if log.height == 0:
        st.info("No order file has been ingested yet.", icon=":material/inbox:")
    else:
        totals = log.select(pl.col("records", "rejected").sum()).row(0, named=True)
        # Blank (not 0) when no file records its orders (a snapshot predating the column).
        orders = (
            f" · {int(log['orders'].sum()):,} orders in files"
            if log["orders"].null_count() < log.height
            else ""
        )
        st.caption(
            f"{_count(log.height, 'order file', 'order files')} · {totals['records']:,} records"
            f"{orders} · {totals['rejected']:,} rejected. An order found in several files "
            "(overlapping exports) counts in each file but once in the warehouse."
        )
        st.dataframe(
            log,
            hide_index=True,
            width="stretch",
            column_config={
                **time_config,
                "format": st.column_config.TextColumn("format detected"),
                "orders": st.column_config.NumberColumn(
                    "orders",
                    help="Distinct orders in the file; blank for a file that holds none itself "
                    "(e.g. a customers table).",
                ),
            },
        )
        ui.csv_download(log, "ingestion_log.csv", "Download ingestion log CSV", "overview_log_csv")
    references = queries.to_local(reference_log(), tz)
    if references.height:
        with st.expander(f"Reference files ({references.height})"):
            st.dataframe(references, hide_index=True, width="stretch", column_config=time_config)
    if show_link:
        st.caption("The Ingestion page filters every file and lists its rejected records.")


def _count(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def render() -> None:
    user = auth.require_page(Page.OVERVIEW)
    st.title("Overview")
    settings = queries.settings()
    problem = queries.snapshot_problem()
    tz = settings.timezone if problem is not None else queries.timezone_name()
    _render_alerts(tz)
    if problem is not None:
        _render_last_run(tz)
        ui.snapshot_or_stop()
    currency = queries.reporting_currency()
    _render_freshness(tz, settings.stale_after_hours)
    bounds = queries.order_date_bounds()
    picked: tuple[date, date, bool] | None = None
    if bounds is None:
        st.info("The published snapshot holds no orders yet.", icon=":material/inbox:")
    else:
        f1, f2 = st.columns([2, 1])
        with f1:
            start, end = ui.date_range("overview_dates", bounds)
        with f2:
            st.write("")
            exclude_cancelled = st.toggle("Exclude cancelled orders", key="overview_no_cancelled")
        _render_kpis(kpis(start, end, exclude_cancelled), currency)
        _render_charts(start, end, exclude_cancelled, currency)
        picked = (start, end, exclude_cancelled)
    st.divider()
    _render_last_run(tz)
    _render_rejects(show_link=Page.INGESTION in user.pages())
    # Below pipeline health, so the tables above keep their positions on the page.
    st.divider()
    if picked is not None:
        _render_sources(*picked, currency)
    _render_ingestion_log(tz, show_link=Page.INGESTION in user.pages())


if __name__ == "__main__":
    render()
