"""Fraud labels: every source lands in fraud_labels, one label per order, the latest wins."""

from datetime import UTC, datetime, timedelta

import duckdb
import polars as pl
import pytest

from models.fraud_labels import resolve_labels, training_labels
from pipelines.defs.fraud.labels import build_fraud_labels, read_labels
from pipelines.defs.ingest.tables import reference_ddl

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def test_the_latest_label_wins_and_ties_go_to_the_stronger_source() -> None:
    candidates = pl.DataFrame(
        [
            # a: fraud refund, then a reviewer approves it: legitimate.
            ("a", True, _at(1), "refund"),
            ("a", False, _at(2), "review"),
            # b: approved, then charged back as fraud: fraud.
            ("b", False, _at(1), "review"),
            ("b", True, _at(5), "chargeback"),
            # c: file says legitimate without a time, a cancellation for fraud later: fraud.
            ("c", False, None, "file"),
            ("c", True, _at(3), "cancellation"),
            # d: same instant: the reviewer's verdict outranks the file.
            ("d", True, _at(4), "file"),
            ("d", False, _at(4), "review"),
            # e: only a file label without a time.
            ("e", True, None, "file"),
        ],
        schema=["order_key", "label", "labelled_at", "label_source"],
        orient="row",
    )
    resolved = resolve_labels(candidates)
    assert resolved.columns == ["order_key", "label", "labelled_at", "label_source"]
    assert resolved.select("order_key", "label", "label_source").rows() == [
        ("a", False, "review"),
        ("b", True, "chargeback"),
        ("c", True, "cancellation"),
        ("d", False, "review"),
        ("e", True, "file"),
    ]
    # Row order of the candidates does not matter.
    assert resolve_labels(candidates.reverse()).equals(resolved)
    with pytest.raises(ValueError, match="unknown label source"):
        resolve_labels(candidates.with_columns(pl.lit("rumour").alias("label_source")))


def test_orders_are_learnt_from_only_once_matured() -> None:
    orders = pl.DataFrame(
        {
            "order_key": ["old", "old_fraud", "young", "young_fraud", "latest"],
            "created_at": [_at(0), _at(1), _at(80), _at(85), _at(100)],
        }
    )
    labels = pl.DataFrame(
        {
            "order_key": ["old_fraud", "young_fraud", "elsewhere"],
            "label": [True, True, True],
            "labelled_at": [_at(30), _at(90), _at(90)],
            "label_source": ["file"] * 3,
        }
    )
    training = training_labels(orders, labels, maturity_days=60)
    # The young fraud waits: its legitimate neighbours are not known yet either.
    assert training.rows() == [("old", 0, "matured"), ("old_fraud", 1, "labelled")]
    # A complete history (maturity 0): every order is labelled one way or the other.
    assert training_labels(orders, labels, maturity_days=0).height == 5


def _warehouse() -> duckdb.DuckDBPyConnection:
    """The tables fraud_labels is built from, as staging and the reference ingest make them
    (only the columns it reads)."""
    con = duckdb.connect()
    con.execute(reference_ddl()["ref_fraud_labels"])
    con.execute(
        "CREATE TABLE stg_orders (order_key VARCHAR, source VARCHAR, source_order_id VARCHAR)"
    )
    con.execute(
        "CREATE TABLE stg_refunds (order_key VARCHAR, refunded_at TIMESTAMPTZ, reason VARCHAR)"
    )
    con.execute(
        "CREATE TABLE stg_status_events (order_key VARCHAR, event VARCHAR, "
        "occurred_at TIMESTAMPTZ, detail VARCHAR)"
    )
    con.executemany(
        "INSERT INTO stg_orders VALUES (? || ':' || ?, ?, ?)",
        [[s, i, s, i] for s, i in [("web", str(n)) for n in range(1, 8)]],
    )
    return con


def test_labels_from_the_file_refunds_cancellations_chargebacks_and_reviews_land() -> None:
    con = _warehouse()
    con.executemany(
        "INSERT INTO ref_fraud_labels VALUES (?, ?, ?, ?, ?)",
        [
            ["web", "1", "fraud", _at(1), "chargeback CB-1"],
            [" web ", " 2 ", "legitimate", None, "cleared"],  # spaces around the ids
            ["web", "3", "legitimate", _at(1), None],
            ["shop", "1", "fraud", _at(1), None],  # no such order: reported
            ["web", "99", "fraud", _at(1), None],  # no such order: reported
        ],
    )
    con.executemany(
        "INSERT INTO stg_refunds VALUES (?, ?, ?)",
        [
            ["web:3", _at(2), "Fraudulent order"],  # after the file's legitimate: fraud
            ["web:4", _at(2), "customer changed mind"],  # not a fraud label
            [None, _at(2), "fraud"],  # a refund linked to no order
        ],
    )
    con.executemany(
        "INSERT INTO stg_status_events VALUES (?, ?, ?, ?)",
        [
            ["web:5", "cancelled", _at(3), "reason: fraud"],
            ["web:4", "cancelled", _at(3), "reason: customer"],
            ["web:6", "disputed", _at(3), "type: chargeback; reason: fraudulent; status: open"],
            ["web:7", "disputed", _at(3), "type: chargeback; reason: product_not_received"],
        ],
    )
    report = build_fraud_labels(con)  # creates fraud_decisions, empty
    assert con.execute("SELECT count(*) FROM fraud_decisions").fetchall() == [(0,)]
    labels = {r["order_key"]: r for r in read_labels(con).to_dicts()}
    assert {k: (v["label"], v["label_source"]) for k, v in labels.items()} == {
        "web:1": (True, "file"),
        "web:2": (False, "file"),
        "web:3": (True, "refund"),
        "web:5": (True, "cancellation"),
        "web:6": (True, "chargeback"),
    }
    assert report.labelled_orders == 5 and report.frauds == 4
    assert report.file_rows == 5 and report.unmatched_file_rows == 2
    assert report.unmatched_examples == ("shop:1", "web:99")

    # A reviewer approves the refunded order later and cancels another as fraud.
    con.executemany(
        "INSERT INTO fraud_decisions VALUES (?, ?, ?, ?, ?)",
        [
            ["web:3", "approve", "reviewer", _at(4), "customer confirmed"],
            ["web:4", "cancel_fraud", "reviewer", _at(4), None],
            ["web:7", "hold", "reviewer", _at(4), None],  # not a verdict: no label
        ],
    )
    build_fraud_labels(con)
    labels = {r["order_key"]: r for r in read_labels(con).to_dicts()}
    assert (labels["web:3"]["label"], labels["web:3"]["label_source"]) == (False, "review")
    assert (labels["web:4"]["label"], labels["web:4"]["label_source"]) == (True, "review")
    assert "web:7" not in labels
    with pytest.raises(duckdb.ConstraintException):
        con.execute("INSERT INTO fraud_decisions VALUES ('web:1', 'maybe', 'x', now(), NULL)")


def test_a_history_can_carry_its_labels_in_a_fraud_label_column(tmp_path) -> None:
    from pipelines.defs.fraud.history import FraudInputError, labels_in_history, read_labels_file

    history = tmp_path / "history.csv"
    history.write_text(
        "source_order_id,line_number,fraud_label\n"
        "1,1,false\n1,2,TRUE\n"  # an order is fraud when any of its lines says so
        "2,1,0\n3,1,legitimate\n4,1,\n5,1,fraud\n"
    )
    labels = labels_in_history(history, "shop")
    assert labels is not None
    assert labels.select("source", "source_order_id", "label").rows() == [
        ("shop", "1", "fraud"),
        ("shop", "2", "legitimate"),
        ("shop", "3", "legitimate"),
        ("shop", "5", "fraud"),
    ]
    history.write_text("source_order_id,fraud_label\n1,true\n2,perhaps\n")
    with pytest.raises(FraudInputError, match="'perhaps' in record 2"):
        labels_in_history(history, "shop")
    history.write_text("source_order_id,total\n1,10\n")
    assert labels_in_history(history, "shop") is None
    # A labels file without a source column names the history's source.
    file = tmp_path / "labels.csv"
    file.write_text("source_order_id,label\n7,fraud\n")
    assert read_labels_file(file, "shop").row(0) == ("shop", "7", "fraud", None, None)
