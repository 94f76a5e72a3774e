"""The fraud model registry: saved versions, the champion that scores, and why it is champion.

Layout of a registry folder (``<model store>/fraud``, :attr:`Settings.fraud_registry`):

- ``versions/<version>/``: one folder per saved model (``model.skops`` and its model card, by
  :func:`models.fraud_persistence.save_model`); never overwritten.
- ``champion.json``: the pointer to the model that scores: ``version``, ``sha256``, its
  holdout ``metrics``, ``promoted_at`` and ``why``. Written beside and renamed over, so a
  reader sees the old pointer or the new one, never half of one.
- ``challenges.jsonl``: one line per challenge, appended: when, the challenger and the
  champion it met, both evaluations on the same holdout, whether it was promoted and why,
  and the fingerprint of the data it was trained on.

Champion/challenger: every new model is a challenger. It is scored beside the current
champion on the same holdout frame (the latest labelled orders) and replaces it only when
its PR-AUC is at least as high; otherwise the champion stays and the record says why. A
first model, or one meeting a champion whose file is gone or fails its SHA-256, is promoted
and the record says that. PR-AUC is the yardstick because fraud is rare: it measures how
clean the top of the ranking is, which is what a review queue works through; ROC-AUC,
precision and recall at capacity are recorded beside it.

Loading a model always checks the file's SHA-256 against the pointer, then loads it with
skops' trusted types only (:func:`models.fraud_persistence.load_model`).
"""

import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from models.fraud_eval import MODEL, FraudEvaluation, evaluate
from models.fraud_model import FraudModel
from models.fraud_persistence import SavedModel, load_model, save_model
from models.fraud_rules import rule_scores

VERSIONS = "versions"
POINTER = "champion.json"
CHALLENGES = "challenges.jsonl"


class RegistryError(RuntimeError):
    """A registry file is unusable (a damaged pointer, a model that fails its hash); the
    message names the file."""


@dataclass(frozen=True)
class Holdout:
    """The orders a challenger and the champion are both scored on: feature rows (with
    ``order_key`` and ``created_at``), their 0/1 labels, and each order's merchant day (for
    the daily review capacity; None: the holdout is one day)."""

    features: pl.DataFrame
    labels: np.ndarray
    days: pl.Series | None = None

    def __post_init__(self) -> None:
        if len(self.labels) != self.features.height:
            raise ValueError("the holdout needs one label per feature row")
        frauds = int(np.sum(self.labels))
        if frauds == 0 or frauds == len(self.labels):
            raise ValueError("the holdout needs both frauds and legitimate orders")

    def describe(self) -> dict[str, Any]:
        """Orders, frauds and the time window (for records and messages)."""
        created = self.features.get_column("created_at")
        return {
            "orders": self.features.height,
            "frauds": int(np.sum(self.labels)),
            "start": _iso(created.min()),
            "end": _iso(created.max()),
        }


@dataclass(frozen=True)
class Champion:
    """The champion pointer."""

    version: str
    sha256: str
    metrics: dict[str, Any]
    promoted_at: str
    why: str


@dataclass(frozen=True)
class ChallengeOutcome:
    """What a challenge did: the challenger saved, promoted or not and why, the champion in
    place afterwards, and the record appended to ``challenges.jsonl``."""

    promoted: bool
    why: str
    challenger: SavedModel
    champion: Champion
    challenger_evaluation: FraudEvaluation
    champion_evaluation: FraudEvaluation | None
    record: dict[str, Any]


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def headline(evaluation: FraudEvaluation) -> dict[str, Any]:
    """The model's row of an evaluation, plus the best rule's PR-AUC (for the pointer)."""
    row = evaluation.scorer(MODEL)
    best = evaluation.best_rule()
    return {
        **{k: v for k, v in row.items() if k != "scorer"},
        "best_rule": best["scorer"],
        "best_rule_pr_auc": best["pr_auc"],
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


class FraudRegistry:
    """A registry folder (created on first write)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def versions(self) -> Path:
        return self.folder / VERSIONS

    def _write_atomic(self, name: str, text: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / name
        partial = target.with_name(f".{name}.{os.getpid()}.tmp")
        partial.write_text(text)
        os.replace(partial, target)

    def champion(self) -> Champion | None:
        """The champion pointer, or None when no model was ever promoted."""
        path = self.folder / POINTER
        if not path.exists():
            return None
        try:
            values = json.loads(path.read_text())
            return Champion(**{k: values[k] for k in Champion.__dataclass_fields__})
        except (ValueError, KeyError, TypeError) as exc:
            raise RegistryError(f"{path}: not a champion pointer ({exc})") from exc

    def load(self, version: str, sha256: str) -> FraudModel:
        """Load a saved version, refusing a file whose SHA-256 is not ``sha256``."""
        folder = self.versions / version
        if not folder.is_dir():
            raise RegistryError(f"{folder}: model version {version} is missing")
        try:
            return load_model(folder, expected_sha256=sha256)
        except ValueError as exc:
            raise RegistryError(str(exc)) from exc
        except Exception as exc:  # skops: untrusted types, a damaged archive
            raise RegistryError(f"{folder}: cannot load the model ({exc})") from exc

    def load_champion(self) -> FraudModel | None:
        """The champion model (hash checked), or None when there is no champion."""
        champion = self.champion()
        return None if champion is None else self.load(champion.version, champion.sha256)

    def promote(self, saved: SavedModel, metrics: dict[str, Any], why: str) -> Champion:
        """Point the champion at ``saved``."""
        champion = Champion(saved.version, saved.sha256, metrics, _now(), why)
        self._write_atomic(POINTER, json.dumps(asdict(champion), indent=2, default=str) + "\n")
        return champion

    def challenges(self) -> list[dict[str, Any]]:
        """Every challenge record, oldest first."""
        path = self.folder / CHALLENGES
        if not path.exists():
            return []
        records = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise RegistryError(f"{path}: line {number} is not JSON ({exc})") from exc
        return records

    def last_challenge(self) -> dict[str, Any] | None:
        """The latest challenge record, or None."""
        records = self.challenges()
        return records[-1] if records else None

    def _append(self, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / CHALLENGES, "a") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def challenge(
        self,
        challenger: FraudModel,
        holdout: Holdout,
        *,
        review_threshold: int = 65,
        block_threshold: int = 75,
        capacities: tuple[float, ...] = (0.01, 0.05),
        fingerprint: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> ChallengeOutcome:
        """Evaluate ``challenger`` and the champion on ``holdout``, save the challenger as a
        new version, and promote it when its PR-AUC is at least the champion's.

        ``fingerprint`` names the data the challenger was trained on (kept in the record so a
        caller can skip retraining on unchanged data); ``context`` is recorded as given.
        """

        def evaluated(model: FraudModel) -> FraudEvaluation:
            return evaluate(
                holdout.labels,
                model.probability(holdout.features),
                rule_scores(holdout.features),
                days=holdout.days,
                review_threshold=review_threshold,
                block_threshold=block_threshold,
                capacities=capacities,
            )

        window = holdout.describe()
        on = (
            f"on the same holdout ({window['orders']:,} orders, {window['frauds']:,} frauds, "
            f"{window['start']} to {window['end']})"
        )
        challenger_eval = evaluated(challenger)
        new_pr = challenger_eval.scorer(MODEL)["pr_auc"]
        best = challenger_eval.best_rule()
        on += f"; best rule {best['scorer']} PR-AUC {_fmt(best['pr_auc'])}"
        current = self.champion()
        champion_eval: FraudEvaluation | None = None
        if current is None:
            promoted, why = True, f"first model: no champion yet (PR-AUC {_fmt(new_pr)} {on})"
        else:
            try:
                champion_eval = evaluated(self.load(current.version, current.sha256))
            except RegistryError as exc:
                promoted = True
                why = f"the champion {current.version} cannot be used ({exc}): replaced"
            else:
                old_pr = champion_eval.scorer(MODEL)["pr_auc"]
                promoted = new_pr is not None and (old_pr is None or new_pr >= old_pr)
                relation = ">=" if promoted else "<"
                why = (
                    f"challenger PR-AUC {_fmt(new_pr)} {relation} champion {current.version} "
                    f"PR-AUC {_fmt(old_pr)} {on}: " + ("promoted" if promoted else "champion kept")
                )
        saved = save_model(challenger, self.versions, evaluation=challenger_eval)
        champion = (
            self.promote(saved, {**headline(challenger_eval), "holdout": window}, why)
            if promoted
            else current
        )
        assert champion is not None  # promoted whenever there was no champion
        record = {
            "challenged_at": _now(),
            "challenger": saved.version,
            "challenger_sha256": saved.sha256,
            "champion_before": current.version if current else None,
            "champion_after": champion.version,
            "promoted": promoted,
            "why": why,
            "fingerprint": fingerprint,
            "holdout": window,
            "capacities": list(capacities),
            "review_threshold": review_threshold,
            "block_threshold": block_threshold,
            "challenger_evaluation": challenger_eval.to_dict(),
            "champion_evaluation": champion_eval.to_dict() if champion_eval else None,
            "context": context or {},
        }
        self._append(record)
        return ChallengeOutcome(
            promoted, why, saved, champion, challenger_eval, champion_eval, record
        )
