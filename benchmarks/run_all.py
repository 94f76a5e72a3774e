"""Run every benchmark and compare with the issue's targets (`make bench`, `make bench-smoke`).

Full sizes: 1,000,000 lines (generate, Shopify CSV, Shopify NDJSON and quality: 1,000,000 orders;
fraud features and fraud scoring: 1,000,000 orders, the model trained on all of them). `--smoke` runs each at a small
size in well under a minute (it checks that the benchmarks work; its ratios are not the
targets' measure). Results are written to benchmarks/out/results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from benchmarks import (
    bench_fraud_features,
    bench_fraud_scoring,
    bench_generate,
    bench_import,
    bench_ingest,
    bench_ndjson,
    bench_quality,
    bench_run,
    bench_shopify_csv,
)
from benchmarks.common import OUT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="small sizes, one repeat")
    args = parser.parse_args()
    lines = 20_000 if args.smoke else 1_000_000
    repeats = 1 if args.smoke else 3
    started = time.perf_counter()
    results = {
        # Child-process benchmarks first, while this process is still small.
        "import": bench_import.run(3 if args.smoke else 7),
        "generate": bench_generate.run(lines, 1 if args.smoke else 3),
        "ingest": bench_ingest.run(lines, 1 if args.smoke else 5),
        "run": bench_run.run(lines, 1 if args.smoke else 3),
        "shopify_csv": bench_shopify_csv.run(5_000 if args.smoke else 1_000_000, repeats),
        "ndjson": bench_ndjson.run(5_000 if args.smoke else 1_000_000, repeats),
        "quality": bench_quality.run(20_000 if args.smoke else 1_000_000, repeats),
        "fraud_features": bench_fraud_features.run(20_000 if args.smoke else 1_000_000, repeats),
        "fraud_scoring": bench_fraud_scoring.run(
            20_000 if args.smoke else 1_000_000, repeats, single_orders=200 if args.smoke else 2000
        ),
    }
    checks = {
        "definitions import extra <= 0.15 s": results["import"]["definitions_extra_s"] <= 0.15,
        "ingest ratio <= 1.3": results["ingest"]["ratio"] <= 1.3,
        "run ratio <= 1.15": results["run"]["ratio"] <= 1.15,
        "Shopify CSV parse ratio <= 2": results["shopify_csv"]["ratio"] <= 2.0,
        "Shopify NDJSON parse ratio <= 1.5": results["ndjson"]["ratio"] <= 1.5,
        "generate 1M orders <= 120 s": results["generate"]["seconds"]
        <= bench_generate.TARGET_SECONDS,
        "generate 1M orders <= 2 GiB": results["generate"]["peak_rss_bytes"]
        <= bench_generate.TARGET_RSS_BYTES,
        "quality rules <= 4x one full scan": results["quality"]["rules"]["ratio"]
        <= bench_quality.TARGET_RULES_RATIO,
        "quality e-mail + phone <= 15 s per 1M orders": results["quality"]["library"][
            "seconds_per_1m_orders"
        ]
        <= bench_quality.TARGET_LIBRARY_SECONDS_PER_1M,
        "fraud training with calibration <= 1.3x a bare fit": results["fraud_scoring"]["training"][
            "ratio"
        ]
        <= bench_fraud_scoring.TARGET_TRAIN_RATIO,
        "fraud batch scoring >= 500k orders/s": results["fraud_scoring"]["batch"]["orders_per_s"]
        >= bench_fraud_scoring.TARGET_ORDERS_PER_S,
        "fraud single order with reasons p99 <= 2 ms": results["fraud_scoring"][
            "single_with_reasons"
        ]["p99_ms"]
        <= bench_fraud_scoring.TARGET_SINGLE_P99_MS,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / ("results_smoke.json" if args.smoke else "results.json")).write_text(
        json.dumps({"results": results, "checks": checks}, indent=2)
    )
    print(json.dumps(results, indent=2))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'MISS'}  {name}")
    print(f"benchmarks took {time.perf_counter() - started:.1f} s")
    return 0 if args.smoke or all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
