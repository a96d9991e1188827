"""Specialised detectors for the high-value attack categories: business email compromise (CEO
fraud), vendor invoice fraud and account takeover.

Each is a small LightGBM model trained on its own category against safe mail (the other attack
categories left out, so it learns that category's tell-tales, not attack in general), on the
features that matter for that category (:data:`SPECS`), with its own threshold at its own
false-positive budget on the validation days. They are trained on the organisations' own mail
only, never on the pooled real-mail corpora, and read no text-model score (the text model learns
the corpora; a detector reading its score leaned on it almost alone, a generic "attack language"
signal the general model already has, and carried the corpora into a detector): so real safe
mail measures their cost on mail nothing of theirs has seen.

How the verdict combines them with the general model: a message is an attack when the general
model's score reaches the tenant's threshold, a ``force_attack`` rule fires, **or** a kept
detector's score reaches its own threshold. A firing detector acts like a learned
``force_attack`` rule: its verdict score is 1.0, so the general threshold is chosen with its
false positives already counted, and the global false-positive budget stays the one the gate
judges. Why a union: these categories carry few of the signals the general model leans on (no
link, no attachment, a known or plausible sender), so the general model ranks them low among all
attacks; a detector that only sees its category against safe mail ranks them against safe mail
alone. A detector is kept only when, at the same global false-positive budget on the validation
days, the verdict with it catches more of its category and no fewer attacks in all than
without it (:func:`earns_place`), and when its firing on the real corpora's safe mail (never
trained on) stays within its own budget. Reasons name the detector that fired.

Nothing here imports Dagster; the bundle holds the kept detectors as ``detectors.json``
(:mod:`detection.serving.detectors`, which the scorer reads), LightGBM text inside JSON, never
pickle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from detection.model.intervals import Rate
from detection.model.thresholds import threshold_at_fpr
from detection.model.training import TrainParams
from detection.serving.detectors import Detector, DetectorSet

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

# the categories with a detector, what the reason calls each, and the features it reads (never
# the text model's score: see the module's docstring)
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


# a detector is small: few leaves, few rounds, most features in every tree
DETECTOR_TRAINING = TrainParams(num_boost_round=120, num_leaves=7, feature_fraction=0.8)


@dataclass(frozen=True)
class DetectorParams:
    """What a run may change of a detector's training, and its own FP budget."""

    num_boost_round: int = DETECTOR_TRAINING.num_boost_round
    num_leaves: int = DETECTOR_TRAINING.num_leaves
    fp_budget: float = 0.0005  # each detector's own false-positive budget on validation safe mail

    def train_params(self, base: TrainParams) -> TrainParams:
        """The LightGBM parameters: the detector's shape with ``base``'s seed and threads."""
        return replace(
            DETECTOR_TRAINING,
            seed=base.seed,
            num_threads=base.num_threads,
            num_boost_round=self.num_boost_round,
            num_leaves=self.num_leaves,
        )


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


def own_threshold(y: np.ndarray, scores: np.ndarray, budget: float) -> tuple[float, str]:
    """A detector's threshold at its own FP ``budget`` on the validation days' rows (labels
    ``y``, its ``scores``), or why there is none (then the threshold is NaN). A bundle's
    threshold is a probability in (0, 1], so a model under which more safe messages than the
    budget allows score exactly 1.0 (saturated) has none: capping the threshold at 1.0 would
    flag them all."""
    threshold = threshold_at_fpr(y, scores, budget)
    safe = int((y == 0).sum())
    if threshold > 1.0:
        saturated = int(((scores >= 1.0) & (y == 0)).sum())
        return math.nan, (
            f"{saturated} of the validation days' {safe} safe messages score 1.0 (the model is "
            f"saturated), more than its FP budget {budget:g} allows: not trained (its features do "
            "not tell its category from later safe mail; docs/oncall.md)"
        )
    if threshold <= 0.0:
        return math.nan, (
            f"its FP budget {budget:g} allows every one of the validation days' {safe} safe "
            "messages: not trained (land more days)"
        )
    return threshold, ""


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
    threshold, why_not = own_threshold(y_held, scores, params.fp_budget)
    if why_not:
        return Trained(category, None, why_not)
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
        Rate.among(flagged, y_held == 1),
        Rate.among(flagged, y_held == 0),
    )


@dataclass(frozen=True)
class Place:
    """Whether a detector earns its place beside the general model: its category's recall and
    all attacks' recall in the validation days at the same global FP budget without and with it
    (the general threshold re-chosen each time), and its firing on the real corpora's safe mail.
    Kept when it catches more of its category, no fewer attacks in all, and stays within its own
    budget on real safe mail. A gain of one message is enough to keep it on the validation days;
    the test days, held out from this choice, report before and after with intervals."""

    category: str
    kept: bool
    reason: str
    without: Rate
    with_detector: Rate
    fpr_without: Rate
    fpr_with: Rate
    real_safe_fired: Rate | None
    all_without: Rate | None = None  # every attack of the validation days, without and with it
    all_with: Rate | None = None
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

    def rates(scores: np.ndarray) -> tuple[Rate, Rate, Rate]:
        threshold = min(max(threshold_at_fpr(y, scores, budget), 0.0), 1.0)
        flagged = scores >= threshold
        return Rate.among(flagged, mine), Rate.among(flagged, y == 0), Rate.among(flagged, y == 1)

    without, fpr_without, all_without = rates(verdict_scores)
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
            all_without,
            all_without,
            judged=False,
        )
    detector = trained.detector
    fires = detector.fires(validation)
    with_detector, fpr_with, all_with = rates(np.where(fires, 1.0, verdict_scores))
    real = None
    if real_safe is not None and len(real_safe):
        real = Rate.of(int(detector.fires(real_safe).sum()), len(real_safe))
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
    elif all_with.k < all_without.k:
        reasons.append(
            f"catches {with_detector.k - without.k} more {trained.category} attacks but "
            f"{all_without.k - all_with.k} fewer attacks in all at the global budget (its false "
            "positives raise the general threshold): it does not earn its place"
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
        all_without,
        all_with,
        judged=judged,
        over_budget_on_real_mail=over,
    )


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

    def save(self, path: Location) -> Location:
        from detection import handoff

        return handoff.save(self, path, TRAINING_FORMAT)

    @classmethod
    def load(cls, path: Location) -> DetectorTraining:
        from detection import handoff

        return handoff.load(cls, path, TRAINING_FORMAT, TRAINING_PRODUCER)


def choose_detectors(
    trained: tuple[Trained, ...],
    validation: pd.DataFrame,
    verdict_scores: np.ndarray,
    budget: float,
    real_safe: pd.DataFrame | None,
) -> tuple[DetectorSet, tuple[Place, ...], np.ndarray]:
    """Judge the trained detectors one after another (:func:`earns_place`), each against the
    general model plus the detectors kept before it: the kept ones, every judgement, and the
    verdict scores on ``validation`` with the kept ones (1.0 where one fires)."""
    kept: list[Detector] = []
    places = []
    scores = verdict_scores
    for one in trained:
        place = earns_place(one, validation, scores, budget, real_safe)
        places.append(place)
        if place.kept and one.detector is not None:
            kept.append(one.detector)
            scores = np.where(one.detector.fires(validation), 1.0, scores)
    return DetectorSet(tuple(kept)), tuple(places), scores


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
    detectors_fired: np.ndarray,
    threshold: float,
    threshold_without: float,
) -> tuple[Effect, ...]:
    """Before and after the detectors (``detectors_fired``: the rows a kept one fires on) on
    ``frame``, each at its own global threshold (both chosen at the same validation FP
    budget)."""
    y = frame["is_attack"].to_numpy()
    categories = frame["category"].astype(str).to_numpy()
    before = np.where(rules_forced, 1.0, model_scores) >= threshold_without
    after = np.where(rules_forced | detectors_fired, 1.0, model_scores) >= threshold

    def pair(name: str, mask: np.ndarray) -> Effect:
        return Effect(name, Rate.among(before, mask), Rate.among(after, mask))

    slices = [pair(category, (y == 1) & (categories == category)) for category in SPECS]
    return (*slices, pair("all attacks", y == 1), pair("safe mail (FPR)", y == 0))
