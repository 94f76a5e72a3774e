"""The run log: one row per pipeline run, and the alerts failed runs raise; kept outside the
warehouse.

A SQLite file in WAL mode (``<state>/runs.sqlite``), so a failed run can still be recorded
when the warehouse is unusable, many processes can write, and ``orderlens status`` and the
dashboard can read it at any time without touching the warehouse lock.

Alerts
------
A failed run raises one alert per failed step (kind ``run_failed``) or failed blocking asset
check (kind ``check_failed``), or one without a step when the run failed before any step ran.
An alert stays active until a *later* run succeeds (one that started after the failing run):

* a successful run of the whole pipeline (selection ``*``) clears every active alert;
* a successful partial run (``--select``) clears only the alerts of the steps that succeeded in
  it (a step that ran and passed is proof; a step it did not run is not), so an alert without
  a step waits for a whole-pipeline run.

Recording is idempotent: the command line and Dagster's run-status sensors may both record the
same run (same run id); an alert is keyed by (run id, step, kind) and is raised once, and an
alert recorded late, after a later whole-pipeline success was already logged, is stored as
cleared by that run.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS runs (
    run_id        TEXT PRIMARY KEY,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running', 'success', 'failure')),
    selection     TEXT NOT NULL DEFAULT '*',
    error_summary TEXT,
    failed_step   TEXT
)
""",
    """
CREATE TABLE IF NOT EXISTS alerts (
    run_id         TEXT NOT NULL,
    step           TEXT NOT NULL DEFAULT '',  -- Dagster step key; '' when no step ran
    asset          TEXT,                      -- the asset (a check's asset) it concerns
    kind           TEXT NOT NULL CHECK (kind IN ('run_failed', 'check_failed')),
    error_summary  TEXT NOT NULL,             -- one line, card numbers redacted
    raised_at      TEXT NOT NULL,
    cleared_at     TEXT,
    cleared_by_run TEXT,
    PRIMARY KEY (run_id, step, kind)
)
""",
)

FULL_SELECTION = "*"
"""The selection of a run of the whole pipeline."""

MAX_SUMMARY = 500
"""Longest error summary kept (characters)."""

AlertKind = Literal["run_failed", "check_failed"]


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


@dataclass(frozen=True)
class Alert:
    """A failure someone should look at: a failed step or blocking check of one run."""

    run_id: str
    step: str | None
    asset: str | None
    kind: str
    error_summary: str
    raised_at: datetime
    cleared_at: datetime | None
    cleared_by_run: str | None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    @property
    def where(self) -> str:
        """Where it failed, for people: asset and step, or 'before any step'."""
        if self.step is None:
            return "before any step"
        if self.asset and self.asset != self.step:
            return f"{self.asset} (step {self.step})"
        return self.step


@dataclass(frozen=True)
class Freshness:
    """Whether the data is stale: no successful run (or publish) within the window."""

    stale: bool
    stale_after_hours: float
    last_success_at: datetime | None
    refreshed_at: datetime | None
    """The newer of the last successful run's end and the snapshot's publish time."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def clean_summary(text: str | None) -> str:
    """One line, card numbers redacted, at most :data:`MAX_SUMMARY` characters."""
    # Imported here: orderlens.security needs Polars, which the Dagster code location (it
    # imports this module through its sensors) must not load at import time.
    from orderlens.security import redact_card_numbers

    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    summary, _ = redact_card_numbers(" ".join(lines) or "no error summary recorded")
    summary = summary or ""
    return summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…"


_ALERT_COLUMNS = "run_id, step, asset, kind, error_summary, raised_at, cleared_at, cleared_by_run"


def _alert(row: tuple) -> Alert:
    return Alert(
        row[0],
        row[1] or None,
        row[2],
        row[3],
        row[4],
        datetime.fromisoformat(row[5]),
        _parse(row[6]),
        row[7],
    )


@dataclass(frozen=True)
class RunLog:
    """Append and read pipeline runs and their alerts."""

    path: Path

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                con.execute(statement)
            with con:
                yield con
        finally:
            con.close()

    def start(
        self, run_id: str, selection: str = FULL_SELECTION, started_at: datetime | None = None
    ) -> None:
        """Record that a run began (``started_at``: when it really began, if not now)."""
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO runs (run_id, started_at, status, selection) "
                "VALUES (?, ?, 'running', ?)",
                (run_id, _iso(started_at) if started_at else _now(), selection),
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

    def get(self, run_id: str) -> RunRecord | None:
        """One run by id, or None when the log does not know it."""
        if not self.path.exists():
            return None
        with self._connect() as con:
            rows = con.execute(
                "SELECT run_id, started_at, finished_at, status, selection, error_summary, "
                "failed_step FROM runs WHERE run_id = ?",
                (run_id,),
            ).fetchall()
        return next(
            (
                RunRecord(r[0], datetime.fromisoformat(r[1]), _parse(r[2]), r[3], r[4], r[5], r[6])
                for r in rows
            ),
            None,
        )

    def latest(self) -> RunRecord | None:
        """The most recent run, whatever its status."""
        runs = self.recent(1)
        return runs[0] if runs else None

    def last_success(self) -> RunRecord | None:
        """The most recent successful run."""
        return next((run for run in self.recent(200) if run.status == "success"), None)

    # ------------------------------------------------------------------ alerts

    def raise_alert(
        self,
        run_id: str,
        *,
        kind: AlertKind,
        error_summary: str | None,
        step: str | None = None,
        asset: str | None = None,
    ) -> bool:
        """Raise an alert for a failed run; False when this run already raised it.

        The summary is cut to one line and card numbers are redacted here too. An alert
        recorded after a later whole-pipeline run already succeeded is stored as cleared by
        that run (a run-status sensor may record a failure late).
        """
        with self._connect() as con:
            inserted = con.execute(
                "INSERT INTO alerts (run_id, step, asset, kind, error_summary, raised_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, step, kind) DO NOTHING",
                (run_id, step or "", asset, kind, clean_summary(error_summary), _now()),
            ).rowcount
            if not inserted:
                return False
            later = con.execute(
                "SELECT s.run_id, coalesce(s.finished_at, s.started_at) FROM runs s, runs f "
                "WHERE f.run_id = ? AND s.status = 'success' AND s.selection = ? "
                "AND s.started_at > f.started_at ORDER BY s.started_at LIMIT 1",
                (run_id, FULL_SELECTION),
            ).fetchall()
            if later:
                con.execute(
                    "UPDATE alerts SET cleared_at = ?, cleared_by_run = ? "
                    "WHERE run_id = ? AND step = ? AND kind = ?",
                    (later[0][1], later[0][0], run_id, step or "", kind),
                )
        return True

    def clear_alerts(self, run_id: str, steps: Collection[str] | None = None) -> int:
        """A successful run clears the active alerts of runs that started before it.

        ``steps=None`` (a whole-pipeline run) clears every such alert; otherwise only the
        alerts of these step keys (the steps that succeeded in a partial run). Returns how
        many were cleared; clearing again clears nothing more.
        """
        if steps is not None and not steps:
            return 0
        sql = (
            "UPDATE alerts SET cleared_at = ?, cleared_by_run = ? "
            "WHERE cleared_at IS NULL AND run_id <> ? "
            "AND coalesce((SELECT started_at FROM runs r WHERE r.run_id = alerts.run_id), '') "
            "<= coalesce((SELECT started_at FROM runs r WHERE r.run_id = ?), '9999')"
        )
        params: list[str] = [_now(), run_id, run_id, run_id]
        if steps is not None:
            sql += f" AND step IN ({', '.join('?' for _ in steps)})"
            params += list(steps)
        with self._connect() as con:
            return con.execute(sql, params).rowcount

    def active_alerts(self) -> list[Alert]:
        """Alerts not cleared yet, newest first."""
        return self._alerts("WHERE cleared_at IS NULL")

    def alerts(self, run_id: str | None = None) -> list[Alert]:
        """Every alert (active or cleared), of one run or of all, newest first."""
        if run_id is None:
            return self._alerts("")
        return self._alerts("WHERE run_id = ?", (run_id,))

    def _alerts(self, where: str, params: tuple[str, ...] = ()) -> list[Alert]:
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                f"SELECT {_ALERT_COLUMNS} FROM alerts {where} "
                "ORDER BY raised_at DESC, rowid DESC LIMIT 200",
                params,
            ).fetchall()
        return [_alert(row) for row in rows]

    def freshness(
        self,
        stale_after_hours: float,
        published_at: datetime | None = None,
        now: datetime | None = None,
    ) -> Freshness:
        """Stale when neither a successful run nor the snapshot's publish happened within
        the last ``stale_after_hours`` (``published_at`` counts when the log was reset)."""
        success = self.last_success()
        last = _aware(success.finished_at or success.started_at) if success else None
        candidates = [t for t in (last, published_at and _aware(published_at)) if t]
        refreshed = max(candidates) if candidates else None
        cutoff = (now or datetime.now(UTC)) - timedelta(hours=stale_after_hours)
        return Freshness(
            stale=refreshed is None or refreshed < cutoff,
            stale_after_hours=stale_after_hours,
            last_success_at=last,
            refreshed_at=refreshed,
        )
