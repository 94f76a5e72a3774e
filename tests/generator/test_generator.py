"""The merchant generator: deterministic, realistic, and its ground truth covers exactly the
records its injectors damaged.

Files are read back with plain bytes and ``csv`` (never with the generator's own code), so
the checks hold whatever the generator believes it wrote.
"""

from __future__ import annotations

import csv
import hashlib
import io
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest

from orderlens.contracts import GENERIC_FIELD_NAMES, GENERIC_ORDER_FIELDS, REFERENCE_DATA
from pipelines.cli import EXIT_OK, EXIT_USAGE, main
from pipelines.generator import (
    INJECTORS,
    DemandSpike,
    GenerateReport,
    GroundTruthRow,
    Injector,
    InjectorSpec,
    MerchantProfile,
    Promotion,
    ReasonCode,
    generate_merchant,
    parse_injector_specs,
    read_ground_truth,
    register_injector,
)
from pipelines.generator.chunk import Chunk
from pipelines.generator.injectors import ChunkContext, RecordMark

MERCHANT_TZ = ZoneInfo("America/New_York")
MARKED = "MARKED BY A TEST INJECTOR"
ORDER_FIELDS = [f.name for f in GENERIC_ORDER_FIELDS]
SOURCES = ("online_store", "mobile_app", "marketplace", "pos")
EVERY_INJECTOR = [
    InjectorSpec("duplicate_submission", 0.03),
    InjectorSpec("overlapping_exports", 1.0),
    InjectorSpec("column_order", 0.3),
    InjectorSpec("bad_encoding", 0.05),
    InjectorSpec("truncated_last_row", 0.5),
]


# --------------------------------------------------------------------------------------------
# Reading the landing folder back, independently of the generator


@dataclass
class Record:
    file: str
    line: int
    """Physical line the record starts on (header = line 1)."""
    raw: bytes
    utf8: bool
    fields: dict[str, str]
    """By column name; a truncated record lacks its last columns."""
    truncated: bool = False
    """The last record of a file that ends mid-record."""

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


@dataclass
class LandingFile:
    relative: str
    header: list[str]
    records: list[Record]
    ends_open: bool
    """The file does not end with a line feed (it ends mid-record)."""


@dataclass
class Landing:
    root: Path
    files: dict[str, LandingFile] = field(default_factory=dict)

    def records(self, source: str | None = None) -> Iterator[Record]:
        for relative, f in self.files.items():
            if source is None or relative.startswith(f"{source}/"):
                yield from f.records

    def orders(self, source: str | None = None) -> dict[tuple[str, str], list[Record]]:
        """Lines by (file, source_order_id); later lines take blank order fields from the
        first (the contract's "first non-blank value wins")."""
        grouped: dict[tuple[str, str], list[Record]] = defaultdict(list)
        for record in self.records(source):
            lines = grouped[(record.file, record.get("source_order_id"))]
            if lines:
                fields = dict(record.fields)
                for name in ORDER_FIELDS:
                    fields[name] = lines[0].get(name) or record.get(name)
                record = replace(record, fields=fields)
            lines.append(record)
        return grouped


def split_records(data: bytes) -> tuple[list[tuple[int, bytes]], bool]:
    """(physical line, bytes) of every record, header first; a line break inside quotes
    continues the record."""
    ends_open = not data.endswith(b"\n")
    lines = data.split(b"\n")
    if not ends_open:
        lines = lines[:-1]
    out: list[tuple[int, bytes]] = []
    buffer: bytes | None = None
    start = quotes = 0
    for number, line in enumerate(lines, start=1):
        if buffer is None:
            buffer, start, quotes = line, number, line.count(b'"')
        else:
            buffer += b"\n" + line
            quotes += line.count(b'"')
        if quotes % 2 == 0:
            out.append((start, buffer))
            buffer = None
    if buffer is not None:
        out.append((start, buffer))
    return out, ends_open


def read_landing(root: Path) -> Landing:
    landing = Landing(root)
    for path in sorted(root.rglob("*.csv")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith("_"):
            continue
        records, ends_open = split_records(path.read_bytes())
        header = next(csv.reader([records[0][1].decode("utf-8")]))
        parsed = []
        for line, raw in records[1:]:
            try:
                text, utf8 = raw.decode("utf-8"), True
            except UnicodeDecodeError:
                text, utf8 = raw.decode("cp1252", errors="replace"), False
            values = next(csv.reader(io.StringIO(text, newline="")))
            fields = dict(zip(header, values, strict=False))
            parsed.append(Record(relative, line, raw, utf8, fields))
        if ends_open:
            parsed[-1].truncated = True
        landing.files[relative] = LandingFile(relative, header, parsed, ends_open)
    return landing


def folder_digest(*paths: Path) -> dict[str, str]:
    digests = {}
    for root in paths:
        files = sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]
        for path in files:
            key = path.relative_to(root.parent).as_posix()
            digests[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def money(value: str) -> Decimal:
    return Decimal(value or "0")


def local_day(timestamp: str) -> date:
    return datetime.fromisoformat(timestamp).astimezone(MERCHANT_TZ).date()


# --------------------------------------------------------------------------------------------
# Fixtures


@dataclass
class Generated:
    report: GenerateReport
    landing: Landing
    truth: list[GroundTruthRow]


def _generate(root: Path, **kwargs: object) -> Generated:
    out = root / "landing"
    report = generate_merchant(out, **kwargs)  # type: ignore[arg-type]
    return Generated(report, read_landing(out), read_ground_truth(report.ground_truth))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """Three months around the holidays (Black Friday, a homeware price cut, the spike),
    no injected defects."""
    return _generate(
        tmp_path_factory.mktemp("clean"),
        orders=12_000,
        start=date(2026, 11, 1),
        end=date(2027, 1, 31),
        seed=11,
        injectors=[],
    )


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> Generated:
    """Three spring months with every injector at a high rate."""
    return _generate(
        tmp_path_factory.mktemp("dirty"),
        orders=4_000,
        start=date(2026, 2, 1),
        end=date(2026, 4, 30),
        seed=5,
        injectors=EVERY_INJECTOR,
    )


# --------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_the_same_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    def run(name: str, seed: int) -> dict[str, str]:
        out = tmp_path / name / "landing"
        report = generate_merchant(
            out,
            orders=1_500,
            start=date(2026, 5, 20),
            end=date(2026, 7, 10),
            seed=seed,
            injectors=EVERY_INJECTOR,
        )
        assert report.ground_truth == tmp_path / name / "landing_ground_truth.parquet"
        return folder_digest(out, report.ground_truth)

    first, second, other = run("a", 3), run("b", 3), run("c", 4)
    assert len(first) > 10
    assert first == second
    assert other.keys() == first.keys()
    # The catalogue and the IP address plan are fixed.
    seeded = [k for k in first if not k.endswith(("products.csv", "ip_ranges.csv"))]
    assert all(other[k] != first[k] for k in seeded), "every other file depends on the seed"


# --------------------------------------------------------------------------------------------
# The ground truth


def test_every_ground_truth_row_points_at_a_record_that_exists(dirty: Generated) -> None:
    by_line = {
        (r.file, r.line): r for f in dirty.landing.files.values() for r in f.records
    }  # fmt: skip
    injectors = Counter(row.injector for row in dirty.truth)
    assert set(injectors) == {s.name for s in EVERY_INJECTOR}, injectors
    assert dirty.report.injected == dict(injectors)
    assert dirty.report.ground_truth_rows == len(dirty.truth)
    for row in dirty.truth:
        assert row.file in dirty.landing.files, row
        assert row.source == row.file.split("/")[0]
        assert set(row.reason_codes) <= set(ReasonCode), row
        assert row.fraud_label is None and row.fraud_pattern is None
        if row.source_order_id is None:  # file-level damage: the header
            assert row.physical_line == 1 and row.record_id == "line 1"
            continue
        record = by_line[(row.file, row.physical_line)]
        assert row.record_id == f"{row.source_order_id}#{row.line_number}"
        if row.injector == "truncated_last_row":
            assert record.truncated and record is dirty.landing.files[row.file].records[-1]
        if record.truncated:
            # The cut may drop the id columns of a shuffled file; what is left must match.
            for name, value in (("source_order_id", row.source_order_id),
                                ("line_number", str(row.line_number))):  # fmt: skip
                assert value.startswith(record.get(name)), (row, record.fields)
            continue
        assert record.get("source_order_id") == row.source_order_id, row
        assert record.get("line_number") == str(row.line_number), row


def test_every_injected_record_is_in_the_ground_truth(dirty: Generated) -> None:
    truth = defaultdict(set)
    for row in dirty.truth:
        truth[row.injector].add((row.file, row.physical_line))

    # Bytes that are not UTF-8: exactly the bad-encoding rows.
    invalid = {(r.file, r.line) for r in dirty.landing.records() if not r.utf8}
    assert invalid and invalid == truth["bad_encoding"]
    for r in dirty.landing.records():
        if not r.utf8:
            assert r.raw.decode("cp1252").isascii() is False  # non-ASCII text in Windows-1252

    # Files ending mid-record: their last record, and only those.
    open_ended = {
        (f.relative, f.records[-1].line) for f in dirty.landing.files.values() if f.ends_open
    }
    assert open_ended and open_ended == truth["truncated_last_row"]
    for f in dirty.landing.files.values():
        if f.ends_open:
            assert len(f.records[-1].fields) < len(GENERIC_FIELD_NAMES)

    # Shuffled headers: exactly the column-order rows (a valid permutation of the contract).
    shuffled = {
        (f.relative, 1) for f in dirty.landing.files.values()
        if tuple(f.header) != GENERIC_FIELD_NAMES
    }  # fmt: skip
    assert shuffled and shuffled == truth["column_order"]
    assert all(
        sorted(f.header) == sorted(GENERIC_FIELD_NAMES) for f in dirty.landing.files.values()
    )

    # Orders in two files: every record of theirs, in both files (a truncated record may
    # have lost its id).
    whole = [r for r in dirty.landing.records() if not r.truncated]
    files_of: dict[tuple[str, str], set[str]] = defaultdict(set)
    for r in whole:
        files_of[(r.file.split("/")[0], r.get("source_order_id"))].add(r.file)
    repeated = {
        (r.file, r.line) for r in whole
        if len(files_of[(r.file.split("/")[0], r.get("source_order_id"))]) > 1
    }  # fmt: skip
    truncated_away = truth["truncated_last_row"]
    assert repeated and repeated <= truth["overlapping_exports"]
    # A copy whose other copy is a truncated record: the cut kept at most a prefix of the id.
    cut = [
        (r.file, r.get("source_order_id")) for f in dirty.landing.files.values()
        for r in f.records[-1:] if r.truncated
    ]  # fmt: skip
    by_line = {(r.file, r.line): r for r in whole}
    for key in truth["overlapping_exports"] - repeated - truncated_away:
        order_id = by_line[key].get("source_order_id")
        assert any(
            file != key[0] and file.split("/")[0] == key[0].split("/")[0]
            and order_id.startswith(prefix)
            for file, prefix in cut
        ), key  # fmt: skip

    # Re-submissions: same customer, items and total minutes later under a new id.
    seen: dict[tuple[str, ...], tuple[datetime, str]] = {}
    resubmitted = set()
    orders = [
        (key, lines) for key, lines in dirty.landing.orders().items()
        if all(x.utf8 and not x.truncated for x in lines) and lines[0].get("customer_id")
    ]  # fmt: skip
    for (file, order_id), lines in sorted(
        orders, key=lambda kv: (datetime.fromisoformat(kv[1][0].get("created_at")), kv[0])
    ):
        first = lines[0]
        key = (
            file.split("/")[0], first.get("customer_id"), first.get("total"),
            *sorted(f"{x.get('sku')}x{x.get('quantity')}@{x.get('unit_price')}" for x in lines),
        )  # fmt: skip
        created = datetime.fromisoformat(first.get("created_at"))
        if (
            key in seen
            and seen[key][1] != order_id
            and created - seen[key][0] <= timedelta(minutes=15)
        ):
            resubmitted |= {(file, x.line) for x in lines}
        else:
            seen[key] = (created, order_id)
    assert resubmitted and resubmitted <= truth["duplicate_submission"]
    # Those not found again are orders (or originals) with a line another injector damaged.
    missed = truth["duplicate_submission"] - resubmitted
    assert len(missed) <= 0.15 * len(truth["duplicate_submission"])


def test_overlapping_exports_show_the_later_status_in_the_later_file(dirty: Generated) -> None:
    rank = {"pending": 0, "authorized": 1, "paid": 2, "partially_refunded": 3, "refunded": 4,
            "voided": 4}  # fmt: skip
    shipped = {"unfulfilled": 0, "partial": 1, "fulfilled": 1, "delivered": 2}
    by_order: dict[tuple[str, str], dict[str, Record]] = defaultdict(dict)
    for (file, order_id), lines in dirty.landing.orders().items():
        if lines[0].utf8 and not lines[0].truncated:
            by_order[(file.split("/")[0], order_id)][file] = lines[0]
    pairs = [v for v in by_order.values() if len(v) == 2]
    assert len(pairs) > 50
    changed = 0
    for versions in pairs:
        early, late = (versions[f] for f in sorted(versions))
        assert early.get("created_at") == late.get("created_at")
        assert early.get("total") == late.get("total")
        assert rank[early.get("financial_status")] <= rank[late.get("financial_status")]
        assert shipped[early.get("fulfillment_status")] <= shipped[late.get("fulfillment_status")]
        for event in ("paid_at", "shipped_at", "delivered_at", "refunded_at", "cancelled_at"):
            assert early.get(event) in ("", late.get(event)), event
        changed += early.fields != late.fields
    assert changed > len(pairs) // 4, "the earlier export is older: many statuses moved on"


def test_a_registered_injector_alters_records_and_labels_fraud(tmp_path: Path) -> None:
    @register_injector
    class TestMarker(Injector):
        name = "test_marker"
        description = "test only: a note on a few orders, labelled as fraud"
        reason_codes = ()
        default_rate = 0.1
        fraud_pattern = "test_pattern"

        def alter_chunk(
            self, chunk: Chunk, context: ChunkContext
        ) -> tuple[Chunk, list[RecordMark]]:
            hit = self.rng.random(chunk.n_orders) < self.rate
            marked = pl.Series([MARKED] * chunk.n_orders, dtype=pl.String)
            note = chunk.orders["note"].zip_with(pl.Series(~hit), marked)
            changed = replace(chunk, orders=chunk.orders.with_columns(note))
            return changed, [self.mark(np.flatnonzero(hit[chunk.order_of_line]))]

    try:
        got = _generate(
            tmp_path, orders=800, start=date(2026, 6, 1), end=date(2026, 6, 30), seed=2,
            injectors=[InjectorSpec("test_marker", 0.1)],
        )  # fmt: skip
    finally:
        del INJECTORS["test_marker"]
    marked = {
        (r.file, r.line)
        for lines in got.landing.orders().values()
        if lines[0].get("note") == MARKED
        for r in lines
    }
    assert marked == {(row.file, row.physical_line) for row in got.truth}
    assert 40 < len(marked) < 160
    assert all(row.fraud_label is True and row.fraud_pattern == "test_pattern" and
               row.reason_codes == () for row in got.truth)  # fmt: skip


# --------------------------------------------------------------------------------------------
# A realistic merchant


def test_clean_orders_add_up(clean: Generated) -> None:
    assert clean.truth == []
    orders = clean.landing.orders()
    assert len(orders) == clean.report.orders
    assert sum(len(v) for v in orders.values()) == clean.report.lines == clean.report.records
    for (_file, _id), lines in orders.items():
        first = lines[0]
        subtotal = sum(
            (Decimal(x.get("quantity")) * money(x.get("unit_price")) - money(x.get("line_discount"))
             for x in lines),
            Decimal(0),
        )  # fmt: skip
        assert money(first.get("subtotal")) == subtotal
        assert money(first.get("total")) == (
            money(first.get("subtotal")) - money(first.get("total_discounts"))
            + money(first.get("shipping")) + money(first.get("total_tax"))
        )  # fmt: skip
        assert money(first.get("total_tax")) == sum(
            (money(x.get("line_tax")) for x in lines), Decimal(0)
        )
        assert [int(x.get("line_number")) for x in lines] == list(range(1, len(lines) + 1))


def test_sources_months_countries_currencies_and_time_zones(clean: Generated) -> None:
    files = set(clean.landing.files)
    for source in SOURCES:
        for month in ("2026-11", "2026-12", "2027-01"):
            assert f"{source}/orders_{month}.csv" in files
    firsts = [v[0] for v in clean.landing.orders().values()]
    assert {o.get("currency") for o in firsts} == {"USD", "EUR", "GBP", "CAD", "JPY"}
    assert len({o.get("billing_country") for o in firsts}) >= 6
    offsets = defaultdict(set)
    for o in firsts:
        for name in ("created_at", "customer_created_at"):
            if o.get(name):
                offsets[o.file.split("/")[0]].add(o.get(name)[-6:])
    assert offsets["online_store"] == {"-05:00", "-04:00"}  # summer sign-ups, winter orders
    assert offsets["mobile_app"] == {"-08:00", "-07:00"}
    assert offsets["marketplace"] == {"+00:00"}
    assert {"-05:00", "+01:00"} <= offsets["pos"]  # New York and Amsterdam tills
    channels = {(o.file.split("/")[0], o.get("channel")) for o in firsts}
    assert channels == {(s, s) for s in SOURCES}
    # Marketplace exports carry order fields on each order's first line only.
    market = [r for r in clean.landing.records("marketplace") if r.get("line_number") != "1"]
    assert market and all(not r.fields["total"] for r in market)
    assert any(r.get("client_ip") and r.get("user_agent") and r.get("device_id") for r in firsts)


def test_guests_and_till_sales_have_no_email(clean: Generated) -> None:
    firsts = [v[0] for v in clean.landing.orders().values()]
    pos = [o for o in firsts if o.get("channel") == "pos"]
    assert pos and all(not o.get("customer_email") for o in pos)
    assert 0.1 < sum(bool(o.get("customer_id")) for o in pos) / len(pos) < 0.5  # loyalty
    web = [o for o in firsts if o.get("channel") == "online_store"]
    guests = [o for o in web if not o.get("customer_id")]
    assert 0.05 < len(guests) / len(web) < 0.2
    assert all(not o.get("customer_email") and o.get("customer_phone") for o in guests)
    registered = [o for o in firsts if o.get("customer_id") and o.get("channel") != "pos"]
    assert all(o.get("customer_email") for o in registered)


def test_new_and_repeat_customers_buy_across_channels(clean: Generated) -> None:
    firsts = [v[0] for v in clean.landing.orders().values()]
    by_customer: dict[str, list[Record]] = defaultdict(list)
    for o in firsts:
        if o.get("customer_id"):
            by_customer[o.get("customer_id")].append(o)
    repeat = [v for v in by_customer.values() if len(v) > 1]
    assert len(repeat) > 300
    spanning = [v for v in repeat if len({o.get("channel") for o in v}) > 1]
    assert len(spanning) > len(repeat) // 4
    assert any("pos" in {o.get("channel") for o in v} for v in spanning)
    emails = [{o.get("customer_email") for o in v if o.get("customer_email")} for v in repeat]
    assert any(len(e) > 1 and len({x.lower() for x in e}) == 1 for e in emails)
    assert any(len({o.get("customer_phone") for o in v}) > 1 for v in repeat)
    # New customers sign up at their first checkout; returning ones long before the window.
    window_start = datetime(2026, 11, 1, tzinfo=MERCHANT_TZ)
    signed_up = {
        c: min(datetime.fromisoformat(o.get("customer_created_at")) for o in v)
        for c, v in by_customer.items()
        if any(o.get("customer_created_at") for o in v)
    }
    new = [c for c, t in signed_up.items() if t >= window_start]
    assert 0.3 < len(new) / len(signed_up) < 0.9
    for c in new[:200]:
        first = min(by_customer[c], key=lambda o: datetime.fromisoformat(o.get("created_at")))
        gap = datetime.fromisoformat(first.get("created_at")) - signed_up[c]
        assert timedelta(0) < gap <= timedelta(minutes=30)


def _daily(records: list[Record]) -> Counter[date]:
    return Counter(local_day(r.get("created_at")) for r in records)


def _special_days(report: GenerateReport) -> set[date]:
    days = set()
    windows = [(p.start, p.end) for p in report.demand.promotions]
    if report.demand.spike is not None:
        windows.append((report.demand.spike.start, report.demand.spike.end))
    for first, last in windows:
        days |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    return days


def test_weekly_seasonality_is_as_configured(clean: Generated) -> None:
    firsts = [v[0] for v in clean.landing.orders().values()]
    special = _special_days(clean.report)
    season = clean.report.demand.seasonality

    def per_weekday(channel: str) -> dict[int, float]:
        days = _daily([o for o in firsts if o.get("channel") == channel])
        normal = [d for d in days if d not in special]
        return {
            wd: statistics.mean(days[d] for d in normal if d.weekday() == wd) for wd in range(7)
        }

    pos = per_weekday("pos")
    expected = season.weekday_pos[5] / season.weekday_pos[1]  # Saturday / Tuesday
    assert pos[5] / pos[1] == pytest.approx(expected, rel=0.25)
    web = per_weekday("online_store")
    expected = season.weekday_online[6] / season.weekday_online[5]  # Sunday / Saturday
    assert web[6] / web[5] == pytest.approx(expected, rel=0.2)


def test_the_spike_and_promotions_move_demand_and_prices(clean: Generated) -> None:
    demand = clean.report.demand
    spike = demand.spike
    assert spike is not None and spike.name == "influencer_feature"
    firsts = [v[0] for v in clean.landing.orders().values()]
    web = _daily([o for o in firsts if o.get("channel") == "online_store"])
    special = _special_days(clean.report)
    usual = statistics.median(n for d, n in web.items() if d not in special)
    spike_days = [
        spike.start + timedelta(days=i) for i in range((spike.end - spike.start).days + 1)
    ]
    assert statistics.mean(web[d] for d in spike_days) > 2 * usual
    lines = list(clean.landing.records("online_store"))
    beauty = [r for r in lines if r.get("sku").startswith("BEA")]
    in_spike = sum(spike.covers(local_day(r.get("created_at"))) for r in beauty)
    assert in_spike / len(beauty) > 2 * len(spike_days) / 92

    names = {p.name for p in demand.promotions}
    assert {"Black Friday / Cyber Monday", "Holiday homeware sale", "Flash sale"} <= names
    bfcm = next(p for p in demand.promotions if p.code == "BFCM26")
    online = [o for o in firsts if o.get("channel") in ("online_store", "mobile_app")]
    coded = [o for o in online if "BFCM26" in o.get("discount_codes")]
    assert coded and all(bfcm.covers(local_day(o.get("created_at"))) for o in coded)
    during = [o for o in online if bfcm.covers(local_day(o.get("created_at")))]
    assert len(coded) / len(during) == pytest.approx(bfcm.redemption, abs=0.1)
    assert statistics.mean(web[d] for d in web if bfcm.covers(d)) > 1.5 * usual
    for o in coded:
        unit = Decimal(1) if o.get("currency") == "JPY" else Decimal("0.01")
        minor = money(o.get("subtotal")) / unit * Decimal("0.25") + Decimal("0.5")
        expected = minor.to_integral_value(rounding=ROUND_FLOOR) * unit
        assert money(o.get("total_discounts")) == expected, o.fields
    cut = next(p for p in demand.promotions if p.name == "Holiday homeware sale")
    every_line = [r for lines in clean.landing.orders().values() for r in lines]
    home = [r for r in every_line if r.get("sku").startswith("HOM")]

    def cut_share(rows: list[Record]) -> float:
        off = [
            money(r.get("line_discount"))
            >= Decimal(r.get("quantity")) * money(r.get("unit_price")) * Decimal("0.149")
            for r in rows
        ]
        return sum(off) / len(off)

    inside = [r for r in home if cut.covers(local_day(r.get("created_at")))]
    outside = [r for r in home if not cut.covers(local_day(r.get("created_at")))]
    assert cut_share(inside) == 1.0
    assert cut_share(outside) < 0.1


def test_reference_inputs_cover_the_orders(clean: Generated) -> None:
    ref = clean.report.out / "_reference"
    tables = {}
    for spec in REFERENCE_DATA:
        with (ref / f"{spec.file_stem}.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            assert reader.fieldnames == [f.name for f in spec.fields]
            tables[spec.file_stem] = list(reader)
    skus = {r["sku"] for r in tables["products"]}
    assert {r.get("sku") for r in clean.landing.records()} <= skus
    locations = {r["location"] for r in tables["inventory"]}
    assert {"Warehouse NJ", "Amsterdam Jordaan", "Toronto Queen St"} <= locations
    assert {r["as_of"] for r in tables["inventory"]} == {"2027-01-31"}
    assert len(tables["lead_times"]) > 200
    rates = {(r["rate_date"], r["currency"]) for r in tables["fx_rates"]}
    for lines in clean.landing.orders().values():
        o = lines[0]
        assert (local_day(o.get("created_at")).isoformat(), o.get("currency")) in rates


# --------------------------------------------------------------------------------------------
# Arguments and the command line


def test_the_generator_is_a_pure_package() -> None:
    code = (
        "import sys, pipelines.generator, benchmarks.generic_orders; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'streamlit')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_custom_promotions_and_no_code(tmp_path: Path) -> None:
    cut = Promotion("Pantry week", date(2026, 6, 3), date(2026, 6, 9), 0.3, category="Pantry")
    spike = DemandSpike("heatwave", date(2026, 6, 20), date(2026, 6, 21), 2.0)
    got = _generate(
        tmp_path, orders=1_500, start=date(2026, 6, 1), end=date(2026, 6, 30), seed=4,
        injectors=[], profile=MerchantProfile(promotions=(cut,), spike=spike),
    )  # fmt: skip
    assert got.report.demand.promotions == (cut,) and got.report.demand.spike == spike
    lines = [r for lines in got.landing.orders().values() for r in lines]
    pantry = [r for r in lines if r.get("sku").startswith("PAN") and cut.covers(
        local_day(r.get("created_at")))]  # fmt: skip
    assert pantry and all(money(r.get("line_discount")) > 0 for r in pantry)
    codes = {r.get("discount_codes") for r in lines} - {""}
    assert codes <= {"WELCOME10", "THANKS15", "VIP20", "FRIENDS10", "FREESHIP"} | {
        f"{c};FREESHIP" for c in ("WELCOME10", "THANKS15", "VIP20", "FRIENDS10")
    }


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    def gen(out: Path, **kwargs: object) -> GenerateReport:
        args: dict[str, object] = {
            "orders": 10, "start": date(2026, 1, 1), "end": date(2026, 1, 31), "seed": 1,
        }  # fmt: skip
        args.update(kwargs)
        return generate_merchant(out, **args)  # type: ignore[arg-type]

    with pytest.raises(ValueError, match="unknown injector"):
        gen(tmp_path / "a", injectors=[InjectorSpec("nope", 0.1)])
    with pytest.raises(ValueError, match="between 0 and 1"):
        gen(tmp_path / "a", injectors=[InjectorSpec("column_order", 2.0)])
    with pytest.raises(ValueError, match="outside the landing folder"):
        gen(tmp_path / "a", ground_truth=tmp_path / "a" / "truth.parquet")
    with pytest.raises(ValueError, match="end must not be before start"):
        gen(tmp_path / "a", end=date(2025, 1, 1))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "mine.csv").write_text("x\n")
    with pytest.raises(FileExistsError):
        gen(tmp_path / "b")
    gen(tmp_path / "b", overwrite=True)
    assert (tmp_path / "b" / "mine.csv").exists()  # not the generator's: left alone
    assert parse_injector_specs("bad_encoding=0.1, column_order=1") == [
        InjectorSpec("bad_encoding", 0.1),
        InjectorSpec("column_order", 1.0),
    ]
    with pytest.raises(ValueError, match="name=rate"):
        parse_injector_specs("bad_encoding")


def test_cli_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "landing"
    args = ["generate", "--out", str(out), "--orders", "400", "--start", "2026-03-01",
            "--end", "2026-04-15", "--seed", "3"]  # fmt: skip
    assert main([*args, "--inject", "truncated_last_row=1,column_order=0"]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "online_store/orders_2026-03.csv" in printed and "_reference/fx_rates.csv" in printed
    assert "400 orders" in printed and "truncated_last_row" in printed
    truth = read_ground_truth(tmp_path / "landing_ground_truth.parquet")
    assert {row.injector for row in truth} == {"truncated_last_row"}
    assert len(truth) == len(list(out.glob("*/orders_*.csv")))

    assert main(args) == EXIT_USAGE  # not empty
    assert "not empty" in capsys.readouterr().err
    assert main([*args, "--force", "--no-inject"]) == EXIT_OK
    assert read_ground_truth(tmp_path / "landing_ground_truth.parquet") == []
    assert main([*args, "--force", "--inject", "nope=1"]) == EXIT_USAGE
    assert main([*args, "--force", "--start", "March"]) == EXIT_USAGE


# --------------------------------------------------------------------------------------------
# The real pipeline on a generated landing


@pytest.mark.slow
def test_pipeline_ingests_a_generated_landing_and_rejects_what_the_truth_says(
    tmp_path: Path,
) -> None:
    from orderlens.warehouse import connect
    from tests.conftest import make_settings, run_all

    landing = tmp_path / "landing"
    report = generate_merchant(
        landing,
        orders=2_500,
        start=date(2026, 9, 1),
        end=date(2026, 10, 31),
        seed=8,
        injectors=[
            InjectorSpec("duplicate_submission", 0.02),
            InjectorSpec("overlapping_exports", 1.0),
            InjectorSpec("column_order", 0.3),
            InjectorSpec("bad_encoding", 0.1),
            InjectorSpec("truncated_last_row", 1.0),
        ],
    )
    truth = read_ground_truth(report.ground_truth)
    settings = make_settings(tmp_path / "home", landing)
    outcome = run_all(settings)
    assert outcome.success, outcome.error

    con = connect(settings.warehouse, read_only=True)
    try:
        files = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT file_name, records, loaded, rejected FROM ingest_files "
                "WHERE source <> '_reference'"
            ).fetchall()
        }
        rejects = {
            (row[0], row[1])
            for row in con.execute("SELECT file_name, line FROM ingest_rejects").fetchall()
        }
    finally:
        con.close()
    assert set(files) == {f.relative for f in report.files}
    for f in report.files:
        records, loaded, rejected = files[f.relative]
        assert records == loaded + rejected == f.records, f.relative
    damaged = {
        (row.file, row.physical_line)
        for row in truth
        if row.injector in ("truncated_last_row", "bad_encoding")
    }
    assert len(damaged) >= len(report.files)
    assert damaged <= rejects
    assert sum(r for _, _, r in files.values()) == len(damaged)
