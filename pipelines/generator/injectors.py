"""Injectors: small named components that damage generated data at a rate, and say what they
did so that the ground truth covers every injected record.

Grain: one injector instance per run, with its own random generator (seeded by the run's seed
and the injector's name, so adding an injector never changes what another one does).

An injector acts at one or more stages, overriding the hooks it needs:

1. :meth:`Injector.add_orders` adds orders to the merchant's plan (a re-submitted order, a
   fraud burst); every line of an added order is in the ground truth under its name;
2. :meth:`Injector.alter_chunk` changes rendered orders (text columns) and returns
   :class:`RecordMark` s for the records it changed (typos, wrong totals, fraud signals);
3. :meth:`Injector.shape_file` decides how a landing file is written (column order,
   encoding, truncation, overlap with the previous export); the file writer then marks the
   records it damaged on the injector's behalf.

Later issues add theirs with :func:`register_injector`; ``InjectorSpec(name, rate)`` picks
them by name.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar, TypeVar

import numpy as np
import polars as pl

from orderlens.contracts import GENERIC_FIELD_NAMES
from orderlens.reasons import ReasonCode
from pipelines.generator.chunk import Chunk
from pipelines.generator.plan import Plan
from pipelines.generator.world import APP, WEB


@dataclass(frozen=True)
class InjectorSpec:
    """Which injector to run and at what rate (its meaning is the injector's: see each)."""

    name: str
    rate: float


def parse_injector_specs(text: str) -> list[InjectorSpec]:
    """``"name=rate,name=rate"`` as specs; names must be registered, rates in 0..1."""
    specs: list[InjectorSpec] = []
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, rate = part.partition("=")
        if not sep:
            raise ValueError(f"{part.strip()!r}: write name=rate, e.g. duplicate_submission=0.01")
        try:
            value = float(rate)
        except ValueError:
            raise ValueError(f"{part.strip()!r}: the rate is not a number") from None
        specs.append(InjectorSpec(name.strip(), value))
    return specs


@dataclass(frozen=True, eq=False)
class RecordMark:
    """Records (line positions in a chunk) an injector changed, and what a validator or a
    fraud model must say about them (default: the injector's reason codes and pattern)."""

    records: np.ndarray
    injector: Injector
    reason_codes: tuple[str, ...] | None = None
    fraud_label: bool | None = None
    fraud_pattern: str | None = None

    def restrict(self, lo: int, hi: int) -> RecordMark:
        """The marks on lines ``lo`` to ``hi - 1``, renumbered from 0."""
        inside = self.records[(self.records >= lo) & (self.records < hi)] - lo
        return RecordMark(
            inside, self.injector, self.reason_codes, self.fraud_label, self.fraud_pattern
        )


@dataclass(frozen=True)
class PlanContext:
    """What an injector may need to add orders."""

    clocks: Mapping[int, str]
    """Time zone of the file each channel (index into CHANNELS) is written to."""


@dataclass(frozen=True)
class ChunkContext:
    """Where a rendered chunk goes."""

    source: str
    chunk_no: int


@dataclass(frozen=True)
class FileContext:
    """One landing file about to be written."""

    source: str
    relative: str
    month: date
    index: int
    """Position of the file among its source's monthly files (0 = the first month)."""


@dataclass(eq=False)
class FileShape:
    """How one landing file is written; injectors change it in :meth:`Injector.shape_file`."""

    rng: np.random.Generator
    """Per-file draws of the writer (which records, where to cut)."""
    columns: tuple[str, ...] = GENERIC_FIELD_NAMES
    shuffled_by: Injector | None = None
    truncated_by: Injector | None = None
    """The file ends in the middle of its last record."""
    cp1252_share: float = 0.0
    """Share of records written in Windows-1252 (only non-ASCII text changes bytes)."""
    cp1252_by: Injector | None = None
    overlap_days: int = 0
    """This export repeats the orders of the previous month's last days (their later
    status); the previous file shows them as of its own export time."""
    overlap_export_delay_hours: int = 0
    """The previous export was taken this long after its month ended."""
    overlap_by: Injector | None = None
    extra: dict[str, object] = field(default_factory=dict)
    """For injectors of later issues."""


class Injector:
    """A named alteration of generated data with a rate. Override the hooks you need."""

    name: ClassVar[str]
    description: ClassVar[str]
    reason_codes: ClassVar[tuple[str, ...]]
    default_rate: ClassVar[float]
    fraud_pattern: ClassVar[str | None] = None
    """Fraud injectors: the pattern name their records carry (``fraud_label`` true)."""
    marks_added_orders: ClassVar[bool] = True
    """The writer marks every line of the orders this injector added (with :meth:`mark`);
    False: the injector marks them itself in :meth:`alter_chunk` (per-order patterns)."""

    def __init__(self, rate: float, seed: int, index: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{self.name}: rate {rate} is not between 0 and 1")
        self.rate = rate
        self.index = index
        self.rng = np.random.default_rng([seed, 30, zlib.crc32(self.name.encode())])

    def add_orders(self, plan: Plan, context: PlanContext) -> Plan:
        """Stage 1: the plan with orders added (``Plan.with_copies(..., self.index)``)."""
        return plan

    def alter_chunk(self, chunk: Chunk, context: ChunkContext) -> tuple[Chunk, list[RecordMark]]:
        """Stage 2: the chunk with records changed, and marks for them."""
        return chunk, []

    def shape_file(self, file: FileContext, shape: FileShape) -> None:
        """Stage 3: change how ``file`` is written."""

    def mark(self, records: np.ndarray) -> RecordMark:
        """Marks on ``records`` with this injector's codes and fraud pattern."""
        label = True if self.fraud_pattern is not None else None
        return RecordMark(records, self, None, label, self.fraud_pattern)


INJECTORS: dict[str, type[Injector]] = {}
"""Every registered injector by name, in registration order."""


_InjectorType = TypeVar("_InjectorType", bound=type[Injector])


def register_injector(cls: _InjectorType) -> _InjectorType:
    """Class decorator: make an injector selectable by name."""
    for code in cls.reason_codes:
        ReasonCode(code)  # a code must be declared in orderlens.reasons
    if cls.name in INJECTORS and INJECTORS[cls.name] is not cls:
        raise ValueError(f"an injector named {cls.name!r} is already registered")
    INJECTORS[cls.name] = cls
    return cls


def default_injector_specs() -> tuple[InjectorSpec, ...]:
    """Every registered injector at its default rate."""
    return tuple(InjectorSpec(name, cls.default_rate) for name, cls in INJECTORS.items())


def build_injectors(specs: Sequence[InjectorSpec], seed: int) -> list[Injector]:
    """Instances for ``specs`` (names registered, each at most once, rates in 0..1)."""
    names = [s.name for s in specs]
    unknown = [n for n in names if n not in INJECTORS]
    if unknown:
        raise ValueError(f"unknown injector(s) {', '.join(unknown)}; known: {', '.join(INJECTORS)}")
    if len(set(names)) != len(names):
        raise ValueError("an injector is named more than once")
    return [INJECTORS[s.name](s.rate, seed, i) for i, s in enumerate(specs)]


NEAR_SECONDS = 3600
"""Orders with another order of the same customer this close are never damaged by the
entry-accuracy injectors (:func:`near_another_order`)."""


def near_another_order(chunk: Chunk, candidates: np.ndarray) -> np.ndarray:
    """Per candidate (positions of orders in ``chunk``): another order of the same customer
    (account, else phone) is in the chunk less than :data:`NEAR_SECONDS` away (a re-submission
    and its original: an added copy stays in its original's chunk). Injectors that damage
    orders skip these, so a re-submitted order stays a recognisable duplicate."""
    if chunk.pre is None or chunk.created is None or not candidates.size:
        return np.zeros(candidates.size, dtype=bool)
    c = pl.col
    key = (
        chunk.pre.select(
            pl.when(c("_has_cust")).then(
                pl.coalesce(c("c_customer_id"), c("c_dial") + ":" + c("c_nsn"))
            )
        )
        .to_series()
        .alias("key")
    )
    every = pl.DataFrame({"key": key, "t": chunk.created, "i": np.arange(chunk.n_orders)})
    picked = every[candidates].filter(c("key").is_not_null())
    near = (
        every.join(picked, on="key", suffix="_c")
        .filter((c("i") != c("i_c")) & ((c("t") - c("t_c")).abs() < NEAR_SECONDS))
        .get_column("i_c")
    )
    return np.isin(candidates, near.to_numpy())


# --------------------------------------------------------------------------------------------
# The first injectors


def _same_local_day(start: np.ndarray, end: np.ndarray, tz: str) -> np.ndarray:
    def day(values: np.ndarray) -> np.ndarray:
        return (
            pl.Series(values * 1_000_000)
            .cast(pl.Datetime("us", "UTC"))
            .dt.convert_time_zone(tz)
            .dt.date()
            .to_numpy()
        )

    return day(start) == day(end)


@register_injector
class DuplicateSubmission(Injector):
    """A customer submits the same cart twice: the same items, amounts, customer, payment
    and address under a new order id, 30 seconds to 15 minutes later.

    Rate: share of web and app orders of a customer that are re-submitted.
    """

    name = "duplicate_submission"
    description = "same customer, items and total re-submitted minutes later, new order id"
    reason_codes = (ReasonCode.DUPLICATE_SUBMISSION,)
    default_rate = 0.003

    def add_orders(self, plan: Plan, context: PlanContext) -> Plan:
        n = plan.n_orders
        delay = self.rng.integers(30, 900, n)
        drawn = self.rng.random(n) < self.rate
        eligible = (
            drawn
            & np.isin(plan.channel, [WEB, APP])
            & (plan.customer >= 0)
            & (plan.created + 3600 < plan.as_of)
        )
        if plan.twin_of is not None:
            eligible &= plan.twin_of < 0
        for channel, tz in context.clocks.items():
            here = np.flatnonzero(eligible & (plan.channel == channel))
            if here.size:
                same = _same_local_day(plan.created[here], plan.created[here] + delay[here], tz)
                eligible[here[~same]] = False  # the copy stays in its original's monthly file
        originals = np.flatnonzero(eligible)
        return plan.with_copies(originals, plan.created[originals] + delay[originals], self.index)


@register_injector
class OverlappingExports(Injector):
    """Monthly exports that overlap: the later export repeats the orders of the previous
    month's last 1-5 days with their current status, while the earlier file shows them as
    they stood when it was exported (1-12 hours after its month ended).

    Rate: share of month boundaries (per source) where the exports overlap. Both copies of
    every repeated record are in the ground truth.
    """

    name = "overlapping_exports"
    description = "month exports overlap by some days; the later one has the later status"
    reason_codes = (ReasonCode.OVERLAPPING_EXPORT,)
    default_rate = 0.3

    def shape_file(self, file: FileContext, shape: FileShape) -> None:
        days = int(self.rng.integers(1, 6))
        delay = int(self.rng.integers(1, 13))
        if file.index > 0 and self.rng.random() < self.rate:
            shape.overlap_days = days
            shape.overlap_export_delay_hours = delay
            shape.overlap_by = self


@register_injector
class ColumnOrder(Injector):
    """A whole file written with its columns shuffled (valid: columns bind by name).

    Rate: share of files. The ground truth names the file (line 1, no order).
    """

    name = "column_order"
    description = "a file's columns in another order"
    reason_codes = (ReasonCode.COLUMN_ORDER,)
    default_rate = 0.1

    def shape_file(self, file: FileContext, shape: FileShape) -> None:
        order = self.rng.permutation(len(GENERIC_FIELD_NAMES))
        if self.rng.random() < self.rate:
            if (order == np.arange(order.size)).all():
                order = np.roll(order, 1)
            shape.columns = tuple(GENERIC_FIELD_NAMES[i] for i in order)
            shape.shuffled_by = self


@register_injector
class BadEncoding(Injector):
    """Records written by a legacy exporter in Windows-1252: their non-ASCII text (accented
    names, product names with an en dash) is not valid UTF-8.

    Rate: share of records written that way; only those with non-ASCII text that
    Windows-1252 can encode change bytes, and only those are in the ground truth.
    """

    name = "bad_encoding"
    description = "records in Windows-1252 (invalid UTF-8 bytes)"
    reason_codes = (ReasonCode.BAD_ENCODING,)
    default_rate = 0.005

    def shape_file(self, file: FileContext, shape: FileShape) -> None:
        shape.cp1252_share = self.rate
        shape.cp1252_by = self


@register_injector
class TruncatedLastRow(Injector):
    """A file that ends in the middle of its last record (an interrupted export).

    Rate: share of files.
    """

    name = "truncated_last_row"
    description = "a file ends mid-record"
    reason_codes = (ReasonCode.TRUNCATED_ROW,)
    default_rate = 0.1

    def shape_file(self, file: FileContext, shape: FileShape) -> None:
        if self.rng.random() < self.rate:
            shape.truncated_by = self
