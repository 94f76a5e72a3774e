"""Staging assets: the canonical order model, rebuilt from raw in one transaction."""

import dagster as dg

from orderlens.warehouse import scalar
from pipelines.defs.ingest.assets import PROGRESS
from pipelines.defs.resources import WRITE_RETRY, WRITER_POOL, WarehouseResource
from pipelines.defs.staging.tables import STAGING_TABLES

_DESCRIPTIONS = {
    "stg_orders": "One row per order (one version per order key).",
    "stg_order_lines": "One row per order line.",
    "stg_customers": "One row per customer key (HMAC of e-mail, else phone).",
    "stg_order_contacts": "One row per order: e-mail, phone, source customer id and name "
    "as entered (personal data).",
    "stg_addresses": "One row per order and address type.",
    "stg_payments": "One row per payment of an order: token, brand, last 4, BIN at most.",
    "stg_refunds": "One row per refund or refunded item (order_key NULL when unlinked).",
    "stg_fulfilments": "One row per order handed to a carrier.",
    "stg_status_events": "One row per order lifecycle event, over every version; "
    "out_of_order flags contradictions.",
    "stg_rejects": "One row per raw line of an order held out of staging, with the reason.",
    "stg_corrections": "One row per correction of ref_corrections: applied, or why not.",
}


@dg.multi_asset(
    group_name="staging",
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
    specs=[
        dg.AssetSpec(
            table,
            deps=["raw_order_lines", "ref_corrections"],
            description=_DESCRIPTIONS[table],
            kinds={"duckdb"},
        )
        for table in STAGING_TABLES
    ],
)
def staging(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Rebuild every staging table from raw in one transaction."""
    from pipelines.defs.staging.build import build_staging

    settings = warehouse.settings()
    with warehouse.writer() as con:
        counts = build_staging(
            con, timezone=settings.timezone, secret=settings.customer_key_secret()
        )
        contradicted = con.execute(
            "SELECT count(DISTINCT order_key), count(*) FROM stg_status_events WHERE out_of_order"
        ).fetchall()[0]
    PROGRESS.info("staging: %s", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if contradicted[1]:
        PROGRESS.info(
            "staging: %s events of %s orders are dated before an earlier lifecycle step "
            "(kept as received, flagged out_of_order)",
            f"{contradicted[1]:,}",
            f"{contradicted[0]:,}",
        )
    extra = {
        "stg_status_events": {
            "out_of_order_events": int(contradicted[1]),
            "orders_with_contradictions": int(contradicted[0]),
        }
    }
    for table in STAGING_TABLES:
        yield dg.MaterializeResult(
            asset_key=table, metadata={"rows": counts[table], **extra.get(table, {})}
        )


_SCHEMA_CHECK = "schema_matches_contract"
_ORDERS_CHECK = "orders_staged"


@dg.multi_asset_check(
    name="staging_contract",
    specs=[
        *(
            dg.AssetCheckSpec(
                _SCHEMA_CHECK,
                asset=table,
                blocking=True,
                description=f"{table} has exactly the columns and DuckDB types declared in "
                "pipelines/defs/staging/contract.py.",
            )
            for table in STAGING_TABLES
        ),
        dg.AssetCheckSpec(
            _ORDERS_CHECK,
            asset="stg_orders",
            blocking=True,
            description="Staging holds orders whenever the raw layer holds loaded order "
            "records (a staging that lost every order would empty the marts).",
        ),
    ],
    pool=WRITER_POOL,
    retry_policy=WRITE_RETRY,
)
def staging_contract(warehouse: WarehouseResource):
    """Staging before anything reads it: every table as declared (a blocking check per
    table naming its missing, unexpected and retyped columns), and not emptied of orders
    while raw holds them. A failure stops the run before the quality rules and the marts,
    so the published snapshot stays as it was."""
    from pipelines.defs.staging.contract import STAGING_SCHEMA, schema_drift

    with warehouse.writer() as con:
        columns: dict[str, dict[str, str]] = {}
        for table, column, kind in con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'main' AND list_contains(?, table_name) "
            "ORDER BY table_name, ordinal_position",
            [list(STAGING_TABLES)],
        ).fetchall():
            columns.setdefault(str(table), {})[str(column)] = str(kind)
        staged = raw = held = 0
        if "stg_orders" in columns:
            staged = int(scalar(con, "SELECT count(*) FROM stg_orders") or 0)
        if not staged:
            raw = int(
                scalar(
                    con,
                    "SELECT count(DISTINCT source || ':' || source_order_id) "
                    "FROM raw_order_lines WHERE source_order_id IS NOT NULL",
                )
                or 0
            )
            if "stg_rejects" in columns:
                held = int(scalar(con, "SELECT count(DISTINCT order_key) FROM stg_rejects") or 0)
    verdicts: list[tuple[str, str, dict[str, str | int], str | None]] = []
    for table in STAGING_TABLES:
        declared = STAGING_SCHEMA[table]
        actual = columns.get(table, {})
        drift = schema_drift(declared, actual)
        broken = {kind: names for kind, names in drift.items() if names}
        problem = None
        if not actual:
            problem = f"{table} is missing from the warehouse"
        elif broken:
            problem = f"{table} drifted from its declared schema: " + "; ".join(
                f"{kind} {', '.join(names)}" for kind, names in broken.items()
            )
        metadata: dict[str, str | int] = {
            "columns_declared": len(declared),
            "columns_found": len(actual),
            **{kind: ", ".join(names) or "none" for kind, names in drift.items()},
        }
        verdicts.append((table, _SCHEMA_CHECK, metadata, problem))
    emptied = None
    if raw and not staged:
        emptied = (
            f"no order was staged although raw holds {raw:,} orders ({held:,} held in "
            "stg_rejects); the marts and the published snapshot are left as they were"
        )
    verdicts.append(
        (
            "stg_orders",
            _ORDERS_CHECK,
            {"orders_staged": staged, "orders_in_raw": raw, "orders_held": held},
            emptied,
        )
    )
    failing = [(table, check) for table, check, _, problem in verdicts if problem]
    for table, check, metadata, problem in verdicts:
        if problem and (table, check) == failing[0] and len(failing) > 1:
            # The run log keeps one alert per failed step: the first names the others.
            problem += "; also failing: " + ", ".join(f"{c} on {t}" for t, c in failing[1:])
        yield dg.AssetCheckResult(
            asset_key=table,
            check_name=check,
            passed=problem is None,
            metadata=metadata,
            description=problem,
        )
