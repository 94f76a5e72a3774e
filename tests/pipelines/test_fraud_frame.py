"""The fraud features' input frame, read from a real published warehouse."""

import polars as pl

from models.fraud_features import ORDER_COLUMNS, fraud_features
from orderlens.warehouse import connect, scalar
from pipelines.defs.fraud.frame import order_frame


def test_the_order_frame_has_one_row_per_scorable_order_in_contract_columns(
    published_demo,
) -> None:
    con = connect(published_demo.warehouse, read_only=True)
    try:
        frame = order_frame(con)
        scorable = int(scalar(con, "SELECT count(*) FROM fct_orders"))
        with_ip = int(scalar(con, "SELECT count(*) FROM fct_orders WHERE client_ip IS NOT NULL"))
    finally:
        con.close()
    assert frame.columns == [c.name for c in ORDER_COLUMNS]
    assert frame.height == scorable > 0
    assert frame.get_column("order_key").n_unique() == frame.height
    assert frame.get_column("created_at").is_sorted()
    assert frame.get_column("client_ip").drop_nulls().len() == with_ip
    # The features are computable on it, one row per order.
    features = fraud_features(frame)
    assert features.height == frame.height
    assert features.get_column("order_key").equals(frame.get_column("order_key"))
    assert features.get_column("channel").drop_nulls().len() > 0
    assert frame.filter(pl.col("total").is_null()).height == 0
