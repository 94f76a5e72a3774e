"""A whole landing folder of a realistic multi-channel merchant, with injected defects and
their ground truth.

Grain: one run of :func:`generate_merchant` writes

* ``<out>/<source>/orders_<YYYY-MM>.csv``: one folder per source (online_store, mobile_app,
  marketplace, pos), one generic-format file per month of the source's clock;
* ``<out>/_reference/{products,inventory,lead_times,fx_rates,ip_ranges}.csv``;
* the ground truth, outside the landing folder (the pipeline ingests every ``.csv`` and
  ``.parquet`` under it): ``<out>/../<out name>_ground_truth.parquet`` unless told otherwise.

Orders are planned once for the whole merchant (customers buy across channels), then each
source is rendered chunk by chunk and streamed to its monthly files, so memory stays bounded.
The same arguments give the same bytes.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from pipelines.generator.audience import Audience, plan_merchant
from pipelines.generator.catalog import build_catalog
from pipelines.generator.chunk import Chunk, RenderOptions, render_chunk
from pipelines.generator.demand import (
    Demand,
    DemandSpike,
    Promotion,
    Seasonality,
    default_promotions,
    default_spike,
)
from pipelines.generator.files import FileReport, OrderFileWriter
from pipelines.generator.ground_truth import (
    GroundTruthRow,
    default_ground_truth_path,
    write_ground_truth,
)
from pipelines.generator.injectors import (
    ChunkContext,
    FileContext,
    FileShape,
    Injector,
    InjectorSpec,
    PlanContext,
    RecordMark,
    build_injectors,
    default_injector_specs,
)
from pipelines.generator.plan import Plan
from pipelines.generator.reference import write_ip_ranges, write_reference
from pipelines.generator.vectors import local_midnight_utc
from pipelines.generator.world import (
    CHANNELS,
    CHUNK_ORDERS,
    DEFAULT_SKUS,
    MERCHANT_STANDING_CODES,
    WAREHOUSE_EU,
    WAREHOUSE_NA,
)

REFERENCE_FOLDER = "_reference"


@dataclass(frozen=True)
class Source:
    """One selling system whose exports land in ``<out>/<name>/``."""

    name: str
    channel: str
    timezone: str
    """Clock of the file's timestamps and of its months (till orders: their shop's clock)."""
    order_id_prefix: str
    order_id_base: int
    first_order_number: int
    repeat_order_fields: bool
    """False: order fields only on an order's first line (a Shopify-style export)."""


SOURCES: tuple[Source, ...] = (
    Source("online_store", "online_store", "America/New_York", "", 7_230_000_000_000, 1001, True),
    Source("mobile_app", "mobile_app", "America/Los_Angeles", "APP-", 5_100_000, 1, True),
    Source("marketplace", "marketplace", "UTC", "MKT-", 114_000_000, 1, False),
    Source("pos", "pos", "America/New_York", "POS-", 880_000, 1, True),
)


@dataclass(frozen=True)
class MerchantProfile:
    """The merchant: audience, demand, sources and catalogue (defaults: a US-based shop with
    web, app, marketplace and four tills in New York, Toronto and Amsterdam)."""

    audience: Audience = field(default_factory=Audience)
    seasonality: Seasonality = field(default_factory=Seasonality)
    promotions: tuple[Promotion, ...] | None = None
    """None: :func:`~pipelines.generator.demand.default_promotions` of the window."""
    spike: DemandSpike | None = None
    """None: :func:`~pipelines.generator.demand.default_spike` of the window."""
    sources: tuple[Source, ...] = SOURCES
    n_skus: int = DEFAULT_SKUS
    standing_codes: tuple[tuple[str, float], ...] = MERCHANT_STANDING_CODES
    fx_days_before: int = 30
    """FX rates start this many days before the first order."""

    def demand(self, start: date, end: date) -> Demand:
        return Demand(
            first_day=start,
            days=(end - start).days + 1,
            seasonality=self.seasonality,
            promotions=(
                default_promotions(start, end) if self.promotions is None else self.promotions
            ),
            spike=default_spike(start, end) if self.spike is None else self.spike,
        )


@dataclass(frozen=True)
class GenerateReport:
    """What :func:`generate_merchant` wrote."""

    out: Path
    ground_truth: Path
    files: tuple[FileReport, ...]
    reference: tuple[Path, ...]
    orders: int
    """Distinct orders generated (added ones, e.g. re-submissions, included)."""
    lines: int
    """Order lines generated, each counted once."""
    records: int
    """CSV records written (a line repeated by overlapping exports counts twice)."""
    customers: int
    """Registered customers of the plan (returning, new, and fraudulent accounts)."""
    ground_truth_rows: int
    injected: dict[str, int]
    """Ground-truth rows per injector (every injector that ran, zero included)."""
    demand: Demand
    seconds: float

    @property
    def n_bytes(self) -> int:
        return sum(f.n_bytes for f in self.files) + sum(p.stat().st_size for p in self.reference)


def generate_merchant(
    out: Path,
    *,
    orders: int,
    start: date,
    end: date,
    seed: int,
    injectors: Sequence[InjectorSpec] | None = None,
    ground_truth: Path | None = None,
    profile: MerchantProfile | None = None,
    overwrite: bool = False,
) -> GenerateReport:
    """Write a merchant's landing folder with ``orders`` orders placed ``start``..``end``.

    ``injectors``: None runs every registered injector at its default rate; an empty
    sequence writes clean data (the ground truth is then empty). ``ground_truth`` defaults
    to ``<out>/../<out name>_ground_truth.parquet`` and must not be inside ``out``. A
    non-empty ``out`` is refused unless ``overwrite``, which replaces the source and
    ``_reference`` folders this function writes (and nothing else).
    """
    began = time.perf_counter()
    if orders < 1:
        raise ValueError("orders must be at least 1")
    if end < start:
        raise ValueError("end must not be before start")
    if seed < 0:
        raise ValueError("seed must be 0 or more")
    profile = profile or MerchantProfile()
    specs = default_injector_specs() if injectors is None else tuple(injectors)
    active = build_injectors(specs, seed)
    truth_path = ground_truth if ground_truth is not None else default_ground_truth_path(out)
    if truth_path.resolve().is_relative_to(out.resolve()):
        raise ValueError(
            f"the ground truth ({truth_path}) must be outside the landing folder {out}: "
            "the pipeline would ingest it"
        )
    channels = [CHANNELS.index(s.channel) for s in profile.sources]
    uncovered = [
        c for c, weight in profile.audience.channel_mix.items()
        if weight > 0 and CHANNELS.index(c) not in channels
    ]  # fmt: skip
    if uncovered or len(set(channels)) != len(channels):
        raise ValueError("every channel with orders needs exactly one source")
    _prepare(out, profile.sources, overwrite)

    demand = profile.demand(start, end)
    catalog = build_catalog(profile.n_skus)
    plan = plan_merchant(orders, seed, start, end, demand, profile.audience)
    context = PlanContext({c: s.timezone for c, s in zip(channels, profile.sources, strict=True)})
    for injector in active:
        plan = injector.add_orders(plan, context)

    reports: list[FileReport] = []
    truth: list[GroundTruthRow] = []
    for index, source in enumerate(profile.sources):
        keep = plan.channel == CHANNELS.index(source.channel)
        if not keep.any():
            continue
        opts = RenderOptions(
            seed=int(np.random.SeedSequence([seed, 40, index]).generate_state(1)[0]),
            tz=source.timezone,
            source_label=source.name,
            catalog=catalog,
            first_order_number=source.first_order_number,
            order_id_prefix=source.order_id_prefix,
            order_id_base=source.order_id_base,
            repeat_order_fields=source.repeat_order_fields,
            pos_stores=profile.audience.pos_stores,
            shop_clocks=True,
            pos_email_share=0.0,
            standing_codes=profile.standing_codes,
            demand=demand,
            calendar_tz=profile.audience.timezone,
            anonymous_customer_id=False,
            local_ips=True,
        )
        writer = _SourceWriter(out, source, index, plan.subset(keep), opts, active, seed)
        files, rows = writer.run()
        reports += files
        truth += rows

    stores = tuple(s.name for s in profile.audience.pos_stores)
    reference = write_reference(
        out / REFERENCE_FOLDER,
        catalog=catalog,
        end=end,
        days=(end - start).days + 1 + profile.fx_days_before,
        locations=(WAREHOUSE_NA, WAREHOUSE_EU, *stores),
        seed=seed,
    )
    reference["ip_ranges"] = write_ip_ranges(out / REFERENCE_FOLDER)
    n_truth = write_ground_truth(truth_path, truth)
    injected = {i.name: 0 for i in active}
    for row in truth:
        injected[row.injector] += 1
    return GenerateReport(
        out=out,
        ground_truth=truth_path,
        files=tuple(reports),
        reference=tuple(reference.values()),
        orders=plan.n_orders,
        lines=int(plan.lines.sum()),
        records=sum(f.records for f in reports),
        customers=int(plan.customers["registered"].sum()),
        ground_truth_rows=n_truth,
        injected=injected,
        demand=demand,
        seconds=round(time.perf_counter() - began, 3),
    )


def _prepare(out: Path, sources: Sequence[Source], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} is not a folder")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} is not empty; choose an empty folder or overwrite (--force), which "
                "replaces its " + ", ".join([*(s.name for s in sources), REFERENCE_FOLDER])
                + " folders"
            )  # fmt: skip
        for name in (*(s.name for s in sources), REFERENCE_FOLDER):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _month_starts(first: date, last: date) -> list[date]:
    months = [date(first.year, first.month, 1)]
    while months[-1] <= last:
        current = months[-1]
        months.append(date(current.year + current.month // 12, current.month % 12 + 1, 1))
    return months


def _chunk_ranges(plan: Plan) -> Iterator[tuple[int, int]]:
    """Chunks of the plan; an added copy stays in its original's chunk."""
    lo = 0
    while lo < plan.n_orders:
        hi = min(lo + CHUNK_ORDERS, plan.n_orders)
        while plan.twin_of is not None and hi < plan.n_orders and plan.twin_of[hi] >= 0:
            hi += 1
        yield lo, hi
        lo = hi


def _restrict(marks: Sequence[RecordMark], lo: int, hi: int) -> list[RecordMark]:
    kept = [m.restrict(lo, hi) for m in marks]
    return [m for m in kept if m.records.size]


class _SourceWriter:
    """Streams one source's orders to its monthly files."""

    def __init__(
        self,
        out: Path,
        source: Source,
        index: int,
        plan: Plan,
        opts: RenderOptions,
        injectors: Sequence[Injector],
        seed: int,
    ) -> None:
        self.out = out
        self.source = source
        self.plan = plan
        self.opts = opts
        self.injectors = injectors
        zone = ZoneInfo(source.timezone)
        first = _local_date(plan.window_start, zone)
        last = _local_date(plan.as_of - 1, zone)
        months = _month_starts(first, last)
        self.edges = np.array([local_midnight_utc(m, zone) for m in months], dtype=np.int64)
        self.months = months[:-1]
        self.shapes: list[FileShape] = []
        for i, month in enumerate(self.months):
            shape = FileShape(rng=np.random.default_rng([seed, 50, index, i]))
            context = FileContext(source.name, self._relative(i), month, i)
            for injector in injectors:
                injector.shape_file(context, shape)
            self.shapes.append(shape)
        self.writers: dict[int, OrderFileWriter] = {}
        self.pending: dict[int, list[tuple[Chunk, list[RecordMark]]]] = {}
        self.current = -1
        self.reports: list[FileReport] = []
        self.truth: list[GroundTruthRow] = []

    def _relative(self, month: int) -> str:
        return f"{self.source.name}/orders_{self.months[month]:%Y-%m}.csv"

    def run(self) -> tuple[list[FileReport], list[GroundTruthRow]]:
        for chunk_no, (lo, hi) in enumerate(_chunk_ranges(self.plan)):
            chunk = render_chunk(self.plan, self.opts, lo, hi, chunk_no)
            marks = self._added(chunk, lo, hi)
            for injector in self.injectors:
                chunk, more = injector.alter_chunk(chunk, ChunkContext(self.source.name, chunk_no))
                marks += more
            assert chunk.created is not None
            month = np.searchsorted(self.edges, chunk.created, side="right") - 1
            month = np.clip(np.maximum.accumulate(month), 0, len(self.months) - 1)
            bounds = [0, *(np.flatnonzero(np.diff(month)) + 1).tolist(), chunk.n_orders]
            for a, b in itertools.pairwise(bounds):
                line_a, line_b = chunk.line_range(a, b)
                self._write(int(month[a]), chunk.take(a, b), _restrict(marks, line_a, line_b))
        self._move_to(len(self.months))
        return self.reports, self.truth

    def _added(self, chunk: Chunk, lo: int, hi: int) -> list[RecordMark]:
        """Marks on every line of the orders an injector added to the plan."""
        if self.plan.added_by is None:
            return []
        by = self.plan.added_by[lo:hi]
        marks = []
        for index in np.unique(by[by >= 0]).tolist():
            if not self.injectors[index].marks_added_orders:
                continue
            lines = np.flatnonzero(np.isin(chunk.order_of_line, np.flatnonzero(by == index)))
            marks.append(self.injectors[index].mark(lines))
        return marks

    def _move_to(self, month: int) -> None:
        """Close the files before ``month`` and open its file; a month without orders of its
        own still gets a file when the previous export's days are repeated in it."""
        while self.current < month:
            done = self.writers.pop(self.current, None)
            if done is not None:
                self.reports.append(done.close())
                self.truth += done.ground_truth
            self.current += 1
            if self.current < len(self.months) and (
                self.current == month or self.current in self.pending
            ):
                self._open(self.current)

    def _open(self, month: int) -> None:
        writer = OrderFileWriter(self.out, self._relative(month), self.source.name,
                                 self.shapes[month])  # fmt: skip
        self.writers[month] = writer
        for chunk, marks in self.pending.pop(month, []):
            writer.write(chunk, marks)

    def _write(self, month: int, part: Chunk, marks: list[RecordMark]) -> None:
        if month != self.current:
            self._move_to(month)
        writer = self.writers[month]
        following = self.shapes[month + 1] if month + 1 < len(self.months) else None
        if following is None or following.overlap_by is None or following.overlap_days <= 0:
            writer.write(part, marks)
            return
        # The next month's export repeats this month's last days; this file was exported
        # shortly after the month ended and shows those orders as they stood then.
        assert part.created is not None
        threshold = self.edges[month + 1] - following.overlap_days * 86_400
        late = part.created >= threshold
        if not late.any():
            writer.write(part, marks)
            return
        t = int(np.argmax(late))
        split = part.line_range(t, part.n_orders)[0]
        writer.write(part.take(0, t), _restrict(marks, 0, split))
        tail = part.take(t, part.n_orders)
        tail_marks = [
            *_restrict(marks, split, part.n_lines),
            following.overlap_by.mark(np.arange(tail.n_lines)),
        ]
        cutoff = int(self.edges[month + 1]) + following.overlap_export_delay_hours * 3600
        writer.write(tail.snapshot(cutoff), tail_marks)
        self.pending.setdefault(month + 1, []).append((tail, tail_marks))


def _local_date(unix: int, zone: ZoneInfo) -> date:
    return datetime.fromtimestamp(unix, UTC).astimezone(zone).date()
