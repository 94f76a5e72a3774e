"""Tables of the raw layer: what arrived, untouched, with provenance; and what was rejected.

These are the only tables a rebuild keeps: everything downstream is derived from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderlens.contracts import GENERIC_FIELDS, REFERENCE_INPUTS

if TYPE_CHECKING:
    import duckdb

RAW_TABLES: tuple[str, ...] = ("ingest_files", "ingest_rejects")
"""Tables that hold received data; ``orderlens rebuild`` keeps them and derives the rest."""


def _generic_columns() -> str:
    return ",\n    ".join(f'"{f.name}" {f.type}' for f in GENERIC_FIELDS)


RAW_FILE_PREFIX = "raw_file_"
"""Each order file's rows live in their own immutable table ``raw_file_<file id>`` (written
with one CREATE TABLE AS, as fast as DuckDB reads a CSV) beside ``raw_file_<file id>_lines``
(record number and physical line of each row, in the same order)."""


def raw_file_table(file_id: str) -> str:
    """Name of the table holding one file's rows."""
    return f"{RAW_FILE_PREFIX}{file_id}"


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw-layer tables and the ``raw_order_lines`` view when missing."""
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
    raw_text VARCHAR,               -- the record as read, card numbers redacted
    source_order_id VARCHAR         -- the record's order, when readable (the order is held)
)""")
    # Warehouses created before the column existed gain it (idempotent).
    con.execute("ALTER TABLE ingest_rejects ADD COLUMN IF NOT EXISTS source_order_id VARCHAR")
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_order_lines'"
    ).fetchall()[0][0]
    if not exists:
        refresh_raw_view(con)


def refresh_raw_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)define ``raw_order_lines``: one row per loaded record of every order file.

    Columns: ``file_id``, ``source``, ``_record_no`` (position among the file's loaded
    records), ``_line`` (physical line where the record starts; header = 1) and every
    generic-format column, values as received.
    """
    files = con.execute(
        "SELECT f.file_id, f.source FROM ingest_files f JOIN information_schema.tables t "
        f"ON t.table_name = '{RAW_FILE_PREFIX}' || f.file_id "
        "WHERE f.source <> '_reference' ORDER BY f.file_id"
    ).fetchall()
    columns = ", ".join(f't."{f.name}"' for f in GENERIC_FIELDS)
    parts = [
        f"SELECT '{file_id}' AS file_id, '{source.replace(chr(39), chr(39) * 2)}' AS source, "
        f"l._record_no, l._line, {columns} FROM {raw_file_table(file_id)} t "
        f"POSITIONAL JOIN {raw_file_table(file_id)}_lines l"
        for file_id, source in files
    ]
    if not parts:
        typed = ", ".join(f'CAST(NULL AS {f.type}) AS "{f.name}"' for f in GENERIC_FIELDS)
        parts = [
            "SELECT CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS VARCHAR) AS source, "
            f"CAST(NULL AS BIGINT) AS _record_no, CAST(NULL AS BIGINT) AS _line, {typed} "
            "WHERE false"
        ]
    con.execute("CREATE OR REPLACE VIEW raw_order_lines AS " + "\nUNION ALL\n".join(parts))


def reference_ddl() -> dict[str, str]:
    """CREATE statements of the reference tables, by table name."""
    ddl = {}
    for ref in REFERENCE_INPUTS:
        cols = ", ".join(f'"{f.name}" {f.type}' for f in ref.fields)
        ddl[ref.table] = f"CREATE TABLE IF NOT EXISTS {ref.table} ({cols})"
    return ddl
