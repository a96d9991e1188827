"""Real-mail evaluation held out by source and by time, with thresholds chosen without the
held-out part.

The population is the labelled mail of pooled corpora (tenants ``corpus:*``): real messages from
unrelated mailboxes, each with its ``source``. Every split refits the whole stack (text model with
out-of-fold scores, LightGBM, the rules) on everything else that is labelled for training, the
simulated tenants included, and scores the held-out part:

- ``safe source held out`` (one fold per safe source, with a random share of the attacks): the
  threshold is the strictest per-source threshold at the FP budget over the *other* folds'
  held-out safe scores, so the held-out source never sets its own bar;
- ``attack source held out`` (one fold per attack source): recall on an attack source the model
  never saw, at the threshold from a held-out share of safe mail;
- ``random`` and ``time held out`` (train before the cutoff date, test after it): the threshold
  comes from a calibration share carved out of the training part.

The deployment's real-mail threshold is the strictest per-source threshold over all the
safe-source folds' held-out safe scores: on those sources, which the scoring models never saw,
each stays within the budget.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from detection import handoff
from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.model.evaluation import (
    NOT_ENOUGH,
    Judgement,
    judge_ceiling,
    judge_floor,
    rate_metadata,
)
from detection.model.intervals import Rate
from detection.model.policy import GatePolicy
from detection.model.thresholds import source_threshold, threshold_at_fpr, verdict_threshold
from detection.simulation.corpus_text import provenance

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

FORMAT_VERSION = 1
PRODUCER = "real_mail_evaluation"
FPR_POINTS = (0.001, 0.005, 0.01)
SAFE_SOURCE = "safe source held out"
ATTACK_SOURCE = "attack source held out"
RANDOM = "random"
TIME = "time held out"

# scores the rows ``test`` of the frame after fitting on the rows ``train``
FitScore = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SplitResult:
    name: str
    kind: str
    held_out: str
    train_rows: int
    threshold: float
    recall: Rate
    fpr: Rate | None  # None where the held-out part has no safe mail of its own
    pr_auc: float
    roc_auc: float
    recall_at_fpr: dict[str, float]  # recall at the test part's own FPR points (no threshold)
    flagged_by_source: dict[str, Rate]


@dataclass(frozen=True)
class HoldoutReport:
    judged: bool  # False: no pooled corpus with two safe and one attack source was landed
    reason: str
    budget: float
    messages_by_source: dict[str, int] = field(default_factory=dict)
    splits: list[SplitResult] = field(default_factory=list)
    threshold: float = float("nan")  # the deployment's real-mail threshold
    safe_source_mean_recall: float = float("nan")
    safe_source_max_fpr: float = float("nan")

    def save(self, path: Location) -> Location:
        return handoff.save(self, path, FORMAT_VERSION)

    @classmethod
    def load(cls, path: Location) -> HoldoutReport:
        return handoff.load(cls, path, FORMAT_VERSION, PRODUCER)

    def of_kind(self, kind: str) -> list[SplitResult]:
        return [s for s in self.splits if s.kind == kind]

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


def corpus_rows(frame: pd.DataFrame) -> np.ndarray:
    """Positions of the labelled mail of pooled corpora."""
    pooled = frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX)
    return np.flatnonzero((pooled & frame["label"].notna()).to_numpy())


def _partition(positions: np.ndarray, groups: np.ndarray, parts: int, seed: int) -> np.ndarray:
    """A part number (0..parts-1) per position, stratified by ``groups``, seeded."""
    rng = np.random.default_rng(seed)
    assigned = np.zeros(len(positions), dtype=int)
    for group in sorted(set(groups)):
        members = rng.permutation(np.flatnonzero(groups == group))
        assigned[members] = np.arange(len(members)) % parts
    return assigned


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")


def _result(
    name: str,
    kind: str,
    held_out: str,
    train_rows: int,
    threshold: float,
    y: np.ndarray,
    scores: np.ndarray,
    sources: np.ndarray,
    own_safe: np.ndarray,
) -> SplitResult:
    from sklearn.metrics import average_precision_score

    flagged = scores >= threshold
    attacks, safe = y == 1, (y == 0) & own_safe
    recall_at = {}
    if attacks.any() and safe.any():
        for point in FPR_POINTS:
            at = threshold_at_fpr(y[attacks | safe], scores[attacks | safe], point)
            recall_at[f"{point:g}"] = float((scores[attacks] >= at).mean())
    return SplitResult(
        name=name,
        kind=kind,
        held_out=held_out,
        train_rows=train_rows,
        threshold=threshold,
        recall=Rate.of(int(flagged[attacks].sum()), int(attacks.sum())),
        fpr=Rate.of(int(flagged[safe].sum()), int(safe.sum())) if safe.any() else None,
        pr_auc=float(average_precision_score(y, scores)) if 0 < y.sum() < len(y) else float("nan"),
        roc_auc=_auc(y, scores),
        recall_at_fpr=recall_at,
        flagged_by_source={
            str(source): Rate.of(
                int(flagged[sources == source].sum()), int((sources == source).sum())
            )
            for source in sorted(set(sources))
        },
    )


@dataclass
class _Held:
    positions: np.ndarray
    scores: np.ndarray


def evaluate_holdouts(
    frame: pd.DataFrame,
    trainable: np.ndarray,
    fit_score: FitScore,
    *,
    budget: float,
    time_cutoff: pd.Timestamp,
    seed: int,
) -> tuple[HoldoutReport, pd.DataFrame]:
    """Every split over the pooled corpus rows of ``frame``; ``trainable`` marks the rows any
    split may train on (the candidate's training rows). Returns the report and the held-out
    scores (one row per split and message)."""
    import pandas as pd

    corpus = corpus_rows(frame)
    y_all = frame["is_attack"].to_numpy(dtype=int)
    source_all = frame["source"].fillna("").astype(str).to_numpy()
    by_source = {str(s): int(n) for s, n in pd.Series(source_all[corpus]).value_counts().items()}
    safe_sources = sorted(set(source_all[corpus][y_all[corpus] == 0]))
    attack_sources = sorted(set(source_all[corpus][y_all[corpus] == 1]))
    if len(safe_sources) < 2 or not attack_sources:
        reason = (
            f"no labelled corpus to hold out by source (pooled tenants {POOLED_TENANT_PREFIX}*: "
            f"safe sources {safe_sources}, attack sources {attack_sources}; two safe sources and "
            "one attack source are needed); land one with ingest_job (make run does when "
            "../shared/data/real-mail is present)"
        )
        return HoldoutReport(False, reason, budget, by_source), pd.DataFrame()
    trainable_set = np.zeros(len(frame), dtype=bool)
    trainable_set[trainable] = True
    # simulated mail that took its words from the corpus (simulation.corpus_text): a split that
    # holds a source or a message out leaves such rows out of training too
    origins = [provenance(s) or ("", "") for s in source_all]
    origin_source = np.array([o[0] for o in origins], dtype=object)
    origin_id = np.array([o[1] for o in origins], dtype=object)
    ids = frame["message_id"].astype(str).to_numpy()

    def leaked(test: np.ndarray, sources: list[str]) -> np.ndarray:
        held = np.isin(origin_id, ids[test]) & (origin_id != "")
        if sources:
            held |= np.isin(origin_source, sources)
        return np.flatnonzero(held)

    splits: list[SplitResult] = []
    held_rows: list[pd.DataFrame] = []

    def run(test: np.ndarray, sources: list[str]) -> tuple[np.ndarray, int]:
        """Fit without ``test``, without simulated mail that took its words from a message in
        ``test`` or from one of ``sources``; score ``test``."""
        train_mask = trainable_set.copy()
        train_mask[test] = False
        train_mask[leaked(test, sources)] = False
        train = np.flatnonzero(train_mask)
        return fit_score(train, test), len(train)

    def keep(name: str, test: np.ndarray, scores: np.ndarray) -> None:
        held_rows.append(
            pd.DataFrame(
                {
                    "split": name,
                    "message_id": frame["message_id"].to_numpy()[test],
                    "source": source_all[test],
                    "is_attack": y_all[test],
                    "score": scores,
                }
            )
        )

    # leave one safe source out, with a matching share of the attacks
    attacks = corpus[y_all[corpus] == 1]
    attack_part = _partition(attacks, source_all[attacks], len(safe_sources), seed)
    folds: dict[str, _Held] = {}
    train_sizes: dict[str, int] = {}
    for k, source in enumerate(safe_sources):
        test = np.concatenate([corpus[source_all[corpus] == source], attacks[attack_part == k]])
        scores, size = run(test, [source])
        folds[source], train_sizes[source] = _Held(test, scores), size
    for source, held in folds.items():
        others = {
            other: h.scores[y_all[h.positions] == 0]
            for other, h in folds.items()
            if other != source
        }
        threshold = verdict_threshold(source_threshold(others, budget))
        own_safe = source_all[held.positions] == source
        name = f"{SAFE_SOURCE}: {source}"
        splits.append(
            _result(
                name,
                SAFE_SOURCE,
                source,
                train_sizes[source],
                threshold,
                y_all[held.positions],
                held.scores,
                source_all[held.positions],
                own_safe,
            )
        )
        keep(name, held.positions, held.scores)
    deployment = verdict_threshold(
        source_threshold(
            {
                s: h.scores[(y_all[h.positions] == 0) & (source_all[h.positions] == s)]
                for s, h in folds.items()
            },
            budget,
        )
    )

    # leave one attack source out; the threshold from a held-out third of the safe mail
    safe = corpus[y_all[corpus] == 0]
    safe_part = _partition(safe, source_all[safe], 3, seed)
    for source in attack_sources:
        calibration = safe[safe_part == 0]
        test = np.concatenate([corpus[source_all[corpus] == source], calibration])
        scores, size = run(test, [source])
        is_calibration = np.isin(test, calibration)
        threshold = verdict_threshold(
            source_threshold(
                {s: scores[is_calibration & (source_all[test] == s)] for s in safe_sources},
                budget,
            )
        )
        name = f"{ATTACK_SOURCE}: {source}"
        splits.append(
            _result(
                name,
                ATTACK_SOURCE,
                source,
                size,
                threshold,
                y_all[test],
                scores,
                source_all[test],
                np.zeros(len(test), dtype=bool),
            )
        )
        keep(name, test[~is_calibration], scores[~is_calibration])

    # random: a stratified quarter held out, thresholds from a sixth carved from the rest
    strata = np.array([f"{y_all[i]}|{source_all[i]}" for i in corpus])
    part = _partition(corpus, strata, 12, seed)
    test, calibration = corpus[part < 3], corpus[(part >= 3) & (part < 5)]
    splits.append(
        _calibrated(
            RANDOM, "a stratified quarter", test, calibration, run, budget, y_all, source_all, keep
        )
    )

    # time: train before the cutoff, test from it
    at = frame["received_at"].to_numpy()[corpus]
    before, after = corpus[at < time_cutoff], corpus[at >= time_cutoff]
    if len(set(y_all[before])) == 2 and len(set(y_all[after])) == 2:
        before_safe = before[y_all[before] == 0]
        carve = _partition(before_safe, source_all[before_safe], 5, seed) == 0
        held_out = f"from {time_cutoff.date()}"
        splits.append(
            _calibrated(
                TIME, held_out, after, before_safe[carve], run, budget, y_all, source_all, keep
            )
        )

    safe_folds = [s for s in splits if s.kind == SAFE_SOURCE]
    report = HoldoutReport(
        judged=True,
        reason="",
        budget=budget,
        messages_by_source=by_source,
        splits=splits,
        threshold=deployment,
        safe_source_mean_recall=float(np.mean([s.recall.value for s in safe_folds])),
        safe_source_max_fpr=max(s.fpr.value for s in safe_folds if s.fpr is not None),
    )
    return report, pd.concat(held_rows, ignore_index=True)


def _calibrated(
    name: str,
    held_out: str,
    test: np.ndarray,
    calibration: np.ndarray,
    run: Callable[[np.ndarray, list[str]], tuple[np.ndarray, int]],
    budget: float,
    y_all: np.ndarray,
    source_all: np.ndarray,
    keep: Callable[[str, np.ndarray, np.ndarray], None],
) -> SplitResult:
    """Hold out ``test`` and ``calibration``; the threshold from the calibration safe mail."""
    both = np.concatenate([test, calibration])
    scores, size = run(both, [])
    in_test = np.arange(len(both)) < len(test)
    calibration_scores = scores[~in_test]
    safe_scores = {
        str(s): calibration_scores[(y_all[calibration] == 0) & (source_all[calibration] == s)]
        for s in set(source_all[calibration])
    }
    threshold = verdict_threshold(source_threshold(safe_scores, budget))
    keep(name, test, scores[in_test])
    return _result(
        name,
        name,
        held_out,
        size,
        threshold,
        y_all[test],
        scores[in_test],
        source_all[test],
        np.ones(len(test), dtype=bool),
    )


def judge_real_mail(report: HoldoutReport, policy: GatePolicy) -> Judgement:
    """Recall over the safe-source folds (pooled) judged on its lower bound against the policy's
    real_mail_recall_floor (from at least min_attacks attacks); each held-out safe source's FPR
    on its upper bound against source_fpr_cap (from at least min_source_safe safe messages)."""
    folds = report.of_kind(SAFE_SOURCE)
    recall = Rate.of(sum(f.recall.k for f in folds), sum(f.recall.n for f in folds))
    recall_verdict = judge_floor(recall, policy.real_mail_recall_floor, policy.min_attacks)
    sources = {
        f.held_out: judge_ceiling(f.fpr, policy.source_fpr_cap, policy.min_source_safe)
        for f in folds
        if f.fpr is not None
    }
    verdicts = [recall_verdict, *sources.values()]
    verdict = "fail" if "fail" in verdicts else NOT_ENOUGH if NOT_ENOUGH in verdicts else "pass"
    return Judgement(
        passed=verdict == "pass",
        metadata={
            "verdict": verdict,
            "recall": rate_metadata(recall),
            "recall_floor_on_lower_bound": policy.real_mail_recall_floor,
            "source_fpr": {
                f.held_out: {**rate_metadata(f.fpr), "verdict": sources[f.held_out]}
                for f in folds
                if f.fpr is not None
            },
            "source_fpr_cap_on_upper_bound": policy.source_fpr_cap,
            "fp_budget": report.budget,
        },
    )
