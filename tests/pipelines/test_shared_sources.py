"""Every real file of ``../shared/data`` through real Dagster runs: counts per source equal
figures recomputed independently of the parsers, and three fixed arrival orders (files
dropped twice, one renamed) end in the same warehouse."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from orderlens.warehouse import SnapshotReader
from tests.conftest import SHARED_DATA, make_settings, run_all, table_hashes
from tests.sources.test_shopify_csv_shared import ORDERS as SHOPIFY_ORDERS

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]


def shared_files() -> dict[str, Path]:
    """Landing path (``<source>/<file>``) → shared file, for every order data file.

    Licences, provenance lists and the Olist manifest are not order data and stay out.
    """
    files: dict[str, Path] = {}
    for path in sorted((SHARED_DATA / "shopify_exports").glob("*.csv")):
        files[f"shopify_{path.name.split('__')[0]}/{path.name}"] = path
    for folder, pattern in (
        ("api_payloads/shopify", "*.json"),
        ("api_payloads/woocommerce", "*.json"),
        ("olist", "*.csv"),
        ("online_retail", "*.csv"),
        ("cdnow", "*.txt"),
    ):
        source = {"api_payloads/shopify": "shopify_api", "api_payloads/woocommerce": "woo"}.get(
            folder, folder
        )
        for path in sorted((SHARED_DATA / folder).glob(pattern)):
            files[f"{source}/{path.name}"] = path
    return files


def _drop(landing: Path, relative: str, path: Path) -> None:
    target = landing / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, target)


def _build(root: Path, batches: list[list[str]], extra: Callable[[Path], None] | None = None):
    files = shared_files()
    landing = root / "landing"
    settings = make_settings(root / "home", landing)
    for number, batch in enumerate(batches):
        for relative in batch:
            _drop(landing, relative, files[relative])
        if extra is not None and number == len(batches) - 1:
            extra(landing)
        outcome = run_all(settings)
        assert outcome.success, outcome.error
    return settings


@pytest.fixture(scope="module")
def all_at_once(tmp_path_factory: pytest.TempPathFactory):
    """Every shared file dropped in one batch, with the same copies as the permutations
    (the landing's log of names seen, ``ingest_arrivals``, records them)."""
    return _build(
        tmp_path_factory.mktemp("shared_a"), [sorted(shared_files())], extra=_twice_and_renamed
    )


def test_shopify_exports_keep_every_order(all_at_once) -> None:
    reader = SnapshotReader(all_at_once.snapshot)
    for store, expected in SHOPIFY_ORDERS.items():
        (path,) = (SHARED_DATA / "shopify_exports").glob(f"{store}__*.csv")
        with open(path, encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        names = {r["Name"] for r in rows}
        assert len(names) == expected, store
        source = f"shopify_{store}"
        found = reader.query(
            "SELECT count(DISTINCT o.order_number) AS staged, "
            f"(SELECT count(DISTINCT order_key) FROM stg_rejects WHERE source = '{source}') "
            "AS held, "
            "(SELECT count(*) FROM stg_order_lines l JOIN stg_orders o2 USING (order_key) "
            f" WHERE o2.source = '{source}') AS lines, "
            "(SELECT sum(quantity) FROM stg_order_lines l JOIN stg_orders o2 USING (order_key) "
            f" WHERE o2.source = '{source}') AS units "
            f"FROM stg_orders o WHERE o.source = '{source}'"
        ).row(0, named=True)
        assert found["staged"] + found["held"] == expected, store
        assert found["held"] == 0, store
        assert found["lines"] == len(rows), store
        assert found["units"] == sum(int(r["Lineitem quantity"]) for r in rows), store


def test_every_file_reconciles_and_olist_keeps_its_lifecycle(all_at_once) -> None:
    reader = SnapshotReader(all_at_once.snapshot)
    files = reader.query(
        "SELECT file_name, records, loaded, rejected FROM ingest_files WHERE source <> '_reference'"
    )
    assert files.height == len({p.read_bytes() for p in shared_files().values()})
    for row in files.iter_rows(named=True):
        assert row["records"] == row["loaded"] + row["rejected"], row
    olist = reader.query(
        "SELECT (SELECT count(*) FROM stg_orders WHERE source = 'olist') AS orders, "
        "(SELECT count(*) FROM stg_payments p JOIN stg_orders o USING (order_key) "
        " WHERE o.source = 'olist') AS payments, "
        "(SELECT count(DISTINCT order_key) FROM stg_status_events e "
        " WHERE order_key LIKE 'olist:%' AND out_of_order) AS contradicted"
    ).row(0, named=True)
    with open(SHARED_DATA / "olist" / "olist_order_payments_dataset.csv", newline="") as f:
        payments = sum(1 for _ in csv.DictReader(f))
    assert olist["orders"] == 3000
    assert olist["payments"] == payments
    assert olist["contradicted"] > 0


PERMUTATIONS = {
    "reverse_in_two_batches_one_file_twice": lambda files: [
        sorted(files, reverse=True)[: len(files) // 2],
        sorted(files, reverse=True)[len(files) // 2 :],
    ],
    "json_and_legacy_first": lambda files: [
        sorted(f for f in files if f.startswith(("shopify_api", "woo", "online_retail"))),
        sorted(f for f in files if not f.startswith(("shopify_api", "woo", "online_retail"))),
    ],
}


def _twice_and_renamed(landing: Path) -> None:
    # A Shopify export dropped again under another name, and the CDNOW log renamed: both
    # arrive after their first copy, so nothing changes.
    files = shared_files()
    _drop(
        landing,
        "shopify_yancy/zz_yancy_again.csv",
        files[
            "shopify_yancy/"
            + next(n.split("/")[1] for n in files if n.startswith("shopify_yancy/"))
        ],
    )
    _drop(landing, "cdnow/renamed_transactions.txt", files["cdnow/CDNOW_sample.txt"])


@pytest.mark.parametrize("name", sorted(PERMUTATIONS))
def test_arrival_order_duplicates_and_renames_change_nothing(
    name: str, all_at_once, tmp_path: Path
) -> None:
    settings = _build(
        tmp_path, PERMUTATIONS[name](sorted(shared_files())), extra=_twice_and_renamed
    )
    assert table_hashes(settings.warehouse) == table_hashes(all_at_once.warehouse)


def test_a_transaction_sent_twice_is_one_payment_and_refunds_are_not_paid(all_at_once) -> None:
    reader = SnapshotReader(all_at_once.snapshot)
    payments = reader.query(
        "SELECT kind, amount, processor_token FROM stg_payments "
        "WHERE order_key = 'shopify_api:450789469' ORDER BY payment_sequence"
    )
    # order.json names gateways and transactions.json / transaction.json carry the same
    # transactions: the transactions win, each once.
    assert payments["kind"].to_list() == ["authorization", "refund"]
    assert payments["processor_token"].null_count() == 0
    # Shopify's documented example order does not add up under Shopify's own convention
    # (subtotal 597.00 is after discounts, yet the total 598.94 subtracts the 10.00
    # discount again): it is quarantined, not dropped, and as its status says paid, its
    # money is flagged for the books.
    held = reader.query(
        "SELECT is_paid, error_codes FROM quality_quarantine "
        "WHERE order_key = 'shopify_api:450789469'"
    ).row(0, named=True)
    assert held == {"is_paid": True, "error_codes": ["TOTAL_MISMATCH"]}
    assert (
        reader.query(
            "SELECT count(*) FROM fct_orders WHERE order_key = 'shopify_api:450789469'"
        ).item()
        == 0
    )


SHOPIFY_ARITHMETIC: dict[str, tuple[int, int]] = {
    "devstore_inr": (0, 0),
    "enavant": (47, 2),
    "explorer": (1, 1),
    "kidsliving": (49, 0),
    "maisonmaria": (0, 0),
    "rieker_ca": (0, 0),
    "signals_pk": (0, 6),
    "stacks_bd": (0, 0),
    "yancy": (19, 19),
}
"""Orders whose raw amounts do not add up, per export: |total - (subtotal + shipping +
taxes)| > 0.01 and |sum(qty x price) - discount - subtotal| > 0.01."""


def _raw_arithmetic(path: Path) -> tuple[int, int]:
    """The two raw mismatch counts of an export, recomputed with the csv module."""
    from decimal import Decimal

    def money(text: str | None) -> Decimal:
        return Decimal(text.strip()) if text and text.strip() else Decimal(0)

    orders: dict[str, dict[str, Decimal]] = {}
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            order = orders.setdefault(row["Name"], {"lines": Decimal(0)})
            order["lines"] += money(row.get("Lineitem quantity")) * money(row.get("Lineitem price"))
            if "total" not in order and (row.get("Total") or "").strip():
                for key, column in (
                    ("total", "Total"),
                    ("subtotal", "Subtotal"),
                    ("shipping", "Shipping"),
                    ("taxes", "Taxes"),
                    ("discount", "Discount Amount"),
                ):
                    order[key] = money(row.get(column))
    cent = Decimal("0.01")
    totals = sum(
        1
        for o in orders.values()
        if "total" in o and abs(o["total"] - (o["subtotal"] + o["shipping"] + o["taxes"])) > cent
    )
    subtotals = sum(
        1
        for o in orders.values()
        if "total" in o and abs(o["lines"] - o["discount"] - o["subtotal"]) > cent
    )
    return totals, subtotals


def test_shopify_arithmetic_is_reported_and_explained_per_store(all_at_once) -> None:
    reader = SnapshotReader(all_at_once.snapshot)
    report = {
        row["source"]: row
        for row in reader.query("SELECT * FROM quality_source_arithmetic").iter_rows(named=True)
    }
    for store, expected in SHOPIFY_ARITHMETIC.items():
        (path,) = (SHARED_DATA / "shopify_exports").glob(f"{store}__*.csv")
        assert _raw_arithmetic(path) == expected, store
        row = report[f"shopify_{store}"]
        assert (row["raw_total_mismatches"], row["raw_subtotal_mismatches"]) == expected, store
        assert row["convention"] == "shopify" and row["treatment"], store
    kids = report["shopify_kidsliving"]
    # A tax-inclusive ZAR store: its totals add up without the taxes, nothing is held for it.
    assert kids["tax_inclusive"] and kids["total_mismatches"] == 0
    assert "Tax-inclusive store" in kids["treatment"]
    assert (
        reader.query(
            "SELECT count(*) FROM quality_findings WHERE source = 'shopify_kidsliving' "
            "AND family = 'arithmetic'"
        ).item()
        == 0
    )
    yancy = report["shopify_yancy"]
    assert (yancy["total_mismatches"], yancy["subtotal_mismatches"]) == (19, 19)
    assert "quarantined" in yancy["treatment"]
    held = reader.query(
        "SELECT count(*) FROM quality_quarantine WHERE source = 'shopify_yancy' "
        "AND list_contains(error_codes, 'TOTAL_MISMATCH')"
    ).item()
    assert held == 19
    for store in ("devstore_inr", "maisonmaria", "rieker_ca", "stacks_bd"):
        assert report[f"shopify_{store}"]["total_mismatches"] == 0, store
