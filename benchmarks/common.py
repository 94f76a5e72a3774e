"""Small helpers shared by the benchmark scripts: timing, medians, cached input files."""

from __future__ import annotations

import hashlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def interleaved(
    actions: dict[str, Callable[[], object]],
    repeats: int,
    setup: Callable[[str], object] | None = None,
) -> dict[str, tuple[float, list[float]]]:
    """Median and all wall times of each action, run in turn (a, b, a, b...) so that drift
    in the machine's speed (page cache, other load) affects every side alike."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeats):
        for name, action in actions.items():
            if setup is not None:
                setup(name)
            started = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - started)
    return {name: (statistics.median(runs), runs) for name, runs in times.items()}


def ratio_report(
    times: dict[str, tuple[float, list[float]]],
    repeats: int,
    target_ratio: float,
    **context: object,
) -> dict[str, object]:
    """The result of an ``interleaved`` run of a ``bare`` and an ``orderlens`` side: medians,
    every run, and their ratio against the issue's target (``context`` comes first)."""
    (bare, bare_all), (ours, ours_all) = times["bare"], times["orderlens"]
    return {
        **context,
        "repeats": repeats,
        "bare_s": round(bare, 3),
        "orderlens_s": round(ours, 3),
        "ratio": round(ours / bare, 3),
        "bare_runs": [round(t, 3) for t in bare_all],
        "orderlens_runs": [round(t, 3) for t in ours_all],
        "target_ratio": target_ratio,
    }


def generic_csv(lines: int, seed: int = 7) -> Path:
    """A generic-format CSV of ``lines`` order lines, written once and reused while the
    format's columns stay the same (a file of an older format would be rejected row by row)."""
    from benchmarks.generic_orders import write_generic_orders
    from orderlens.contracts import GENERIC_FIELD_NAMES

    columns = hashlib.sha256(",".join(GENERIC_FIELD_NAMES).encode()).hexdigest()[:8]
    path = OUT / f"generic_{lines}_{seed}_{columns}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.csv")
        write_generic_orders(partial, lines, seed)
        partial.rename(path)
    return path
