"""Running the pipeline from the command line: a real Dagster run on a local instance.

The instance lives in ``DAGSTER_HOME`` (default ``<home>/dagster``), so runs started here are
visible in ``make dev``; telemetry is off and every warehouse writer shares a pool of one.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from orderlens.runlog import RunLog
from orderlens.settings import Settings
from orderlens.warehouse import (
    SCHEMA_VERSION,
    WarehouseBusyError,
    WarehouseError,
    check_schema_version,
    open_writer,
    set_meta,
    transaction,
)
from pipelines.defs.assets import ASSET_CHECKS, ASSETS
from pipelines.defs.automation import RUN_ID_TAG, SELECTION_TAG, record_run_end
from pipelines.defs.ingest.tables import RAW_FILE_PREFIX, RAW_TABLES, refresh_raw_view
from pipelines.defs.resources import WarehouseResource

INSTANCE_CONFIG = """\
# Written by OrderLens. Runs are local; nothing is sent anywhere.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""

QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass(frozen=True)
class RunOutcome:
    """How a pipeline run ended."""

    run_id: str
    success: bool
    duration_s: float
    failed_step: str | None = None
    error: str | None = None
    schema_error: bool = False


def prepare_dagster_home(settings: Settings) -> Path:
    """``DAGSTER_HOME`` (default ``<home>/dagster``) with telemetry off and a writer pool of
    one; sets the variable for this process and the ones it starts."""
    home = Path(os.environ.get("DAGSTER_HOME") or settings.home / "dagster").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_CONFIG)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def dagster_instance(settings: Settings) -> dg.DagsterInstance:
    """The local persistent Dagster instance.

    Its SQLite storage is created on first use; runs started at the same moment (a sensor
    and a schedule, or a backfill) would race to create it, so creation is serialised by a
    file lock.
    """
    home = prepare_dagster_home(settings)
    with open(home / ".orderlens-init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            instance = dg.DagsterInstance.get()
            instance.get_runs(limit=1)  # creates and migrates the storage under the lock
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return instance


def run_pipeline(
    selection: str = "*",
    settings: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
) -> RunOutcome:
    """Materialize the selected assets (default: all) and record the run in the run log.

    A failed step or a failed blocking asset check fails the run and raises an alert; a
    successful run clears the alerts it settles (see :func:`record_run_end`, which the
    Dagster run-status sensors use too). A warehouse the run cannot open (another schema
    version, say) is recorded as a failed run with an alert, then raised to the caller.
    Tests pass an ephemeral instance; the command line uses the local persistent one.
    """
    settings = settings or Settings.from_env()
    validate_selection(selection)
    settings.ensure_dirs()
    run_id = uuid.uuid4().hex[:12]
    log = RunLog(settings.run_log)
    log.start(run_id, selection)
    started = time.perf_counter()
    try:
        with open_writer(settings.warehouse, retries=4) as con:
            check_schema_version(con, settings.warehouse)
    except WarehouseBusyError:
        # Another run is writing; every step checks the version itself, inside the pool.
        pass
    except WarehouseError as exc:
        record_run_end(log, run_id, success=False, events=[], selection=selection, failure=str(exc))
        raise
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    result = dg.materialize(
        [*ASSETS, *ASSET_CHECKS],
        selection=selection,
        instance=instance or dagster_instance(settings),
        resources={"warehouse": WarehouseResource.from_settings(settings)},
        run_config=QUIET_LOGS,
        raise_on_error=False,
        tags={RUN_ID_TAG: run_id, SELECTION_TAG: selection},
    )
    problems = record_run_end(
        log, run_id, success=result.success, events=result.all_events, selection=selection
    )
    duration = time.perf_counter() - started
    if not problems:
        return RunOutcome(run_id, True, duration)
    first = problems[0]
    return RunOutcome(
        run_id,
        False,
        duration,
        first.step,
        first.summary,
        schema_error=first.error_class == "SchemaVersionError",
    )


class SelectionError(ValueError):
    """An asset selection names no asset of the code location."""


def validate_selection(selection: str) -> None:
    """Refuse, before anything runs or is recorded, a selection that matches nothing."""
    graph = dg.Definitions(
        assets=[*ASSETS, *ASSET_CHECKS], resources={"warehouse": WarehouseResource()}
    ).resolve_asset_graph()
    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    try:
        selected = dg.AssetSelection.from_string(selection).resolve(graph)
    except Exception as exc:  # Dagster raises several error types for a bad selection
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SelectionError(f"--select {selection!r}: {first}") from exc
    if not selected:
        raise SelectionError(f"--select {selection!r} matches no asset")


def drop_derived_tables(warehouse: Path) -> list[str]:
    """Drop every table but the raw layer and bring the schema version up to date."""
    with open_writer(warehouse, check_version=False) as con, transaction(con):
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        derived = [
            t
            for t in tables
            if t not in RAW_TABLES and t != "_meta" and not t.startswith(RAW_FILE_PREFIX)
        ]
        for table in derived:
            con.execute(f'DROP TABLE "{table}"')
        con.execute("DELETE FROM ingest_files WHERE source = '_reference'")
        con.execute("DELETE FROM ingest_rejects WHERE source = '_reference'")
        refresh_raw_view(con)
        set_meta(con, "schema_version", str(SCHEMA_VERSION))
    return derived
