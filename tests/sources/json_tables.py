"""Reading the tables a JSON parser wrote, for the Shopify and WooCommerce tests."""

from __future__ import annotations

from typing import Any

import duckdb

from pipelines.sources.generic import LATER_LINES
from pipelines.sources.json_records import order_rows_sql


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """Every row of ``table`` as a dict (none when the parser did not create it)."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]
    ).fetchall()[0][0]
    if not exists:
        return []
    relation = con.sql(f"SELECT * FROM {table}")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def order_rows(con: duckdb.DuckDBPyConnection, table: str) -> list[dict[str, Any]]:
    """The order lines of ``table`` (and ``<table>_later_lines``) in file order, with their
    record number (``rec``) and ``line``."""
    later = bool(rows(con, f"{table}{LATER_LINES}"))
    relation = con.sql(
        "SELECT _record_no AS rec, _line AS line, * EXCLUDE (_record_no, _line) "
        f"FROM ({order_rows_sql(table, later_lines=later)})"
    )
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
