"""Vectorised helpers: random digit and hex strings, weighted choices, money and time as text.

Grain: one value per row of the arrays passed in. No state; every random draw comes from the
generator the caller passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pyarrow as pa

from pipelines.generator.world import (
    IP_BLOCKS,
    IP_COUNTRIES,
    LEGACY_IP_FIRST_OCTETS,
    TIMESTAMP_FORMAT,
)


def digit_strings(rng: np.random.Generator, k: int | np.ndarray, n: int) -> pl.Series:
    """``n`` random zero-padded strings of ``k`` digits (k <= 18, scalar or per row)."""
    high = np.power(10, np.broadcast_to(np.asarray(k, dtype=np.int64), (n,)))
    values = high + rng.integers(0, high)
    return pl.Series(values).cast(pl.String).str.slice(1)


def hex_strings(rng: np.random.Generator, n: int, n_bytes: int) -> pl.Series:
    """``n`` random lowercase hex strings of ``2 * n_bytes`` characters."""
    raw = rng.bytes(n * n_bytes)
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(n_bytes), n, [None, pa.py_buffer(raw)])
    series = pl.from_arrow(arr)
    assert isinstance(series, pl.Series)
    return series.cast(pl.Binary).bin.encode("hex")


def weighted_choice(rng: np.random.Generator, weights: Sequence[float], n: int) -> np.ndarray:
    p = np.asarray(weights, dtype=np.float64)
    return rng.choice(len(p), size=n, p=p / p.sum()).astype(np.int8)


def pick(options: Sequence[str], idx: np.ndarray) -> pl.Series:
    """``options[idx]`` for every index; a negative index gives a blank (null)."""
    picked = pl.Series(list(options), dtype=pl.String).gather(np.maximum(idx, 0))
    if (idx < 0).any():
        return picked.zip_with(
            pl.Series(idx >= 0), pl.repeat(None, len(idx), dtype=pl.String, eager=True)
        )
    return picked


def local_midnight_utc(day: date, tz: ZoneInfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def money_text(col: str, value: pl.Expr | None = None) -> pl.Expr:
    """Minor units (Int64, -1 for blank) as decimal text in the row's currency (``_exp``),
    named ``col``: column ``col``, or ``value`` when given."""
    c = pl.col(col) if value is None else value
    two = (c // 100).cast(pl.String) + "." + (c % 100).cast(pl.String).str.zfill(2)
    return (
        pl.when(c < 0)
        .then(pl.lit(None, pl.String))
        .when(pl.col("_exp") == 0)
        .then(c.cast(pl.String))
        .otherwise(two)
        .alias(col)
    )


def timestamp_text(col: str, tz: str) -> pl.Expr:
    """Unix seconds (-1 for blank) as ISO 8601 text with the UTC offset of ``tz``."""
    c = pl.col(col)
    text = (
        (c * 1_000_000)
        .cast(pl.Datetime("us", "UTC"))
        .dt.convert_time_zone(tz)
        .dt.strftime(TIMESTAMP_FORMAT)
    )
    return pl.when(c >= 0).then(text).alias(col)


def clamp_after(base: np.ndarray, delay: np.ndarray, limit: int) -> np.ndarray:
    """``base + delay``, pulled back before ``limit`` (but still after ``base``)."""
    room = np.maximum((limit - base) // 2, 1)
    return base + np.minimum(delay.astype(np.int64), room)


def ipv4_strings(
    rng: np.random.Generator, n: int, countries: np.ndarray | None = None
) -> pl.Series:
    """``n`` dotted IPv4 addresses. Without ``countries`` the first octet is one of
    :data:`~pipelines.generator.world.LEGACY_IP_FIRST_OCTETS` whatever the buyer's country
    (the single-file writer and the committed sample); with ``countries`` (per address, an
    index into :data:`~pipelines.generator.world.IP_COUNTRIES`) it is in that country's
    blocks. Both draw the same numbers, so choosing one never shifts later draws."""
    first = np.array(LEGACY_IP_FIRST_OCTETS)
    drawn = rng.integers(0, len(first), n)
    if countries is None:
        octet = first[drawn]
    else:
        octet = _BLOCK_TABLE[countries, drawn % _BLOCK_COUNTS[countries]]
    parts = [
        pl.Series(octet),
        pl.Series(rng.integers(0, 256, n)),
        pl.Series(rng.integers(0, 256, n)),
        pl.Series(rng.integers(1, 255, n)),
    ]
    df = pl.DataFrame({f"p{i}": p for i, p in enumerate(parts)})
    return df.select(pl.concat_str([pl.col(f"p{i}") for i in range(4)], separator="."))[
        "p0"
    ].rename("ip")


def _block_table() -> tuple[np.ndarray, np.ndarray]:
    width = max(len(b) for b in IP_BLOCKS.values())
    table = np.zeros((len(IP_COUNTRIES), width), dtype=np.int64)
    for i, code in enumerate(IP_COUNTRIES):
        table[i, : len(IP_BLOCKS[code])] = IP_BLOCKS[code]
    return table, np.array([len(IP_BLOCKS[c]) for c in IP_COUNTRIES])


_BLOCK_TABLE, _BLOCK_COUNTS = _block_table()
