"""Great Expectations as the contract: one expectation suite per check frame, one
expectation per rule, asserting the row-level results of the rules' SQL.

Grain: ``orders`` and ``order_lines`` suites; each rule of that grain is one
``ExpectColumnValuesToBeInSet`` over the rule's result column (true where the rule fails on
a row it applies to) with the value set ``[False]``, carrying the reason code, severity and
description in its ``meta``. GX runs the suites over the result frames in an ephemeral
context (nothing written unless Data Docs are asked for); its verdict per expectation
(unexpected count and the failing keys) must equal the findings the engine wrote.

The frames hold only keys and booleans, so validation results and Data Docs can never show
personal data or card numbers.

``great_expectations`` is imported inside functions: importing it takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from orderlens.reasons import REASONS
from quality.rules import RULES, Rule, severity_sql

if TYPE_CHECKING:
    import pandas as pd

SUITES: dict[str, str] = {"order": "orders", "line": "order_lines"}
"""Suite name of each check-frame grain."""

_KEYS = {"order": ["order_key"], "line": ["order_key", "line_number"]}
_FRAMES = {"order": "_qc_orders", "line": "_qc_lines"}


@dataclass(frozen=True)
class Verdict:
    """GX's verdict on one rule."""

    code: str
    success: bool
    unexpected_count: int
    unexpected_keys: frozenset[tuple[Any, ...]]


def rules_of(grain: str) -> list[Rule]:
    return [rule for rule in RULES if rule.grain == grain]


def result_frame(con: duckdb.DuckDBPyConnection, grain: str) -> pd.DataFrame:
    """One row per frame row: its keys and, per rule, whether it fails where it applies."""
    columns = ", ".join(
        f"coalesce(({rule.fails}) AND {severity_sql(rule)} IS NOT NULL, false) "
        f'AS "{rule.code.value}"'
        for rule in rules_of(grain)
    )
    keys = ", ".join(_KEYS[grain])
    return con.sql(f"SELECT {keys}, {columns} FROM {_FRAMES[grain]} ORDER BY {keys}").df()


def build_suite(grain: str) -> Any:
    """The expectation suite of a grain (a ``great_expectations.ExpectationSuite``)."""
    import great_expectations as gx
    from great_expectations.expectations.core.expect_column_values_to_be_in_set import (
        ExpectColumnValuesToBeInSet,
    )

    suite = gx.ExpectationSuite(name=SUITES[grain])
    for rule in rules_of(grain):
        suite.add_expectation(
            ExpectColumnValuesToBeInSet(
                column=rule.code.value,
                value_set=[False],
                meta={
                    "reason_code": rule.code.value,
                    "family": REASONS[rule.code].family,
                    "severity": rule.severity.value,
                    "severity_by_channel": {
                        k: (v.value if v else "not checked") for k, v in rule.by_channel.items()
                    },
                    "column": rule.column,
                    "description": REASONS[rule.code].description,
                },
            )
        )
    return suite


def run_suites(con: duckdb.DuckDBPyConnection, docs: Path | None = None) -> dict[str, Verdict]:
    """Validate the result frames with GX; return its verdict per reason code.

    ``docs``: a folder to build the Data Docs (HTML) of this validation into.
    """
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    if docs is not None:
        context.add_data_docs_site(
            site_name="orderlens",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(docs),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    source = context.data_sources.add_pandas("orderlens")
    verdicts: dict[str, Verdict] = {}
    definitions = []
    for grain, suite_name in SUITES.items():
        frame = result_frame(con, grain)
        batch = source.add_dataframe_asset(suite_name).add_batch_definition_whole_dataframe("all")
        suite = context.suites.add(build_suite(grain))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
        )
        definitions.append(definition)
        result = definition.run(
            batch_parameters={"dataframe": frame},
            result_format={
                "result_format": "COMPLETE",
                "unexpected_index_column_names": _KEYS[grain],
                "return_unexpected_index_query": False,
            },
        )
        for item in result.results:
            code = str(item.expectation_config.kwargs["column"])  # type: ignore[union-attr]
            found = item.result or {}
            keys = frozenset(
                tuple(row[k] for k in _KEYS[grain])
                for row in found.get("unexpected_index_list") or []
            )
            verdicts[code] = Verdict(
                code, bool(item.success), int(found.get("unexpected_count") or 0), keys
            )
    if docs is not None:
        context.build_data_docs()
    return verdicts
