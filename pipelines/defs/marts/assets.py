"""Mart assets: the tables analysts and the dashboard read."""

import dagster as dg

from orderlens.warehouse import scalar
from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource


@dg.asset(
    group_name="marts",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=[
        "stg_orders",
        "stg_order_lines",
        "stg_customers",
        "stg_addresses",
        "stg_payments",
        "ref_fx_rates",
        "quality_quarantine",
        "quality_findings",
    ],
)
def fct_orders(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per order, with its total in the reporting currency (NULL without a rate)."""
    from pipelines.defs.marts.build import build_fct_orders

    settings = warehouse.settings()
    with warehouse.writer() as con:
        rows = build_fct_orders(con, settings.reporting_currency)
        missing = int(scalar(con, "SELECT coalesce(sum(orders), 0) FROM mart_fx_missing"))
    PROGRESS.info("fct_orders: %s orders, %s without an FX rate", f"{rows:,}", f"{missing:,}")
    return dg.MaterializeResult(
        metadata={
            "rows": rows,
            "orders_without_fx_rate": missing,
            "reporting_currency": settings.reporting_currency,
        }
    )


@dg.asset_check(asset=fct_orders)
def fct_orders_have_fx_rates(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    """Warns when orders cannot be converted to the reporting currency (rates are never guessed)."""
    with warehouse.writer() as con:
        rows = con.execute("SELECT currency, orders FROM mart_fx_missing").fetchall()
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing": ", ".join(f"{c}: {n}" for c, n in rows) or "none"},
    )


@dg.asset(
    group_name="marts",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=["stg_order_lines", "stg_orders", "quality_quarantine"],
)
def fct_order_lines(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per order line, with the order's day, channel and currency."""
    from pipelines.defs.marts.build import build_fct_order_lines

    with warehouse.writer() as con:
        rows = build_fct_order_lines(con)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(
    group_name="marts",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=["stg_customers", fct_orders],
)
def dim_customers(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per customer key, across channels."""
    from pipelines.defs.marts.build import build_dim_customers

    with warehouse.writer() as con:
        rows = build_dim_customers(con)
    return dg.MaterializeResult(metadata={"rows": rows})


@dg.asset(
    group_name="marts",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    kinds={"duckdb"},
    deps=["ref_products", fct_order_lines],
)
def dim_products(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """One row per SKU in the catalogue or sold."""
    from pipelines.defs.marts.build import build_dim_products

    with warehouse.writer() as con:
        rows = build_dim_products(con)
    return dg.MaterializeResult(metadata={"rows": rows})
