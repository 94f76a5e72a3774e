"""When the pipeline runs by itself: new landing files, a daily refresh, and the run log.

How a run ends is recorded by one function, :func:`record_run_end`, whether the run was started
by ``orderlens run`` (:func:`pipelines.runner.run_pipeline`) or by Dagster (UI, sensor,
schedule: the run-status sensors below), so the run log and its alerts cannot drift apart.
"""

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg

from orderlens.runlog import FULL_SELECTION, AlertKind, RunLog, clean_summary
from orderlens.settings import Settings

REFRESH_JOB = dg.define_asset_job(
    "orderlens_refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest the landing folder, rebuild staging and marts, publish the snapshot.",
)

RUN_ID_TAG = "orderlens/run_id"
"""Tag of runs started by ``orderlens run``: the id the run log knows them by."""
SELECTION_TAG = "orderlens/selection"
"""Tag of runs started by ``orderlens run``: the asset selection (``*`` = whole pipeline)."""


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


@dataclass(frozen=True)
class RunProblem:
    """Why a run failed: one failed step, or one failed blocking asset check."""

    kind: AlertKind
    step: str | None
    asset: str | None
    summary: str
    error_class: str = ""


def root_cause(error: "dg.SerializableErrorInfo | None") -> tuple[str, str]:
    """Class name and message of the innermost error (what the user needs, no traceback)."""
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return "", "unknown error"
    lines = [line for line in error.message.strip().splitlines() if line.strip()]
    message = lines[0] if lines else error.cls_name
    return error.cls_name or "", message


def _check_summary(evaluation: dg.AssetCheckEvaluation) -> str:
    facts = ", ".join(
        f"{name}: {getattr(value, 'value', value)}" for name, value in evaluation.metadata.items()
    )
    text = (
        f"blocking check {evaluation.check_name} on {evaluation.asset_key.to_user_string()} failed"
    )
    if evaluation.description:
        text += f": {evaluation.description}"
    return f"{text} ({facts})" if facts else text


def _blocks(evaluation: dg.AssetCheckEvaluation) -> bool:
    """A failed blocking check of severity ERROR: the one kind that stops a run."""
    return (
        not evaluation.passed
        and bool(evaluation.blocking)
        and evaluation.severity == dg.AssetCheckSeverity.ERROR
    )


def run_problems(events: Iterable[dg.DagsterEvent]) -> list[RunProblem]:
    """The failed steps and failed blocking checks of a run, in the order they happened.

    A failed blocking check (``blocking=True``, severity ERROR) shows in the events as an
    ``ASSET_CHECK_EVALUATION`` with ``passed=False`` and, right after it, a ``STEP_FAILURE`` of
    the check's step (``DagsterAssetCheckFailedError``: "1 blocking asset check failed with
    ERROR severity"); the downstream steps never start. It is reported once, as
    ``check_failed``, with the check's metadata as the summary.
    """
    events = list(events)
    failed_checks = {
        event.step_key: event.asset_check_evaluation_data
        for event in events
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and _blocks(event.asset_check_evaluation_data)
    }
    problems: list[RunProblem] = []
    for event in events:
        if event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if _blocks(evaluation):
                problems.append(
                    RunProblem(
                        "check_failed",
                        event.step_key,
                        evaluation.asset_key.to_user_string(),
                        clean_summary(_check_summary(evaluation)),
                    )
                )
        elif (
            event.event_type == dg.DagsterEventType.STEP_FAILURE
            and event.step_key not in failed_checks
        ):
            error_class, message = root_cause(event.step_failure_data.error)
            problems.append(
                RunProblem(
                    "run_failed",
                    event.step_key,
                    event.step_key,
                    clean_summary(message),
                    error_class,
                )
            )
    return problems


def record_run_end(
    log: RunLog,
    run_id: str,
    *,
    success: bool,
    events: Sequence[dg.DagsterEvent],
    selection: str = FULL_SELECTION,
    failure: str | None = None,
) -> list[RunProblem]:
    """Record how a run ended in the run log and raise or clear its alerts.

    A failed run (``success`` False, or any failed step or blocking check in ``events``)
    raises one alert per problem; ``failure`` describes a run that failed without a step
    failure event. A successful run clears the alerts of earlier runs: all of them when it
    ran the whole pipeline (``selection`` ``*``), else those of the steps that succeeded in
    it. Safe to call twice for the same run. Returns the problems (empty on success).
    """
    problems = run_problems(events)
    if success and not problems:
        log.finish(run_id, success=True)
        succeeded = {
            event.step_key
            for event in events
            if event.event_type == dg.DagsterEventType.STEP_SUCCESS and event.step_key
        }
        log.clear_alerts(run_id, None if selection == FULL_SELECTION else succeeded)
        return []
    if not problems:
        problems = [RunProblem("run_failed", None, None, clean_summary(failure or "run failed"))]
    first = problems[0]
    log.finish(run_id, success=False, error_summary=first.summary, failed_step=first.step)
    for problem in problems:
        log.raise_alert(
            run_id,
            kind=problem.kind,
            error_summary=problem.summary,
            step=problem.step,
            asset=problem.asset,
        )
    return problems


def _log_id(run: dg.DagsterRun) -> str:
    return run.tags.get(RUN_ID_TAG, run.run_id)


def _selection(run: dg.DagsterRun) -> str:
    """``*`` for a whole-pipeline run, else the selected assets (or the job's name)."""
    if SELECTION_TAG in run.tags:
        return run.tags[SELECTION_TAG]
    if run.asset_selection:
        return ",".join(sorted(key.to_user_string() for key in run.asset_selection))
    return FULL_SELECTION if run.job_name == REFRESH_JOB.name else run.job_name


_RECORDED_EVENTS = {
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
}


def _record_from_sensor(context: dg.RunStatusSensorContext, *, success: bool) -> None:
    log = RunLog(Settings.from_env().run_log)
    run = context.dagster_run
    run_id = _log_id(run)
    selection = _selection(run)
    if log.get(run_id) is None:  # launched from Dagster, not from `orderlens run`
        record = context.instance.get_run_record_by_id(run.run_id)
        start = record.start_time if record is not None else None
        log.start(run_id, selection, datetime.fromtimestamp(start, UTC) if start else None)
    events = [
        entry.dagster_event
        for entry in context.instance.all_logs(run.run_id, of_type=_RECORDED_EVENTS)
        if entry.dagster_event is not None
    ]
    failure = None if success else context.dagster_event.message
    record_run_end(
        log, run_id, success=success, events=events, selection=selection, failure=failure
    )


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS, default_status=dg.DefaultSensorStatus.RUNNING
)
def record_successful_runs(context: dg.RunStatusSensorContext):
    """Records runs launched from Dagster (UI, sensor, schedule) in the OrderLens run log and
    clears the alerts they settle."""
    _record_from_sensor(context, success=True)


@dg.run_failure_sensor(default_status=dg.DefaultSensorStatus.RUNNING)
def record_failed_runs(context: dg.RunFailureSensorContext):
    """Records failed Dagster runs in the OrderLens run log and raises their alerts (failed
    steps and failed blocking checks)."""
    _record_from_sensor(context, success=False)
