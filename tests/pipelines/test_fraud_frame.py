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


def test_the_sku_mix_counts_product_lines_only(published_demo) -> None:
    con = connect(published_demo.warehouse, read_only=True)
    try:
        frame = order_frame(con)
        expected = con.sql(
            "SELECT order_key, sum(quantity)::DOUBLE AS units, "
            "bool_or(NOT coalesce(requires_shipping, true)) AS has_digital "
            "FROM stg_order_lines WHERE line_kind = 'product' "
            "AND order_key IN (SELECT order_key FROM fct_orders) GROUP BY order_key"
        ).pl()
    finally:
        con.close()
    joined = frame.join(expected, on="order_key", how="left", suffix="_sql")
    assert joined.filter(pl.col("units") != pl.col("units_sql")).height == 0
    assert joined.filter(pl.col("units").is_null() != pl.col("units_sql").is_null()).height == 0
    share = joined.get_column("digital_goods_share").drop_nulls()
    assert share.len() == expected.height and share.min() >= 0 and share.max() <= 1  # type: ignore[operator]
    # An order with a line that ships nothing has a share above 0, unless that line is free.
    digital = joined.filter(pl.col("has_digital").fill_null(False))
    assert digital.height > 0
    assert digital.filter(pl.col("digital_goods_share") > 0).height >= digital.height * 0.9
    assert (joined.get_column("max_unit_price").drop_nulls() >= 0).all()
