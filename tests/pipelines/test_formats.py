"""Every landing file is read by the parser of its content, whatever its name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipelines.sources.formats import FORMATS, detect, family
from tests.conftest import SAMPLE_LANDING, SHARED_DATA


def test_every_registered_format_has_a_parser_module() -> None:
    for source_format in FORMATS:
        module = source_format.load()
        assert callable(module.sniff) and callable(module.parse), source_format.name
        assert callable(getattr(module, "assemble", None)) == source_format.assembled


def test_stored_format_names_map_back_to_their_parser() -> None:
    assert family("olist:order_items") == "olist"
    assert family("shopify_csv") == "shopify_csv"
    assert family("csv") == family("parquet") == family("ndjson") == "generic"


def test_the_sample_landing_is_the_generic_format() -> None:
    for path in SAMPLE_LANDING.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".parquet"):
            assert detect(path).name == "generic", path


EXPECTED = {
    "shopify_exports/yancy__orders_export_1.csv": "shopify_csv",
    "shopify_exports/rieker_ca__orders_export_1.csv": "shopify_csv",
    "api_payloads/shopify/orders.json": "shopify_json",
    "api_payloads/woocommerce/orders__list_all_orders.json": "woocommerce_json",
    "olist/olist_order_items_dataset.csv": "olist",
    "olist/product_category_name_translation.csv": "olist",
    "online_retail/online_retail_random20k.csv": "online_retail",
    "cdnow/CDNOW_sample.txt": "cdnow",
}


@pytest.mark.shared_data
@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_shared_files_are_detected_by_content_even_renamed(relative: str, tmp_path: Path) -> None:
    renamed = tmp_path / ("export" + Path(relative).suffix)
    shutil.copy(SHARED_DATA / relative, renamed)
    assert detect(SHARED_DATA / relative).name == EXPECTED[relative]
    assert detect(renamed).name == EXPECTED[relative]
