"""Specialised detectors for the high-value attack categories: business email compromise (CEO
fraud), vendor invoice fraud and account takeover.

Each is a small LightGBM model trained on its own category against safe mail (the other attack
categories left out, so it learns that category's tell-tales, not attack in general), on the
features that matter for that category (:data:`SPECS`), with its own threshold at its own
false-positive budget on the validation days. They are trained on the organisations' own mail
only, never on the pooled real-mail corpora, so every real message is held out from them.

How the verdict combines them with the general model: a message is an attack when the general
model's score reaches the tenant's threshold, a ``force_attack`` rule fires, **or** a kept
detector's score reaches its own threshold. A firing detector acts like a learned
``force_attack`` rule: its verdict score is 1.0, so the general threshold is chosen with its
false positives already counted, and the global false-positive budget stays the one the gate
judges. Why a union: these categories carry few of the signals the general model leans on (no
link, no attachment, a known or plausible sender), so the general model ranks them low among all
attacks; a detector that only sees its category against safe mail ranks them against safe mail
alone. A detector is kept only when, at the same global false-positive budget on the validation
days, the verdict with it catches more of its category than without it (:func:`earns_place`),
and when its firing on the real corpora's safe mail (all held out from it) stays within its own
budget. Reasons name the detector that fired.

Nothing here imports Dagster; the bundle holds the kept detectors as ``detectors.json``
(:meth:`DetectorSet.to_bytes`), LightGBM text inside JSON, never pickle.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.model.intervals import Rate
from detection.model.thresholds import threshold_at_fpr
from detection.model.training import TrainParams

if TYPE_CHECKING:
    import lightgbm as lgb
    import pandas as pd

    from detection.serving.artifact import Bundle

DETECTORS_FORMAT = 1
# the categories with a detector, what the reason calls each, and the features it reads
SPECS: dict[str, tuple[str, tuple[str, ...]]] = {
    "bec": (
        "business email compromise (CEO fraud)",
        (
            "sender_is_freemail",
            "display_name_has_other_domain",
            "display_name_has_confusables",
            "reply_to_domain_differs",
            "terms_urgency",
            "terms_payment",
            "terms_secrecy",
            "terms_bank_change",
            "subject_urgency",
            "url_count",
            "attachment_count",
            "body_length_log",
            "text_score",
            "sender_prior_messages",
            "sender_days_since_first_seen",
            "pair_prior_messages",
            "recipient_has_replied",
            "domain_prior_messages",
            "display_name_prior_addresses",
            "display_name_seen_internal",
            "display_name_vip_external",
            "recipient_first_time_sender_share",
            "sender_lookalike_of_known_domain",
        ),
    ),
    "vendor_fraud": (
        "vendor invoice fraud",
        (
            "terms_payment",
            "terms_bank_change",
            "terms_urgency",
            "reply_to_domain_differs",
            "sender_brand_lookalike",
            "sender_lookalike_of_known_domain",
            "sender_is_freemail",
            "attachment_pdf",
            "attachment_count",
            "url_count",
            "body_length_log",
            "text_score",
            "sender_prior_messages",
            "sender_days_since_first_seen",
            "pair_prior_messages",
            "domain_prior_messages",
            "domain_days_since_first_seen",
            "recipient_has_replied",
            "display_name_prior_addresses",
        ),
    ),
    "account_takeover": (
        "account takeover (a known sender's account sending attacks)",
        (
            "known_sender_new_link_domains",
            "url_domains_new_to_tenant",
            "url_count",
            "url_domain_differs_from_sender",
            "url_call_to_action_text",
            "url_free_hosting",
            "url_shortener",
            "links_per_100_words",
            "terms_credential",
            "terms_urgency",
            "terms_payment",
            "html_form",
            "attachment_html",
            "attachment_count",
            "body_length_log",
            "text_score",
            "sender_prior_messages",
            "pair_prior_messages",
            "recipient_has_replied",
            "domain_prior_messages",
        ),
    ),
}
# a detector is not trained from fewer attacks of its category than this in the training days,
# nor kept on fewer than MIN_VALIDATION_ATTACKS in the validation days (not enough evidence)
MIN_TRAINING_ATTACKS = 20
MIN_VALIDATION_ATTACKS = 10
# a detectors.json larger than this is refused (three small models are a few hundred KB)
MAX_DETECTORS_BYTES = 16 * 1024 * 1024


class DetectorError(ValueError):
    """A detectors file that cannot be used; the message says what is wrong."""


@dataclass(frozen=True)
class DetectorParams:
    """A detector is small: few leaves, few rounds, most features in every tree."""

    num_boost_round: int = 120
    learning_rate: float = 0.05
    num_leaves: int = 7
    min_data_in_leaf: int = 10
    feature_fraction: float = 0.8
    fp_budget: float = 0.0005  # each detector's own false-positive budget on validation safe mail

    def train_params(self, base: TrainParams) -> TrainParams:
        return TrainParams(
            seed=base.seed,
            num_boost_round=self.num_boost_round,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_data_in_leaf=self.min_data_in_leaf,
            feature_fraction=self.feature_fraction,
            num_threads=base.num_threads,
        )


@dataclass(frozen=True)
class Detector:
    category: str
    description: str
    features: tuple[str, ...]
    threshold: float
    fp_budget: float
    lightgbm_text: str = field(repr=False)

    @property
    def name(self) -> str:
        return self.category

    @cached_property
    def booster(self) -> lgb.Booster:
        import lightgbm as lgb

        return lgb.Booster(model_str=self.lightgbm_text)

    def scores(self, matrix: np.ndarray) -> np.ndarray:
        """Scores of rows of this detector's features (shape ``(n, features)``)."""
        return np.asarray(self.booster.predict(matrix, num_threads=1), dtype=float)

    def frame_scores(self, frame: pd.DataFrame) -> np.ndarray:
        return self.scores(frame[list(self.features)].to_numpy(dtype=float))

    def score_one(self, values: Mapping[str, float]) -> float:
        row = np.array([[values[name] for name in self.features]], dtype=float)
        return float(self.scores(row)[0])

    def reason(self, score: float) -> str:
        return (
            f"detector {self.name}: {self.description}, score {score:.3f} >= its threshold "
            f"{self.threshold:.3f} (FP budget {self.fp_budget:g})"
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category,
            "description": self.description,
            "features": list(self.features),
            "threshold": self.threshold,
            "fp_budget": self.fp_budget,
            "lightgbm_text": self.lightgbm_text,
        }


@dataclass(frozen=True)
class DetectorSet:
    """The kept detectors of a model (possibly none)."""

    detectors: tuple[Detector, ...] = ()

    def __len__(self) -> int:
        return len(self.detectors)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.detectors)

    def fired_by(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """Per detector, the rows it fires on."""
        return {d.name: d.frame_scores(frame) >= d.threshold for d in self.detectors}

    def fired(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows on which any detector fires."""
        hits = np.zeros(len(frame), dtype=bool)
        for mask in self.fired_by(frame).values():
            hits |= mask
        return hits

    def fired_one(self, values: Mapping[str, float]) -> list[tuple[Detector, float]]:
        """The detectors that fire on one message's feature values, with their scores."""
        scored = ((d, d.score_one(values)) for d in self.detectors)
        return [(d, s) for d, s in scored if s >= d.threshold]

    def to_bytes(self) -> bytes:
        document = {
            "format_version": DETECTORS_FORMAT,
            "detectors": [d.as_dict() for d in self.detectors],
        }
        return json.dumps(document, indent=1, sort_keys=True).encode()

    @classmethod
    def from_bytes(
        cls, data: bytes, features: set[str], where: str = "detectors.json"
    ) -> DetectorSet:
        """Read and validate a detectors file; ``features`` are those the scorer computes."""
        if len(data) > MAX_DETECTORS_BYTES:
            raise DetectorError(f"{where} is {len(data)} bytes, over {MAX_DETECTORS_BYTES}")
        try:
            document = json.loads(data)
        except ValueError as exc:
            raise DetectorError(f"{where} is not JSON ({exc}); rebuild the bundle") from exc
        found = document.get("format_version") if isinstance(document, dict) else None
        if found != DETECTORS_FORMAT:
            raise DetectorError(
                f"{where}: format {found} is not the {DETECTORS_FORMAT} this code reads; "
                "rebuild the bundle"
            )
        entries = document.get("detectors")
        if not isinstance(entries, list):
            raise DetectorError(f"{where}: 'detectors' must be a list")
        return cls(
            tuple(_detector(entry, features, f"{where}[{i}]") for i, entry in enumerate(entries))
        )


def detectors_of(bundle: Bundle) -> DetectorSet:
    """A bundle's specialised detectors (none before bundle format 3), validated; a malformed
    file is a :class:`~detection.serving.artifact.BundleError`."""
    from detection.serving.artifact import BundleError

    data = bundle.detectors
    if data is None:
        return DetectorSet()
    try:
        return DetectorSet.from_bytes(
            data, set(bundle.features), f"bundle {bundle.version} detectors.json"
        )
    except DetectorError as exc:
        raise BundleError(str(exc)) from exc


def _detector(entry: Any, features: set[str], where: str) -> Detector:
    if not isinstance(entry, dict):
        raise DetectorError(f"{where} must be an object")
    try:
        detector = Detector(
            category=str(entry["category"]),
            description=str(entry["description"]),
            features=tuple(str(f) for f in entry["features"]),
            threshold=float(entry["threshold"]),
            fp_budget=float(entry["fp_budget"]),
            lightgbm_text=str(entry["lightgbm_text"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DetectorError(f"{where}: malformed detector ({exc!r}); rebuild the bundle") from exc
    unknown = sorted(set(detector.features) - features)
    if unknown:
        raise DetectorError(f"{where} ({detector.name}) reads unknown features {unknown}")
    if not math.isfinite(detector.threshold):
        raise DetectorError(f"{where} ({detector.name}) has a non-finite threshold")
    return detector


# --- training ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trained:
    """A detector as trained, or the reason none was (``detector`` is None)."""

    category: str
    detector: Detector | None
    reason: str
    validation_recall: Rate | None = None  # its category in the validation days, alone
    validation_fpr: Rate | None = None  # validation safe mail it fires on


def _category_rows(frame: pd.DataFrame, category: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The category's attacks and the safe mail, with labels (1 for the category)."""
    categories = frame["category"].astype(str).to_numpy()
    safe = frame["is_attack"].to_numpy() == 0
    chosen = frame.loc[safe | (categories == category)]
    return chosen, (chosen["category"].astype(str).to_numpy() == category).astype(int)


def train_detector(
    category: str,
    train: pd.DataFrame,
    validation: pd.DataFrame,
    params: DetectorParams,
    base: TrainParams,
) -> Trained:
    """One detector on ``train`` (the organisations' own training days) with its threshold at
    ``params.fp_budget`` on ``validation``'s safe mail."""
    from detection.model.training import train_booster

    description, features = SPECS[category]
    rows, y = _category_rows(train, category)
    if int(y.sum()) < MIN_TRAINING_ATTACKS:
        return Trained(
            category,
            None,
            f"{int(y.sum())} {category} attacks in the training days, fewer than "
            f"{MIN_TRAINING_ATTACKS}: not trained (simulate or land more days)",
        )
    booster = train_booster(rows.assign(is_attack=y), list(features), params.train_params(base))
    held, y_held = _category_rows(validation, category)
    scores = np.asarray(booster.predict(held[list(features)].to_numpy(dtype=float)), dtype=float)
    threshold = min(max(threshold_at_fpr(y_held, scores, params.fp_budget), 0.0), 1.0)
    detector = Detector(
        category,
        description,
        tuple(features),
        threshold,
        params.fp_budget,
        booster.model_to_string(),
    )
    flagged = scores >= threshold
    return Trained(
        category,
        detector,
        "trained",
        Rate.of(int((flagged & (y_held == 1)).sum()), int((y_held == 1).sum())),
        Rate.of(int((flagged & (y_held == 0)).sum()), int((y_held == 0).sum())),
    )


@dataclass(frozen=True)
class Place:
    """Whether a detector earns its place beside the general model: its category's recall in the
    validation days at the same global FP budget without and with it (the general threshold
    re-chosen each time), and its firing on the real corpora's safe mail."""

    category: str
    kept: bool
    reason: str
    without: Rate
    with_detector: Rate
    fpr_without: Rate
    fpr_with: Rate
    real_safe_fired: Rate | None
    judged: bool = True  # trained, and enough of its category in the validation days to judge
    over_budget_on_real_mail: bool = False  # fires on real safe mail beyond its own budget


def earns_place(
    trained: Trained,
    validation: pd.DataFrame,
    verdict_scores: np.ndarray,
    budget: float,
    real_safe: pd.DataFrame | None,
) -> Place:
    """Judge one trained detector. ``verdict_scores`` are the general model's verdict scores on
    ``validation`` (the model's, 1.0 where a force_attack rule or an already kept detector
    fires); ``budget`` the global false-positive budget the general threshold is chosen at."""
    y = validation["is_attack"].to_numpy()
    mine = validation["category"].astype(str).to_numpy() == trained.category

    def rates(scores: np.ndarray) -> tuple[Rate, Rate]:
        threshold = min(max(threshold_at_fpr(y, scores, budget), 0.0), 1.0)
        flagged = scores >= threshold
        return (
            Rate.of(int((flagged & mine).sum()), int(mine.sum())),
            Rate.of(int((flagged & (y == 0)).sum()), int((y == 0).sum())),
        )

    without, fpr_without = rates(verdict_scores)
    if trained.detector is None:
        return Place(
            trained.category,
            False,
            trained.reason,
            without,
            without,
            fpr_without,
            fpr_without,
            None,
            judged=False,
        )
    detector = trained.detector
    fires = detector.frame_scores(validation) >= detector.threshold
    with_detector, fpr_with = rates(np.where(fires, 1.0, verdict_scores))
    real = None
    if real_safe is not None and len(real_safe):
        hits = detector.frame_scores(real_safe) >= detector.threshold
        real = Rate.of(int(hits.sum()), len(real_safe))
    judged = without.n >= MIN_VALIDATION_ATTACKS
    over = real is not None and real.low > detector.fp_budget
    reasons = []
    if not judged:
        reasons.append(
            f"{without.n} {trained.category} attacks in the validation days, fewer than "
            f"{MIN_VALIDATION_ATTACKS}: not enough evidence that it helps"
        )
    elif with_detector.k <= without.k:
        reasons.append(
            f"catches {with_detector.k} of {with_detector.n} {trained.category} attacks at the "
            f"global budget, the general model alone {without.k}: it does not earn its place"
        )
    if real is not None and over:
        reasons.append(
            f"fires on {real.k} of {real.n} real safe messages (lower bound {real.low:.4f}, over "
            f"its budget {detector.fp_budget:g}): it learned simulated mail, not the category"
        )
    kept = not reasons
    if kept:
        reasons.append(
            f"catches {with_detector.k - without.k} more of {with_detector.n} "
            f"{trained.category} attacks at the same global budget"
        )
    return Place(
        trained.category,
        kept,
        "; ".join(reasons),
        without,
        with_detector,
        fpr_without,
        fpr_with,
        real,
        judged=judged,
        over_budget_on_real_mail=over,
    )


def detector_verdict_scores(
    model_scores: np.ndarray, forced: np.ndarray, detectors: DetectorSet, frame: pd.DataFrame
) -> np.ndarray:
    """The verdict score with detectors: 1.0 where a rule forces attack or a detector fires."""
    return np.where(forced | detectors.fired(frame), 1.0, model_scores)


# --- the stage's hand-off ------------------------------------------------------------------------
TRAINING_FORMAT = 1
TRAINING_PRODUCER = "specialised_detectors"


@dataclass(frozen=True)
class DetectorTraining:
    """What ``specialised_detectors`` hands to ``candidate_model``: every category's detector as
    trained (or why none was) and the parameters."""

    trained: tuple[Trained, ...]
    params: dict[str, Any]
    run_id: str = ""

    def save(self, path: Path) -> Path:
        from detection import handoff

        return handoff.save(self, path, TRAINING_FORMAT)

    @classmethod
    def load(cls, path: Path) -> DetectorTraining:
        from detection import handoff

        return handoff.load(cls, path, TRAINING_FORMAT, TRAINING_PRODUCER)


def choose_detectors(
    trained: tuple[Trained, ...],
    validation: pd.DataFrame,
    verdict_scores: np.ndarray,
    budget: float,
    real_safe: pd.DataFrame | None,
) -> tuple[DetectorSet, tuple[Place, ...]]:
    """Judge the trained detectors one after another (:func:`earns_place`), each against the
    general model plus the detectors kept before it; the kept ones and every judgement."""
    kept: list[Detector] = []
    places = []
    scores = verdict_scores
    for one in trained:
        place = earns_place(one, validation, scores, budget, real_safe)
        places.append(place)
        if place.kept and one.detector is not None:
            kept.append(one.detector)
            fires = one.detector.frame_scores(validation) >= one.detector.threshold
            scores = np.where(fires, 1.0, scores)
    return DetectorSet(tuple(kept)), tuple(places)


@dataclass(frozen=True)
class Effect:
    """One slice of a window before (the general model and rules at the threshold it would have
    alone) and after (with the kept detectors, at the candidate's threshold): a category's
    recall, ``all attacks``' recall, or ``safe mail``'s false-positive rate."""

    slice: str
    before: Rate
    after: Rate


def effects(
    frame: pd.DataFrame,
    model_scores: np.ndarray,
    rules_forced: np.ndarray,
    detectors: DetectorSet,
    threshold: float,
    threshold_without: float,
) -> tuple[Effect, ...]:
    """Before and after the detectors on ``frame``, each at its own global threshold (both
    chosen at the same validation FP budget)."""
    y = frame["is_attack"].to_numpy()
    categories = frame["category"].astype(str).to_numpy()
    before = np.where(rules_forced, 1.0, model_scores) >= threshold_without
    after = detector_verdict_scores(model_scores, rules_forced, detectors, frame) >= threshold

    def pair(name: str, mask: np.ndarray) -> Effect:
        n = int(mask.sum())
        return Effect(
            name, Rate.of(int((before & mask).sum()), n), Rate.of(int((after & mask).sum()), n)
        )

    slices = [pair(category, (y == 1) & (categories == category)) for category in SPECS]
    return (*slices, pair("all attacks", y == 1), pair("safe mail (FPR)", y == 0))
