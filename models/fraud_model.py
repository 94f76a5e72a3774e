"""The fraud model: a scikit-learn pipeline on the feature frame, calibrated once, mapped to a
0-99 score and a level.

Grain: :meth:`FraudModel.score` returns one row per order of the feature frame (``order_key``,
``probability``, ``score``, ``level``, ``model_version``, ``model_sha256``), in its row order.

Estimator: ``ColumnTransformer`` (categoricals → ordinal codes, rare ones pooled; numbers and
flags passed through with nulls as NaN) + ``HistGradientBoostingClassifier`` with native
categorical splits and missing-value handling, so a POS order without IP or device is scored
on what it has.

Calibration: one sigmoid (Platt) calibrator fitted on a stratified held-out fold the
boosted trees never saw (``CalibratedClassifierCV`` around a ``FrozenEstimator``). Why
sigmoid and not isotonic: it is monotone and strictly increasing, so the score ranks orders
exactly as the trees do (the AUCs are the model's, no ties appear at the review threshold,
and the reasons, measured on the trees' log-odds, agree with the score); it has two
parameters, so a fold with a few hundred frauds (1 % of 50,000 orders) fits it stably where
isotonic steps would over-fit; and the trees are trained once (no k-fold ensemble), which
keeps training with calibration close to one bare fit. The evaluation's reliability bins show
where a sigmoid fits badly.

Threads: the booster's OpenMP threads are capped while training (``FraudConfig.threads``,
default 1). On this project's 2-core machines, with other work running, 2 threads spun on
each other's barriers and a 35,000-order fit took 99 s instead of 3 s with one thread.
Scoring runs on one thread (the compiled forest below).

Scoring: :attr:`FraudModel.forest` compiles the fitted estimator once into arrays
(:mod:`models.fraud_forest`) that give the same numbers bit for bit without scikit-learn's
per-call overhead; the estimator itself is what is trained and saved.

Score: ``floor(100 * probability)``, capped at 99. Levels: ``normal`` below the review
threshold, ``elevated`` from it, ``highest`` from the block threshold (defaults 65 and 75,
as Stripe Radar's review and block defaults); both are configurable.
"""

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
import polars as pl

from models.fraud_features import FEATURE_BY_NAME, FEATURES
from models.fraud_forest import MISSING_CATEGORY, SMALL_ROWS, Forest, compile_forest

LEVELS: tuple[str, str, str] = ("normal", "elevated", "highest")
SCORE_SCHEMA = pl.Schema(
    {
        "order_key": pl.String,
        "probability": pl.Float64,
        "score": pl.Int8,
        "level": pl.String,
        "model_version": pl.String,
        "model_sha256": pl.String,
    }
)
"""The columns :meth:`FraudModel.score` returns."""


@dataclass(frozen=True)
class FraudConfig:
    """Training and scoring settings."""

    review_threshold: int = 65
    block_threshold: int = 75
    calibration_share: float = 0.2
    max_reasons: int = 3
    seed: int = 0
    max_iter: int = 300
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    threads: int = 1
    features: tuple[str, ...] = tuple(f.name for f in FEATURES)

    def __post_init__(self) -> None:
        if not 0 <= self.review_threshold <= self.block_threshold <= 99:
            raise ValueError("thresholds must satisfy 0 <= review <= block <= 99")
        if not 0 < self.calibration_share < 1:
            raise ValueError("calibration_share must be between 0 and 1")
        unknown = [f for f in self.features if f not in FEATURE_BY_NAME]
        if unknown:
            raise ValueError(f"unknown feature(s): {', '.join(unknown)}")


@dataclass(frozen=True)
class TrainingSummary:
    """What the model was trained on (for its card)."""

    orders: int
    frauds: int
    calibration_orders: int
    calibration_frauds: int
    window_start: str | None
    window_end: str | None
    trained_at: str
    features_without_values: tuple[str, ...] = ()


def model_input(features: pl.DataFrame, names: tuple[str, ...]) -> pl.DataFrame:
    """The feature columns as the pipeline reads them: numbers and flags as Float64 (null →
    NaN), categories as text with nulls named :data:`MISSING_CATEGORY`."""
    exprs = []
    for name in names:
        if FEATURE_BY_NAME[name].kind == "categorical":
            exprs.append(pl.col(name).cast(pl.String).fill_null(MISSING_CATEGORY))
        else:
            exprs.append(pl.col(name).cast(pl.Float64).fill_null(float("nan")))
    return features.select(exprs)


def build_pipeline(config: FraudConfig) -> Any:
    """The uncalibrated estimator: categoricals first (their positions are what the booster
    treats as categorical), then the numbers and flags."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    categorical = [n for n in config.features if FEATURE_BY_NAME[n].kind == "categorical"]
    other = [n for n in config.features if FEATURE_BY_NAME[n].kind != "categorical"]
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,  # negative codes are "missing" to the booster
        min_frequency=20,
        max_categories=64,
        dtype=np.float64,
    )
    columns = ColumnTransformer(
        [("categorical", encoder, categorical), ("numeric", "passthrough", other)],
        verbose_feature_names_out=False,
    )
    # A dict: scikit-learn's inferred parameter types ("str" for "auto") are too narrow.
    booster_params: dict[str, Any] = {
        "learning_rate": config.learning_rate,
        "max_iter": config.max_iter,
        "max_leaf_nodes": config.max_leaf_nodes,
        "min_samples_leaf": config.min_samples_leaf,
        "l2_regularization": config.l2_regularization,
        "categorical_features": list(range(len(categorical))),
        "early_stopping": True,
        "validation_fraction": 0.1,
        "n_iter_no_change": 20,
        "random_state": config.seed,
    }
    booster = HistGradientBoostingClassifier(**booster_params)
    return Pipeline([("columns", columns), ("booster", booster)])


def _reference_values(frame: pl.DataFrame) -> dict[str, float | str]:
    """A typical value per feature (median of numbers, most common flag or category): what a
    reason compares an order's value with."""
    reference: dict[str, float | str] = {}
    for name in frame.columns:
        column = frame.get_column(name)
        if FEATURE_BY_NAME[name].kind == "numeric":
            present = column.drop_nans()
            if len(present) * 2 < len(column):  # mostly missing: missing is typical
                reference[name] = float("nan")
            else:
                reference[name] = float(np.median(present.to_numpy()))
        else:
            counts = column.value_counts()
            # Ties broken by value so the reference does not depend on row order.
            best = counts.filter(pl.col("count") == counts.get_column("count").max())
            value = best.get_column(name).sort(nulls_last=True)[0]
            reference[name] = value if isinstance(value, str) else float(value)
    return reference


@dataclass
class FraudModel:
    """A trained, calibrated fraud model and what it needs to score and explain."""

    estimator: Any  # CalibratedClassifierCV around a frozen pipeline
    config: FraudConfig
    reference: dict[str, float | str]
    summary: TrainingSummary
    metadata: dict[str, Any] = field(default_factory=dict)
    _forest: Forest | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def pipeline(self) -> Any:
        """The frozen, uncalibrated pipeline (its log-odds drive the reasons)."""
        return self.estimator.calibrated_classifiers_[0].estimator

    @property
    def forest(self) -> Forest:
        """The estimator compiled for fast, exact scoring (built on first use)."""
        if self._forest is None:
            kinds = {n: FEATURE_BY_NAME[n].kind for n in self.config.features}
            self._forest = compile_forest(
                self.estimator, self.config.features, kinds, self.reference
            )
        return self._forest

    def probability(self, features: pl.DataFrame) -> np.ndarray:
        """Calibrated fraud probability per order (equal to the estimator's
        ``predict_proba`` on :func:`model_input`, computed by :attr:`forest`)."""
        if features.height == 0:
            return np.zeros(0)
        forest = self.forest
        return forest.probability(forest.frame_log_odds(features))

    def log_odds(self, model_frame: pl.DataFrame) -> np.ndarray:
        """The trees' raw log-odds for rows in feature or :func:`model_input` form."""
        if model_frame.height == 0:
            return np.zeros(0)
        return self.forest.frame_log_odds(model_frame)

    def score(self, features: pl.DataFrame) -> pl.DataFrame:
        """``order_key``, ``probability``, ``score`` (0-99), ``level``, and the
        ``model_version`` and ``model_sha256`` that scored it (null until the model is saved
        or loaded) per order."""
        probability = self.probability(features)
        score = score_values(probability)
        level = level_values(score, self.config)
        version, sha256 = self.metadata.get("version"), self.metadata.get("sha256")
        if len(score) <= SMALL_ROWS:  # row dicts: a few times cheaper for one order
            keys = features.get_column("order_key").to_list()
            rows = zip(keys, probability.tolist(), score.tolist(), level.tolist(), strict=True)
            return pl.from_dicts(
                [
                    {
                        "order_key": k,
                        "probability": p,
                        "score": s,
                        "level": LEVELS[v],
                        "model_version": version,
                        "model_sha256": sha256,
                    }
                    for k, p, s, v in rows
                ],
                schema=SCORE_SCHEMA,
            )
        # Built from arrays, no expressions.
        n = len(score)
        return pl.DataFrame(
            [
                features.get_column("order_key"),
                pl.Series("probability", probability, dtype=pl.Float64),
                pl.Series("score", score, dtype=pl.Int8),
                pl.Series("level", LEVELS).gather(level),
                pl.Series("model_version", [version], pl.String).new_from_index(0, n),
                pl.Series("model_sha256", [sha256], pl.String).new_from_index(0, n),
            ]
        )


def limit_threads(limit: int) -> Any:
    """A context capping the booster's OpenMP threads (see the module's note on threads)."""
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    return threadpool_limits(limits=limit, user_api="openmp")


def scores(probability: pl.Expr) -> pl.Expr:
    """0-99 score of a probability: ``floor(100 p)``, capped at 99."""
    return (probability * 100).floor().clip(0, 99).cast(pl.Int8)


def score_values(probability: np.ndarray) -> np.ndarray:
    """:func:`scores` on a numpy array (the same arithmetic, int8)."""
    return np.clip(np.floor(probability * 100), 0, 99).astype(np.int8)


def levels(score: pl.Expr, config: FraudConfig) -> pl.Expr:
    """normal / elevated (≥ review threshold) / highest (≥ block threshold)."""
    return (
        pl.when(score >= config.block_threshold)
        .then(pl.lit(LEVELS[2]))
        .when(score >= config.review_threshold)
        .then(pl.lit(LEVELS[1]))
        .otherwise(pl.lit(LEVELS[0]))
    )


def level_values(score: np.ndarray, config: FraudConfig) -> np.ndarray:
    """:func:`levels` on a numpy array of scores, as positions in :data:`LEVELS`."""
    return (score >= config.review_threshold).astype(np.uint8) + (score >= config.block_threshold)


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def train_fraud_model(
    features: pl.DataFrame,
    labels: pl.Series | np.ndarray,
    config: FraudConfig | None = None,
) -> FraudModel:
    """Fit the pipeline on a stratified ``1 - calibration_share`` of the orders, then the
    sigmoid calibrator on the rest. ``labels`` are 1 (fraud) / 0, one per feature row."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import train_test_split

    config = config or FraudConfig()
    y = np.asarray(labels, dtype=np.int64)
    if len(y) != features.height:
        raise ValueError("one label per feature row is needed")
    if int(y.sum()) < 10 or int((1 - y).sum()) < 10:
        raise ValueError("training needs at least 10 frauds and 10 legitimate orders")
    x = model_input(features, config.features)
    # A feature with no value at all in the training data (no IP ranges table, a shop
    # without devices) teaches nothing, and the booster cannot bin it: left out.
    empty = [n for n in config.features if x.get_column(n).dtype == pl.Float64
             and x.get_column(n).is_nan().all()]  # fmt: skip
    if empty:
        config = replace(config, features=tuple(n for n in config.features if n not in empty))
        x = x.drop(empty)
    rows = np.arange(len(y))
    fit_rows, calibration_rows = train_test_split(
        rows, test_size=config.calibration_share, stratify=y, random_state=config.seed
    )
    fit_rows, calibration_rows = np.sort(fit_rows), np.sort(calibration_rows)
    pipeline = build_pipeline(config)
    calibrated = CalibratedClassifierCV(FrozenEstimator(pipeline), method="sigmoid", cv=2)
    with limit_threads(config.threads):
        pipeline.fit(x[fit_rows], y[fit_rows])
        calibrated.fit(x[calibration_rows], y[calibration_rows])
    created = features.get_column("created_at") if "created_at" in features.columns else None
    summary = TrainingSummary(
        orders=len(y),
        frauds=int(y.sum()),
        calibration_orders=len(calibration_rows),
        calibration_frauds=int(y[calibration_rows].sum()),
        window_start=_iso(created.min()) if created is not None else None,
        window_end=_iso(created.max()) if created is not None else None,
        trained_at=datetime.now().astimezone().isoformat(timespec="seconds"),
        features_without_values=tuple(empty),
    )
    return FraudModel(calibrated, config, _reference_values(x[fit_rows]), summary)


def config_dict(config: FraudConfig) -> dict[str, Any]:
    """The configuration as plain values (for the model file and card)."""
    values = asdict(config)
    values["features"] = list(config.features)
    return values
