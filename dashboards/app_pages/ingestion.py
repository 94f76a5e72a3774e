"""Ingestion: what each landed file gave, the records rejected at ingest, and the orders held
out of staging.

* **Rejected records** (``ingest_rejects``): a record that could not be parsed is not loaded;
  one row per problem (a record can have several). The raw text can hold customer details,
  so it is read and shown only for roles that may see personal data; for the other roles the
  value quoted in a type error's reason is hidden too (in a ragged row it can be an e-mail or
  a phone number shifted into a typed column).
* **Held orders** (``stg_rejects``): every record of the order was loaded, but the order
  cannot enter staging (e.g. ``created_at`` is not a timestamp, or a line has no quantity),
  so it is in no KPI. One row per order, with its file, lines and reason. A snapshot from a
  release without ``stg_rejects`` says so instead.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import auth, queries, ui
from orderlens.users import Page, can_see_personal_data

ROW_LIMIT = 5_000

# The ingest's type-error reason quotes the offending value (Python repr, either quote):
# "value 'two' is not a valid DECIMAL(18,4) for column quantity".
_QUOTED_VALUE = r"""value (?:'.*'|".*") (is not a valid )"""


def hide_values(frame: pl.DataFrame) -> pl.DataFrame:
    """The rejects with the quoted value of each type error replaced by ``(hidden)``."""
    return frame.with_columns(pl.col("reason").str.replace(_QUOTED_VALUE, "value (hidden) ${1}"))


def _in_list(column: str, chosen: list[str], where: list[str], params: list[Any]) -> None:
    if chosen:
        where.append(f"list_contains(?::VARCHAR[], {column})")
        params.append(list(chosen))


def _files(tz: str) -> None:
    st.subheader("Files")
    c1, c2, c3 = st.columns(3)
    sources = c1.multiselect(
        "Source", queries.distinct("ingest_files", "source"), key="files_sources"
    )
    statuses = c2.multiselect(
        "Status", queries.distinct("ingest_files", "status"), key="files_statuses"
    )
    name = c3.text_input("File name contains", key="files_name", max_chars=200)
    where = ["TRUE"]
    params: list[Any] = []
    _in_list("source", sources, where, params)
    _in_list("status", statuses, where, params)
    if name.strip():
        where.append("file_name ILIKE ? ESCAPE '\\'")
        params.append(queries.like_pattern(name.strip()))
    frame = queries.query(
        "SELECT ingested_at, source, file_name, file_format AS format, records, loaded, "
        "rejected, status, round(duration_s, 2) AS duration_s, size_bytes, message "
        f"FROM ingest_files WHERE {' AND '.join(where)} "
        f"ORDER BY ingested_at DESC, source, file_name LIMIT {ROW_LIMIT + 1}",
        params,
    )
    ui.truncation_note(frame.height, ROW_LIMIT)
    frame = queries.to_local(frame.head(ROW_LIMIT), tz)
    if frame.height == 0:
        st.info("No ingested files match these filters.")
        return
    totals = frame.select(pl.col("records", "loaded", "rejected").sum()).row(0, named=True)
    st.caption(
        f"{frame.height:,} file(s) · {totals['records'] or 0:,} records · "
        f"{totals['loaded'] or 0:,} loaded · {totals['rejected'] or 0:,} rejected"
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={"duration_s": st.column_config.NumberColumn("duration (s)", format="%.2f")},
    )
    ui.csv_download(frame, "ingested_files.csv", "Download files CSV", "files_csv")


def _rejects(allowed: bool) -> None:
    st.subheader("Rejected records")
    c1, c2, c3 = st.columns(3)
    files = c1.multiselect(
        "File", queries.distinct("ingest_rejects", "file_name"), key="rejects_files"
    )
    types = c2.multiselect(
        "Error type", queries.distinct("ingest_rejects", "error_type"), key="rejects_types"
    )
    columns = c3.multiselect(
        "Column", queries.distinct("ingest_rejects", "column_name"), key="rejects_columns"
    )
    where = ["TRUE"]
    params: list[Any] = []
    _in_list("file_name", files, where, params)
    _in_list("error_type", types, where, params)
    _in_list("column_name", columns, where, params)
    # The raw record is not even read for a role that may not see personal data.
    raw_text = ", raw_text" if allowed else ""
    frame = queries.query(
        "SELECT source, file_name AS file, line, column_name AS column, error_type, reason"
        f"{raw_text} FROM ingest_rejects WHERE {' AND '.join(where)} "
        f"ORDER BY file_name, line, column_name LIMIT {ROW_LIMIT + 1}",
        params,
    )
    ui.truncation_note(frame.height, ROW_LIMIT)
    frame = frame.head(ROW_LIMIT)
    if not allowed:
        frame = hide_values(frame)
    if frame.height == 0:
        st.info("No rejected records match these filters.")
        return
    records = frame.select(pl.struct("source", "file", "line").n_unique()).item()
    st.caption(f"{records:,} rejected record(s) · {frame.height:,} problem(s)")
    st.dataframe(frame, hide_index=True, width="stretch")
    ui.csv_download(frame, "rejected_records.csv", "Download rejects CSV", "rejects_csv")


def _held() -> None:
    st.subheader("Held orders")
    if not queries.has_table("stg_rejects"):
        st.info(
            "This snapshot does not record the orders held out of staging (it has no "
            "`stg_rejects` table; it was published by an older release). Publish it again with "
            "`orderlens run` to see them."
        )
        return
    st.caption(
        "Orders whose records were all loaded but that cannot enter staging, so they count in "
        "no KPI. Each row is one order, with the lines it was read from."
    )
    c1, c2, c3 = st.columns(3)
    files = c1.multiselect("File", queries.distinct("stg_rejects", "file_name"), key="held_files")
    reasons = c2.multiselect("Reason", queries.held_reasons(), key="held_reasons")
    order = c3.text_input(
        "Order key contains", key="held_search", max_chars=200, placeholder="e.g. shopify:1001"
    )
    where = ["TRUE"]
    params: list[Any] = []
    _in_list("file_name", files, where, params)
    if reasons:
        where.append("list_has_any(reasons, ?::VARCHAR[])")
        params.append(list(reasons))
    if order.strip():
        where.append("order_key ILIKE ? ESCAPE '\\'")
        params.append(queries.like_pattern(order.strip()))
    frame = queries.query(
        f"SELECT order_key, source, file_name AS file, lines, line_count, "
        f"array_to_string(reasons, '; ') AS reason FROM ({queries.HELD_ORDERS_SQL}) "
        f"WHERE {' AND '.join(where)} "
        f"ORDER BY file_name, first_line, order_key LIMIT {ROW_LIMIT + 1}",
        params,
    )
    ui.truncation_note(frame.height, ROW_LIMIT)
    frame = frame.head(ROW_LIMIT)
    if frame.height == 0:
        if len(where) == 1:
            st.success("No orders are held out of staging.", icon=":material/check_circle:")
        else:
            st.info("No held orders match these filters.")
        return
    orphans = frame.filter(pl.col("order_key").is_null()).height
    note = f" ({orphans:,} without an order id)" if orphans else ""
    st.caption(
        f"{frame.height:,} held order(s){note} · {int(frame['line_count'].sum()):,} line(s) held"
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={"line_count": st.column_config.NumberColumn("lines held")},
    )
    ui.csv_download(frame, "held_orders.csv", "Download held orders CSV", "held_csv")


def render() -> None:
    user = auth.require_page(Page.INGESTION)
    st.title("Ingestion")
    ui.snapshot_or_stop()
    tz = queries.timezone_name()
    _files(tz)
    st.divider()
    _rejects(can_see_personal_data(user.role))
    st.divider()
    _held()


if __name__ == "__main__":
    render()
