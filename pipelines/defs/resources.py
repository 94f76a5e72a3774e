"""The one resource every warehouse-writing asset goes through.

Settings are resolved when a step runs (from ``ORDERLENS_*`` environment variables, or the
fields below when set), never when the code location is imported.
"""

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import dagster as dg

from orderlens.settings import Settings
from pipelines.defs.ingest.tables import create_raw_tables

if TYPE_CHECKING:
    import duckdb

WRITER_POOL = "orderlens_warehouse"
"""Concurrency pool of every step that writes the warehouse (limit 1 in dagster.yaml)."""

WRITE_RETRY = dg.RetryPolicy(
    max_retries=3, delay=0.2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
"""Writing steps retry transient errors (a lock held a moment too long, an I/O hiccup);
errors that another try cannot fix are raised as ``dg.Failure(allow_retries=False)``."""


@contextlib.contextmanager
def permanent_errors() -> Iterator[None]:
    """Turn errors that no retry can fix into a Dagster failure that is not retried."""
    from orderlens.settings import SettingsError
    from orderlens.warehouse import SchemaVersionError
    from pipelines.defs.ingest.landing import IngestError

    try:
        yield
    except (SettingsError, SchemaVersionError, IngestError) as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from exc


class WarehouseResource(dg.ConfigurableResource):
    """Paths and merchant settings; empty fields fall back to the environment at run time."""

    home: str = ""
    landing: str = ""
    warehouse: str = ""
    snapshot: str = ""
    timezone: str = ""
    reporting_currency: str = ""

    def settings(self) -> Settings:
        with permanent_errors():
            return self._settings()

    def _settings(self) -> Settings:
        return Settings.from_env(
            home=self.home or None,
            landing=self.landing or None,
            warehouse=self.warehouse or None,
            snapshot=self.snapshot or None,
            timezone=self.timezone or None,
            reporting_currency=self.reporting_currency or None,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> "WarehouseResource":
        """A resource pinned to already-resolved settings (CLI runs and tests)."""
        return cls(
            home=str(settings.home),
            landing=str(settings.landing),
            warehouse=str(settings.warehouse),
            snapshot=str(settings.snapshot),
            timezone=settings.timezone,
            reporting_currency=settings.reporting_currency,
        )

    @contextlib.contextmanager
    def writer(self) -> Iterator["duckdb.DuckDBPyConnection"]:
        """The working warehouse, schema checked and raw tables present; closed on exit."""
        from orderlens.warehouse import open_writer

        settings = self.settings()
        with permanent_errors(), open_writer(settings.warehouse) as con:
            create_raw_tables(con)
            yield con
