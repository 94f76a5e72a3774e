"""Saving and loading fraud models with skops (never pickle), and their model cards.

Grain: one model version per folder, ``<store>/<version>/`` holding ``model.skops`` (the
estimator, configuration, reference values and training summary), ``model_card.json`` and
``model_card.md``.

Loading trusts only skops' default types (scikit-learn estimators, numpy, builtins) plus the
explicit :data:`TRUSTED_TYPES` this model is made of: a file holding anything else (a
``FunctionTransformer`` calling ``os.system``, an arbitrary class) is refused before any of
it is built. The version is ``fraud-<trained at, UTC>-<first 8 hex of the file's SHA-256>``
and every score records it with the full hash, so a score can be traced to the exact file.
(skops files are zip archives with timestamps: saving the same model twice gives two hashes;
the hash names a file, not a model.)
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.fraud_eval import FraudEvaluation
from models.fraud_features import FEATURE_BY_NAME
from models.fraud_model import FraudConfig, FraudModel, TrainingSummary, config_dict

FORMAT = "orderlens-fraud-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.skops"
CARD_JSON = "model_card.json"
CARD_MARKDOWN = "model_card.md"

TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",  # HistGradientBoostingClassifier keeps a partial of check_array
    "sklearn.utils.validation.check_array",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)
"""Types beyond skops' defaults that a fraud model file may contain; nothing else loads."""

LIMITS: tuple[str, ...] = (
    "Scores are probabilities calibrated on the training period's fraud rate; a change in "
    "the share of fraud (a new attack, a new channel) shifts them until the model is "
    "retrained.",
    "Labels are chargebacks and reviewer decisions: fraud nobody reported is learned as "
    "legitimate, and recent orders are not labelled yet.",
    "Features use only orders the shop has seen; signals of a channel that sends no IP, "
    "device or e-mail (point of sale) are missing there, and those orders are scored on "
    "what they have.",
    "Reasons name the single features that raise the score most; risk that comes from a "
    "combination is reported through its largest part.",
    "Sex, age and similar personal attributes are never features.",
)


@dataclass(frozen=True)
class SavedModel:
    """Where a model version was written, and its identity."""

    version: str
    sha256: str
    folder: Path

    @property
    def model_path(self) -> Path:
        return self.folder / MODEL_FILE


def _state(model: FraudModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "estimator": model.estimator,
        "config": config_dict(model.config),
        "reference": dict(model.reference),
        "summary": asdict(model.summary)
        | {"features_without_values": list(model.summary.features_without_values)},
    }


def dump_state(state: dict[str, Any]) -> bytes:
    """skops bytes of a model state (exposed so tests can write a tampered file)."""
    import skops.io as sio

    return sio.dumps(state)


def model_card(
    model: FraudModel,
    *,
    version: str,
    sha256: str,
    evaluation: FraudEvaluation | None = None,
) -> dict[str, Any]:
    """The model card as plain values: identity, data window, features, calibration,
    thresholds, metrics beside the rule baselines, limits."""
    summary = model.summary
    return {
        "model": "OrderLens fraud score",
        "version": version,
        "sha256": sha256,
        "trained_at": summary.trained_at,
        "data_window": {"start": summary.window_start, "end": summary.window_end},
        "training": {
            "orders": summary.orders,
            "frauds": summary.frauds,
            "calibration_orders": summary.calibration_orders,
            "calibration_frauds": summary.calibration_frauds,
        },
        "estimator": "ColumnTransformer + HistGradientBoostingClassifier",
        "calibration": "sigmoid (Platt) on a stratified held-out fold",
        "features": [
            {
                "name": n,
                "kind": FEATURE_BY_NAME[n].kind,
                "description": FEATURE_BY_NAME[n].description,
            }
            for n in model.config.features
        ],
        "features_without_values": list(summary.features_without_values),
        "thresholds": {
            "review": model.config.review_threshold,
            "block": model.config.block_threshold,
        },
        "score": "floor(100 x calibrated probability), capped at 99",
        "metrics": evaluation.to_dict() if evaluation is not None else None,
        "limits": list(LIMITS),
    }


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def card_markdown(card: dict[str, Any]) -> str:
    """The model card for people."""
    window = card["data_window"]
    training = card["training"]
    lines = [
        f"# {card['model']} {card['version']}",
        "",
        f"- File SHA-256: `{card['sha256']}`",
        f"- Trained: {card['trained_at']}",
        f"- Data window: {window['start']} to {window['end']}",
        f"- Training orders: {training['orders']:,} ({training['frauds']:,} frauds); "
        f"calibration fold: {training['calibration_orders']:,} "
        f"({training['calibration_frauds']:,} frauds)",
        f"- Estimator: {card['estimator']}; calibration: {card['calibration']}",
        f"- Score: {card['score']}; review at >= {card['thresholds']['review']}, "
        f"block at >= {card['thresholds']['block']}",
        "",
        "## Features",
        "",
        "| feature | kind | meaning |",
        "|---|---|---|",
        *(f"| {f['name']} | {f['kind']} | {f['description']} |" for f in card["features"]),
    ]
    if card["features_without_values"]:
        lines += ["", "Left out (no values in the training data): "
                  + ", ".join(card["features_without_values"])]  # fmt: skip
    metrics = card["metrics"]
    if metrics:
        columns = [c for c in metrics["scorers"][0] if c != "scorer"]
        lines += [
            "",
            f"## Holdout metrics ({metrics['orders']:,} orders, {metrics['frauds']:,} frauds, "
            f"{metrics['days']} days)",
            "",
            "| scorer | " + " | ".join(columns) + " |",
            "|---" * (len(columns) + 1) + "|",
            *(
                f"| {row['scorer']} | " + " | ".join(_fmt(row[c]) for c in columns) + " |"
                for row in metrics["scorers"]
            ),
            "",
            "## What if: review every order scored at or above",
            "",
            "| threshold | orders | per day | frauds caught | recall | precision |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r['threshold']} | {r['orders']} | {_fmt(r['per_day'])} | "
                f"{r['frauds_caught']} | {_fmt(r['recall'])} | {_fmt(r['precision'])} |"
                for r in metrics["what_if"]
            ),
        ]
    lines += ["", "## Limits", "", *(f"- {limit}" for limit in card["limits"]), ""]
    return "\n".join(lines)


def save_model(
    model: FraudModel, store: Path, *, evaluation: FraudEvaluation | None = None
) -> SavedModel:
    """Write a new version folder under ``store``; never overwrites an existing one."""
    data = dump_state(_state(model))
    sha256 = hashlib.sha256(data).hexdigest()
    trained = datetime.fromisoformat(model.summary.trained_at).astimezone(UTC)
    version = f"fraud-{trained:%Y%m%dT%H%M%SZ}-{sha256[:8]}"
    folder = store / version
    folder.mkdir(parents=True, exist_ok=False)
    partial = folder / (MODEL_FILE + ".partial")
    partial.write_bytes(data)
    partial.rename(folder / MODEL_FILE)
    card = model_card(model, version=version, sha256=sha256, evaluation=evaluation)
    (folder / CARD_JSON).write_text(json.dumps(card, indent=2, default=str) + "\n")
    (folder / CARD_MARKDOWN).write_text(card_markdown(card))
    model.metadata.update(version=version, sha256=sha256)
    return SavedModel(version, sha256, folder)


def load_model(path: Path, *, expected_sha256: str | None = None) -> FraudModel:
    """Load ``model.skops`` (or a version folder holding it), trusting only skops' defaults
    and :data:`TRUSTED_TYPES`. Raises skops' ``UntrustedTypesFoundException`` for anything
    else, and ``ValueError`` when the file is not what ``expected_sha256`` names or not a
    fraud model of a format this release reads."""
    import skops.io as sio

    file = path / MODEL_FILE if path.is_dir() else path
    data = file.read_bytes()
    sha256 = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and sha256 != expected_sha256:
        raise ValueError(f"{file}: SHA-256 {sha256} is not the expected {expected_sha256}")
    state = sio.loads(data, trusted=list(TRUSTED_TYPES))
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{file}: not an OrderLens fraud model")
    if state.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{file}: model format {state.get('format_version')} is not readable")
    config_values = dict(state["config"])
    config_values["features"] = tuple(config_values["features"])
    summary_values = dict(state["summary"])
    summary_values["features_without_values"] = tuple(summary_values["features_without_values"])
    card_file = file.parent / CARD_JSON
    version = json.loads(card_file.read_text())["version"] if card_file.exists() else None
    if version is not None and not version.endswith(sha256[:8]):
        raise ValueError(f"{card_file}: the card belongs to another model file ({version})")
    return FraudModel(
        estimator=state["estimator"],
        config=FraudConfig(**config_values),
        reference=dict(state["reference"]),
        summary=TrainingSummary(**summary_values),
        metadata={"version": version, "sha256": sha256},
    )
