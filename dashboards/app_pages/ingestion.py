"""Ingestion: what each landed file gave, and a browser of the records that were rejected.

The rejected record's raw text can hold customer details, so it is read and shown only for
roles that may see personal data.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import auth, queries, ui
from orderlens.users import Page, can_see_personal_data

ROW_LIMIT = 5_000


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
    if frame.height == 0:
        st.info("No rejected records match these filters.")
        return
    st.caption(f"{frame.height:,} rejected record(s)")
    st.dataframe(frame, hide_index=True, width="stretch")
    ui.csv_download(frame, "rejected_records.csv", "Download rejects CSV", "rejects_csv")


def render() -> None:
    user = auth.require_page(Page.INGESTION)
    st.title("Ingestion")
    ui.snapshot_or_stop()
    tz = queries.timezone_name()
    _files(tz)
    st.divider()
    _rejects(can_see_personal_data(user.role))


if __name__ == "__main__":
    render()
