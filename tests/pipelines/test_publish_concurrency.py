"""Publishing while the dashboard reads: no lock errors, no torn reads, no waiting."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orderlens.warehouse import open_writer, publish, transaction

READER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from orderlens.warehouse import SnapshotReader
    reader = SnapshotReader(Path(sys.argv[1]))
    deadline = time.monotonic() + float(sys.argv[2])
    versions, errors, reads = set(), [], 0
    while time.monotonic() < deadline:
        try:
            # One connection held across a swap: it must keep seeing one whole snapshot.
            with reader.connection() as con:
                first = con.execute("SELECT min(version), max(version), count(*) FROM t").fetchall()[0]
                time.sleep(0.05)
                again = con.execute("SELECT min(version), max(version), count(*) FROM t").fetchall()[0]
            if first != again or first[0] != first[1] or first[2] != 20000:
                errors.append(f"torn read: {first} then {again}")
            versions.add(first[0])
            reads += 1
        except Exception as exc:  # any error is a failure of the storage discipline
            errors.append(repr(exc))
    print(json.dumps({"versions": sorted(versions), "errors": errors[:5], "reads": reads}))
""")


def _write_version(warehouse: Path, version: int) -> None:
    with open_writer(warehouse) as con, transaction(con):
        con.execute(
            "CREATE OR REPLACE TABLE t AS SELECT ? AS version, range AS i FROM range(20000)",
            [version],
        )


@pytest.mark.slow
def test_reader_survives_repeated_publishes(tmp_path: Path) -> None:
    warehouse, snapshot = tmp_path / "work.duckdb", tmp_path / "pub" / "snap.duckdb"
    _write_version(warehouse, 0)
    publish(warehouse, snapshot)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(snapshot), "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.8)  # let the reader start and hold connections
    publish_times = []
    for version in range(1, 5):
        _write_version(warehouse, version)
        started = time.perf_counter()
        publish(warehouse, snapshot)
        publish_times.append(time.perf_counter() - started)
        time.sleep(0.4)
    out, err = reader.communicate(timeout=60)
    assert reader.returncode == 0, err
    report = json.loads(out)
    assert report["errors"] == []
    assert report["reads"] > 10
    assert len(report["versions"]) >= 3, report  # the reader saw several publishes
    assert max(publish_times) < 2.0  # the pipeline never waits on the reader
