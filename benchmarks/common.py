"""Small helpers shared by the benchmark scripts: timing, medians, cached input files."""

from __future__ import annotations

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


def generic_csv(lines: int, seed: int = 7) -> Path:
    """A generic-format CSV of ``lines`` order lines, written once and reused."""
    from benchmarks.generic_orders import write_generic_orders

    path = OUT / f"generic_{lines}_{seed}.csv"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial.csv")
        write_generic_orders(partial, lines, seed)
        partial.rename(path)
    return path
