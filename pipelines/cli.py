"""The ``orderlens`` command line.

Exit codes: 0 success; 1 the run failed (for ``status``: an alert is active or the last run
failed); 2 bad usage,
configuration or input; 3 the warehouse has a schema version this release cannot use;
4 nothing published yet (``status``, ``query``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_SCHEMA, EXIT_NOTHING_PUBLISHED = 0, 1, 2, 3, 4

SAMPLE_LANDING = Path(__file__).resolve().parent / "sample_landing"


def _parser() -> argparse.ArgumentParser:
    # Path options work before or after the command (`orderlens run --landing DIR`).
    paths = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    paths.add_argument("--home", help="home folder of every default path (ORDERLENS_HOME)")
    paths.add_argument("--landing", help="landing folder (ORDERLENS_LANDING)")
    paths.add_argument("--warehouse", help="working DuckDB file (ORDERLENS_WAREHOUSE)")
    paths.add_argument("--snapshot", help="published snapshot (ORDERLENS_SNAPSHOT)")
    paths.add_argument("--timezone", help="merchant time zone (ORDERLENS_TIMEZONE)")
    paths.add_argument(
        "--reporting-currency", help="reporting currency (ORDERLENS_REPORTING_CURRENCY)"
    )
    parser = argparse.ArgumentParser(
        prog="orderlens",
        parents=[paths],
        description="Order analytics and quality: ingest, validate, publish, explore.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", parents=[paths], help="ingest the landing folder and materialize every asset"
    )
    run.add_argument(
        "--select",
        default="*",
        help="Dagster asset selection, e.g. 'raw_order_lines+' (default: all)",
    )

    status = sub.add_parser(
        "status", parents=[paths], help="what is in the warehouse and how the last run went"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")

    query = sub.add_parser("query", parents=[paths], help="read-only SQL on the published snapshot")
    query.add_argument("sql", help="a SELECT statement")
    query.add_argument("--format", choices=("table", "csv", "json"), default="table")
    query.add_argument("--max-rows", type=int, default=50, help="rows shown by --format table")

    dashboard = sub.add_parser("dashboard", parents=[paths], help="start the dashboard")
    dashboard.add_argument("--host", default="127.0.0.1")
    dashboard.add_argument("--port", type=int, default=8501)

    sub.add_parser(
        "dev", parents=[paths], help="start the Dagster UI on this installation (telemetry off)"
    )
    sub.add_parser(
        "rebuild", parents=[paths], help="drop derived tables and rebuild them from the raw records"
    )
    sub.add_parser(
        "demo-data", parents=[paths], help="copy the sample landing folder, create demo users, run"
    )

    fraud = sub.add_parser(
        "fraud",
        parents=[paths],
        help="train the fraud model from past orders, or score a file of orders",
        description="Fraud scoring outside the pipeline run. Both commands run the file "
        "through the same ingest, staging, entry-accuracy rules and features as "
        "'orderlens run', in a scratch folder, then use the model registry of this "
        "installation (<model store>/fraud).",
    )
    fraud_sub = fraud.add_subparsers(dest="fraud_command", required=True)
    train = fraud_sub.add_parser(
        "train",
        parents=[paths],
        help="train a model from past orders and promote it if it beats the champion",
        description="Train a fraud model from a history of orders (a file in any format "
        "OrderLens reads, or a landing folder), evaluate it beside the rule baselines on the "
        "latest quarter of the history, and make it the champion when it is at least as good "
        "as the current one on the same holdout. The history is taken as complete: an order "
        "without a fraud label is legitimate.",
    )
    train.add_argument("--history", required=True, help="past orders: a file or a folder")
    train.add_argument(
        "--holdout",
        choices=("time", "customers"),
        default="time",
        help="evaluate on the latest quarter of the history (time, default, as the pipeline "
        "does) or on a stratified quarter of its customers (customers: for a history whose "
        "fraud is bound to a period, where a time split measures the calendar)",
    )
    train.add_argument(
        "--labels",
        help="labels CSV: source_order_id, label (fraud|legitimate), optional source, "
        "labelled_at, note (default: a fraud_label column of the history, or a folder's "
        "_reference/fraud_labels.csv)",
    )
    score = fraud_sub.add_parser(
        "score",
        parents=[paths],
        help="score a file of orders with the champion model",
        description="Write one CSV row per order of FILE: score (0-99), level, "
        "probability, reasons (at or above the review threshold), model version and "
        "SHA-256, or why the order was not scored.",
    )
    score.add_argument("file", help="orders to score: a file or a folder")
    score.add_argument("--out", help="CSV file to write (default: standard output)")
    for command in (train, score):
        command.add_argument(
            "--ip-ranges",
            help="IP ranges CSV (ip_from, ip_to, country; default: the landing folder's "
            "_reference/ip_ranges.csv)",
        )
        command.add_argument(
            "--source",
            default="history",
            help="landing source the file's orders belong to (default: history)",
        )

    generate = sub.add_parser(
        "generate",
        parents=[paths],
        help="write a synthetic merchant's landing folder, with injected defects and their "
        "ground truth",
        description="Write a realistic multi-channel merchant's order files (one folder per "
        "source, one file per month), the reference inputs, and the ground truth of every "
        "injected defect (next to the folder: <out>/../<out name>_ground_truth.parquet). The "
        "same seed gives the same bytes.",
    )
    generate.add_argument("--out", help="folder to write (default: the landing folder)")
    generate.add_argument("--orders", type=int, default=100_000, help="orders (default 100000)")
    generate.add_argument("--start", default="2025-01-01", help="first day (default 2025-01-01)")
    generate.add_argument("--end", default="2025-12-31", help="last day (default 2025-12-31)")
    generate.add_argument("--seed", type=int, default=7)
    inject = generate.add_mutually_exclusive_group()
    inject.add_argument(
        "--inject",
        metavar="NAME=RATE,...",
        help="run only these injectors at these rates (default: every injector at its "
        "default rate)",
    )
    inject.add_argument("--no-inject", action="store_true", help="write clean data only")
    generate.add_argument(
        "--ground-truth", metavar="FILE", help="ground-truth Parquet file (outside --out)"
    )
    generate.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty folder (replaces its source and _reference folders)",
    )
    generate.add_argument(
        "--format",
        choices=GENERATED_FORMATS,
        default="generic",
        help="order file format: generic CSV/Parquet with injected defects (default), or a "
        "clean Shopify admin CSV export / Shopify REST order NDJSON per source",
    )
    return parser


GENERATED_FORMATS = ("generic", "shopify_csv", "shopify_json")


def _apply_path_options(args: argparse.Namespace) -> None:
    """Command-line options win over the environment; settings are read from it later."""
    paths = {
        "home": "ORDERLENS_HOME",
        "landing": "ORDERLENS_LANDING",
        "warehouse": "ORDERLENS_WAREHOUSE",
        "snapshot": "ORDERLENS_SNAPSHOT",
    }
    values = {
        "timezone": "ORDERLENS_TIMEZONE",
        "reporting_currency": "ORDERLENS_REPORTING_CURRENCY",
    }
    for option, name in paths.items():
        if getattr(args, option, None):
            os.environ[name] = str(Path(getattr(args, option)).expanduser().resolve())
    for option, name in values.items():
        if getattr(args, option, None):
            os.environ[name] = getattr(args, option)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")


def _progress_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    progress = logging.getLogger("orderlens.progress")
    progress.handlers[:] = [handler]
    progress.setLevel(logging.INFO)
    progress.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``orderlens`` command."""
    args = _parser().parse_args(argv)
    _apply_path_options(args)
    from orderlens.settings import SettingsError
    from orderlens.warehouse import SchemaVersionError, SnapshotMissingError, WarehouseError

    try:
        handler = {
            "run": _cmd_run,
            "status": _cmd_status,
            "query": _cmd_query,
            "dashboard": _cmd_dashboard,
            "dev": _cmd_dev,
            "rebuild": _cmd_rebuild,
            "demo-data": _cmd_demo_data,
            "generate": _cmd_generate,
            "fraud": _cmd_fraud,
        }[args.command]
        return handler(args)
    except SettingsError as exc:
        print(f"orderlens: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SchemaVersionError as exc:
        print(f"orderlens: {exc}", file=sys.stderr)
        return EXIT_SCHEMA
    except SnapshotMissingError as exc:
        print(f"orderlens: {exc}", file=sys.stderr)
        return EXIT_NOTHING_PUBLISHED
    except WarehouseError as exc:
        print(f"orderlens: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("orderlens: interrupted", file=sys.stderr)
        return 130


def _cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runner import SelectionError, run_pipeline

    _progress_logging()
    try:
        outcome = run_pipeline(selection=args.select)
    except SelectionError as exc:
        print(f"orderlens: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if outcome.success:
        print(f"run {outcome.run_id} succeeded in {outcome.duration_s:.1f} s")
        return EXIT_OK
    print(
        f"run {outcome.run_id} failed at step {outcome.failed_step}: {outcome.error}",
        file=sys.stderr,
    )
    return EXIT_SCHEMA if outcome.schema_error else EXIT_FAILED


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from orderlens.settings import Settings
    from pipelines.runner import drop_derived_tables

    settings = Settings.from_env()
    dropped = drop_derived_tables(settings.warehouse)
    print(f"dropped {len(dropped)} derived tables; rebuilding from raw records")
    return _cmd_run(argparse.Namespace(select="*"))


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from orderlens.settings import Settings
    from orderlens.users import ensure_demo_users

    settings = Settings.from_env()
    settings.ensure_dirs()
    copied = 0
    for path in sorted(SAMPLE_LANDING.rglob("*")):
        relative = path.relative_to(SAMPLE_LANDING)
        if not path.is_file() or path.name == "README.md":
            continue
        target = settings.landing / relative
        if not target.exists() or target.read_bytes() != path.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            copied += 1
    print(f"sample landing folder: {settings.landing} ({copied} files copied)")
    users = ensure_demo_users(settings.users_file)
    code = _bootstrap_fraud_model(settings)
    if code != EXIT_OK:
        return code
    code = _cmd_run(argparse.Namespace(select="*"))
    if code == EXIT_OK:
        print(
            "demo users (user / password): "
            + ", ".join(f"{name} / {password}" for name, password in users.items())
        )
    return code


def _cmd_fraud(args: argparse.Namespace) -> int:
    from models.fraud_registry import RegistryError
    from orderlens.settings import Settings
    from pipelines.defs.fraud.history import FraudInputError

    _progress_logging()
    settings = Settings.from_env()
    try:
        if args.fraud_command == "train":
            return _fraud_train(args, settings)
        return _fraud_score(args, settings)
    except FraudInputError as exc:
        print(f"orderlens: fraud {args.fraud_command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except RegistryError as exc:
        print(f"orderlens: fraud {args.fraud_command}: model registry: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _optional_path(value: str | None) -> Path | None:
    return Path(value).expanduser().resolve() if value else None


def _scratch_problems(command: str, run) -> int | None:
    """Report the scratch run's rejected records; an exit code when the run failed."""
    for reject in run.rejects:  # every rejected reference row, the first order records
        if reject.file != "_reference/fraud_labels.csv":  # named by their own file below
            print(f"  rejected: {reject}", file=sys.stderr)
    if run.success:
        return None
    print(
        f"orderlens: fraud {command}: the pipeline run failed at step {run.failed_step}: "
        f"{run.error}",
        file=sys.stderr,
    )
    return EXIT_FAILED


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _fraud_train(args: argparse.Namespace, settings) -> int:
    from pipelines.defs.fraud.history import train_from_history

    history = Path(args.history).expanduser().resolve()
    result = train_from_history(
        history,
        settings,
        labels_file=_optional_path(args.labels),
        ip_ranges=_optional_path(args.ip_ranges),
        source=args.source,
        holdout=args.holdout,
    )
    print(f"history {history.name}: {result.run.summary()}")
    failed = _scratch_problems("train", result.run)
    if failed is not None:
        return failed
    if result.label_rejects:
        for reject in result.label_rejects:
            print(f"  rejected: {reject}", file=sys.stderr)
        print(
            f"orderlens: fraud train: {len(result.label_rejects):,} label row(s) of "
            f"{result.labels_from} rejected (above); fix them and train again",
            file=sys.stderr,
        )
        return EXIT_USAGE
    outcome = result.outcome
    assert outcome is not None
    print(
        f"labels from {result.labels_from}: {outcome.frauds:,} fraud and "
        f"{outcome.legitimate:,} legitimate orders ({outcome.matured:,} without a label, "
        "taken as legitimate)"
    )
    if outcome.challenge is None:
        print(f"not trained: {outcome.why}", file=sys.stdout if outcome.unchanged else sys.stderr)
        return EXIT_OK if outcome.unchanged else EXIT_FAILED
    challenge = outcome.challenge
    window = challenge.record["holdout"]
    context = challenge.record["context"]
    print(
        f"holdout: {window['orders']:,} orders, {window['frauds']:,} frauds, "
        f"{window['start']} to {window['end']} ({context['split']}); trained on "
        f"{context['train_orders']:,} orders ({context['train_frauds']:,} frauds)"
    )
    columns = ("roc_auc", "pr_auc", "precision_at_1pct", "recall_at_1pct",
               "precision_at_5pct", "recall_at_5pct")  # fmt: skip
    header = ("scorer", "ROC-AUC", "PR-AUC", "prec@1%", "rec@1%", "prec@5%", "rec@5%")
    rows = [("challenger" if r["scorer"] == "model" else r["scorer"],
             *(_fmt(r[c]) for c in columns))
            for r in challenge.challenger_evaluation.scorers.to_dicts()]  # fmt: skip
    if challenge.champion_evaluation is not None:
        champion_row = challenge.champion_evaluation.scorer("model")
        rows.insert(1, ("champion", *(_fmt(champion_row[c]) for c in columns)))
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  " + "  ".join(str(v).rjust(w) if i else str(v).ljust(w)
                               for i, (v, w) in enumerate(zip(row, widths, strict=True))))  # fmt: skip
    saved = challenge.challenger
    if challenge.promoted:
        print(f"promoted {saved.version} (sha256 {saved.sha256}): {challenge.why}")
    else:
        print(f"not promoted: {saved.version} saved; {challenge.why}")
    print(f"model card: {saved.folder / 'model_card.md'}")
    return EXIT_OK


def _fraud_score(args: argparse.Namespace, settings) -> int:
    import polars as pl

    from orderlens.security import safe_csv_bytes, write_safe_csv
    from pipelines.defs.fraud.history import score_file

    file = Path(args.file).expanduser().resolve()
    result = score_file(
        file, settings, ip_ranges=_optional_path(args.ip_ranges), source=args.source
    )
    print(f"{file.name}: {result.run.summary()}", file=sys.stderr)
    failed = _scratch_problems("score", result.run)
    if failed is not None:
        return failed
    table = result.scores
    if args.out:
        write_safe_csv(table, Path(args.out).expanduser().resolve())
    else:
        sys.stdout.buffer.write(safe_csv_bytes(table))
    scored = table.filter(pl.col("score").is_not_null())
    review, block = settings.fraud_review_threshold, settings.fraud_block_threshold
    print(
        f"{scored.height:,} orders scored by {result.model_version}: "
        f"{scored.filter(pl.col('score') >= review).height:,} at or above review ({review}), "
        f"{scored.filter(pl.col('score') >= block).height:,} at or above block ({block}); "
        f"{table.height - scored.height:,} not scored (column not_scored_because)"
        + (f"; written to {args.out}" if args.out else ""),
        file=sys.stderr,
    )
    return EXIT_OK


def _bootstrap_fraud_model(settings) -> int:
    """Without a champion fraud model, train one as ``orderlens fraud train`` would, on a
    generated history (January to September 2026, before the demo sample's October, fixed
    seed, fraud injected at 2 %, labels from the generator's ground truth), so the demo
    shows scores, reasons and a review queue. A champion already there is kept."""
    import time

    from models.fraud_registry import FraudRegistry
    from pipelines.defs.fraud.history import GeneratedHistory, train_on_generated_history

    if FraudRegistry(settings.fraud_registry).champion() is not None:
        return EXIT_OK
    started = time.perf_counter()
    history = GeneratedHistory()
    print(f"no fraud model yet: training one on a generated history of "
          f"{history.orders:,} orders")  # fmt: skip
    try:
        result = train_on_generated_history(settings, history)
    except ValueError as exc:  # the generator refuses the fraud injectors
        print(f"orderlens: demo fraud model not trained ({exc}); the demo runs without "
              "fraud scores", file=sys.stderr)  # fmt: skip
        return EXIT_OK
    failed = _scratch_problems("train", result.run)
    if failed is not None:
        return failed
    outcome = result.outcome
    challenge = outcome.challenge if outcome is not None else None
    if challenge is None:
        print(f"orderlens: demo fraud model not trained: {outcome.why if outcome else '?'}",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    row = challenge.challenger_evaluation.scorer("model")
    best = challenge.challenger_evaluation.best_rule()
    print(
        f"fraud model {challenge.challenger.version}: PR-AUC {row['pr_auc']:.3f} (best rule "
        f"{best['scorer']} {best['pr_auc']:.3f}) on {challenge.record['holdout']['orders']:,} "
        f"held-out orders ({time.perf_counter() - started:.0f} s)"
    )
    return EXIT_OK


def _cmd_generate(args: argparse.Namespace) -> int:
    from datetime import date

    from pipelines.generator import generate_merchant, parse_injector_specs

    try:
        start, end = date.fromisoformat(args.start), date.fromisoformat(args.end)
        specs = [] if args.no_inject else None
        if args.inject is not None:
            specs = parse_injector_specs(args.inject)
    except ValueError as exc:
        print(f"orderlens: generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.out:
        out = Path(args.out).expanduser().resolve()
    else:
        from orderlens.settings import Settings

        out = Settings.from_env().landing
    truth = Path(args.ground_truth).expanduser().resolve() if args.ground_truth else None
    if args.format != "generic":
        if args.inject is not None:
            print(
                f"orderlens: generate: --inject applies to the generic format only "
                f"(--format {args.format} writes clean orders)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return _generate_export(args, out, start, end)
    try:
        report = generate_merchant(
            out,
            orders=args.orders,
            start=start,
            end=end,
            seed=args.seed,
            injectors=specs,
            ground_truth=truth,
            overwrite=args.force,
        )
    except (ValueError, FileExistsError) as exc:
        print(f"orderlens: generate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for file in report.files:
        print(f"  {file.relative}: {file.orders:,} orders, {file.records:,} lines, "
              f"{file.n_bytes:,} bytes")  # fmt: skip
    for path in report.reference:
        print(f"  {path.relative_to(report.out).as_posix()}: {path.stat().st_size:,} bytes")
    injected = ", ".join(f"{name} {rows:,}" for name, rows in report.injected.items())
    print(
        f"wrote {len(report.files)} order files and {len(report.reference)} reference files "
        f"to {report.out} ({report.n_bytes:,} bytes): {report.orders:,} orders, "
        f"{report.lines:,} lines ({report.records:,} records written), "
        f"{report.customers:,} customers"
    )
    print(
        f"ground truth: {report.ground_truth} ({report.ground_truth_rows:,} rows"
        + (f": {injected})" if injected else ")")
    )
    print(f"took {report.seconds:.1f} s")
    return EXIT_OK


def _generate_export(args: argparse.Namespace, out: Path, start, end) -> int:
    """Generate clean generic files in a scratch folder, then write each source as a Shopify
    export (CSV or NDJSON) into ``out`` with the reference files beside them."""
    import shutil
    import tempfile

    from pipelines.generator import generate_merchant

    if out.exists() and any(out.iterdir()) and not args.force:
        print(f"orderlens: generate: {out} is not empty (use --force)", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "shopify_csv":
        from pipelines.generator.shopify_export import convert_landing
    else:
        from pipelines.generator.shopify_ndjson import convert_landing
    with tempfile.TemporaryDirectory(prefix="orderlens-generate-") as scratch:
        generic = Path(scratch) / "landing"
        try:
            report = generate_merchant(
                generic,
                orders=args.orders,
                start=start,
                end=end,
                seed=args.seed,
                injectors=[],
                ground_truth=Path(scratch) / "truth.parquet",
            )
        except ValueError as exc:
            print(f"orderlens: generate: {exc}", file=sys.stderr)
            return EXIT_USAGE
        out.mkdir(parents=True, exist_ok=True)
        for folder in sorted(p for p in out.iterdir() if p.is_dir()):
            shutil.rmtree(folder)
        written = convert_landing(generic, out)
        shutil.copytree(generic / "_reference", out / "_reference")
    for item in written:
        print(f"  {item.path.relative_to(out).as_posix()}: {item.n_bytes:,} bytes")
    print(
        f"wrote {len(written)} {args.format} files to {out}: {report.orders:,} orders, "
        f"{report.lines:,} lines, {report.customers:,} customers (clean: no injected defects)"
    )
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    from orderlens.settings import Settings
    from pipelines.status import collect_status, render_status

    report = collect_status(Settings.from_env())
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(render_status(report))
    if not report["published"]:
        return EXIT_NOTHING_PUBLISHED
    last = report.get("last_run") or {}
    return EXIT_FAILED if report.get("alerts") or last.get("status") == "failure" else EXIT_OK


def _cmd_query(args: argparse.Namespace) -> int:
    import duckdb
    import polars as pl

    from orderlens.security import safe_csv_bytes
    from orderlens.settings import Settings
    from orderlens.warehouse import SnapshotReader

    reader = SnapshotReader(Settings.from_env().snapshot)
    try:
        frame = reader.query(args.sql)
    except duckdb.Error as exc:
        first_line = str(exc).splitlines()[0]
        print(f"orderlens: query failed: {first_line}", file=sys.stderr)
        return EXIT_USAGE
    if args.format == "csv":
        sys.stdout.buffer.write(safe_csv_bytes(frame))
    elif args.format == "json":
        print(json.dumps(frame.to_dicts(), default=str, indent=1))
    else:
        with pl.Config(
            tbl_rows=args.max_rows, tbl_cols=-1, fmt_str_lengths=60, tbl_width_chars=200
        ):
            print(frame)
    return EXIT_OK


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from orderlens.settings import Settings

    settings = Settings.from_env()
    app = Path(__file__).resolve().parent.parent / "dashboards" / "streamlit_app.py"
    url = f"http://{args.host}:{args.port}"
    print(f"OrderLens dashboard: {url}", flush=True)
    if settings.users_file.exists():
        print(
            f"sign in with a user of {settings.users_file} "
            "(demo: analyst / orderlens-demo, also reviewer, planner, admin)",
            flush=True,
        )
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--client.showErrorDetails",
        "none",
    ]
    os.execv(sys.executable, command)
    return EXIT_OK  # pragma: no cover - execv does not return


def _cmd_dev(args: argparse.Namespace) -> int:
    from orderlens.settings import Settings
    from pipelines.runner import prepare_dagster_home

    settings = Settings.from_env()
    settings.ensure_dirs()
    home = prepare_dagster_home(settings)
    workspace = Path(__file__).resolve().parent.parent / "workspace.yaml"
    print(f"Dagster UI on {settings.home} (DAGSTER_HOME={home})", flush=True)
    os.execvp("dagster", ["dagster", "dev", "-w", str(workspace)])
    return EXIT_OK  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
