"""Reading the tables a JSON parser wrote, for the Shopify and WooCommerce tests."""

from __future__ import annotations

from typing import Any

import duckdb


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
    """The order-line rows of ``table`` with their record number (``rec``) and ``line``."""
    relation = con.sql(
        f"SELECT l._record_no AS rec, l._line AS line, t.* "
        f"FROM {table} t POSITIONAL JOIN {table}_lines l"
    )
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
