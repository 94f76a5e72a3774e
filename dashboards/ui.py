"""Small building blocks shared by the pages."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from dashboards import queries
from orderlens.security import safe_csv_bytes


def snapshot_or_stop() -> None:
    """Show a clear empty state and stop the page when there is nothing to show."""
    problem = queries.snapshot_problem()
    if problem is None:
        return
    if problem == queries.NOTHING_PUBLISHED:
        st.info(problem, icon=":material/inbox:")
    else:
        st.error(problem)
    st.stop()


def date_range(key: str, bounds: tuple[date, date], label: str = "Order date") -> tuple[date, date]:
    """A date-range picker over ``bounds`` (inclusive); a half-picked range counts as one day."""
    lo, hi = bounds
    picked = st.date_input(label, value=(lo, hi), min_value=lo, max_value=hi, key=key)
    if isinstance(picked, tuple | list):
        values = [d for d in picked if isinstance(d, date)]
    else:
        values = [picked] if isinstance(picked, date) else []
    if not values:
        return lo, hi
    start = values[0]
    end = values[1] if len(values) > 1 else values[0]
    return (start, end) if start <= end else (end, start)


def csv_download(frame: pl.DataFrame, file_name: str, label: str, key: str) -> None:
    """A download button whose CSV is formula-injection safe (``safe_csv_bytes``)."""
    st.download_button(
        label,
        data=safe_csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=key,
        icon=":material/download:",
        on_click="ignore",
    )


FORMAT_LABELS: dict[str, str] = {
    "csv": "Generic CSV",
    "parquet": "Generic Parquet",
    "ndjson": "Generic NDJSON",
    "shopify_csv": "Shopify CSV export",
    "shopify_json": "Shopify order JSON",
    "woocommerce_json": "WooCommerce order JSON",
    "online_retail": "Online Retail invoice lines",
    "cdnow": "CDNOW transaction log",
}
"""Readable names of ``ingest_files.file_format`` values (the dashboard never imports the
pipelines' format registry)."""


def format_label(file_format: str) -> str:
    """The readable name of a detected file format (``olist:order_items`` → ``Olist: order
    items``); a value this dashboard does not know is shown as it is."""
    if file_format in FORMAT_LABELS:
        return FORMAT_LABELS[file_format]
    family, sep, table = file_format.partition(":")
    if family == "olist" and sep and table:
        return f"Olist: {table.replace('_', ' ')}"
    return file_format


def with_format_labels(frame: pl.DataFrame, column: str = "file_format") -> pl.DataFrame:
    """``frame`` with ``column`` replaced by readable format names (see :func:`format_label`)."""
    labels = {value: format_label(value) for value in frame[column].drop_nulls().unique()}
    return frame.with_columns(pl.col(column).replace(labels))


def truncation_note(shown: int, limit: int) -> None:
    if shown > limit:
        st.caption(f"Showing the first {limit:,} rows; narrow the filters to see the rest.")
