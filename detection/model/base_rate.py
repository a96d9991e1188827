"""Efficacy at a realistic base rate, in the units a mail product is held to: false positives per
million safe messages, recall at 100 FP per million, PR-AUC with a bootstrap interval, and recall
per category with Wilson intervals.

The threshold for "recall at N FP per million" is chosen on the validation window and applied to
the test window (what production would do); the test window's own curve point (the best any
threshold could do there) is reported beside it, marked as such.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np

from detection.model.intervals import Rate
from detection.model.thresholds import threshold_at_fpr

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.value:.4f} [{self.low:.4f}, {self.high:.4f}]"


@dataclass(frozen=True)
class BaseRateReport:
    attacks: int
    safe: int
    attack_share: float
    pr_auc: Interval  # bootstrap 95% interval over the test window's messages
    # at the deployed operating point (each message at its tenant's threshold)
    recall: Rate
    false_positives_per_million: Interval
    recall_by_category: dict[str, Rate]
    # at a budget of ``per_million`` FP per million safe, threshold chosen on validation
    per_million: float
    recall_at_budget: Rate
    realised_per_million: Interval
    test_curve_recall_at_budget: float  # the test window's own best (not a deployable figure)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _per_million(rate: Rate) -> Interval:
    return Interval(rate.value * 1e6, rate.low * 1e6, rate.high * 1e6)


def pr_auc_interval(
    y: np.ndarray, scores: np.ndarray, *, seed: int, resamples: int = 200
) -> Interval:
    """PR-AUC (average precision) and its 95% percentile bootstrap interval, resampling attacks
    and safe messages separately (so every resample keeps the window's base rate)."""
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(seed)
    attacks, safe = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    if not len(attacks) or not len(safe):
        raise ValueError(f"PR-AUC needs both classes: {len(attacks)} attacks, {len(safe)} safe")
    values = []
    for _ in range(resamples):
        rows = np.concatenate([rng.choice(attacks, len(attacks)), rng.choice(safe, len(safe))])
        values.append(average_precision_score(y[rows], scores[rows]))
    low, high = np.percentile(values, [2.5, 97.5])
    return Interval(float(average_precision_score(y, scores)), float(low), float(high))


def base_rate_report(
    scores: pd.DataFrame, *, per_million: float = 100.0, seed: int = 7
) -> BaseRateReport:
    """The report from model_evaluation's labelled scores (``window``, ``is_attack``,
    ``category``, ``score``, and the test window's ``threshold``)."""
    test = scores.loc[scores["window"] == "test"]
    validation = scores.loc[scores["window"] == "validation"]
    y, s = test["is_attack"].to_numpy(dtype=int), test["score"].to_numpy(dtype=float)
    caught = s >= test["threshold"].to_numpy(dtype=float)
    attacks, safe = int(y.sum()), int((y == 0).sum())
    categories = test.loc[y == 1, "category"].to_numpy()
    by_category = {
        str(c): Rate.of(int(caught[y == 1][categories == c].sum()), int((categories == c).sum()))
        for c in sorted(set(categories))
    }
    if not (validation["is_attack"] == 0).any() or not len(test):
        raise ValueError(
            f"the scores hold {len(test)} test rows and "
            f"{int((validation['is_attack'] == 0).sum())} safe validation rows; "
            "materialise model_evaluation on a window with both"
        )
    budget = per_million / 1e6
    chosen = threshold_at_fpr(
        validation["is_attack"].to_numpy(dtype=int),
        validation["score"].to_numpy(dtype=float),
        budget,
    )
    at_budget = s >= chosen
    oracle = threshold_at_fpr(y, s, budget)
    return BaseRateReport(
        attacks=attacks,
        safe=safe,
        attack_share=attacks / len(y) if len(y) else float("nan"),
        pr_auc=pr_auc_interval(y, s, seed=seed),
        recall=Rate.of(int(caught[y == 1].sum()), attacks),
        false_positives_per_million=_per_million(Rate.of(int(caught[y == 0].sum()), safe)),
        recall_by_category=by_category,
        per_million=per_million,
        recall_at_budget=Rate.of(int(at_budget[y == 1].sum()), attacks),
        realised_per_million=_per_million(Rate.of(int(at_budget[y == 0].sum()), safe)),
        test_curve_recall_at_budget=float((s[y == 1] >= oracle).mean()),
    )
