"""Access to the DuckDB warehouse: the transactional writer, the publish step and the reader.

Storage discipline (DuckDB allows one writing process, and a reader in another process
blocks the writer):

* The pipeline alone opens the *working* warehouse, through :func:`open_writer`; every
  table or partition write happens inside :func:`transaction`, so a failed write leaves the
  previous rows in place, and the connection is always closed (the file lock released).
* :func:`publish` checkpoints the working file, copies it beside the *published snapshot*
  and swaps it in with an atomic rename. Readers hold the old file open until they finish.
* The dashboard, ``orderlens query`` and tests read the snapshot through
  :class:`SnapshotReader`: one short-lived read-only connection per query.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb
    import polars as pl

SCHEMA_VERSION = 1
"""Bumped whenever a table's shape changes; ``orderlens rebuild`` brings older files up."""

# Nothing is ever downloaded at run time: DuckDB's bundled parquet, json and icu suffice.
_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


class WarehouseError(RuntimeError):
    """A warehouse cannot be used as it is; the message says why and what to do."""


class WarehouseBusyError(WarehouseError):
    """Another process holds the working warehouse's write lock."""


class SchemaVersionError(WarehouseError):
    """The warehouse was written by another schema version of OrderLens."""


class SnapshotMissingError(WarehouseError):
    """Nothing has been published yet."""


def connect(path: Path | str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file with extension downloads switched off."""
    import duckdb

    con = duckdb.connect(str(path), read_only=read_only, config=dict(_CONFIG))
    con.execute("SET enable_progress_bar = false")
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] | None = None) -> Any:
    """First column of the first row, or None. Fetches the whole result so the connection is
    free again (DuckDB 2 streams results: an unread one keeps the connection busy)."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0][0] if rows else None


def table_from_frame(
    con: duckdb.DuckDBPyConnection, name: str, frame: Any, *, temporary: bool = True
) -> None:
    """Create (or replace) table ``name`` holding a polars frame's rows."""
    view = f"_frame_for_{name}"
    con.register(view, frame)
    try:
        kind = "TEMP TABLE" if temporary else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT * FROM {view}")
    finally:
        con.unregister(view)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Run the block as one transaction: all of its writes land, or none do."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def read_schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    """The schema version recorded in the file, or None for a new, empty file."""
    found = scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = '_meta'")
    if not found:
        return None
    value = scalar(con, "SELECT value FROM _meta WHERE key = 'schema_version'")
    return int(value) if value is not None else None


def check_schema_version(con: duckdb.DuckDBPyConnection, path: Path | str) -> int | None:
    """Refuse, with a clear message, a warehouse written by another schema version."""
    version = read_schema_version(con)
    if version is None or version == SCHEMA_VERSION:
        return version
    if version < SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{path}: warehouse schema version {version} is older than this OrderLens "
            f"(version {SCHEMA_VERSION}). Run `orderlens rebuild` to rebuild the derived "
            "tables from the raw records."
        )
    raise SchemaVersionError(
        f"{path}: warehouse schema version {version} is unknown to this OrderLens (which "
        f"writes version {SCHEMA_VERSION}); it was written by a newer release. Upgrade "
        "OrderLens, or point ORDERLENS_WAREHOUSE at another file."
    )


def set_meta(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    """Record a key/value fact about the warehouse (schema version, publish time...)."""
    con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute(
        "INSERT INTO _meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


@contextlib.contextmanager
def open_writer(
    path: Path, *, check_version: bool = True, retries: int = 20, retry_wait_s: float = 0.25
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The pipeline's connection to the working warehouse, closed (lock released) on exit.

    Another process holding the file (a second pipeline run, or a stray reader) is waited
    for briefly, then reported by name instead of as a raw lock error.
    """
    import duckdb

    path.parent.mkdir(parents=True, exist_ok=True)
    con: duckdb.DuckDBPyConnection | None = None
    for attempt in range(retries + 1):
        try:
            con = connect(path)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or attempt == retries:
                error = WarehouseBusyError if "lock" in str(exc).lower() else WarehouseError
                raise error(
                    f"{path}: cannot open the working warehouse for writing ({exc}). Another "
                    "OrderLens run may be writing it; only one writer at a time is allowed."
                ) from exc
            time.sleep(retry_wait_s)
    assert con is not None
    try:
        if check_version:
            version = check_schema_version(con, path)
            if version is None:
                set_meta(con, "schema_version", str(SCHEMA_VERSION))
        yield con
    finally:
        con.close()


def publish(warehouse: Path, snapshot: Path) -> datetime:
    """Publish the working warehouse as the read-only snapshot, atomically.

    The working file is checkpointed (so the copy needs no WAL), copied next to the snapshot
    and renamed over it. A reader that opened the old snapshot keeps reading it until it
    closes; a new reader sees the new one. A crash at any point leaves the previous snapshot
    whole. Returns the publish time recorded in the snapshot.
    """
    published_at = datetime.now(UTC).replace(microsecond=0)
    with open_writer(warehouse) as con:
        with transaction(con):
            set_meta(con, "published_at", published_at.isoformat())
        con.execute("CHECKPOINT")
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    staging = snapshot.with_name(f".{snapshot.name}.{os.getpid()}.tmp")
    try:
        with open(warehouse, "rb") as src, open(staging, "wb") as dst:
            shutil.copyfileobj(src, dst, length=16 * 1024 * 1024)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(staging, snapshot)
        _fsync_dir(snapshot.parent)
    finally:
        staging.unlink(missing_ok=True)
    return published_at


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class SnapshotReader:
    """Read-only queries on the published snapshot; one short-lived connection per call."""

    path: Path

    def exists(self) -> bool:
        return self.path.exists()

    def version_token(self) -> str:
        """Changes whenever a new snapshot is swapped in (use it as a cache key)."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return "missing"
        return f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_size}"

    @contextlib.contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-only connection for several queries that must see the same snapshot."""
        if not self.path.exists():
            raise SnapshotMissingError(
                f"{self.path}: nothing has been published yet. Run `orderlens run` first."
            )
        con = connect(self.path, read_only=True)
        try:
            yield con
        finally:
            con.close()

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pl.DataFrame:
        """Run one read-only query and return its result as a Polars frame."""
        with self.connection() as con:
            relation = con.sql(sql, params=list(params) if params else None)
            if relation is None:
                raise WarehouseError(f"query returned no result set: {sql[:80]}")
            return relation.pl()

    def tables(self) -> list[str]:
        """Names of the tables in the snapshot, sorted."""
        frame = self.query(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        )
        return frame["table_name"].to_list()

    def meta(self) -> dict[str, str]:
        """The snapshot's key/value facts (schema_version, published_at...)."""
        with self.connection() as con:
            if read_schema_version(con) is None:
                return {}
            return dict(con.execute("SELECT key, value FROM _meta").fetchall())


VOLATILE_COLUMNS: frozenset[str] = frozenset({"ingested_at", "first_seen_at", "duration_s"})
"""Columns that record when or how fast something ran; left out of content hashes."""


def content_hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """An order-independent hash of every table's content, by table name.

    Load times, durations and the publish time are left out, so re-running on the same input
    must give the same hashes.
    """
    hashes = {}
    tables = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    for table in tables:
        columns = [
            row[0]
            for row in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                "ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
        kept = ", ".join(f'"{c}"' for c in columns if c not in VOLATILE_COLUMNS)
        where = " WHERE key <> 'published_at'" if table == "_meta" else ""
        count, total = con.execute(
            f"SELECT count(*), coalesce(sum(hash(struct_pack({kept}))::HUGEINT), 0) "
            f'FROM "{table}"{where}'
        ).fetchall()[0]
        hashes[table] = f"{count}:{total}"
    return hashes
