"""Reliability: retries, failures that keep the previous data, concurrent runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import cast

import duckdb
import pytest

from orderlens.runlog import RunLog
from orderlens.warehouse import SnapshotReader, connect, scalar, transaction
from pipelines.cli import EXIT_FAILED, main
from tests.conftest import SAMPLE_LANDING, make_settings, run_all, table_hashes

pytestmark = pytest.mark.slow


def _copy_sample(target: Path) -> Path:
    shutil.copytree(SAMPLE_LANDING, target, ignore=shutil.ignore_patterns("README.md"))
    return target


def test_a_transient_error_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pipelines.defs.marts import build

    real, calls = build.build_dim_products, []

    def flaky(con: duckdb.DuckDBPyConnection) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise duckdb.IOException("Could not set lock on file: held by another process")
        return real(con)

    monkeypatch.setattr(build, "build_dim_products", flaky)
    settings = make_settings(tmp_path / "home", _copy_sample(tmp_path / "landing"))
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    assert len(calls) == 2
    reader = SnapshotReader(settings.snapshot)
    assert reader.query("SELECT count(*) AS n FROM dim_products")["n"][0] > 0


def test_a_failed_step_keeps_the_previous_table_and_the_published_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ORDERLENS_HOME", str(home))
    monkeypatch.setenv("ORDERLENS_LANDING", str(_copy_sample(tmp_path / "landing")))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    assert main(["run"]) == 0
    settings = make_settings(home, tmp_path / "landing")
    before_snapshot = table_hashes(settings.snapshot)
    with connect(settings.warehouse, read_only=True) as con:
        products = scalar(con, "SELECT count(*) FROM dim_products")

    from pipelines.defs.marts import build

    def broken(con: duckdb.DuckDBPyConnection) -> int:
        with transaction(con):
            con.execute("DELETE FROM dim_products")  # the delete half of a rewrite...
            raise OSError(28, "No space left on device")  # ...and the insert never happens

    monkeypatch.setattr(build, "build_dim_products", broken)
    capsys.readouterr()
    assert main(["run"]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "dim_products" in err and "No space left on device" in err
    assert "Traceback" not in err
    with connect(settings.warehouse, read_only=True) as con:
        assert scalar(con, "SELECT count(*) FROM dim_products") == products
    assert table_hashes(settings.snapshot) == before_snapshot
    last = RunLog(settings.run_log).latest()
    assert last is not None and last.status == "failure" and last.failed_step == "dim_products"


def test_a_30_run_backfill_shares_the_writer_pool_without_lock_errors(tmp_path: Path) -> None:
    """Thirty runs started at once (as a backfill or a burst of sensor runs would) all
    succeed through the writer pool of one: no lock error, no file ingested twice."""
    home, landing = tmp_path / "home", _copy_sample(tmp_path / "landing")
    for store in range(10):
        folder = landing / f"store{store:02d}"
        folder.mkdir()
        text = (landing / "marketplace" / "orders_2026-10.csv").read_text()
        (folder / "orders.csv").write_text(text.replace(",marketplace,", f",store{store:02d},"))
    env = {
        **os.environ,
        "ORDERLENS_HOME": str(home),
        "ORDERLENS_LANDING": str(landing),
        "DAGSTER_HOME": str(home / "dagster"),
    }
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run", "--select", "raw_order_lines"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(30)
    ]
    outputs = [run.communicate(timeout=900)[0] for run in runs]
    assert [run.returncode for run in runs] == [0] * 30, outputs
    assert not any("lock" in out.lower() for out in outputs)
    settings = make_settings(home, landing)
    with connect(settings.warehouse, read_only=True) as con:
        files = con.execute(
            "SELECT count(*), count(DISTINCT file_name) FROM ingest_files "
            "WHERE source <> '_reference'"
        ).fetchall()[0]
    assert files == (13, 13)  # 3 sample files + 10 stores, each once
    assert run_all(settings).success
    reference = make_settings(tmp_path / "reference", landing)
    assert run_all(reference).success
    assert table_hashes(settings.snapshot) == table_hashes(reference.snapshot)


class _FailOn:
    """A DuckDB connection that fails on the first statement containing ``marker``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, marker: str) -> None:
        self._con, self._marker = con, marker

    def execute(self, sql: str, *args, **kwargs):
        if self._marker in sql:
            raise RuntimeError(f"simulated crash before: {self._marker}")
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def test_a_staging_rebuild_failing_half_way_changes_no_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(tmp_path / "home", _copy_sample(tmp_path / "landing"))
    assert run_all(settings).success
    before = table_hashes(settings.warehouse)

    from pipelines.defs.staging import build

    real = build.build_staging

    def crashing(con, **kwargs):
        # Tables before stg_fulfilments are rewritten first; then the step dies.
        failing = cast(
            duckdb.DuckDBPyConnection, _FailOn(con, "CREATE OR REPLACE TABLE stg_fulfilments")
        )
        return real(failing, **kwargs)

    monkeypatch.setattr(build, "build_staging", crashing)
    outcome = run_all(settings)
    assert not outcome.success and outcome.failed_step == "staging"
    assert table_hashes(settings.warehouse) == before
