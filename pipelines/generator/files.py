"""One landing CSV being written: header, records, physical line numbers, the damage its
:class:`~pipelines.generator.injectors.FileShape` asks for, and the ground-truth rows of it.

Grain: one file. Records are written chunk by chunk (streaming); the writer counts physical
lines (a quoted multi-line note takes several) so every ground-truth row names the line an
editor, and the ingest's rejects, show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from pipelines.generator.chunk import Chunk
from pipelines.generator.ground_truth import GroundTruthRow
from pipelines.generator.injectors import FileShape, Injector, RecordMark
from pipelines.generator.orders import write_records


@dataclass(frozen=True)
class FileReport:
    """What was written to one landing file."""

    relative: str
    source: str
    records: int
    """Order lines (CSV records), the truncated last one included."""
    orders: int
    n_bytes: int
    physical_lines: int
    """Lines of the file, header included (a file ending mid-record counts its last line)."""


@dataclass(frozen=True)
class _LastRecord:
    start: int
    data: bytes
    source_order_id: str
    line_number: int
    physical_line: int


def _cut_point(data: bytes, rng: np.random.Generator) -> int:
    """Where to end a record mid-way: after a separator in its middle half, sometimes a few
    characters into the next (unquoted, ASCII) field; never inside quotes."""
    commas: list[int] = []
    quoted = False
    for i, byte in enumerate(data):
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x2C and not quoted:
            commas.append(i)
    if not commas:
        return max(1, len(data) // 2)
    k = int(rng.integers(len(commas) // 4, max(len(commas) // 4 + 1, 3 * len(commas) // 4)))
    after = commas[k] + 1
    end = commas[k + 1] if k + 1 < len(commas) else len(data)
    field = data[after:end]
    if len(field) > 1 and not field.startswith(b'"') and field.isascii():
        return after + int(rng.integers(0, len(field)))
    return after


class OrderFileWriter:
    """Writes one generic-format CSV of a source; :meth:`close` returns its report."""

    def __init__(self, root: Path, relative: str, source: str, shape: FileShape) -> None:
        self.relative = relative
        self.source = source
        self.shape = shape
        self.path = root / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._out = self.path.open("wb")
        self._out.write((",".join(shape.columns) + "\n").encode("utf-8"))
        self._next_line = 2
        self._records = 0
        self._orders = 0
        self._last: _LastRecord | None = None
        self.ground_truth: list[GroundTruthRow] = []
        if shape.shuffled_by is not None:
            self._file_row(shape.shuffled_by, 1)

    def _file_row(self, injector: Injector, line: int) -> None:
        self.ground_truth.append(
            GroundTruthRow(
                self.source, self.relative, None, None, line, injector.name,
                tuple(injector.reason_codes),
            )
        )  # fmt: skip

    def write(self, chunk: Chunk, marks: Sequence[RecordMark] = ()) -> None:
        """Append the chunk's records; ``marks`` name records of it that were injected."""
        n = chunk.n_lines
        if n == 0:
            return
        records = chunk.csv_records(self.shape.columns)
        heights = records.str.count_matches("\n", literal=True).to_numpy().astype(np.int64) + 1
        first_lines = self._next_line + np.cumsum(heights) - heights
        legacy = self._legacy_encoded(records)
        all_marks = list(marks)
        if legacy:
            assert self.shape.cp1252_by is not None
            all_marks.append(self.shape.cp1252_by.mark(np.array(sorted(legacy), dtype=np.int64)))

        out = self._out
        position = 0
        for i in sorted(legacy):
            if i > position:
                write_records(out, records.slice(position, i - position))
            out.write(legacy[i] + b"\n")
            position = i + 1
        if position < n:
            write_records(out, records.slice(position, n - position))

        ids, line_numbers = chunk.record_ids()
        last_data = legacy.get(n - 1) or str(records[n - 1]).encode("utf-8")
        self._last = _LastRecord(
            start=out.tell() - len(last_data) - 1,
            data=last_data,
            source_order_id=str(ids[n - 1]),
            line_number=int(line_numbers[n - 1]),
            physical_line=int(first_lines[n - 1]),
        )
        if all_marks:  # Python lists: indexing a Series row by row costs microseconds each
            self._record_marks(all_marks, ids.to_list(), line_numbers.tolist(),
                               first_lines.tolist())  # fmt: skip
        self._next_line += int(heights.sum())
        self._records += n
        self._orders += chunk.n_orders

    def _record_marks(
        self,
        marks: Sequence[RecordMark],
        ids: list[str | None],
        line_numbers: list[int],
        first_lines: list[int],
    ) -> None:
        """Ground-truth rows of the marked records (positions in the chunk just written)."""
        for mark in marks:
            codes = mark.reason_codes or tuple(mark.injector.reason_codes)
            self.ground_truth += [
                GroundTruthRow(
                    self.source,
                    self.relative,
                    str(ids[r]),
                    line_numbers[r],
                    first_lines[r],
                    mark.injector.name,
                    codes,
                    mark.fraud_label,
                    mark.fraud_pattern,
                )
                for r in mark.records.tolist()
            ]

    def _legacy_encoded(self, records: pl.Series) -> dict[int, bytes]:
        """Records to write in Windows-1252 (drawn at the shape's share; only those whose
        text is not ASCII and which Windows-1252 can encode change bytes)."""
        shape = self.shape
        if shape.cp1252_share <= 0 or shape.cp1252_by is None:
            return {}
        chosen = np.flatnonzero(shape.rng.random(records.len()) < shape.cp1252_share)
        legacy: dict[int, bytes] = {}
        for i in chosen.tolist():
            text = str(records[i])
            if text.isascii():
                continue
            try:
                legacy[i] = text.encode("cp1252")
            except UnicodeEncodeError:
                continue
        return legacy

    def close(self) -> FileReport:
        """Finish the file (ending it mid-record when its shape says so)."""
        lines = self._next_line - 1
        last = self._last
        if self.shape.truncated_by is not None and last is not None:
            cut = _cut_point(last.data, self.shape.rng)
            self._out.seek(last.start + cut)
            self._out.truncate()
            lines = last.physical_line + last.data[:cut].count(b"\n")
            self.ground_truth.append(
                GroundTruthRow(
                    self.source,
                    self.relative,
                    last.source_order_id,
                    last.line_number,
                    last.physical_line,
                    self.shape.truncated_by.name,
                    tuple(self.shape.truncated_by.reason_codes),
                )
            )
        self._out.close()
        return FileReport(
            relative=self.relative,
            source=self.source,
            records=self._records,
            orders=self._orders,
            n_bytes=self.path.stat().st_size,
            physical_lines=lines,
        )
