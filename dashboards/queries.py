"""Cached, read-only queries on the published snapshot.

Every query goes through :func:`query`, which caches the *result* (a Polars frame) with
``st.cache_data`` keyed on the SQL text, its parameters, the snapshot path and the snapshot's
``version_token()``. A new publish changes the token, so the next rerun reads fresh data;
connections are never cached: each cache miss opens one short-lived read-only connection
(:class:`orderlens.warehouse.SnapshotReader`) and closes it, so the pipeline's publish is never
blocked by the dashboard.

Settings are read per call (``Settings.from_env()``), never at import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import streamlit as st

from orderlens.settings import Settings
from orderlens.warehouse import (
    SCHEMA_VERSION,
    SnapshotMissingError,
    SnapshotReader,
    WarehouseError,
)

# ``--landing`` is a global option of the CLI, so it comes before the ``run`` subcommand.
NOTHING_PUBLISHED = (
    "Nothing published yet: run `orderlens --landing DIR run` or `make demo`, "
    "then reload this page."
)

# Decimal places shown for money; the raw KPI markers use the same rounding.
CENTS = Decimal("0.01")


def settings() -> Settings:
    """The installation's settings, read now (not at import)."""
    return Settings.from_env()


def reader() -> SnapshotReader:
    return SnapshotReader(settings().snapshot)


def _freeze(value: Any) -> Any:
    # Lists become tuples so the parameters are part of a stable, hashable cache key.
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(v) for v in value]
    return value


@st.cache_data(show_spinner=False, max_entries=256, ttl=timedelta(hours=6))
def _cached_query(path: str, token: str, sql: str, params: tuple[Any, ...]) -> pl.DataFrame:
    # ``token`` is unused in the body: it is part of the cache key, so a new publish misses.
    del token
    return SnapshotReader(Path(path)).query(sql, [_thaw(p) for p in params] or None)


@st.cache_data(show_spinner=False, max_entries=16, ttl=timedelta(hours=6))
def _cached_meta(path: str, token: str) -> dict[str, str]:
    del token
    return SnapshotReader(Path(path)).meta()


def query(sql: str, params: Sequence[Any] = ()) -> pl.DataFrame:
    """Run a read-only query on the current snapshot (cached until the next publish).

    Raises :class:`SnapshotMissingError` (with :data:`NOTHING_PUBLISHED`) when nothing has been
    published yet.
    """
    snap = reader()
    token = snap.version_token()
    if token == "missing":
        raise SnapshotMissingError(NOTHING_PUBLISHED)
    return _cached_query(str(snap.path), token, sql, tuple(_freeze(p) for p in params))


def snapshot_meta() -> dict[str, str] | None:
    """The snapshot's ``_meta`` facts, or None when nothing has been published."""
    snap = reader()
    token = snap.version_token()
    if token == "missing":
        return None
    return _cached_meta(str(snap.path), token)


def snapshot_problem() -> str | None:
    """Why the snapshot cannot be shown (missing, unreadable, other schema), or None if fine."""
    try:
        meta = snapshot_meta()
    except SnapshotMissingError:
        return NOTHING_PUBLISHED
    except (WarehouseError, OSError) as exc:
        return f"The published snapshot cannot be read: {exc}"
    except Exception as exc:  # duckdb raises its own error types (corrupt or locked file)
        return f"The published snapshot cannot be read: {type(exc).__name__}: {exc}"
    if meta is None:
        return NOTHING_PUBLISHED
    version = meta.get("schema_version")
    if version is None or not version.isdigit():
        return (
            "The published snapshot has no schema version; publish it again with `orderlens run`."
        )
    if int(version) != SCHEMA_VERSION:
        return (
            f"The published snapshot has schema version {version}, this dashboard reads version "
            f"{SCHEMA_VERSION}. Run `orderlens rebuild` (or upgrade the dashboard) and publish again."
        )
    return None


def reporting_currency() -> str:
    meta = snapshot_meta() or {}
    return meta.get("reporting_currency") or settings().reporting_currency


def timezone_name() -> str:
    meta = snapshot_meta() or {}
    return meta.get("timezone") or settings().timezone


def published_at() -> datetime | None:
    """When the current snapshot was published (aware datetime), or None."""
    meta = snapshot_meta() or {}
    raw = meta.get("published_at")
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        return None


def local_time(value: datetime | None, tz: str | None = None) -> str:
    """An aware timestamp shown in the merchant time zone, e.g. ``2024-03-01 09:15 UTC``."""
    if value is None:
        return "—"
    zone = ZoneInfo(tz or timezone_name())
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("UTC"))
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def to_local(frame: pl.DataFrame, tz: str | None = None) -> pl.DataFrame:
    """Convert every time-zone-aware column of ``frame`` to the merchant time zone."""
    zone = tz or timezone_name()
    aware = [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]
    if not aware:
        return frame
    return frame.with_columns(pl.col(c).dt.convert_time_zone(zone) for c in aware)


def cents(value: Decimal | float | int | None) -> Decimal | None:
    """Round money half-up to two decimals (the rounding every KPI uses)."""
    if value is None:
        return None
    return Decimal(str(value)).quantize(CENTS, rounding=ROUND_HALF_UP)


def order_date_bounds() -> tuple[date, date] | None:
    """First and last order date (merchant time zone) in the snapshot, or None if no orders."""
    frame = query("SELECT min(order_date) AS lo, max(order_date) AS hi FROM fct_orders")
    lo, hi = frame.row(0)
    if lo is None or hi is None:
        return None
    return lo, hi


def distinct(table: str, column: str) -> list[str]:
    """Sorted distinct non-null values of a column (for filter choices)."""
    if table not in _FILTERABLE or column not in _FILTERABLE[table]:
        raise ValueError(f"not a filterable column: {table}.{column}")
    frame = query(
        f"SELECT DISTINCT {column} AS v FROM {table} WHERE {column} IS NOT NULL ORDER BY 1"
    )
    return [str(v) for v in frame["v"].to_list()]


def has_table(table: str) -> bool:
    """True when the snapshot has this table (a snapshot from an older release may not)."""
    frame = query(
        "SELECT count(*) AS n FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = ?",
        (table,),
    )
    return bool(frame.item())


def has_column(table: str, column: str) -> bool:
    """True when the snapshot's ``table`` has ``column`` (older releases lack newer columns)."""
    frame = query(
        "SELECT count(*) AS n FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? AND column_name = ?",
        (table, column),
    )
    return bool(frame.item())


HELD_PREFIX = "held with its order: "
"""How ``stg_rejects`` marks a line held only because another line or field of its order is
unusable; the held-orders view shows the order's reason without it."""

_HELD_LINES = (
    "SELECT file_id, source, file_name, line, order_key, "
    f"CASE WHEN starts_with(reason, '{HELD_PREFIX}') THEN substr(reason, {len(HELD_PREFIX) + 1}) "
    "ELSE reason END AS reason FROM stg_rejects"
)

HELD_ORDERS_SQL = f"""
WITH held AS ({_HELD_LINES})
SELECT order_key, source, file_name, min(line) AS first_line,
       string_agg(CAST(line AS VARCHAR), ', ' ORDER BY line) AS lines,
       count(*) AS line_count,
       list_sort(list_distinct(list(reason))) AS reasons
FROM held
GROUP BY file_id, source, file_name, order_key, CASE WHEN order_key IS NULL THEN line END
"""
"""One row per order held out of staging (``stg_rejects`` has one per raw line): its file, its
lines and the distinct reasons. A line without a ``source_order_id`` belongs to no known
order, so it is a row of its own with a NULL ``order_key``."""


@dataclass(frozen=True)
class HeldCounts:
    orders: int
    """Orders held out of staging; a line without an order id counts as one (as in
    ``orderlens status``)."""
    lines_without_order: int
    """Of those, raw lines held because they carry no ``source_order_id``."""


def held_counts() -> HeldCounts | None:
    """How much ``stg_rejects`` holds out of staging, or None when the snapshot lacks it."""
    if not has_table("stg_rejects"):
        return None
    row = query(
        "SELECT count(DISTINCT coalesce(order_key, file_id || ':' || line)) AS orders, "
        "count(*) FILTER (WHERE order_key IS NULL) AS lines_without_order FROM stg_rejects"
    ).row(0, named=True)
    return HeldCounts(int(row["orders"] or 0), int(row["lines_without_order"] or 0))


def held_reasons() -> list[str]:
    """Sorted distinct reasons an order is held for (filter choices)."""
    frame = query(
        f"SELECT DISTINCT reason AS v FROM ({_HELD_LINES}) WHERE reason IS NOT NULL ORDER BY 1"
    )
    return [str(v) for v in frame["v"].to_list()]


# Identifiers interpolated into SQL must come from this fixed list, never from user input.
_FILTERABLE: dict[str, frozenset[str]] = {
    "fct_orders": frozenset(
        {"channel", "source", "store", "financial_status", "fulfillment_status", "currency"}
    ),
    "ingest_files": frozenset({"source", "status", "file_format", "file_name"}),
    "ingest_rejects": frozenset({"source", "file_name", "error_type", "column_name"}),
    "quality_findings": frozenset({"reason_code", "severity", "channel", "source"}),
    "quality_quarantine": frozenset({"channel", "source"}),
    "stg_rejects": frozenset({"source", "file_name"}),
}


def like_pattern(text: str) -> str:
    """A case-insensitive ``ILIKE ... ESCAPE '\\'`` pattern matching ``text`` anywhere."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
