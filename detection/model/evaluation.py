"""Evaluation of a candidate on its held-out test window, and the gate's efficacy judgements.

:func:`evaluate` scores the window with the candidate (model, and the rules that force an attack
verdict) and returns the typed :class:`Evaluation` the evaluation stage hands on, plus the scores
behind it. The ``judge_*`` functions are the blocking efficacy checks, as pure functions of an
evaluation and the :class:`~detection.model.policy.GatePolicy`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection import handoff
from detection.model.candidate import Candidate, Window
from detection.model.detectors import Effect, effects
from detection.model.intervals import Rate
from detection.model.operating_point import OperatingPoint
from detection.model.policy import GatePolicy
from detection.model.training import combined_scores, predict
from detection.rules import RuleSet

if TYPE_CHECKING:
    import pandas as pd

    from detection.storage import Location

FORMAT_VERSION = 3  # 1: the untyped evaluation.json of earlier releases; 2: before detectors
PRODUCER = "model_evaluation"


@dataclass(frozen=True)
class Metrics:
    """Detection figures at one threshold, with the counts behind them."""

    recall: float
    precision: float
    fpr: float
    false_positives_per_million: float
    pr_auc: float
    attacks: int
    safe: int
    true_positives: int
    false_positives: int

    @classmethod
    def of(cls, y: np.ndarray, scores: np.ndarray, threshold: float | np.ndarray) -> Metrics:
        from sklearn.metrics import average_precision_score

        predicted = scores >= threshold
        positives, negatives = int(y.sum()), int(len(y) - y.sum())
        tp = int((predicted & (y == 1)).sum())
        fp = int((predicted & (y == 0)).sum())
        fpr = fp / negatives if negatives else 0.0
        both = 0 < positives < len(y)
        return cls(
            recall=tp / positives if positives else float("nan"),
            precision=tp / (tp + fp) if tp + fp else float("nan"),
            fpr=fpr,
            false_positives_per_million=fpr * 1e6,
            pr_auc=float(average_precision_score(y, scores)) if both else float("nan"),
            attacks=positives,
            safe=negatives,
            true_positives=tp,
            false_positives=fp,
        )

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in dataclasses.asdict(self).items()}


def recall_by_category(
    frame: pd.DataFrame, scores: np.ndarray, threshold: float | np.ndarray
) -> dict[str, float]:
    attacks = frame["is_attack"].to_numpy(dtype=bool)
    caught = scores >= threshold
    result = {}
    for category in sorted(frame.loc[attacks, "category"].unique()):
        mask = attacks & (frame["category"].to_numpy() == category)
        result[str(category)] = float(caught[mask].mean())
    return result


@dataclass(frozen=True)
class Evaluation:
    threshold: float
    window: Window
    combined: Metrics  # the verdict: model, or a force_attack rule
    model_only: Metrics
    rules_only: Metrics  # force_attack rules and specialised detectors alone
    recall_by_category: dict[str, float]
    attacks_by_category: dict[str, int]
    by_tenant: dict[str, Metrics]
    evidently_classification: dict[str, float] = dataclasses.field(default_factory=dict)
    # before/after the specialised detectors on the test window, each at its own global
    # validation threshold (detection.model.detectors.effects)
    detector_effects: tuple[Effect, ...] = ()

    def save(self, path: Location) -> Location:
        return handoff.save(self, path, FORMAT_VERSION)

    @classmethod
    def load(cls, path: Location) -> Evaluation:
        return handoff.load(cls, path, FORMAT_VERSION, PRODUCER)

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    def with_classification(self, values: dict[str, float]) -> Evaluation:
        return dataclasses.replace(self, evidently_classification=dict(values))


def candidate_scores(
    frame: pd.DataFrame, candidate: Candidate, rules: RuleSet
) -> tuple[np.ndarray, np.ndarray]:
    """The candidate's model scores, and where its verdict is attack whatever the score: a
    force_attack rule or one of its specialised detectors fires."""
    model_scores, rules_forced = _model_and_rules(frame, candidate, rules)
    return model_scores, rules_forced | candidate.detector_set().fired(frame)


def _model_and_rules(
    frame: pd.DataFrame, candidate: Candidate, rules: RuleSet
) -> tuple[np.ndarray, np.ndarray]:
    import lightgbm as lgb

    booster = lgb.Booster(model_str=candidate.model_text)
    return predict(booster, frame, list(candidate.features)), rules.forced(frame)


def evaluate(
    test: pd.DataFrame, candidate: Candidate, rules: RuleSet, point: OperatingPoint
) -> tuple[Evaluation, pd.DataFrame]:
    """Metrics and slices on the test window at the operating point (each message at its
    tenant's threshold), and the per-message scores behind them."""
    threshold = point.thresholds(test)
    y = test["is_attack"].to_numpy()
    model_scores, rules_forced = _model_and_rules(test, candidate, rules)
    detectors_fired = candidate.detector_set().fired(test)
    forced = rules_forced | detectors_fired
    scores = combined_scores(model_scores, forced)
    tenants = test["tenant_id"].to_numpy()
    by_tenant = {
        str(tenant): Metrics.of(y[mask], scores[mask], threshold[mask])
        for tenant in sorted(set(tenants))
        if (mask := tenants == tenant).any()
    }
    attacks = test.loc[test["is_attack"] == 1, "category"].value_counts()
    evaluation = Evaluation(
        threshold=point.threshold,
        window=candidate.test,
        combined=Metrics.of(y, scores, threshold),
        model_only=Metrics.of(y, model_scores, threshold),
        rules_only=Metrics.of(y, forced.astype(float), np.full(len(y), 0.5)),
        recall_by_category=recall_by_category(test, scores, threshold),
        attacks_by_category={str(k): int(v) for k, v in attacks.items()},
        by_tenant=by_tenant,
        detector_effects=effects(
            test,
            model_scores,
            rules_forced,
            detectors_fired,
            candidate.threshold,
            candidate.threshold_without_detectors,
        ),
    )
    scored = test[["message_id", "tenant_id", "category", "is_attack"]].assign(
        score=scores, model_score=model_scores, forced=forced, threshold=threshold
    )
    return evaluation, scored


@dataclass(frozen=True)
class Judgement:
    """A blocking check's outcome and the evidence it was judged on (plain values).
    ``verdict`` is ``pass``, ``fail`` or ``not enough evidence`` (which blocks: a check never
    passes silently for want of data)."""

    passed: bool
    metadata: dict[str, object]

    @property
    def verdict(self) -> str:
        return str(self.metadata.get("verdict", "pass" if self.passed else "fail"))


NOT_ENOUGH = "not enough evidence"


def rate_metadata(rate: Rate) -> dict[str, object]:
    return {"value": rate.value, "low": rate.low, "high": rate.high, "k": rate.k, "n": rate.n}


def judge_floor(rate: Rate, floor: float, minimum: int) -> str:
    """A rate that must reach ``floor``: judged on its 95% lower bound, with at least
    ``minimum`` trials."""
    if rate.n < minimum:
        return NOT_ENOUGH
    return "pass" if rate.low >= floor else "fail"


def judge_ceiling(rate: Rate, ceiling: float, minimum: int) -> str:
    """A rate that must stay within ``ceiling``: judged on its 95% upper bound, with at least
    ``minimum`` trials."""
    if rate.n < minimum:
        return NOT_ENOUGH
    return "pass" if rate.high <= ceiling else "fail"


def judge_recall(evaluation: Evaluation, policy: GatePolicy) -> Judgement:
    """Recall on the test days: its lower bound must reach the policy's floor, from at least
    ``min_attacks`` attacks."""
    combined = evaluation.combined
    recall = Rate.of(combined.true_positives, combined.attacks)
    verdict = judge_floor(recall, policy.recall_floor, policy.min_attacks)
    return Judgement(
        passed=verdict == "pass",
        metadata={
            "verdict": verdict,
            "recall": rate_metadata(recall),
            "floor_on_lower_bound": policy.recall_floor,
            "min_attacks": policy.min_attacks,
            "recall_by_category": evaluation.recall_by_category,
        },
    )


def judge_false_positive_rate(evaluation: Evaluation, policy: GatePolicy) -> Judgement:
    """FPR on the test days: its upper bound must stay within the policy's budget, from at
    least ``min_safe`` safe messages."""
    combined = evaluation.combined
    fpr = Rate.of(combined.false_positives, combined.safe)
    verdict = judge_ceiling(fpr, policy.fp_budget, policy.min_safe)
    return Judgement(
        passed=verdict == "pass",
        metadata={
            "verdict": verdict,
            "fpr": rate_metadata(fpr),
            "budget_on_upper_bound": policy.fp_budget,
            "min_safe": policy.min_safe,
            "false_positives_per_million": combined.false_positives_per_million,
            "false_positives_per_million_upper": fpr.high * 1e6,
        },
    )


def category_rates(evaluation: Evaluation) -> dict[str, Rate]:
    return {
        c: Rate.of(
            round(r * evaluation.attacks_by_category.get(c, 0)),
            evaluation.attacks_by_category.get(c, 0),
        )
        for c, r in evaluation.recall_by_category.items()
    }


def judge_categories(evaluation: Evaluation, policy: GatePolicy) -> Judgement:
    """Every category's recall lower bound must reach its floor, each from at least
    ``min_category_attacks`` attacks (a category with fewer is not enough evidence)."""
    rates = category_rates(evaluation)
    floors = policy.floors(sorted(rates))
    verdicts = {c: judge_floor(r, floors[c], policy.min_category_attacks) for c, r in rates.items()}
    below = {c: rates[c].value for c, v in verdicts.items() if v == "fail"}
    thin = sorted(c for c, v in verdicts.items() if v == NOT_ENOUGH)
    verdict = "fail" if below else NOT_ENOUGH if thin else "pass"
    return Judgement(
        passed=verdict == "pass",
        metadata={
            "verdict": verdict,
            "below_floor": below,
            "not_enough_evidence": thin,
            "recall_by_category": {c: rate_metadata(r) for c, r in rates.items()},
            "floors_on_lower_bound": floors,
            "min_category_attacks": policy.min_category_attacks,
        },
    )
