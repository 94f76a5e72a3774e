"""The `orderlens` command line: exit codes and messages users rely on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from orderlens.warehouse import open_writer, scalar, set_meta, transaction
from pipelines.cli import EXIT_NOTHING_PUBLISHED, EXIT_OK, EXIT_SCHEMA, EXIT_USAGE, main


def _point_at(monkeypatch: pytest.MonkeyPatch, settings) -> None:
    monkeypatch.setenv("ORDERLENS_HOME", str(settings.home))
    monkeypatch.setenv("ORDERLENS_SNAPSHOT", str(settings.snapshot))
    monkeypatch.setenv("ORDERLENS_WAREHOUSE", str(settings.warehouse))


def test_query_outputs_json_csv_and_table(published_demo, monkeypatch, capsys) -> None:
    _point_at(monkeypatch, published_demo)
    sql = "SELECT channel, count(*) AS orders FROM fct_orders GROUP BY 1 ORDER BY 1"
    assert main(["query", sql, "--format", "json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    assert {r["channel"] for r in rows} >= {"online_store", "marketplace", "pos"}
    assert main(["query", "SELECT '=1+1' AS formula, -5 AS n", "--format", "csv"]) == EXIT_OK
    assert capsys.readouterr().out.splitlines()[1] == "'=1+1,-5"
    assert main(["query", sql]) == EXIT_OK
    assert "online_store" in capsys.readouterr().out


def test_query_is_read_only_and_errors_are_one_line(published_demo, monkeypatch, capsys) -> None:
    _point_at(monkeypatch, published_demo)
    assert main(["query", "DELETE FROM fct_orders"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "read-only" in err.lower() and "Traceback" not in err
    assert main(["query", "SELECT * FROM no_such_table"]) == EXIT_USAGE
    assert "no_such_table" in capsys.readouterr().err


def test_status_before_anything_ran(home: Path, capsys) -> None:
    assert main(["status"]) == EXIT_NOTHING_PUBLISHED
    assert "nothing yet" in capsys.readouterr().out


def test_status_reports_counts(published_demo, monkeypatch, capsys) -> None:
    _point_at(monkeypatch, published_demo)
    assert main(["status", "--json"]) in (EXIT_OK, 1)
    report = json.loads(capsys.readouterr().out)
    assert report["published"] is True
    assert report["ingest"]["records"] == report["ingest"]["loaded"] + report["ingest"]["rejected"]
    assert report["rows"]["fct_orders"] > 0


@pytest.mark.slow
def test_unknown_schema_version_is_refused_and_rebuild_recovers(home: Path, capsys) -> None:
    from tests.conftest import SAMPLE_LANDING

    landing = home / "landing"
    shutil.copytree(SAMPLE_LANDING, landing, ignore=shutil.ignore_patterns("README.md"))
    assert main(["run"]) == EXIT_OK
    warehouse = home / "warehouse" / "orderlens.duckdb"
    with open_writer(warehouse, check_version=False) as con, transaction(con):
        set_meta(con, "schema_version", "99")
        # A reviewer's decision is received data: a rebuild must not lose it.
        con.execute(
            "INSERT INTO fraud_decisions (order_key, decision, decided_by, decided_at) "
            "SELECT order_key, 'approve', 'reviewer', now() FROM fct_orders LIMIT 1"
        )
    capsys.readouterr()
    assert main(["run"]) == EXIT_SCHEMA
    assert "schema version 99" in capsys.readouterr().err
    with open_writer(warehouse, check_version=False) as con, transaction(con):
        set_meta(con, "schema_version", "0")
    assert main(["run"]) == EXIT_SCHEMA
    assert "orderlens rebuild" in capsys.readouterr().err
    assert main(["rebuild"]) == EXIT_OK
    with open_writer(warehouse) as con:
        assert scalar(con, "SELECT count(*) FROM fraud_decisions") == 1
    assert main(["status"]) == EXIT_OK


def test_bad_configuration_is_a_usage_error(home: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("ORDERLENS_TIMEZONE", "Mars/Olympus")
    assert main(["status"]) == EXIT_USAGE
    assert "ORDERLENS_TIMEZONE" in capsys.readouterr().err


def test_an_unknown_selection_is_a_usage_error_and_records_no_run(home: Path, capsys) -> None:
    from orderlens.runlog import RunLog

    assert main(["run", "--select", "no_such_asset"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no_such_asset" in err and "Traceback" not in err
    assert RunLog(home / "state" / "runs.sqlite").latest() is None
