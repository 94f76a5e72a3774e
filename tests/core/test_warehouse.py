"""Warehouse access: transactions, schema versions, publish and the snapshot reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderlens.warehouse import (
    SCHEMA_VERSION,
    SchemaVersionError,
    SnapshotMissingError,
    SnapshotReader,
    content_hashes,
    open_writer,
    publish,
    scalar,
    set_meta,
    transaction,
)


def _make(path: Path, rows: int) -> None:
    with open_writer(path) as con, transaction(con):
        con.execute("CREATE OR REPLACE TABLE t AS SELECT range AS i FROM range(?)", [rows])


def test_a_failed_write_keeps_the_previous_rows_and_releases_the_file(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _make(path, 10)
    with pytest.raises(RuntimeError), open_writer(path) as con, transaction(con):
        con.execute("CREATE OR REPLACE TABLE t AS SELECT 1 AS i")
        con.execute("DELETE FROM t")
        raise RuntimeError("the write failed half way")
    # The lock is released (a new writer opens at once) and the old rows are intact.
    with open_writer(path, retries=0) as con:
        assert scalar(con, "SELECT count(*) FROM t") == 10


def test_new_warehouses_record_the_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    _make(path, 1)
    with open_writer(path) as con:
        assert scalar(con, "SELECT value FROM _meta WHERE key = 'schema_version'") == str(
            SCHEMA_VERSION
        )


@pytest.mark.parametrize("version, hint", [(SCHEMA_VERSION + 1, "newer"), (0, "rebuild")])
def test_unknown_schema_versions_are_refused(tmp_path: Path, version: int, hint: str) -> None:
    path = tmp_path / "w.duckdb"
    with open_writer(path, check_version=False) as con, transaction(con):
        set_meta(con, "schema_version", str(version))
    with pytest.raises(SchemaVersionError, match=hint), open_writer(path):
        pass


def test_publish_swaps_in_a_whole_copy(tmp_path: Path) -> None:
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "pub" / "s.duckdb"
    _make(warehouse, 5)
    publish(warehouse, snapshot)
    reader = SnapshotReader(snapshot)
    token = reader.version_token()
    assert reader.query("SELECT count(*) AS n FROM t")["n"][0] == 5
    assert "published_at" in reader.meta()
    _make(warehouse, 7)
    publish(warehouse, snapshot)
    assert reader.query("SELECT count(*) AS n FROM t")["n"][0] == 7
    assert reader.version_token() != token
    assert not list(snapshot.parent.glob("*.tmp"))


def test_the_snapshot_is_read_only(tmp_path: Path) -> None:
    warehouse, snapshot = tmp_path / "w.duckdb", tmp_path / "s.duckdb"
    _make(warehouse, 1)
    publish(warehouse, snapshot)
    with pytest.raises(Exception, match="read-only"):
        SnapshotReader(snapshot).query("DELETE FROM t")


def test_reading_before_any_publish_says_so(tmp_path: Path) -> None:
    with pytest.raises(SnapshotMissingError, match="orderlens run"):
        SnapshotReader(tmp_path / "none.duckdb").query("SELECT 1")


def test_content_hashes_ignore_row_order_and_load_times(tmp_path: Path) -> None:
    one, two = tmp_path / "1.duckdb", tmp_path / "2.duckdb"
    for path, order in ((one, "ASC"), (two, "DESC")):
        with open_writer(path) as con, transaction(con):
            con.execute(
                f"CREATE TABLE t AS SELECT range AS i, now() AS ingested_at "
                f"FROM range(100) ORDER BY i {order}"
            )
    with open_writer(one) as a, open_writer(two) as b:
        assert content_hashes(a)["t"] == content_hashes(b)["t"]
        b.execute("UPDATE t SET i = i + 1 WHERE i = 3")
        assert content_hashes(a)["t"] != content_hashes(b)["t"]
