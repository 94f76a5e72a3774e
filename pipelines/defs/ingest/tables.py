"""Tables of the raw layer: what arrived, untouched, with provenance; and what was rejected.

These are the only tables a rebuild keeps: everything downstream is derived from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderlens.contracts import GENERIC_FIELDS, REFERENCE_INPUTS

if TYPE_CHECKING:
    import duckdb

RAW_TABLES: tuple[str, ...] = ("raw_order_lines", "ingest_files", "ingest_rejects")
"""Tables that hold received data; ``orderlens rebuild`` keeps them and derives the rest."""


def _generic_columns() -> str:
    return ",\n    ".join(f'"{f.name}" {f.type}' for f in GENERIC_FIELDS)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw-layer tables when missing (idempotent)."""
    con.execute(f"""
CREATE TABLE IF NOT EXISTS raw_order_lines (
    -- One row per record of a generic-format order file, values as received.
    file_id VARCHAR NOT NULL,       -- content hash of the file (first 16 hex of SHA-256)
    source VARCHAR NOT NULL,        -- landing subfolder: one store or channel
    _record_no BIGINT NOT NULL,     -- 1-based position among the file's loaded records
    _line BIGINT NOT NULL,          -- physical line where the record starts (header = 1)
    {_generic_columns()}
)""")
    con.execute("""
CREATE TABLE IF NOT EXISTS ingest_files (
    -- One row per distinct file content received: the ingestion log.
    file_id VARCHAR PRIMARY KEY,
    source VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,     -- path relative to the landing folder, as first seen
    file_format VARCHAR NOT NULL,
    file_hash VARCHAR NOT NULL,     -- full SHA-256 of the file's bytes
    size_bytes BIGINT NOT NULL,
    records BIGINT NOT NULL,        -- data records in the file (header excluded)
    loaded BIGINT NOT NULL,
    rejected BIGINT NOT NULL,       -- records rejected (records = loaded + rejected)
    cards_redacted BIGINT NOT NULL,
    status VARCHAR NOT NULL,        -- loaded, partial or rejected
    message VARCHAR,
    ingested_at TIMESTAMPTZ NOT NULL,
    duration_s DOUBLE NOT NULL
)""")
    con.execute("""
CREATE TABLE IF NOT EXISTS ingest_rejects (
    -- One row per problem found in a rejected record (a record may have several).
    file_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    line BIGINT NOT NULL,           -- physical line (Parquet: row number)
    column_name VARCHAR,
    error_type VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    raw_text VARCHAR                -- the record as read, card numbers redacted
)""")


def reference_ddl() -> dict[str, str]:
    """CREATE statements of the reference tables, by table name."""
    ddl = {}
    for ref in REFERENCE_INPUTS:
        cols = ", ".join(f'"{f.name}" {f.type}' for f in ref.fields)
        ddl[ref.table] = f"CREATE TABLE IF NOT EXISTS {ref.table} ({cols})"
    return ddl
