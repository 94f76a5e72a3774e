"""Import time of the Dagster code location beyond a bare `import dagster`.

Each sample is a fresh interpreter that imports dagster, then pipelines.definitions, and
times both. Target: at most 0.15 s beyond dagster (great_expectations, sklearn, duckdb and
polars are imported lazily, inside steps).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from typing import Any

_PROBE = (
    "import time; t0 = time.perf_counter(); import dagster; t1 = time.perf_counter(); "
    "import pipelines.definitions; t2 = time.perf_counter(); print(t1 - t0, t2 - t1)"
)


def run(repeats: int) -> dict[str, Any]:
    bare, extra = [], []
    for _ in range(repeats):
        out = subprocess.run(
            [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
        ).stdout.split()
        bare.append(float(out[0]))
        extra.append(float(out[1]))
    return {
        "repeats": repeats,
        "import_dagster_s": round(statistics.median(bare), 3),
        "definitions_extra_s": round(statistics.median(extra), 3),
        "extra_runs": [round(t, 3) for t in extra],
        "target_extra_s": 0.15,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    print(json.dumps(run(parser.parse_args().repeats), indent=2))


if __name__ == "__main__":
    main()
