"""The ground-truth table: what the injectors did, record by record.

Grain: one row per injected record and injector (a record two injectors touched has two
rows). A record is an order line of a landing file, named by ``source_order_id`` and
``line_number`` and located by its physical line (1-based, as an editor shows it: the header
is line 1, a quoted multi-line note counts its lines); file-level damage (a shuffled header)
names line 1 and no order. ``reason_codes`` are what a correct validator must report for the
record; ``fraud_label`` and ``fraud_pattern`` are set by fraud injectors (null otherwise).

The table is written as Parquet *outside* the landing folder (the pipeline would ingest it
otherwise): by default ``<out>/../<out name>_ground_truth.parquet``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class GroundTruthRow:
    """One injected record and what the injector did to it."""

    source: str
    file: str
    """Path relative to the landing folder, with '/' separators."""
    source_order_id: str | None
    line_number: int | None
    physical_line: int
    injector: str
    reason_codes: tuple[str, ...]
    fraud_label: bool | None = None
    fraud_pattern: str | None = None

    @property
    def record_id(self) -> str:
        """``<source_order_id>#<line_number>``, or ``line <n>`` for file-level damage."""
        if self.source_order_id is None:
            return f"line {self.physical_line}"
        return f"{self.source_order_id}#{self.line_number}"


GROUND_TRUTH_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("file", pa.string(), nullable=False),
        pa.field("record_id", pa.string(), nullable=False),
        pa.field("source_order_id", pa.string()),
        pa.field("line_number", pa.int32()),
        pa.field("physical_line", pa.int64(), nullable=False),
        pa.field("injector", pa.string(), nullable=False),
        pa.field("reason_codes", pa.list_(pa.string()), nullable=False),
        pa.field("fraud_label", pa.bool_()),
        pa.field("fraud_pattern", pa.string()),
    ]
)


def default_ground_truth_path(out: Path) -> Path:
    """``<out>/../<out name>_ground_truth.parquet``: next to the landing folder, not in it."""
    return out.parent / f"{out.name}_ground_truth.parquet"


def _sort_key(row: GroundTruthRow) -> tuple[str, str, int, str]:
    return (row.source, row.file, row.physical_line, row.injector)


def write_ground_truth(path: Path, rows: Iterable[GroundTruthRow]) -> int:
    """Write the rows (sorted by source, file, line, injector) as Parquet; return how many."""
    ordered = sorted(rows, key=_sort_key)
    columns = {
        "source": [r.source for r in ordered],
        "file": [r.file for r in ordered],
        "record_id": [r.record_id for r in ordered],
        "source_order_id": [r.source_order_id for r in ordered],
        "line_number": [r.line_number for r in ordered],
        "physical_line": [r.physical_line for r in ordered],
        "injector": [r.injector for r in ordered],
        "reason_codes": [list(r.reason_codes) for r in ordered],
        "fraud_label": [r.fraud_label for r in ordered],
        "fraud_pattern": [r.fraud_pattern for r in ordered],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    pq.write_table(pa.table(columns, schema=GROUND_TRUTH_SCHEMA), partial, compression="zstd")
    partial.replace(path)
    return len(ordered)


def read_ground_truth(path: Path) -> list[GroundTruthRow]:
    """The rows of a ground-truth file, in file order."""
    table = pq.read_table(path, schema=GROUND_TRUTH_SCHEMA)
    return [
        GroundTruthRow(
            source=row["source"],
            file=row["file"],
            source_order_id=row["source_order_id"],
            line_number=row["line_number"],
            physical_line=row["physical_line"],
            injector=row["injector"],
            reason_codes=tuple(row["reason_codes"]),
            fraud_label=row["fraud_label"],
            fraud_pattern=row["fraud_pattern"],
        )
        for row in table.to_pylist()
    ]
