"""Physical layout of a CSV file: where each record starts, quote-aware.

DuckDB's CSV reader reports rejected records by byte offset but does not say which physical
line a loaded row came from. This module maps records to the physical (1-based) line they
start on, so every loaded row and every reject names its line as an editor shows it, even
with quoted multi-line notes and blank lines in the file.
"""

from __future__ import annotations

import codecs
import mmap
from dataclasses import dataclass

import numpy as np

_NEWLINE = 10
_CARRIAGE_RETURN = 13
_QUOTE = 34


@dataclass(frozen=True)
class RecordLayout:
    """Start byte and physical line of every data record (the header excluded)."""

    starts: np.ndarray
    lines: np.ndarray
    newline_count: int

    @property
    def records(self) -> int:
        return int(self.starts.size)


def detect_encoding(head: bytes) -> tuple[str, int]:
    """The DuckDB encoding name for a file beginning with ``head``, and its BOM length.

    UTF-16 is recognised by its byte-order mark; everything else is read as UTF-8 and bytes
    that are not valid UTF-8 are rejected per record (never silently replaced).
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", 2
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    return "utf-8", 0


def as_utf8_bytes(data: bytes, encoding: str) -> bytes:
    """Bytes in which quotes and newlines are single bytes (UTF-16 is transcoded)."""
    if encoding == "utf-16":
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data


def scan_records(data: bytes | mmap.mmap) -> RecordLayout:
    """Find every data record in UTF-8 (or any ASCII-compatible) CSV bytes.

    A newline ends a record when an even number of double quotes precede it (RFC 4180
    escapes a quote by doubling it, which keeps the parity). Blank lines are not records.
    The first record is the header and is left out.
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NEWLINE)
    quotes = np.flatnonzero(arr == _QUOTE)
    if quotes.size:
        outside_quotes = (np.searchsorted(quotes, newlines) % 2) == 0
        boundaries = newlines[outside_quotes]
    else:
        boundaries = newlines
    starts = np.concatenate([np.zeros(1, dtype=np.int64), boundaries.astype(np.int64) + 1])
    starts = starts[starts < arr.size]
    if starts.size:
        first = arr[starts]
        second = arr[np.minimum(starts + 1, arr.size - 1)]
        blank = (first == _NEWLINE) | ((first == _CARRIAGE_RETURN) & (second == _NEWLINE))
        starts = starts[~blank]
    lines = np.searchsorted(newlines, starts) + 1
    return RecordLayout(starts=starts[1:], lines=lines[1:], newline_count=int(newlines.size))


def count_newlines(data: bytes | mmap.mmap, chunk: int = 1 << 22) -> int:
    """Number of line feeds in ``data``, counted in chunks (no full copy of a mapped file).

    The comparison goes into one reused buffer of cache-friendly size: a fresh mask per
    chunk made this 2.5x slower (0.58 s vs 0.23 s for 2.3 GB).
    """
    view = memoryview(data)
    mask = np.empty(min(chunk, len(view)), dtype=bool)
    total = 0
    for start in range(0, len(view), chunk):
        part = np.frombuffer(view[start : start + chunk], np.uint8)
        found = mask[: part.size]
        np.equal(part, 10, out=found)
        total += int(np.count_nonzero(found))
    return total


def line_of_offset(data: bytes | mmap.mmap, offsets: list[int]) -> list[int]:
    """Physical 1-based line of each byte offset."""
    arr = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NEWLINE)
    return (np.searchsorted(newlines, np.asarray(offsets, dtype=np.int64)) + 1).tolist()
