"""Reference inputs for a catalogue: products, inventory snapshot, supplier lead times and
daily FX rates, as the CSV files of ``<landing>/_reference/``.

Grain: products and lead times one row per SKU; inventory one row per SKU and location;
FX rates one row per currency and day.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from orderlens.contracts import REFERENCE_INPUTS
from pipelines.generator.catalog import VENDOR_LEAD_DAYS, Catalog, build_catalog
from pipelines.generator.world import (
    CURRENCIES,
    IP_BLOCKS,
    LOCATIONS,
    USD_PER_UNIT,
    WAREHOUSE_EU,
    WAREHOUSE_NA,
)

IP_RANGES_FILE = "ip_ranges.csv"
IP_RANGES_HEADER: tuple[str, ...] = ("ip_from", "ip_to", "country")
"""Columns of ``ip_ranges.csv``: inclusive integer bounds of IPv4 addresses and the ISO
3166-1 alpha-2 country (the ``ref_ip_ranges`` reference input)."""


def _reference_header(stem: str) -> list[str]:
    return next([f.name for f in r.fields] for r in REFERENCE_INPUTS if r.file_stem == stem)


def _write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode("utf-8"))
    return path


def _decimal_text(minor: int, exponent: int) -> str:
    if exponent == 0:
        return str(minor)
    return f"{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"


def write_reference(
    folder: Path,
    *,
    catalog: Catalog | None = None,
    currencies: Sequence[str] = CURRENCIES,
    end: date = date(2026, 11, 20),
    days: int = 60,
    reporting_currency: str = "USD",
    locations: Sequence[str] = LOCATIONS,
    seed: int = 7,
) -> dict[str, Path]:
    """Write products, inventory, lead_times and fx_rates CSVs for ``catalog`` into ``folder``.

    ``fx_rates.csv`` has a rate for every currency (the reporting one at 1) on each of the
    ``days`` days up to ``end``; the inventory snapshot is as of ``end``. Returns the paths by
    file stem.
    """
    cat = catalog if catalog is not None else build_catalog()
    unknown = set(currencies) - set(USD_PER_UNIT)
    if unknown or reporting_currency not in USD_PER_UNIT:
        raise ValueError(f"currencies must be among {list(USD_PER_UNIT)}")
    rng = np.random.default_rng([seed, 99])
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    selling = [i for i in range(len(cat)) if cat.requires_shipping[i]]

    products = []
    for i in range(len(cat)):
        cur = cat.cost_currencies[i]
        cost = "" if cat.unit_costs[i] < 0 else _decimal_text(int(cat.unit_costs[i]), 2)
        products.append(
            [cat.skus[i], cat.names[i], cat.categories[i], str(cat.pack_sizes[i]), cost, cur]
        )
    paths["products"] = _write_rows(
        folder / "products.csv", _reference_header("products"), products
    )

    inventory = []
    top = float(cat.popularity.max())
    share = {WAREHOUSE_NA: 1.0, WAREHOUSE_EU: 0.5}
    for i in selling:
        demand = 30 + 600 * float(cat.popularity[i]) / top
        for location in locations:
            if rng.random() >= share.get(location, 0.15):
                continue
            scale = 1.0 if location.startswith("Warehouse") else 0.1
            on_hand = 0 if rng.random() < 0.06 else int(rng.poisson(demand * scale))
            pack = int(cat.pack_sizes[i])
            on_order = pack * int(rng.integers(1, 20)) if rng.random() < 0.3 else 0
            inventory.append([cat.skus[i], location, str(on_hand), str(on_order), end.isoformat()])
    paths["inventory"] = _write_rows(
        folder / "inventory.csv", _reference_header("inventory"), inventory
    )

    lead_times = [
        [
            cat.skus[i],
            cat.vendors[i],
            str(VENDOR_LEAD_DAYS[cat.vendors[i]] + int(rng.integers(-3, 9))),
        ]
        for i in selling
    ]
    paths["lead_times"] = _write_rows(
        folder / "lead_times.csv", _reference_header("lead_times"), lead_times
    )

    first = end - timedelta(days=days - 1)
    walks = {
        c: USD_PER_UNIT[c] * np.exp(np.cumsum(rng.normal(0.0, 0.004, days)))
        if c != "USD"
        else np.ones(days)
        for c in USD_PER_UNIT
    }
    fx = []
    for d in range(days):
        day = (first + timedelta(days=d)).isoformat()
        for c in currencies:
            rate = 1.0 if c == reporting_currency else walks[c][d] / walks[reporting_currency][d]
            fx.append([day, c, f"{rate:.8f}"])
    paths["fx_rates"] = _write_rows(folder / "fx_rates.csv", _reference_header("fx_rates"), fx)
    return paths


def write_ip_ranges(folder: Path) -> Path:
    """Write ``ip_ranges.csv``: one row per address block of
    :data:`~pipelines.generator.world.IP_BLOCKS` (a /8), sorted by its first address, so
    every address the generator writes (the merchant's and the single-file writer's) has a
    country."""
    rows = sorted(
        (first << 24, ((first + 1) << 24) - 1, country)
        for country, firsts in IP_BLOCKS.items()
        for first in firsts
    )
    folder.mkdir(parents=True, exist_ok=True)
    return _write_rows(
        folder / IP_RANGES_FILE,
        list(IP_RANGES_HEADER),
        [[str(low), str(high), country] for low, high, country in rows],
    )
