"""Small helpers shared by the benchmark scripts: timing, medians, cached input files."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def median_seconds(
    action: Callable[[], object], repeats: int, setup: Callable[[], object] | None = None
) -> tuple[float, list[float]]:
    """Median wall time of ``action`` over ``repeats`` runs (``setup`` untimed before each)."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


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
