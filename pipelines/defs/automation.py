"""When the pipeline runs by itself: new landing files, a daily refresh, and the run log."""

import hashlib

import dagster as dg

from orderlens.runlog import RunLog
from orderlens.settings import Settings

REFRESH_JOB = dg.define_asset_job(
    "orderlens_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest the landing folder, rebuild staging and marts, publish the snapshot.",
)

RUN_ID_TAG = "orderlens/run_id"


def landing_fingerprint(settings: Settings) -> str:
    """Changes whenever a file in the landing folder is added, removed or modified."""
    digest = hashlib.sha256()
    if settings.landing.exists():
        for path in sorted(p for p in settings.landing.rglob("*") if p.is_file()):
            stat = path.stat()
            digest.update(
                f"{path.relative_to(settings.landing)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


@dg.sensor(
    job=REFRESH_JOB, minimum_interval_seconds=30, default_status=dg.DefaultSensorStatus.RUNNING
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Requests a refresh when the landing folder changes."""
    fingerprint = landing_fingerprint(Settings.from_env())
    if fingerprint == context.cursor:
        return dg.SkipReason("landing folder unchanged")
    context.update_cursor(fingerprint)
    return dg.RunRequest(run_key=fingerprint)


def daily_refresh_schedule(timezone: str) -> dg.ScheduleDefinition:
    """A refresh every day at 02:00 in the merchant's time zone."""
    return dg.ScheduleDefinition(
        name="daily_refresh",
        job=REFRESH_JOB,
        cron_schedule="0 2 * * *",
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
    )


def _log_id(run: dg.DagsterRun) -> str:
    return run.tags.get(RUN_ID_TAG, run.run_id)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING
)
def record_successful_runs(context: dg.RunStatusSensorContext):
    """Records runs launched from Dagster (UI, sensor, schedule) in the OrderLens run log."""
    log = RunLog(Settings.from_env().run_log)
    run_id = _log_id(context.dagster_run)
    if not any(r.run_id == run_id for r in log.recent(50)):
        log.start(run_id)
    log.finish(run_id, success=True)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def record_failed_runs(context: dg.RunFailureSensorContext):
    """Records failed Dagster runs, with the failing step, in the OrderLens run log."""
    log = RunLog(Settings.from_env().run_log)
    run_id = _log_id(context.dagster_run)
    if not any(r.run_id == run_id for r in log.recent(50)):
        log.start(run_id)
    steps = context.get_step_failure_events()
    failed_step = steps[0].step_key if steps else None
    message = context.failure_event.message or "run failed"
    log.finish(run_id, success=False, error_summary=message[:500], failed_step=failed_step)
