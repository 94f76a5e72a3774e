"""The Dagster code location (``workspace.yaml`` → ``pipelines.definitions``).

Nothing happens at import: Dagster calls :func:`defs` when it loads the location, and
settings (time zone for the schedule) are read then.
"""

from __future__ import annotations

import dagster as dg

from orderlens.settings import Settings
from pipelines.defs.assets import ASSET_CHECKS, ASSETS
from pipelines.defs.automation import (
    REFRESH_JOB,
    daily_refresh_schedule,
    landing_files_sensor,
    record_failed_runs,
    record_successful_runs,
)
from pipelines.defs.resources import WarehouseResource


@dg.definitions
def defs() -> dg.Definitions:
    """Assets, checks, the refresh job, its sensor and schedule, and the warehouse resource."""
    settings = Settings.from_env()
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=ASSET_CHECKS,
        jobs=[REFRESH_JOB],
        sensors=[landing_files_sensor, record_successful_runs, record_failed_runs],
        schedules=[daily_refresh_schedule(settings.timezone)],
        resources={"warehouse": WarehouseResource()},
    )
