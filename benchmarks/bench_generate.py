"""`orderlens generate`: wall time and peak memory of writing a merchant's landing folder.

Each run is a fresh child process (`python -m benchmarks.bench_generate --child ...`) that
generates ``orders`` orders over a year, every injector at its default rate, into a temporary
folder; the parent times it (interpreter start and imports included) and reads its peak RSS
(``ru_maxrss`` the child reports for itself, cross-checked with the parent's
``RUSAGE_CHILDREN``). The folder is deleted after each run.
Targets at 1,000,000 orders: median wall time <= 120 s, peak RSS <= 2 GiB (on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

TARGET_SECONDS = 120.0
TARGET_RSS_BYTES = 2 * 1024**3
START, END = date(2026, 1, 1), date(2026, 12, 31)


def _peak_rss_bytes() -> int:
    """This process's peak resident memory.

    ``VmHWM`` is reset by exec; ``ru_maxrss`` is not (a child forked from a large parent
    starts with the parent's peak), so it is only the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _child(out: Path, orders: int, seed: int) -> None:
    """Generate, then print what was written and this process's peak RSS as JSON."""
    from pipelines.generator import generate_merchant

    report = generate_merchant(out, orders=orders, start=START, end=END, seed=seed)
    summary = {
        "seconds_in_process": report.seconds,
        "files": len(report.files) + len(report.reference),
        "bytes": report.n_bytes,
        "orders": report.orders,
        "lines": report.lines,
        "records": report.records,
        "ground_truth_rows": report.ground_truth_rows,
        "ground_truth_bytes": report.ground_truth.stat().st_size,
        "peak_rss_bytes": _peak_rss_bytes(),
    }
    print(json.dumps(summary))


def _one_run(orders: int, seed: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="orderlens-bench-generate-"))
    try:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_generate", "--child",
             str(work / "landing"), "--orders", str(orders), "--seed", str(seed)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = round(wall, 3)
    return result


def run(orders: int, repeats: int) -> dict[str, Any]:
    runs = [_one_run(orders, seed=7) for _ in range(repeats)]
    children_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    walls = [r["wall_s"] for r in runs]
    last = runs[-1]
    peak = max(r["peak_rss_bytes"] for r in runs)
    return {
        "orders": orders,
        "repeats": repeats,
        "seconds": round(statistics.median(walls), 3),
        "runs_s": walls,
        "seconds_in_process": round(statistics.median(r["seconds_in_process"] for r in runs), 3),
        "peak_rss_bytes": peak,
        "peak_rss_gib": round(peak / 1024**3, 3),
        "children_max_rss_bytes": children_peak,
        "files": last["files"],
        "bytes": last["bytes"],
        "lines": last["lines"],
        "records": last["records"],
        "generated_orders": last["orders"],
        "ground_truth_rows": last["ground_truth_rows"],
        "target_seconds": TARGET_SECONDS,
        "target_rss_bytes": TARGET_RSS_BYTES,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.orders, args.seed)
        return
    print(json.dumps(run(args.orders, args.repeats), indent=2))


if __name__ == "__main__":
    main()
