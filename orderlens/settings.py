"""Where OrderLens keeps its files and how it is configured.

Every path has a default under one home folder (``ORDERLENS_HOME``, default ``~/.orderlens``)
and can be moved with its own environment variable or a command-line option. Settings are
read when a command runs (``Settings.from_env()``), never at import time.

| setting            | environment variable            | default                          |
|--------------------|---------------------------------|----------------------------------|
| home               | ORDERLENS_HOME                  | ~/.orderlens                     |
| landing            | ORDERLENS_LANDING               | <home>/landing                   |
| warehouse          | ORDERLENS_WAREHOUSE             | <home>/warehouse/orderlens.duckdb|
| snapshot           | ORDERLENS_SNAPSHOT              | <home>/published/orderlens.duckdb|
| model store        | ORDERLENS_MODEL_STORE           | <home>/models                    |
| outbox             | ORDERLENS_OUTBOX                | <home>/outbox                    |
| state (run log...) | ORDERLENS_STATE                 | <home>/state                     |
| users file         | ORDERLENS_USERS_FILE            | <home>/users.yaml                |
| customer-key secret| ORDERLENS_CUSTOMER_KEY_SECRET   | <home>/secret.key (made once)    |
| merchant time zone | ORDERLENS_TIMEZONE              | UTC                              |
| reporting currency | ORDERLENS_REPORTING_CURRENCY    | USD                              |
| stale after (hours)| ORDERLENS_STALE_AFTER_HOURS     | 36                               |
| fraud review score | ORDERLENS_FRAUD_REVIEW_THRESHOLD| 65                               |
| fraud block score  | ORDERLENS_FRAUD_BLOCK_THRESHOLD | 75                               |
| reviews a day      | ORDERLENS_FRAUD_REVIEW_CAPACITY | 50                               |
| frauds to train    | ORDERLENS_FRAUD_MIN_FRAUDS      | 30                               |
| legitimate to train| ORDERLENS_FRAUD_MIN_LEGITIMATE  | 300                              |
| label maturity     | ORDERLENS_FRAUD_MATURITY_DAYS   | 60                               |
| label delay (gap)  | ORDERLENS_FRAUD_LABEL_DELAY_DAYS| 7                                |
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable and the value."""


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved configuration of one OrderLens installation."""

    home: Path
    landing: Path
    warehouse: Path
    snapshot: Path
    model_store: Path
    outbox: Path
    state: Path
    users_file: Path
    secret_file: Path
    timezone: str = "UTC"
    reporting_currency: str = "USD"
    stale_after_hours: float = 36.0
    fraud_review_threshold: int = 65
    """Score (0-99) from which an order joins the review queue."""
    fraud_block_threshold: int = 75
    """Score from which an order is held from fulfilment until a reviewer decides."""
    fraud_review_capacity: int = 50
    """Orders the fraud reviewers can review a day: the size of the review queue."""
    fraud_min_frauds: int = 30
    fraud_min_legitimate: int = 300
    """Labelled orders needed before a fraud model is trained from the warehouse."""
    fraud_maturity_days: float = 60.0
    """An order older than this (before the latest order) without a fraud label is taken as
    legitimate: chargebacks and fraud reports have had time to arrive."""
    fraud_label_delay_days: float = 7.0
    """Gap between the training orders and the holdout: frauds placed just before the
    cut-off would not be known yet when a model is trained."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read settings from the environment (``os.environ`` by default), then apply overrides.

        Overrides whose value is ``None`` are ignored, so command-line options can be passed
        straight through.
        """
        env = os.environ if env is None else env
        if overrides.get("home") is not None:
            # Every default path follows the home folder, as if ORDERLENS_HOME were set.
            env = {**env, "ORDERLENS_HOME": str(overrides.pop("home"))}
        home = _path(env, "ORDERLENS_HOME", Path("~/.orderlens").expanduser().resolve())
        settings = cls(
            home=home,
            landing=_path(env, "ORDERLENS_LANDING", home / "landing"),
            warehouse=_path(env, "ORDERLENS_WAREHOUSE", home / "warehouse" / "orderlens.duckdb"),
            snapshot=_path(env, "ORDERLENS_SNAPSHOT", home / "published" / "orderlens.duckdb"),
            model_store=_path(env, "ORDERLENS_MODEL_STORE", home / "models"),
            outbox=_path(env, "ORDERLENS_OUTBOX", home / "outbox"),
            state=_path(env, "ORDERLENS_STATE", home / "state"),
            users_file=_path(env, "ORDERLENS_USERS_FILE", home / "users.yaml"),
            secret_file=_path(env, "ORDERLENS_CUSTOMER_KEY_SECRET_FILE", home / "secret.key"),
            timezone=env.get("ORDERLENS_TIMEZONE", "UTC").strip() or "UTC",
            reporting_currency=(env.get("ORDERLENS_REPORTING_CURRENCY", "USD").strip() or "USD"),
            stale_after_hours=_float(env, "ORDERLENS_STALE_AFTER_HOURS", 36.0),
            fraud_review_threshold=_int(env, "ORDERLENS_FRAUD_REVIEW_THRESHOLD", 65),
            fraud_block_threshold=_int(env, "ORDERLENS_FRAUD_BLOCK_THRESHOLD", 75),
            fraud_review_capacity=_int(env, "ORDERLENS_FRAUD_REVIEW_CAPACITY", 50),
            fraud_min_frauds=_int(env, "ORDERLENS_FRAUD_MIN_FRAUDS", 30),
            fraud_min_legitimate=_int(env, "ORDERLENS_FRAUD_MIN_LEGITIMATE", 300),
            fraud_maturity_days=_float(env, "ORDERLENS_FRAUD_MATURITY_DAYS", 60.0),
            fraud_label_delay_days=_float(env, "ORDERLENS_FRAUD_LABEL_DELAY_DAYS", 7.0),
        )
        clean = {
            k: (
                Path(v).expanduser().resolve()
                if isinstance(v, str | Path) and k not in ("timezone", "reporting_currency")
                else v
            )
            for k, v in overrides.items()
            if v is not None
        }
        settings = replace(settings, **clean)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail with a message naming the variable when a value cannot be used."""
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"ORDERLENS_TIMEZONE={self.timezone!r} is not an IANA time zone "
                "(for example Europe/Berlin)"
            ) from exc
        currency = self.reporting_currency
        if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
            raise SettingsError(
                f"ORDERLENS_REPORTING_CURRENCY={currency!r} is not an ISO 4217 code such as USD"
            )
        review, block = self.fraud_review_threshold, self.fraud_block_threshold
        if not 0 <= review <= block <= 99:
            raise SettingsError(
                f"ORDERLENS_FRAUD_REVIEW_THRESHOLD={review} and ORDERLENS_FRAUD_BLOCK_THRESHOLD="
                f"{block}: scores run 0-99 and review must not be above block"
            )
        for name, value, least in (
            ("ORDERLENS_FRAUD_REVIEW_CAPACITY", self.fraud_review_capacity, 1),
            ("ORDERLENS_FRAUD_MIN_FRAUDS", self.fraud_min_frauds, 10),
            ("ORDERLENS_FRAUD_MIN_LEGITIMATE", self.fraud_min_legitimate, 10),
            ("ORDERLENS_FRAUD_MATURITY_DAYS", self.fraud_maturity_days, 0),
            ("ORDERLENS_FRAUD_LABEL_DELAY_DAYS", self.fraud_label_delay_days, 0),
        ):
            if value < least:
                raise SettingsError(f"{name}={value} must be at least {least}")

    @property
    def reference_dir(self) -> Path:
        """Reference inputs (catalogue, inventory, lead times, FX rates) inside the landing."""
        return self.landing / "_reference"

    @property
    def data_docs(self) -> Path:
        """Great Expectations Data Docs (HTML) of the latest validation, beside the snapshot."""
        return self.snapshot.parent / "data_docs"

    @property
    def fraud_registry(self) -> Path:
        """Fraud model versions and the champion pointer (``models.fraud_registry``)."""
        return self.model_store / "fraud"

    @property
    def run_log(self) -> Path:
        """SQLite store of pipeline runs, written by every run and read by status and the UI."""
        return self.state / "runs.sqlite"

    def customer_key_secret(self) -> bytes:
        """The secret behind customer keys: ``ORDERLENS_CUSTOMER_KEY_SECRET`` or a key file.

        The key file is created once with a random secret and kept out of the repository;
        changing it changes every customer key.
        """
        value = os.environ.get("ORDERLENS_CUSTOMER_KEY_SECRET", "").strip()
        if value:
            return value.encode()
        if not self.secret_file.exists():
            self.secret_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return self.secret_file.read_text().strip().encode()

    def ensure_dirs(self) -> None:
        """Create the folders a pipeline run writes to."""
        for folder in (
            self.landing,
            self.warehouse.parent,
            self.snapshot.parent,
            self.model_store,
            self.outbox,
            self.state,
        ):
            folder.mkdir(parents=True, exist_ok=True)


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name}={raw!r} is not a number") from exc
