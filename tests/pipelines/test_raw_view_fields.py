"""A raw table stored before an optional field joined the generic format still reads."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from pipelines.defs.ingest.landing import ingest_landing
from pipelines.defs.ingest.tables import RAW_FILE_PREFIX, create_raw_tables, refresh_raw_view
from tests.conftest import SAMPLE_LANDING


def test_a_file_stored_without_a_newer_optional_field_reads_it_as_blank(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE_LANDING / "marketplace", landing / "marketplace")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    create_raw_tables(con)
    ingest_landing(con, landing)
    (table,) = con.execute(
        "SELECT table_name FROM information_schema.tables "
        f"WHERE table_name LIKE '{RAW_FILE_PREFIX}%' AND table_name NOT LIKE '%\\_lines' "
        "ESCAPE '\\'"
    ).fetchall()[0]
    stated = con.execute(
        "SELECT count(line_total), count(paid_amount), count(*) FROM raw_order_lines"
    ).fetchall()[0]
    assert stated[0] > 0 and stated[1] > 0  # the sample states both
    # As an older release wrote it: without the two fields.
    con.execute(f"ALTER TABLE {table} DROP COLUMN line_total")
    con.execute(f"ALTER TABLE {table} DROP COLUMN paid_amount")
    refresh_raw_view(con)
    after = con.execute(
        "SELECT count(line_total), count(paid_amount), count(*) FROM raw_order_lines"
    ).fetchall()[0]
    assert after == (0, 0, stated[2])
