"""The run log: one row per pipeline run, kept outside the warehouse.

A SQLite file in WAL mode (``<state>/runs.sqlite``), so a failed run can still be recorded
when the warehouse is unusable, many processes can write, and ``orderlens status`` and the
dashboard can read it at any time without touching the warehouse lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running', 'success', 'failure')),
    selection     TEXT NOT NULL DEFAULT '*',
    error_summary TEXT,
    failed_step   TEXT
)
"""


@dataclass(frozen=True)
class RunRecord:
    """One pipeline run as the log knows it."""

    run_id: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    selection: str
    error_summary: str | None
    failed_step: str | None

    @property
    def duration_s(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@dataclass(frozen=True)
class RunLog:
    """Append and read pipeline runs."""

    path: Path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(_SCHEMA)
            with con:
                yield con
        finally:
            con.close()

    def start(self, run_id: str, selection: str = "*") -> None:
        """Record that a run began."""
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO runs (run_id, started_at, status, selection) "
                "VALUES (?, ?, 'running', ?)",
                (run_id, _now(), selection),
            )

    def finish(
        self,
        run_id: str,
        *,
        success: bool,
        error_summary: str | None = None,
        failed_step: str | None = None,
    ) -> None:
        """Record how a run ended (the error summary must already be free of secrets)."""
        with self._connect() as con:
            con.execute(
                "UPDATE runs SET finished_at = ?, status = ?, error_summary = ?, failed_step = ? "
                "WHERE run_id = ?",
                (_now(), "success" if success else "failure", error_summary, failed_step, run_id),
            )

    def recent(self, limit: int = 20) -> list[RunRecord]:
        """The latest runs, newest first."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT run_id, started_at, finished_at, status, selection, error_summary, "
                "failed_step FROM runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            RunRecord(r[0], datetime.fromisoformat(r[1]), _parse(r[2]), r[3], r[4], r[5], r[6])
            for r in rows
        ]

    def latest(self) -> RunRecord | None:
        """The most recent run, whatever its status."""
        runs = self.recent(1)
        return runs[0] if runs else None

    def last_success(self) -> RunRecord | None:
        """The most recent successful run."""
        return next((run for run in self.recent(200) if run.status == "success"), None)
