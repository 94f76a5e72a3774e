"""The fraud_history.csv conversion (on small synthetic files shaped like it: none of its rows
are in the repository) and, where ../shared/data is present, the acceptance run on it."""

from pathlib import Path

import polars as pl
import pytest

from benchmarks.fraud_history import (
    evaluate_history,
    orders_from_generic,
    read_history,
    read_ip_ranges,
    to_generic,
    to_labels,
)
from models.fraud_features import fraud_features
from orderlens.contracts import GENERIC_FIELD_NAMES

HEADER = "user_id,signup_time,purchase_time,purchase_value,device_id,source,browser,sex,age,ip_address,class"
ROWS = [
    "101,3/4/2015 10:00,3/4/2015 10:00,42,AAAAAAAAAAAAA,Ads,Chrome,F,30,16909060.25,1",
    "102,1/15/2015 08:30,6/2/2015 17:45,18,BBBBBBBBBBBBB,SEO,FireFox,M,41,3232235777,0",
    "103,12/31/2014 23:59,1/1/2015 0:01,7,AAAAAAAAAAAAA,Direct,IE,M,22,167772161,1",
    "104,5/5/2015 12:00",  # a truncated last row
]


def _write(tmp_path: Path, lines: list[str], name: str = "history.csv") -> Path:
    path = tmp_path / name
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_the_file_is_read_typed_and_the_truncated_row_left_out(tmp_path: Path) -> None:
    history = read_history(_write(tmp_path, [HEADER, *ROWS]))
    assert (history.rows_read, history.rows_left_out) == (4, 1)
    first = history.purchases.row(0, named=True)
    assert first["user_id"] == "101"
    assert first["purchase_time"].isoformat() == "2015-03-04T10:00:00+00:00"
    assert first["ip_int"] == 16909060 and first["label"] == 1
    assert history.purchases.get_column("signup_time").dt.year().to_list() == [2015, 2015, 2014]


def test_two_digit_years_and_the_original_iso_dates_read_the_same(tmp_path: Path) -> None:
    four = read_history(_write(tmp_path, [HEADER, *ROWS[:3]], "four.csv")).purchases
    two_digit = [r.replace("/2015 ", "/15 ").replace("/2014 ", "/14 ") for r in ROWS[:3]]
    two = read_history(_write(tmp_path, [HEADER, *two_digit], "two.csv")).purchases
    iso_rows = [
        "101,2015-03-04 10:00:00,2015-03-04 10:00:00,42,AAAAAAAAAAAAA,Ads,Chrome,F,30,16909060.25,1",
        "102,2015-01-15 08:30:00,2015-06-02 17:45:00,18,BBBBBBBBBBBBB,SEO,FireFox,M,41,3232235777,0",
        "103,2014-12-31 23:59:00,2015-01-01 00:01:00,7,AAAAAAAAAAAAA,Direct,IE,M,22,167772161,1",
    ]
    iso = read_history(_write(tmp_path, [HEADER, *iso_rows], "iso.csv")).purchases
    assert two.equals(four) and iso.equals(four)


def test_a_file_without_the_ip_column_converts_with_blank_ips(tmp_path: Path) -> None:
    header = HEADER.replace(",ip_address", "")
    rows = [",".join(r.split(",")[:9] + r.split(",")[10:]) for r in ROWS[:3]]
    history = read_history(_write(tmp_path, [header, *rows]))
    assert history.purchases.get_column("ip_int").null_count() == 3
    generic = to_generic(history.purchases)
    assert generic.get_column("client_ip").null_count() == 3
    features = fraud_features(orders_from_generic(generic))
    assert features.get_column("ip_orders_1h").null_count() == 3


def test_conversion_to_the_generic_format_and_labels(tmp_path: Path) -> None:
    history = read_history(_write(tmp_path, [HEADER, *ROWS]))
    generic = to_generic(history.purchases)
    assert tuple(generic.columns) == GENERIC_FIELD_NAMES
    assert set(generic.schema.values()) == {pl.String}
    row = generic.row(0, named=True)
    assert row["source_order_id"] == "fh-101" and row["customer_id"] == "101"
    assert row["created_at"] == "2015-03-04T10:00:00+00:00"
    assert row["client_ip"] == "1.2.3.4"  # 16909060.25: the float's integer part
    assert (row["total"], row["unit_price"], row["quantity"]) == ("42.0", "42.0", "1")
    assert (row["marketing_source"], row["user_agent"], row["device_id"]) == (
        "Ads", "Chrome", "AAAAAAAAAAAAA",
    )  # fmt: skip
    assert "sex" not in generic.columns and "age" not in generic.columns
    labels = to_labels(history.purchases)
    assert labels.get_column("label").to_list() == ["fraud", "legitimate", "fraud"]
    orders = orders_from_generic(generic)
    assert orders.get_column("order_key").to_list()[0] == "fraud_history:fh-101"
    features = fraud_features(orders)
    first, last = features.row(2, named=True), features.row(0, named=True)  # 1 Jan, 4 Mar
    assert (first["seconds_since_signup"], first["browser"]) == (120.0, "ie")
    assert first["device_other_customers"] == 0
    assert last["device_other_customers"] == 1  # user 103 used this device before


def test_ip_ranges_written_in_scientific_notation_are_dropped(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            "lower_bound_ip_address,upper_bound_ip_address,country",
            "16777216,16777471,Australia",
            "1.02E+09,1024032767,Philippines",
            "16909056.0,16909311,Korea Republic of",
        ],
        "ranges.csv",
    )
    ranges, dropped = read_ip_ranges(path)
    assert dropped == 1
    assert ranges.get_column("ip_country").to_list() == ["AU", "KR"]


@pytest.mark.shared_data
@pytest.mark.slow
def test_the_model_beats_the_best_rule_on_fraud_history() -> None:
    """Acceptance (issue 6): stratified user split, fixed seed: PR-AUC >= best rule + 0.05."""
    outcome = evaluate_history()
    evaluation = outcome["evaluation"]
    model, best = evaluation.scorer("model"), evaluation.best_rule()
    assert best["scorer"] == "rule_fast_signup"
    assert model["pr_auc"] >= best["pr_auc"] + 0.05, (model, best)
    assert model["roc_auc"] > best["roc_auc"]
    assert outcome["rows_left_out"] == 1  # the file's truncated last row
    assert evaluation.frauds > 500
