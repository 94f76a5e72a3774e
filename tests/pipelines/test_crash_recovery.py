"""A run killed with SIGKILL mid-write leaves the published snapshot whole and unchanged, and
the next run ends exactly where an uninterrupted one does."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_LANDING, make_settings, run_all, table_hashes

pytestmark = pytest.mark.slow


def _landing(root: Path, big_file: Path | None) -> Path:
    landing = root / "landing"
    shutil.copytree(SAMPLE_LANDING, landing, ignore=shutil.ignore_patterns("README.md"))
    if big_file is not None:
        (landing / "bulk").mkdir()
        shutil.copyfile(big_file, landing / "bulk" / "orders.csv")
    return landing


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from benchmarks.generic_orders import write_generic_orders

    path = tmp_path_factory.mktemp("bulk") / "orders.csv"
    write_generic_orders(path, 40_000, seed=11, source_label="bulk")
    return path


def test_sigkill_at_random_points_never_tears_the_snapshot(tmp_path: Path, big_file: Path) -> None:
    reference = make_settings(tmp_path / "reference", _landing(tmp_path / "ref", big_file))
    assert run_all(reference).success
    expected = table_hashes(reference.snapshot)

    victim_root = tmp_path / "victim"
    victim = make_settings(victim_root / "home", _landing(victim_root, None))
    assert run_all(victim).success
    before = table_hashes(victim.snapshot)
    (victim.landing / "bulk").mkdir()
    shutil.copyfile(big_file, victim.landing / "bulk" / "orders.csv")

    env = {
        **os.environ,
        "ORDERLENS_HOME": str(victim.home),
        "ORDERLENS_LANDING": str(victim.landing),
        "DAGSTER_HOME": str(victim.home / "dagster"),
    }
    rng = random.Random(20261126)
    kills_during_write = 0
    for _trial in range(10):
        process = subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Python and Dagster take ~2.5 s to start; kill somewhere in the run's writes.
        time.sleep(rng.uniform(2.5, 7.0))
        kills_during_write += process.poll() is None
        process.send_signal(signal.SIGKILL)
        process.wait()
        # The snapshot is always one whole published state: the old one or the new one.
        assert table_hashes(victim.snapshot) in (before, expected)

    assert kills_during_write >= 8  # the trials really interrupted runs
    assert run_all(victim).success
    assert table_hashes(victim.snapshot) == expected
    assert table_hashes(victim.warehouse) == table_hashes(reference.warehouse)
