"""Shared fixtures: isolated OrderLens homes, and one published warehouse per test session.

Tests that only read share ``published_demo`` (built once, read-only); tests that write get
their own home under ``tmp_path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLE_LANDING = REPO / "pipelines" / "sample_landing"
TEST_SECRET = "test-secret-not-for-production"

# Hypothesis: a fixed, derandomised profile in CI (reproducible, bounded time); a quicker
# random one on developer machines. HYPOTHESIS_PROFILE overrides either.
settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
os.environ.setdefault("ORDERLENS_CUSTOMER_KEY_SECRET", TEST_SECRET)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.exists():
        return
    skip = pytest.mark.skip(reason=f"{SHARED_DATA} is absent (a clone outside the workplace)")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


def make_settings(home: Path, landing: Path | None = None):
    """Settings of an isolated installation under ``home``."""
    from orderlens.settings import Settings

    return Settings.from_env(env={}, home=home, landing=landing or home / "landing")


def run_all(settings, selection: str = "*"):
    """A real in-process Dagster run of every asset on an ephemeral instance."""
    import dagster as dg

    from pipelines.runner import run_pipeline

    with dg.DagsterInstance.ephemeral() as instance:
        return run_pipeline(selection=selection, settings=settings, instance=instance)


def table_hashes(path: Path) -> dict[str, str]:
    """Content hash of every table of a DuckDB file (order-independent, no load times)."""
    from orderlens.warehouse import connect, content_hashes

    con = connect(path, read_only=True)
    try:
        return content_hashes(con)
    finally:
        con.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty OrderLens home; the environment points every path into it."""
    root = tmp_path / "home"
    monkeypatch.setenv("ORDERLENS_HOME", str(root))
    for name in (
        "ORDERLENS_LANDING",
        "ORDERLENS_WAREHOUSE",
        "ORDERLENS_SNAPSHOT",
        "ORDERLENS_STATE",
        "ORDERLENS_USERS_FILE",
        "ORDERLENS_TIMEZONE",
        "ORDERLENS_REPORTING_CURRENCY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(root / "dagster"))
    return root


@pytest.fixture(scope="session")
def published_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    """Settings of a warehouse built once from the committed sample landing folder.

    Read-only for every test that uses it.
    """
    import shutil

    root = tmp_path_factory.mktemp("demo")
    landing = root / "landing"
    shutil.copytree(SAMPLE_LANDING, landing, ignore=shutil.ignore_patterns("README.md"))
    settings = make_settings(root / "home", landing)
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    yield settings
