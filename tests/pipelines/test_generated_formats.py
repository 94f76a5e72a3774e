"""The same generated merchant written as generic CSV/Parquet, as Shopify admin CSV exports
and as Shopify REST NDJSON ends in the same orders: the Shopify parsers checked at scale
against the generator's own data, through real runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderlens.warehouse import SnapshotReader
from pipelines.cli import main
from tests.conftest import make_settings, run_all

pytestmark = pytest.mark.slow

ORDERS_SQL = (
    "SELECT source, order_number, channel, created_at, currency, total, units, line_count, "
    "customer_key, financial_status FROM fct_orders ORDER BY source, order_number"
)


def _published(root: Path, fmt: str):
    landing = root / fmt
    flag = ["--no-inject"] if fmt == "generic" else []
    args = ["generate", "--out", str(landing), "--orders", "1500", "--seed", "11"]
    code = main([*args, "--format", fmt, *flag])
    assert code == 0
    settings = make_settings(root / f"{fmt}-home", landing)
    outcome = run_all(settings)
    assert outcome.success, outcome.error
    return SnapshotReader(settings.snapshot)


@pytest.fixture(scope="module")
def generic(tmp_path_factory: pytest.TempPathFactory):
    return _published(tmp_path_factory.mktemp("formats"), "generic")


@pytest.mark.parametrize("fmt", ["shopify_csv", "shopify_json"])
def test_shopify_formats_give_the_orders_of_the_generic_files(
    fmt: str, generic, tmp_path: Path
) -> None:
    shopify = _published(tmp_path, fmt)
    expected = generic.query(ORDERS_SQL)
    assert expected.height == 1500
    assert shopify.query(ORDERS_SQL).equals(expected)
    files = shopify.query(
        "SELECT DISTINCT file_format FROM ingest_files WHERE source <> '_reference'"
    )
    assert files["file_format"].to_list() == [fmt]
