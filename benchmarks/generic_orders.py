"""Fast, deterministic writer of order files in the generic interchange format (a thin wrapper).

The writer lives in :mod:`pipelines.generator` (a pure package: no Dagster, no Streamlit);
this module re-exports its names for the benchmarks, the tests and the CLI below. It is used
by the benchmarks (a million lines, ~680 MB of CSV, in about ten seconds and bounded
memory) and to make the committed demo sample in ``pipelines/sample_landing/``
(:func:`write_demo_sample`). Reference files (products, inventory, lead times, FX rates) for
the same catalogue come from :func:`write_reference`.

Everything is generated with vectorised numpy/polars code, one chunk of orders at a time; faker
only builds small pools of names, streets and cities once. The same arguments give the same
bytes (for the locked numpy/polars/pyarrow/faker versions).

What the data looks like:

* a catalogue of ~300 SKUs (apparel, home, beauty, pantry, gift cards) with Zipf-like
  popularity and a price per currency (USD, EUR, GBP, CAD; JPY has no minor unit);
* 1-4 lines per order; order-level fields are repeated on every line of the order (or, with
  ``repeat_order_fields=False``, only the first line carries them, like a Shopify export);
* customers who come back, with their e-mail's case and their phone's format varying between
  orders; guest and most POS orders have no e-mail; anonymous POS orders no customer at all;
* client IP, user agent and device id on web and app orders, blank on POS and marketplace;
* card payments carry brand, last four digits, sometimes the BIN and a processor token, never
  a card number;
* ``total = subtotal - total_discounts + shipping + total_tax`` and
  ``subtotal = sum(quantity * unit_price - line_discount)`` hold exactly on every order, and
  ``total_tax`` is the sum of ``line_tax`` (prices exclude tax: ``taxes_included`` is false);
* statuses follow time: as of the end of the window, recent orders are unfulfilled or in
  transit, older ones delivered; shipped and delivered times come after the order;
* timestamps are ISO 8601 in the store's time zone with its UTC offset (so a DST change shows);
* a few order notes contain a comma, quotes or a line break (a quoted multi-line CSV field).

CLI::

    uv run python -m benchmarks.generic_orders OUT.csv --lines 1000000 --seed 7
    uv run python -m benchmarks.generic_orders OUT.parquet --lines 50000 --reference REF_DIR
    uv run python -m benchmarks.generic_orders --demo pipelines/sample_landing
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

from pipelines.generator.catalog import Catalog, build_catalog
from pipelines.generator.demo import (
    DEMO_DAYS,
    DEMO_REFERENCE_DAYS,
    DEMO_REFERENCE_END,
    DEMO_SKUS,
    DEMO_START,
    Defect,
    DemoSample,
    write_demo_sample,
)
from pipelines.generator.orders import PARQUET_SCHEMA, Format, WriteStats, write_generic_orders
from pipelines.generator.reference import write_reference
from pipelines.generator.world import (
    CHUNK_ORDERS,
    COUNTRIES,
    CURRENCIES,
    CURRENCY_EXPONENT,
    DEFAULT_CHANNEL_MIX,
    DEFAULT_COUNTRY_MIX,
    DEFAULT_DAYS,
    DEFAULT_SKUS,
    DEFAULT_START,
    LOCATIONS,
    POS_STORES,
    USD_PER_UNIT,
    PosStore,
)

__all__ = [
    "CHUNK_ORDERS",
    "COUNTRIES",
    "CURRENCIES",
    "CURRENCY_EXPONENT",
    "DEFAULT_CHANNEL_MIX",
    "DEFAULT_COUNTRY_MIX",
    "DEFAULT_DAYS",
    "DEFAULT_SKUS",
    "DEFAULT_START",
    "DEMO_DAYS",
    "DEMO_REFERENCE_DAYS",
    "DEMO_REFERENCE_END",
    "DEMO_SKUS",
    "DEMO_START",
    "LOCATIONS",
    "PARQUET_SCHEMA",
    "POS_STORES",
    "USD_PER_UNIT",
    "Catalog",
    "Defect",
    "DemoSample",
    "Format",
    "PosStore",
    "WriteStats",
    "build_catalog",
    "main",
    "write_demo_sample",
    "write_generic_orders",
    "write_reference",
]


# --------------------------------------------------------------------------------------------
# CLI


def _mix(text: str) -> dict[str, float]:
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        mix[name.strip()] = float(weight)
    return mix


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.generic_orders",
        description="Write a deterministic generic-format order file (CSV or Parquet).",
    )
    parser.add_argument("out", type=Path, nargs="?", help="file to write (.csv or .parquet)")
    parser.add_argument("--lines", type=int, default=1_000_000, help="order lines to write")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--format", choices=("csv", "parquet"), default=None)
    parser.add_argument("--source", default="online_store", help="store/source label")
    parser.add_argument(
        "--channel-mix",
        type=_mix,
        default=None,
        help="e.g. online_store=0.6,marketplace=0.2,mobile_app=0.1,pos=0.1",
    )
    parser.add_argument("--timezone", default="America/New_York")
    parser.add_argument("--reference", type=Path, help="also write the reference files here")
    parser.add_argument("--demo", type=Path, help="(re)make the demo sample in this folder")
    args = parser.parse_args(argv)
    if args.demo is not None:
        sample = write_demo_sample(args.demo)
        for path in sample.files:
            print(path)
        for d in sample.defects:
            print(f"defect: {d.path}:{d.line} ({d.source_order_id}) {d.description}")
        return 0
    if args.out is None:
        parser.error("give OUT or --demo FOLDER")
    stats = write_generic_orders(
        args.out,
        args.lines,
        args.seed,
        start=args.start,
        days=args.days,
        fmt=args.format,
        source_label=args.source,
        channel_mix=args.channel_mix,
        timezone=args.timezone,
    )
    if args.reference is not None:
        last_day = args.start + timedelta(days=args.days - 1)
        write_reference(args.reference, end=last_day, days=max(args.days, DEMO_REFERENCE_DAYS))
    summary = {k: str(v) if isinstance(v, Path) else v for k, v in stats.__dict__.items()}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
