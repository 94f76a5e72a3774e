"""The code location loads fast and does no work at import time."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("duckdb", "polars", "numpy", "pyarrow", "great_expectations", "sklearn", "streamlit")


def test_importing_definitions_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, pipelines.definitions; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def test_definitions_resolve_every_asset() -> None:
    from pipelines.definitions import defs

    definitions = defs()
    keys = {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "raw_order_lines",
        "stg_orders",
        "fct_orders",
        "dim_customers",
        "dim_products",
        "ref_fx_rates",
        "published_snapshot",
    } <= keys
    assert definitions.resolve_job_def("orderlens_refresh") is not None


@pytest.mark.slow
def test_dg_check_defs_passes() -> None:
    result = subprocess.run(["dg", "check", "defs"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
