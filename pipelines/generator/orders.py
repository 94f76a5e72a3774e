"""The fast, vectorised, chunked, deterministic writer of one generic-format order file.

Grain: one file (CSV or Parquet), one row per order line. A million lines take about ten
seconds and bounded memory; the same arguments give the same bytes (for the locked
numpy/polars/pyarrow/faker versions).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_FIELDS
from pipelines.generator.catalog import Catalog, build_catalog
from pipelines.generator.chunk import Chunk, RenderOptions, render_chunk
from pipelines.generator.plan import Plan, plan_orders
from pipelines.generator.world import (
    CHANNELS,
    CHUNK_ORDERS,
    COUNTRY_INDEX,
    DEFAULT_CHANNEL_MIX,
    DEFAULT_COUNTRY_MIX,
    DEFAULT_DAYS,
    DEFAULT_START,
)

Format = Literal["csv", "parquet"]


@dataclass(frozen=True)
class WriteStats:
    """What :func:`write_generic_orders` wrote."""

    path: Path
    fmt: str
    n_lines: int
    n_orders: int
    n_customers: int
    """Distinct registered customers who placed at least one order."""
    n_bytes: int
    physical_lines: int | None
    """CSV only: lines in the file, header and the extra lines of multi-line notes included."""
    seconds: float


@dataclass(frozen=True, eq=False)
class Job:
    plan: Plan
    opts: RenderOptions

    def chunks(self) -> Iterator[Chunk]:
        for number, lo in enumerate(range(0, self.plan.n_orders, CHUNK_ORDERS)):
            hi = min(lo + CHUNK_ORDERS, self.plan.n_orders)
            yield render_chunk(self.plan, self.opts, lo, hi, number)

    @property
    def n_customers(self) -> int:
        c = self.plan.customer
        return len(np.unique(c[(c >= 0) & (c < self.plan.n_registered)]))


def make_job(
    n_lines: int,
    seed: int,
    *,
    start: date,
    days: int,
    source_label: str,
    channel_mix: Mapping[str, float] | None,
    country_mix: Mapping[str, float] | None,
    timezone: str,
    catalog: Catalog | None,
    first_order_number: int,
    order_id_prefix: str,
    order_id_base: int,
    repeat_order_fields: bool,
) -> Job:
    if n_lines < 1:
        raise ValueError("n_lines must be at least 1")
    if days < 1:
        raise ValueError("days must be at least 1")
    mix = dict(DEFAULT_CHANNEL_MIX if channel_mix is None else channel_mix)
    unknown = set(mix) - set(CHANNELS)
    if unknown:
        valid = ", ".join(CHANNELS)
        raise ValueError(f"unknown channel(s) {sorted(unknown)}; use {valid}")
    if sum(mix.values()) <= 0:
        raise ValueError("channel_mix must give some channel a positive weight")
    countries = dict(DEFAULT_COUNTRY_MIX if country_mix is None else country_mix)
    unknown = set(countries) - set(COUNTRY_INDEX)
    if unknown:
        raise ValueError(f"unknown country code(s) {sorted(unknown)}; use {list(COUNTRY_INDEX)}")
    plan = plan_orders(n_lines, seed, start, days, timezone, mix, countries)
    opts = RenderOptions(
        seed=seed,
        tz=timezone,
        source_label=source_label,
        catalog=catalog if catalog is not None else build_catalog(),
        first_order_number=first_order_number,
        order_id_prefix=order_id_prefix,
        order_id_base=order_id_base,
        repeat_order_fields=repeat_order_fields,
    )
    return Job(plan, opts)


def csv_header() -> bytes:
    return (",".join(GENERIC_FIELD_NAMES) + "\n").encode("utf-8")


def write_records(out: BinaryIO, records: pl.Series) -> None:
    """Write CSV records (already quoted) one per line, each ended by a line feed."""
    records.to_frame("r").write_csv(
        out, include_header=False, quote_style="never", line_terminator="\n"
    )


def _arrow_type(duckdb_type: str) -> pa.DataType:
    if duckdb_type.startswith("DECIMAL"):
        precision, scale = (int(x) for x in re.findall(r"\d+", duckdb_type))
        return pa.decimal128(precision, scale)
    return {
        "VARCHAR": pa.string(),
        "INTEGER": pa.int32(),
        "BOOLEAN": pa.bool_(),
        "DATE": pa.date32(),
    }[duckdb_type]


PARQUET_SCHEMA = pa.schema([pa.field(f.name, _arrow_type(f.type)) for f in GENERIC_FIELDS])
"""Parquet files are typed as the contract says (timestamps stay text to keep their offset)."""


def typed_table(df: pl.DataFrame) -> pa.Table:
    casts: list[pl.Expr] = []
    for f in GENERIC_FIELDS:
        col = pl.col(f.name)
        if f.type.startswith("DECIMAL"):
            dtype = _arrow_type(f.type)
            assert isinstance(dtype, pa.Decimal128Type)
            casts.append(col.cast(pl.Decimal(dtype.precision, dtype.scale)))
        elif f.type == "INTEGER":
            casts.append(col.cast(pl.Int32))
        elif f.type == "BOOLEAN":
            casts.append(col == "true")
        elif f.type == "DATE":
            casts.append(col.str.to_date("%Y-%m-%d"))
        else:
            casts.append(col)
    return df.select(casts).to_arrow().cast(PARQUET_SCHEMA)


def _format_of(path: Path, fmt: str | None) -> Format:
    chosen = fmt or path.suffix.lstrip(".").lower()
    if chosen == "csv":
        return "csv"
    if chosen == "parquet":
        return "parquet"
    raise ValueError(f"format must be csv or parquet, not {chosen!r} (from {path.name})")


def write_generic_orders(
    path: Path,
    n_lines: int,
    seed: int = 7,
    *,
    start: date = DEFAULT_START,
    days: int = DEFAULT_DAYS,
    fmt: Format | None = None,
    source_label: str = "online_store",
    channel_mix: Mapping[str, float] | None = None,
    country_mix: Mapping[str, float] | None = None,
    timezone: str = "America/New_York",
    catalog: Catalog | None = None,
    first_order_number: int = 1001,
    order_id_prefix: str = "",
    order_id_base: int = 7_230_000_000_000,
    repeat_order_fields: bool = True,
) -> WriteStats:
    """Write ``n_lines`` order lines in the generic format to ``path`` (CSV or Parquet).

    Orders are placed over ``days`` days from ``start`` (local days of ``timezone``, the store's
    time zone in which every timestamp is written); statuses are as of the end of that window.
    ``channel_mix`` weighs online_store/marketplace/mobile_app/pos; ``country_mix`` weighs the
    customers' countries (US, CA, GB, DE, FR, NL, JP), which decide each order's currency.
    ``fmt`` defaults to the file's suffix. The same arguments always give the same bytes.
    """
    began = time.perf_counter()
    kind = _format_of(path, fmt)
    job = make_job(
        n_lines,
        seed,
        start=start,
        days=days,
        source_label=source_label,
        channel_mix=channel_mix,
        country_mix=country_mix,
        timezone=timezone,
        catalog=catalog,
        first_order_number=first_order_number,
        order_id_prefix=order_id_prefix,
        order_id_base=order_id_base,
        repeat_order_fields=repeat_order_fields,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    physical: int | None = None
    if kind == "csv":
        physical = 1
        with path.open("wb") as out:
            out.write(csv_header())
            for chunk in job.chunks():
                write_records(out, chunk.csv_records())
                physical += chunk.physical_lines()
    else:
        with pq.ParquetWriter(path, PARQUET_SCHEMA, compression="zstd") as writer:
            for chunk in job.chunks():
                writer.write_table(typed_table(chunk.frame()))
    return WriteStats(
        path=path,
        fmt=kind,
        n_lines=n_lines,
        n_orders=job.plan.n_orders,
        n_customers=job.n_customers,
        n_bytes=path.stat().st_size,
        physical_lines=physical,
        seconds=round(time.perf_counter() - began, 3),
    )
