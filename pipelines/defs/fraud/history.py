"""``orderlens fraud train|score``: a file of orders through the same pipeline, then the model.

A history (or a file to score) is dropped into the landing folder of a scratch OrderLens home
and run through the real Dagster job (ingest, staging, entry-accuracy rules, ``fct_orders``,
``fraud_features``, ``fraud_labels``) on an ephemeral instance, so a model is trained on, and
scores, exactly the values the pipeline computes for the merchant's own orders. Orders the
rules quarantine are not trained on or scored (they are listed as such); rejected records
are reported with their file, line and column. Training then calls the same
:func:`pipelines.defs.fraud.training.train_challenger` as the ``fraud_model`` asset, against
the installation's registry; scoring uses the installation's champion.

Labels for training: ``--labels FILE`` in the ``_reference/fraud_labels.csv`` format (its
``source`` column may be left out: the history's source is meant), or, when there is no
labels file, a ``fraud_label`` (or ``is_fraud``) column in a CSV or Parquet history
(true/false, 1/0, fraud/legitimate; blank = unknown). A history is complete: an order in it
without a fraud label is legitimate (the label maturity window is 0 days for it).

The scratch home takes the installation's ``_reference/fx_rates.csv`` and ``ip_ranges.csv``
(unless ``--ip-ranges`` names another), so order values and IP countries mean what they do in
the warehouse.
"""

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from orderlens.contracts import FRAUD_LABELS
from orderlens.settings import Settings

if TYPE_CHECKING:
    from pipelines.defs.fraud.training import TrainingOutcome

HISTORY_SOURCE = "history"
LABEL_COLUMNS: tuple[str, ...] = ("fraud_label", "is_fraud")
CARRIED_REFERENCE: tuple[str, ...] = ("fx_rates.csv", "ip_ranges.csv")
_UPSTREAM = "group:ingest or group:staging or group:quality or key:fct_orders"
TRAIN_SELECTION = f"{_UPSTREAM} or key:fraud_features or key:fraud_labels"
"""Everything the features and labels are built from, and them (not the model, scores,
other marts or publish)."""
SCORE_SELECTION = f"{_UPSTREAM} or key:fraud_features"

_FRAUD_WORDS = {"true": True, "1": True, "yes": True, "fraud": True}
_LEGIT_WORDS = {"false": False, "0": False, "no": False, "legitimate": False}

# Variables naming other folders: the scratch run must not read or write the installation's.
_PATH_VARIABLES = (
    "ORDERLENS_HOME",
    "ORDERLENS_LANDING",
    "ORDERLENS_WAREHOUSE",
    "ORDERLENS_SNAPSHOT",
    "ORDERLENS_OUTBOX",
    "ORDERLENS_STATE",
    "ORDERLENS_USERS_FILE",
    "ORDERLENS_CUSTOMER_KEY_SECRET_FILE",
    "ORDERLENS_MODEL_STORE",
)


class FraudInputError(ValueError):
    """A file given to ``orderlens fraud`` cannot be used; the message names it."""


@dataclass(frozen=True)
class Reject:
    """A record the scratch pipeline rejected (file, physical line, column, reason)."""

    file: str
    line: int | None
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        return f"{where}{f', column {self.column}' if self.column else ''}: {self.reason}"


@dataclass(frozen=True)
class ScratchRun:
    """The scratch pipeline's outcome: its settings (warehouse to read), counts, rejects."""

    settings: Settings
    success: bool
    failed_step: str | None
    error: str | None
    orders: int
    scorable: int
    quarantined: int
    rejected_records: int
    rejects: tuple[Reject, ...]

    def summary(self) -> str:
        return (
            f"{self.orders:,} orders staged, {self.scorable:,} usable, {self.quarantined:,} "
            f"quarantined by entry-accuracy errors, {self.rejected_records:,} records rejected"
        )


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the block (the pipeline's steps read settings from the
    environment), restoring them afterwards."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _readable(path: Path, what: str) -> Path:
    path = path.expanduser().resolve()
    if not path.is_file():
        raise FraudInputError(f"{what} {path}: no such file")
    return path


def read_labels_file(path: Path, source: str) -> pl.DataFrame:
    """A labels file in the reference format; a missing or blank ``source`` is ``source``.
    Values are checked by the pipeline's reference ingest (file, line and column)."""
    path = _readable(path, "labels file")
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FraudInputError(f"labels file {path}: unreadable CSV ({exc})") from exc
    frame = frame.rename({c: c.lstrip("\ufeff").strip() for c in frame.columns})
    missing = [c for c in ("source_order_id", "label") if c not in frame.columns]
    if missing:
        raise FraudInputError(f"labels file {path}: required column(s) missing: {missing}")
    names = [f.name for f in FRAUD_LABELS.fields]
    return frame.select(
        pl.coalesce(
            pl.when(pl.col("source").str.strip_chars() != "").then(pl.col("source")),
            pl.lit(source),
        ).alias("source")
        if "source" in frame.columns
        else pl.lit(source).alias("source"),
        *(
            pl.col(n) if n in frame.columns else pl.lit(None, pl.String).alias(n)
            for n in names
            if n != "source"
        ),
    )


def labels_in_history(path: Path, source: str) -> pl.DataFrame | None:
    """Labels from a ``fraud_label`` / ``is_fraud`` column of a CSV or Parquet history (an
    order is fraud when any of its lines says so); None without such a column."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            columns = pl.read_parquet_schema(path)
            frame = lambda cols: pl.read_parquet(path, columns=cols)  # noqa: E731
        elif suffix in (".csv", ".txt"):
            columns = pl.read_csv(path, n_rows=0, infer_schema=False).columns
            frame = lambda cols: pl.read_csv(  # noqa: E731
                path, columns=cols, infer_schema=False, encoding="utf8-lossy"
            )
        else:
            return None
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise FraudInputError(f"history {path}: unreadable ({exc})") from exc
    column = next((c for c in LABEL_COLUMNS if c in columns), None)
    if column is None or "source_order_id" not in columns:
        return None
    values = frame(["source_order_id", column]).with_columns(
        pl.col(column).cast(pl.String).str.strip_chars().str.to_lowercase().alias("_v")
    )
    words = {**_FRAUD_WORDS, **_LEGIT_WORDS}
    bad = values.with_row_index("_record").filter(
        pl.col("_v").is_not_null() & (pl.col("_v") != "") & ~pl.col("_v").is_in(list(words))
    )
    if bad.height:
        first = bad.row(0, named=True)
        raise FraudInputError(
            f"history {path}: column {column} has {bad.height:,} value(s) that are not "
            f"true/false, 1/0 or fraud/legitimate (first {first[column]!r} in record "
            f"{first['_record'] + 1})"
        )
    return (
        values.filter(pl.col("_v").is_in(list(words)))
        .group_by("source_order_id")
        .agg(pl.col("_v").replace_strict(words, return_dtype=pl.Boolean).any().alias("_fraud"))
        .sort("source_order_id")
        .select(
            pl.lit(source).alias("source"),
            pl.col("source_order_id").cast(pl.String),
            pl.when(pl.col("_fraud"))
            .then(pl.lit("fraud"))
            .otherwise(pl.lit("legitimate"))
            .alias("label"),
            pl.lit(None, pl.String).alias("labelled_at"),
            pl.lit(None, pl.String).alias("note"),
        )
    )


def _original(relative: str, given: Path, source: str) -> str:
    """The user's name for a scratch landing file (``<source>/<name>`` or a folder's own
    relative path); reference files keep their ``_reference/`` name."""
    if relative.startswith("_reference/"):
        return relative
    if given.is_dir():
        return str(given / relative)
    return str(given) if relative == f"{source}/{given.name}" else relative


def _rejects(con, limit: int = 20) -> tuple[int, tuple[Reject, ...]]:
    """Records rejected: how many in the order files, and the first ``limit`` of them after
    every rejected reference row (labels, IP ranges)."""
    counted = con.execute(
        "SELECT count(DISTINCT (file_id, line)) FROM ingest_rejects WHERE source <> '_reference'"
    )
    total = int(counted.fetchall()[0][0])
    query = (
        "SELECT file_name, line, column_name, reason FROM ingest_rejects WHERE source {} "
        "'_reference' ORDER BY file_name, line LIMIT ?"
    )
    rows = [
        *con.execute(query.format("="), [10_000]).fetchall(),
        *con.execute(query.format("<>"), [limit]).fetchall(),
    ]
    return total, tuple(
        Reject(str(name), line, column, str(why)) for name, line, column, why in rows
    )


@contextlib.contextmanager
def scratch_pipeline(
    file: Path,
    settings: Settings,
    *,
    selection: str,
    source: str = HISTORY_SOURCE,
    labels: pl.DataFrame | None = None,
    ip_ranges: Path | None = None,
    environment: dict[str, str] | None = None,
) -> Iterator[ScratchRun]:
    """Run ``file`` through the pipeline (``selection``) in a scratch home; yield what came
    of it while the scratch warehouse exists."""
    import dagster as dg

    from orderlens.warehouse import connect
    from pipelines.runner import run_pipeline

    file = file.expanduser().resolve()
    if not file.is_dir():
        file = _readable(file, "orders file")
    if not source or source.startswith((".", "_")) or "/" in source:
        raise FraudInputError(f"--source {source!r}: a landing folder name is needed")
    with tempfile.TemporaryDirectory(prefix="orderlens-fraud-") as tmp:
        home = Path(tmp)
        landing = home / "landing"
        if file.is_dir():  # a landing folder: its sources and its own reference files
            shutil.copytree(file, landing, ignore=shutil.ignore_patterns(".*"))
        else:
            (landing / source).mkdir(parents=True)
            shutil.copyfile(file, landing / source / file.name)
        reference = landing / "_reference"
        reference.mkdir(exist_ok=True)
        for name in CARRIED_REFERENCE:
            carried = settings.reference_dir / name
            if carried.is_file() and not (reference / name).exists():
                shutil.copyfile(carried, reference / name)
        if ip_ranges is not None:
            shutil.copyfile(_readable(ip_ranges, "IP ranges file"), reference / "ip_ranges.csv")
        if labels is not None:
            labels.write_csv(reference / f"{FRAUD_LABELS.file_stem}.csv")
        env = {k: v for k, v in os.environ.items() if k not in _PATH_VARIABLES}
        scratch = Settings.from_env(env=env, home=home, landing=landing)
        variables = {"ORDERLENS_MODEL_STORE": str(settings.model_store), **(environment or {})}
        with _environment(variables), dg.DagsterInstance.ephemeral() as instance:
            outcome = run_pipeline(selection=selection, settings=scratch, instance=instance)
        con = connect(scratch.warehouse, read_only=True)
        try:
            counts = con.execute(
                "SELECT (SELECT count(*) FROM stg_orders), (SELECT count(*) FROM fct_orders), "
                "(SELECT count(*) FROM quality_quarantine)"
            ).fetchall()[0]
            rejected, rejects = _rejects(con)
        except Exception:  # a run that failed before staging: its error says why
            counts, rejected, rejects = (0, 0, 0), 0, ()
        finally:
            con.close()
        rejects = tuple(replace(r, file=_original(r.file, file, source)) for r in rejects)
        yield ScratchRun(
            scratch,
            outcome.success,
            outcome.failed_step,
            outcome.error,
            int(counts[0]),
            int(counts[1]),
            int(counts[2]),
            rejected,
            rejects,
        )


def history_labels(
    history: Path, labels_file: Path | None, source: str
) -> tuple[pl.DataFrame, str]:
    """The labels to train with and where they came from (error when there are none)."""
    if labels_file is not None:
        return read_labels_file(labels_file, source), str(labels_file)
    if history.is_dir():
        own = history / "_reference" / f"{FRAUD_LABELS.file_stem}.csv"
        if own.is_file():
            return read_labels_file(own, source), str(own)
        raise FraudInputError(
            f"history {history}: no labels: pass --labels FILE or put the labels in "
            f"_reference/{FRAUD_LABELS.file_stem}.csv"
        )
    found = labels_in_history(_readable(history, "history"), source)
    if found is None:
        raise FraudInputError(
            f"history {history}: no labels: pass --labels FILE (source_order_id, label "
            f"fraud|legitimate, ...) or give the history a {LABEL_COLUMNS[0]} column"
        )
    return found, f"the {LABEL_COLUMNS[0]} column of {history.name}"


@dataclass(frozen=True)
class TrainResult:
    """What ``orderlens fraud train`` did: the scratch run, the labels, the training."""

    run: ScratchRun
    labels_from: str
    label_rows: int
    label_rejects: tuple[Reject, ...]
    outcome: "TrainingOutcome | None"


def train_from_history(
    history: Path,
    settings: Settings,
    *,
    labels_file: Path | None = None,
    ip_ranges: Path | None = None,
    source: str = HISTORY_SOURCE,
    holdout: str = "time",
) -> TrainResult:
    """Run the history through the pipeline, then train a challenger on it and challenge
    the installation's champion (the ``fraud_model`` asset's code, with maturity 0: the
    history is complete). Not trained when the pipeline failed or a label was rejected.

    ``holdout``: ``time`` (the latest quarter, as the pipeline does) or ``customers`` (a
    stratified quarter of the customers: for a history whose fraud is bound to a period)."""
    if holdout not in ("time", "customers"):
        raise FraudInputError(f"--holdout {holdout!r}: time or customers")
    from models.fraud_registry import FraudRegistry
    from orderlens.warehouse import connect
    from pipelines.defs.fraud.features import read_features
    from pipelines.defs.fraud.labels import read_labels
    from pipelines.defs.fraud.training import train_challenger

    labels, origin = history_labels(history, labels_file, source)
    labels_name = f"_reference/{FRAUD_LABELS.file_stem}.csv"
    with scratch_pipeline(
        history,
        settings,
        selection=TRAIN_SELECTION,
        source=source,
        labels=labels,
        ip_ranges=ip_ranges,
    ) as run:
        label_rejects = tuple(
            Reject(origin, r.line, r.column, r.reason) for r in run.rejects if r.file == labels_name
        )
        if not run.success or label_rejects:
            return TrainResult(run, origin, labels.height, label_rejects, None)
        con = connect(run.settings.warehouse, read_only=True)
        try:
            features, frame_labels = read_features(con), read_labels(con)
            customers = con.sql("SELECT order_key, customer_key FROM fct_orders").pl()
        finally:
            con.close()
    complete = replace(settings, fraud_maturity_days=0.0)
    outcome = train_challenger(
        features,
        frame_labels,
        complete,
        FraudRegistry(settings.fraud_registry),
        customers=customers if holdout == "customers" else None,
    )
    return TrainResult(run, origin, labels.height, (), outcome)


@dataclass(frozen=True)
class ScoreResult:
    """What ``orderlens fraud score`` produced: one row per order of the file."""

    run: ScratchRun
    scores: pl.DataFrame
    model_version: str


def score_file(
    file: Path,
    settings: Settings,
    *,
    ip_ranges: Path | None = None,
    source: str = HISTORY_SOURCE,
) -> ScoreResult:
    """Score every order of ``file`` with the champion: one row per order (source_order_id,
    score, level, probability, reasons, model version and SHA-256), and for an order that
    was not scored, why (quarantined by an entry-accuracy error, rejected at ingest)."""
    from models.fraud_registry import FraudRegistry
    from orderlens.warehouse import connect
    from pipelines.defs.fraud.features import read_features
    from pipelines.defs.fraud.scoring import score_features

    if not file.expanduser().is_dir():
        _readable(file, "orders file")
    registry = FraudRegistry(settings.fraud_registry)
    champion = registry.champion()
    model = registry.load_champion()
    if champion is None or model is None:
        raise FraudInputError(
            f"no fraud model in {registry.folder}: train one first with "
            "`orderlens fraud train --history FILE`"
        )
    with scratch_pipeline(
        file, settings, selection=SCORE_SELECTION, source=source, ip_ranges=ip_ranges
    ) as run:
        if not run.success:
            return ScoreResult(run, pl.DataFrame(), champion.version)
        con = connect(run.settings.warehouse, read_only=True)
        try:
            features = read_features(con)
            orders = con.sql(
                """
SELECT o.order_key, o.source_order_id, o.created_at,
       CASE WHEN q.order_key IS NOT NULL THEN
           'quarantined by entry-accuracy error(s): ' || array_to_string(q.error_codes, ', ')
       END AS not_scored_because
FROM stg_orders o LEFT JOIN quality_quarantine q USING (order_key)
UNION ALL
SELECT DISTINCT ON (source_order_id) NULL, source_order_id, NULL,
       'record rejected at ingest (line ' || line || coalesce(', column ' || column_name, '')
       || '): ' || reason
FROM ingest_rejects
WHERE source <> '_reference' AND source_order_id IS NOT NULL
  AND source_order_id NOT IN (SELECT source_order_id FROM stg_orders)
ORDER BY created_at NULLS LAST, source_order_id"""
            ).pl()
        finally:
            con.close()
    scores = score_features(model, features, settings)
    table = orders.join(scores, on="order_key", how="left", maintain_order="left").select(
        "source_order_id",
        "score",
        "level",
        pl.col("probability").round(6),
        pl.col("reasons").list.join("; "),
        "model_version",
        "model_sha256",
        "not_scored_because",
    )
    return ScoreResult(run, table, champion.version)


def labels_from_ground_truth(path: Path) -> pl.DataFrame:
    """Fraud labels (reference format) of a generated merchant's ground truth: one row per
    order a fraud injector made fraudulent (``fraud_label`` true)."""
    truth = pl.read_parquet(path, columns=["source", "source_order_id", "fraud_label"])
    return (
        truth.filter(
            pl.col("fraud_label").fill_null(False) & pl.col("source_order_id").is_not_null()
        )
        .select("source", "source_order_id")
        .unique()
        .sort("source", "source_order_id")
        .with_columns(
            pl.lit("fraud").alias("label"),
            pl.lit(None, pl.String).alias("labelled_at"),
            pl.lit("generator ground truth").alias("note"),
        )
    )


@dataclass(frozen=True)
class GeneratedHistory:
    """A synthetic merchant history to bootstrap a fraud model on (see
    :func:`train_on_generated_history`)."""

    orders: int = 20_000
    start: str = "2026-01-01"
    end: str = "2026-09-30"
    seed: int = 6
    injectors: str = "fraud=0.02,fraud_lookalikes=0.05"


def train_on_generated_history(settings: Settings, history: GeneratedHistory) -> TrainResult:
    """Generate ``history`` (fraud injected, labels from the generator's ground truth) and
    train on it as ``orderlens fraud train`` would (the champion/challenger rule applies).

    Without IP ranges: the generator's ranges locate only its own addresses, so a model
    trained with IP countries would see every real order's IP country as unknown, which no
    training order was. Raises ``ValueError`` when the generator refuses the injectors."""
    from datetime import date

    from pipelines.generator import generate_merchant, parse_injector_specs

    with tempfile.TemporaryDirectory(prefix="orderlens-fraud-history-") as tmp:
        folder = Path(tmp) / "history"
        truth = Path(tmp) / "ground_truth.parquet"
        generate_merchant(
            folder,
            orders=history.orders,
            start=date.fromisoformat(history.start),
            end=date.fromisoformat(history.end),
            seed=history.seed,
            injectors=parse_injector_specs(history.injectors),
            ground_truth=truth,
        )
        labels_from_ground_truth(truth).write_csv(folder / "_reference" / "fraud_labels.csv")
        (folder / "_reference" / "ip_ranges.csv").unlink(missing_ok=True)
        return train_from_history(folder, settings)
