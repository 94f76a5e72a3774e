"""Property tests of the generic-format parser: nothing lost, nothing altered, idempotent."""

from __future__ import annotations

import csv
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
from hypothesis import given
from hypothesis import strategies as st
from polars.testing.parametric import column, dataframes

from orderlens.contracts import GENERIC_FIELDS
from pipelines.sources.generic import parse_file

# Free text with the characters that break naive CSV handling: quotes, commas, line breaks,
# non-ASCII letters and emoji (carriage returns and NUL are left to the corpus tests).
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\x00"),
    max_size=30,
)
MONEY = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.99"), places=2)
NUMBERISH = st.one_of(MONEY.map(str), TEXT)  # sometimes a valid amount, often not


def _frames(numberish: st.SearchStrategy[str]) -> st.SearchStrategy[pl.DataFrame]:
    return dataframes(  # type: ignore[return-value]
        cols=[
            column(
                "source_order_id",
                dtype=pl.String,
                strategy=st.from_regex(r"[0-9]{1,8}", fullmatch=True),
            ),
            column("channel", dtype=pl.String, strategy=st.sampled_from(["pos", "online_store"])),
            column("created_at", dtype=pl.String, strategy=st.just("2026-10-01T10:00:00+02:00")),
            column("currency", dtype=pl.String, strategy=st.sampled_from(["EUR", "USD", "JPY"])),
            column("total", dtype=pl.String, strategy=numberish),
            column("product_name", dtype=pl.String, strategy=TEXT),
            column("quantity", dtype=pl.String, strategy=numberish),
            column("unit_price", dtype=pl.String, strategy=MONEY.map(str)),
            column("note", dtype=pl.String, strategy=TEXT),
            column("shipping_address1", dtype=pl.String, strategy=TEXT),
        ],
        min_size=0,
        max_size=25,
        allow_null=False,
    )


FRAMES = _frames(NUMBERISH)  # many records rejected
CLEAN_FRAMES = _frames(MONEY.map(str))  # nothing rejected: multi-line text alone shifts lines


def _parse(path: Path) -> tuple[pl.DataFrame, list[tuple[int, str | None, str]]]:
    con = duckdb.connect()
    result = parse_file(con, path, GENERIC_FIELDS, "_prop")
    assert result.records == result.loaded + result.rejected_records
    rows = con.sql(result.rows_sql).pl()
    rejects = sorted((r.line, r.column, r.error_type) for r in result.rejects)
    con.close()
    return rows, rejects


def _blank_is_null(value: str | None) -> str | None:
    return None if value is None or value == "" else value


@given(frame=st.one_of(FRAMES, CLEAN_FRAMES))
def test_nothing_is_lost_and_loaded_text_is_unchanged(frame: pl.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "orders.csv"
        frame.write_csv(path)
        rows, rejects = _parse(path)
        rejected_records = len({line for line, _, _ in rejects})
        assert rows.height + rejected_records == frame.height
        # Every loaded row is an input row, in order, text intact (blank = no value).
        by_id = {}
        for source in frame.iter_rows(named=True):
            by_id.setdefault(source["source_order_id"], []).append(source)
        for row in rows.iter_rows(named=True):
            candidates = by_id[row["source_order_id"]]
            assert any(
                all(
                    _blank_is_null(c[name]) == row[name]
                    for name in ("product_name", "note", "shipping_address1")
                )
                for c in candidates
            )
        # Physical lines, counted independently: where Python's csv module starts each record.
        starts, previous_end = [], 1
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for _record in reader:
                starts.append(previous_end + 1)
                previous_end = reader.line_num
        rejected_lines = {line for line, _, _ in rejects}
        assert rows["_line"].to_list() == [n for n in starts if n not in rejected_lines]
        # Re-reading the same file gives exactly the same rows and rejects.
        again, rejects_again = _parse(path)
        assert again.equals(rows)
        assert rejects_again == rejects
