"""Tables of the raw layer: what arrived, untouched, with provenance; and what was rejected.

These are the only tables a rebuild keeps: everything downstream is derived from them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderlens.contracts import GENERIC_FIELDS, RAW_STREAMS, REFERENCE_INPUTS, Field
from orderlens.warehouse import scalar

if TYPE_CHECKING:
    import duckdb

RAW_TABLES: tuple[str, ...] = (
    "ingest_files",
    "ingest_rejects",
    "ingest_arrivals",
    "fraud_decisions",
)
"""Tables that hold received data; ``orderlens rebuild`` keeps them and derives the rest.
``fraud_decisions`` holds reviewers' decisions: nothing could derive them again."""


def _generic_columns() -> str:
    return ",\n    ".join(f'"{f.name}" {f.type}' for f in GENERIC_FIELDS)


RAW_FILE_PREFIX = "raw_file_"
"""Each order file's rows live in their own immutable table ``raw_file_<file id>`` (written
with one CREATE TABLE AS, as fast as DuckDB reads a CSV) beside ``raw_file_<file id>_lines``
(record number and physical line of each row, in the same order). JSON order files keep one
row per order there (with its first line) and their further lines in
``raw_file_<file id>_later_lines`` (with their own record number and line)."""


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
    arrivals_existed = bool(
        scalar(
            con,
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'ingest_arrivals'",
        )
    )
    con.execute("""
CREATE TABLE IF NOT EXISTS ingest_arrivals (
    -- One row per order file name seen in the landing folder, with the content it had: a
    -- copy of content already ingested (dropped again under a new name) is skipped by the
    -- ingestion log but arrives here.
    source VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,     -- path relative to the landing folder
    file_id VARCHAR NOT NULL,       -- the content (ingest_files.file_id)
    first_seen_at TIMESTAMPTZ NOT NULL
)""")
    if not arrivals_existed:
        # A warehouse older than the table: its files arrived when they were ingested.
        con.execute(
            "INSERT INTO ingest_arrivals SELECT source, file_name, file_id, ingested_at "
            "FROM ingest_files WHERE source <> '_reference'"
        )
    # Warehouses created before the column existed gain it (idempotent).
    con.execute("ALTER TABLE ingest_rejects ADD COLUMN IF NOT EXISTS source_order_id VARCHAR")
    # Columns added with the real-world sources (idempotent on older warehouses).
    con.execute("ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS orders BIGINT")
    con.execute(
        "ALTER TABLE ingest_files ADD COLUMN IF NOT EXISTS has_amounts BOOLEAN DEFAULT true"
    )
    missing = [
        view
        for view in RAW_VIEWS
        if not scalar(
            con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [view]
        )
    ]
    if missing:
        refresh_raw_view(con)


RAW_VIEWS: tuple[str, ...] = ("raw_order_lines", *(f"raw_{name}" for name in RAW_STREAMS))
"""``raw_order_lines`` and one view per optional stream (``raw_payments``, ``raw_events``,
``raw_refunds``, ``raw_products``) over every registered file."""


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _empty_select(prefix: str, fields: tuple[Field, ...]) -> str:
    typed = ", ".join(f'CAST(NULL AS {f.type}) AS "{f.name}"' for f in fields)
    return f"SELECT {prefix}, {typed} WHERE false"


def _provenance(file_id: str, source: str) -> str:
    return f"{_sql_str(file_id)} AS file_id, {_sql_str(source)} AS source"


def refresh_raw_view(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)define the raw views over every registered file.

    ``raw_order_lines``: one row per order line (or order without lines) of every order
    file, whatever its format: ``file_id``, ``source``, ``_record_no`` (the source record it
    came from, numbered within the file), ``_line`` (physical line where that record starts;
    header = 1) and every generic-format column, values as received. Stream views
    ``raw_<stream>``: ``file_id``, ``source``, ``_line`` and the stream's fields. Formats that
    need several files together (Olist) contribute the SQL their module assembles.
    """
    from pipelines.sources.formats import FORMAT_BY_NAME, family
    from pipelines.sources.generic import LATER_LINES

    tables = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_name LIKE '{RAW_FILE_PREFIX}%'"
        ).fetchall()
    }
    files = [
        (str(file_id), str(source), str(file_format))
        for file_id, source, file_format in con.execute(
            "SELECT file_id, source, file_format FROM ingest_files "
            "WHERE source <> '_reference' ORDER BY file_id"
        ).fetchall()
        if raw_file_table(str(file_id)) in tables
    ]
    stored_columns: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_name LIKE '{RAW_FILE_PREFIX}%'"
    ).fetchall():
        stored_columns.setdefault(str(table), set()).add(str(column))

    def line_columns(table: str) -> str:
        # A file stored before an optional field joined the format reads it as blank.
        have = stored_columns.get(table, set())
        return ", ".join(
            f't."{f.name}"' if f.name in have else f'CAST(NULL AS {f.type}) AS "{f.name}"'
            for f in GENERIC_FIELDS
        )

    parts: dict[str, list[str]] = {"order_lines": [], **{name: [] for name in RAW_STREAMS}}
    assembled: dict[str, list[tuple[str, str, str]]] = {}
    for file_id, source, file_format in files:
        name = family(file_format)
        if FORMAT_BY_NAME[name].assembled:
            assembled.setdefault(name, []).append((file_id, source, file_format))
            continue
        table = raw_file_table(file_id)
        parts["order_lines"].append(
            f"SELECT {_provenance(file_id, source)}, l._record_no, l._line, "
            f"{line_columns(table)} "
            f"FROM {table} t POSITIONAL JOIN {table}_lines l"
        )
        if f"{table}{LATER_LINES}" in tables:
            # An order's id, number and line fields; its other fields are NULL (BY NAME).
            parts["order_lines"].append(
                f"SELECT {_provenance(file_id, source)}, * FROM {table}{LATER_LINES}"
            )
        for stream, fields in RAW_STREAMS.items():
            if f"{table}_{stream}" in tables:
                columns = ", ".join(f'"{f.name}"' for f in fields)
                parts[stream].append(
                    f"SELECT {_provenance(file_id, source)}, _line, {columns} FROM {table}_{stream}"
                )
    for name, members in sorted(assembled.items()):
        for stream, sql in FORMAT_BY_NAME[name].load().assemble(con, members).items():
            parts[stream].append(sql)
    empty_lines = _empty_select(
        "CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS VARCHAR) AS source, "
        "CAST(NULL AS BIGINT) AS _record_no, CAST(NULL AS BIGINT) AS _line",
        GENERIC_FIELDS,
    )
    con.execute(
        "CREATE OR REPLACE VIEW raw_order_lines AS "
        + "\nUNION ALL BY NAME\n".join(parts["order_lines"] or [empty_lines])
    )
    for stream, fields in RAW_STREAMS.items():
        empty = _empty_select(
            "CAST(NULL AS VARCHAR) AS file_id, CAST(NULL AS VARCHAR) AS source, "
            "CAST(NULL AS BIGINT) AS _line",
            fields,
        )
        con.execute(
            f"CREATE OR REPLACE VIEW raw_{stream} AS "
            + "\nUNION ALL BY NAME\n".join(parts[stream] or [empty])
        )


def stored_records(con: duckdb.DuckDBPyConnection, file_id: str) -> int:
    """Distinct source records of a file held in its raw tables (order lines and streams)."""
    table = raw_file_table(file_id)
    present = {
        str(r[0])
        for r in con.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_name LIKE ? AND column_name = '_record_no'",
            [f"{table}%"],
        ).fetchall()
    }
    parts = [
        f"SELECT _record_no FROM {table}{suffix}"
        for suffix in ("_lines", *(f"_{name}" for name in RAW_STREAMS))
        if f"{table}{suffix}" in present
    ]
    if not parts:
        return 0
    return int(scalar(con, f"SELECT count(DISTINCT _record_no) FROM ({' UNION ALL '.join(parts)})"))


def reference_ddl() -> dict[str, str]:
    """CREATE statements of the reference tables, by table name."""
    ddl = {}
    for ref in REFERENCE_INPUTS:
        cols = ", ".join(f'"{f.name}" {f.type}' for f in ref.fields)
        ddl[ref.table] = f"CREATE TABLE IF NOT EXISTS {ref.table} ({cols})"
    return ddl
