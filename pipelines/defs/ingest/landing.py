"""Landing folder → raw layer: find files, parse each once, store rows and rejects.

Layout: ``<landing>/<source>/<file>`` where ``<source>`` is one store or channel (a file
directly in the landing folder belongs to source ``landing``); reference inputs live in
``<landing>/_reference/<name>.csv``. Each file's format is detected from its content
(``pipelines/sources/formats.py``). A file is identified by the hash of its bytes, so the
same file dropped twice or renamed is stored once; each file is written in one transaction.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from orderlens.contracts import ORDER_FILE_SUFFIXES, RAW_STREAMS, REFERENCE_INPUTS
from orderlens.warehouse import scalar, transaction
from pipelines.defs.ingest.tables import RAW_FILE_PREFIX, raw_file_table, refresh_raw_view
from pipelines.sources.formats import detect
from pipelines.sources.generic import LATER_LINES, ParseResult, parse_file

RAW_TABLE_SUFFIXES: tuple[str, ...] = (
    "",
    "_lines",
    LATER_LINES,
    *(f"_{name}" for name in RAW_STREAMS),
)
"""A file's raw tables: its rows, their record numbers and lines, the later lines of its
orders (JSON formats), and its optional streams."""


class IngestError(RuntimeError):
    """A landing file could not be ingested at all; the message names the file."""


REFERENCE_FOLDER = "_reference"
ROOT_SOURCE = "landing"


@dataclass(frozen=True)
class LandingFile:
    """A file found in the landing folder."""

    path: Path
    relative: str
    source: str


@dataclass(frozen=True)
class FileOutcome:
    """What ingesting one file did."""

    file: LandingFile
    file_id: str
    skipped: bool
    records: int = 0
    loaded: int = 0
    rejected: int = 0
    file_format: str = ""
    status: str = "loaded"
    message: str = ""
    duration_s: float = 0.0

    @classmethod
    def parsed(
        cls, file: LandingFile, file_id: str, result: ParseResult, duration_s: float
    ) -> FileOutcome:
        """The outcome of a file that was parsed and stored."""
        return cls(
            file,
            file_id,
            skipped=False,
            records=result.records,
            loaded=result.loaded,
            rejected=result.rejected_records,
            file_format=result.file_format,
            status=result.status,
            message="; ".join(result.notes),
            duration_s=duration_s,
        )


def discover(landing: Path) -> list[LandingFile]:
    """Order files in the landing folder, in a stable order (hidden files ignored)."""
    if not landing.exists():
        return []
    found = []
    for path in sorted(landing.rglob("*")):
        relative = path.relative_to(landing)
        if (
            not path.is_file()
            or path.suffix.lower() not in ORDER_FILE_SUFFIXES
            or any(part.startswith((".", "_")) for part in relative.parts)
        ):
            continue
        source = relative.parts[0] if len(relative.parts) > 1 else ROOT_SOURCE
        found.append(LandingFile(path, relative.as_posix(), source))
    return found


def discover_reference(landing: Path) -> dict[str, LandingFile]:
    """Reference files present, by reference table name."""
    folder = landing / REFERENCE_FOLDER
    found = {}
    for ref in REFERENCE_INPUTS:
        path = folder / f"{ref.file_stem}.csv"
        if path.is_file():
            found[ref.table] = LandingFile(
                path, f"{REFERENCE_FOLDER}/{path.name}", REFERENCE_FOLDER
            )
    return found


def file_hash(path: Path) -> str:
    """SHA-256 of the file's bytes."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


_HASHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderlens-hash")
"""hashlib releases the GIL on large reads, so a file hashes while DuckDB parses it."""


def _size_seen(con: duckdb.DuckDBPyConnection, size: int) -> bool:
    return bool(
        scalar(
            con,
            "SELECT count(*) FROM ingest_files WHERE size_bytes = ? AND source <> '_reference'",
            [size],
        )
    )


def record_arrival(con: duckdb.DuckDBPyConnection, file: LandingFile, file_id: str) -> None:
    """Note that the landing holds ``file`` with content ``file_id`` (once per name and
    content: the first time it is seen)."""
    con.execute(
        "INSERT INTO ingest_arrivals SELECT ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM ingest_arrivals WHERE file_name = ? AND file_id = ?)",
        [file.source, file.relative, file_id, datetime.now(UTC), file.relative, file_id],
    )


def already_ingested(con: duckdb.DuckDBPyConnection, file_id: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM ingest_files WHERE file_id = ?", [file_id]))


def _record_file(
    con: duckdb.DuckDBPyConnection,
    file: LandingFile,
    file_id: str,
    digest: str,
    parsed: ParseResult,
    duration_s: float,
    orders: int | None = None,
) -> None:
    """Write the file's rejects and its ingestion-log row (inside the caller's transaction)."""
    con.execute("DELETE FROM ingest_rejects WHERE file_id = ?", [file_id])
    if parsed.rejects:
        con.executemany(
            "INSERT INTO ingest_rejects (file_id, source, file_name, line, column_name, "
            "error_type, reason, raw_text, source_order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    file_id,
                    file.source,
                    file.relative,
                    r.line,
                    r.column,
                    r.error_type,
                    r.reason,
                    r.raw_text,
                    r.order_id,
                ]
                for r in parsed.rejects
            ],
        )
    con.execute("DELETE FROM ingest_files WHERE file_id = ?", [file_id])
    con.execute(
        "INSERT INTO ingest_files (file_id, source, file_name, file_format, file_hash, "
        "size_bytes, records, loaded, rejected, cards_redacted, status, message, ingested_at, "
        "duration_s, orders, has_amounts) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            file_id,
            file.source,
            file.relative,
            parsed.file_format,
            digest,
            file.path.stat().st_size,
            parsed.records,
            parsed.loaded,
            parsed.rejected_records,
            parsed.cards_redacted,
            parsed.status,
            "; ".join(parsed.notes) or None,
            datetime.now(UTC),
            round(duration_s, 3),
            orders,
            parsed.has_amounts,
        ],
    )


def ingest_order_file(con: duckdb.DuckDBPyConnection, file: LandingFile) -> FileOutcome:
    """Parse one order file into its own raw table, then register it in one transaction.

    A file whose content was already ingested (under any name) is skipped. Until the
    registering transaction commits, the new table is invisible (``raw_order_lines`` only
    lists registered files), so a crash leaves the warehouse as it was.
    """
    started = time.perf_counter()
    size = file.path.stat().st_size
    hashing: Future[str] | None = None
    digest = ""
    if _size_seen(con, size):
        # Possibly a file already ingested (dropped again or renamed): hash first.
        digest = file_hash(file.path)
        if already_ingested(con, digest[:16]):
            record_arrival(con, file, digest[:16])
            return FileOutcome(file, digest[:16], skipped=True, message="already ingested")
    else:
        # No ingested file has this size, so the content is new: hash while DuckDB parses.
        hashing = _HASHER.submit(file_hash, file.path)
    pending = f"{RAW_FILE_PREFIX}pending_{os.getpid()}"
    _drop_tables(con, pending)
    try:
        parsed = detect(file.path).load().parse(con, file.path, pending)
    finally:
        if hashing is not None:
            digest = hashing.result()
    parsed.scrub_card_numbers()
    file_id = digest[:16]
    if not parsed.reconciles:
        _drop_tables(con, pending)
        raise IngestError(
            f"{file.relative}: {parsed.records} records but {parsed.loaded} loaded + "
            f"{parsed.rejected_records} rejected; refusing to store an unreconciled file"
        )
    orders = parsed.orders if parsed.orders is not None else _distinct_orders(con, pending)
    table = raw_file_table(file_id)
    with transaction(con):
        _drop_tables(con, table)
        for suffix in RAW_TABLE_SUFFIXES:
            if _table_exists(con, f"{pending}{suffix}"):
                con.execute(f"ALTER TABLE {pending}{suffix} RENAME TO {table}{suffix}")
        _record_file(con, file, file_id, digest, parsed, time.perf_counter() - started, orders)
        record_arrival(con, file, file_id)
        refresh_raw_view(con)
    return FileOutcome.parsed(file, file_id, parsed, time.perf_counter() - started)


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table])
    )


def _distinct_orders(con: duckdb.DuckDBPyConnection, table: str) -> int | None:
    """Orders in a parsed order-line table (None for files that hold no orders themselves)."""
    has_orders = scalar(
        con,
        "SELECT count(*) FROM information_schema.columns "
        "WHERE table_name = ? AND column_name = 'source_order_id'",
        [table],
    )
    if not has_orders:
        return None
    return int(scalar(con, f"SELECT count(DISTINCT source_order_id) FROM {table}") or 0)


def drop_unregistered_raw_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Remove raw tables of files whose ingestion never committed (an interrupted run)."""
    registered = {
        raw_file_table(str(row[0]))
        for row in con.execute("SELECT file_id FROM ingest_files").fetchall()
    }
    orphans = [
        str(row[0])
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_name LIKE '{RAW_FILE_PREFIX}%' AND table_type = 'BASE TABLE'"
        ).fetchall()
        if not any(
            str(row[0]) == f"{t}{suffix}" for t in registered for suffix in RAW_TABLE_SUFFIXES
        )
    ]
    for table in orphans:
        con.execute(f'DROP TABLE IF EXISTS "{table}"')
    return orphans


def load_reference(
    con: duckdb.DuckDBPyConnection, table: str, file: LandingFile | None
) -> FileOutcome | None:
    """Replace one reference table with the rows of its file (one transaction).

    Without a file the table is left empty (created if needed), so marts can still run.
    """
    ref = next(r for r in REFERENCE_INPUTS if r.table == table)
    columns = ", ".join(f'"{f.name}"' for f in ref.fields)
    if file is None:
        with transaction(con):
            cols = ", ".join(f'"{f.name}" {f.type}' for f in ref.fields)
            con.execute(f"CREATE OR REPLACE TABLE {table} ({cols})")
        return None
    started = time.perf_counter()
    digest = file_hash(file.path)
    file_id = digest[:16]
    parsed = parse_file(con, file.path, ref.fields, f"_ref_{table}")
    with transaction(con):
        con.execute(
            f"CREATE OR REPLACE TABLE {table} AS SELECT {columns} FROM ({parsed.rows_sql}) "
            f"ORDER BY {', '.join(ref.key)}"
        )
        # Only the current version of a reference file is kept in the log.
        con.execute(
            "DELETE FROM ingest_rejects WHERE source = ? AND file_name = ?",
            [file.source, file.relative],
        )
        con.execute(
            "DELETE FROM ingest_files WHERE source = ? AND file_name = ?",
            [file.source, file.relative],
        )
        _record_file(con, file, file_id, digest, parsed, time.perf_counter() - started)
    _drop_tables(con, f"_ref_{table}")
    return FileOutcome.parsed(file, file_id, parsed, time.perf_counter() - started)


def _drop_tables(con: duckdb.DuckDBPyConnection, table: str) -> None:
    for suffix in (*RAW_TABLE_SUFFIXES, "_all"):
        con.execute(f"DROP TABLE IF EXISTS {table}{suffix}")


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    progress: Callable[[str], None] = lambda _message: None,
) -> list[FileOutcome]:
    """Ingest every order file of the landing folder that is not in the warehouse yet."""
    outcomes = []
    for orphan in drop_unregistered_raw_tables(con):
        progress(f"removed {orphan}: left by an interrupted run")
    files = discover(landing)
    for index, file in enumerate(files, start=1):
        try:
            outcome = ingest_order_file(con, file)
        except OSError as exc:
            # An unreadable file (permissions, vanished mid-run) must name itself.
            raise IngestError(f"{file.relative}: cannot read the file ({exc.strerror})") from exc
        outcomes.append(outcome)
        if outcome.skipped:
            progress(f"[{index}/{len(files)}] {file.relative}: unchanged, skipped")
        else:
            progress(
                f"[{index}/{len(files)}] {file.relative}: {outcome.loaded:,} loaded, "
                f"{outcome.rejected:,} rejected of {outcome.records:,} records "
                f"({outcome.duration_s:.2f} s)"
            )
    return outcomes
