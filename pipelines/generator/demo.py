"""The committed demo sample (``pipelines/sample_landing/``): three sources, reference files
and three deliberately broken records.

Grain: one small landing folder. Deterministic: the committed files are exactly what
:func:`write_demo_sample` makes (``tests/benchmarks/test_generic_orders.py`` checks).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from orderlens.contracts import GENERIC_FIELD_NAMES
from pipelines.generator.catalog import build_catalog
from pipelines.generator.chunk import csv_record
from pipelines.generator.orders import Job, csv_header, make_job, typed_table, write_records
from pipelines.generator.reference import write_reference

DEMO_START = date(2026, 10, 1)
DEMO_DAYS = 31
DEMO_REFERENCE_END = date(2026, 11, 20)
DEMO_REFERENCE_DAYS = 60
DEMO_SKUS = 240


@dataclass(frozen=True)
class Defect:
    """A deliberately broken record of the demo sample."""

    path: Path
    line: int
    """Physical line in the file (header is line 1, a multi-line note counts its lines)."""
    source_order_id: str
    description: str


@dataclass(frozen=True)
class DemoSample:
    files: tuple[Path, ...]
    defects: tuple[Defect, ...]


def _demo_job(n_lines: int, seed: int, **kwargs: object) -> Job:
    defaults: dict[str, object] = {
        "start": DEMO_START,
        "days": DEMO_DAYS,
        "country_mix": None,
        "timezone": "America/New_York",
        "catalog": build_catalog(),
        "first_order_number": 1001,
        "order_id_prefix": "",
        "order_id_base": 7_230_000_000_000,
        "repeat_order_fields": True,
    }
    defaults.update(kwargs)
    return make_job(n_lines, seed, **defaults)  # type: ignore[arg-type]


def write_demo_sample(folder: Path) -> DemoSample:
    """(Re)make the demo landing folder: three sources, reference files and three defects.

    Deterministic: running it twice gives byte-identical files.
    """
    catalog = build_catalog(DEMO_SKUS)
    online_path = folder / "online_store" / "orders_2026-10.csv"
    online = _demo_job(
        300,
        seed=2026_10_1,
        source_label="online_store",
        channel_mix={"online_store": 0.7, "mobile_app": 0.3},
        catalog=catalog,
    )
    chunks = list(online.chunks())
    frame = pl.concat([c.frame() for c in chunks])
    records = pl.concat([c.csv_records() for c in chunks])
    broken = _defect_orders(frame)
    keep = ~frame["source_order_id"].is_in(broken["source_order_id"].implode())
    kept = frame.filter(keep)
    body = bytearray(csv_header())
    body += ("\n".join(records.filter(keep).to_list()) + "\n").encode("utf-8")
    line = 1 + kept.height + int(kept["note"].str.count_matches("\n").fill_null(0).sum())
    defects: list[Defect] = []
    fields = list(GENERIC_FIELD_NAMES)
    for number, row in enumerate(broken.iter_rows(named=True)):
        one = pl.DataFrame([row], schema=frame.schema)
        if number == 0:
            one = one.with_columns(pl.lit("two").alias("quantity"))
            text = one.select(csv_record(fields))[0, 0].encode("utf-8")
            what = 'quantity is the word "two" instead of a number'
        elif number == 1:
            short = [f for f in fields if f != "billing_address2"]
            text = one.select(csv_record(short))[0, 0].encode("utf-8")
            what = (
                f"ragged row: {len(short)} fields instead of {len(fields)} (the empty "
                "billing_address2 field is missing, so every later value shifts left)"
            )
        else:
            product = str(row["product_name"])
            text = one.select(csv_record(fields))[0, 0].encode("utf-8")
            text = text.replace(product.encode("utf-8"), product.encode("cp1252"), 1)
            what = f"product_name {product!r} is encoded in Windows-1252: invalid UTF-8 bytes"
        body += text + b"\n"
        line += 1
        defects.append(Defect(online_path, line, str(row["source_order_id"]), what))
    online_path.parent.mkdir(parents=True, exist_ok=True)
    online_path.write_bytes(bytes(body))

    market_path = folder / "marketplace" / "orders_2026-10.csv"
    _write_job_csv(
        market_path,
        _demo_job(
            180,
            seed=2026_10_2,
            source_label="marketplace",
            channel_mix={"marketplace": 1.0},
            country_mix={"US": 0.7, "CA": 0.12, "GB": 0.12, "DE": 0.06},
            timezone="UTC",
            catalog=catalog,
            first_order_number=1,
            order_id_prefix="MKT-",
            order_id_base=114_000_000,
            repeat_order_fields=False,
        ),
    )
    pos_path = folder / "pos" / "orders_2026-10.parquet"
    pos = _demo_job(
        240,
        seed=2026_10_3,
        source_label="pos",
        channel_mix={"pos": 1.0},
        catalog=catalog,
        first_order_number=1,
        order_id_prefix="POS-",
        order_id_base=880_000,
    )
    pos_path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.concat_tables([typed_table(c.frame()) for c in pos.chunks()]),
        pos_path,
        compression="zstd",
    )
    references = write_reference(
        folder / "_reference",
        catalog=catalog,
        end=DEMO_REFERENCE_END,
        days=DEMO_REFERENCE_DAYS,
    )
    files = (online_path, market_path, pos_path, *references.values())
    return DemoSample(files=files, defects=tuple(defects))


def _write_job_csv(path: Path, job: Job) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write(csv_header())
        for chunk in job.chunks():
            write_records(out, chunk.csv_records())


def _defect_orders(frame: pl.DataFrame) -> pl.DataFrame:
    """The three single-line, paid web orders to break, latest first, in defect order.

    One sold two units (its quantity becomes "two"), one has no billing_address2 (that field
    is dropped), one sold a product whose name has an accent (written in Windows-1252).
    """
    sizes = frame.group_by("source_order_id").len()
    single = sizes.filter(pl.col("len") == 1)["source_order_id"].implode()
    candidates = frame.filter(
        pl.col("source_order_id").is_in(single)
        & (pl.col("channel") == "online_store")
        & (pl.col("financial_status") == "paid")
        & pl.col("note").is_null()
        & pl.col("customer_id").is_not_null()
    ).reverse()
    taken: list[str] = []
    rows: list[pl.DataFrame] = []
    for condition in (
        pl.col("quantity") == "2",
        pl.col("billing_address2").is_null(),
        pl.col("product_name").str.contains("[éèêçñû]"),
    ):
        row = candidates.filter(condition & ~pl.col("source_order_id").is_in(taken)).head(1)
        if row.height != 1:
            raise RuntimeError("the demo orders have no candidate for a deliberate defect")
        taken.append(str(row["source_order_id"][0]))
        rows.append(row)
    return pl.concat(rows)
