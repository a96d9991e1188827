"""Operating points: the threshold at a false-positive budget (the one implementation, used by
training and by the champion/challenger comparison) and the threshold at a recall target."""

from __future__ import annotations

import math

import numpy as np

from detection.model.training import require_both_classes


def threshold_at_fpr(y: np.ndarray, scores: np.ndarray, budget: float) -> float:
    """The strictest threshold (flag ``score >= threshold``) whose false-positive rate on the safe
    rows of (y, scores) stays within ``budget``: just above the safe score that would be one
    false positive too many. ``-inf`` when the budget allows every safe row to be flagged."""
    safe = np.sort(scores[y == 0])[::-1]
    allowed = math.floor(budget * len(safe))
    return float(np.nextafter(safe[allowed], np.inf)) if allowed < len(safe) else -math.inf


def recall_at_fpr(
    y: np.ndarray, scores: np.ndarray, budget: float, mask: np.ndarray | None = None
) -> float:
    """Recall (over ``mask``'s attacks, default all) at :func:`threshold_at_fpr` over all safe
    rows."""
    threshold = threshold_at_fpr(y, scores, budget)
    attacks = (y == 1) if mask is None else (y == 1) & mask
    return float((scores[attacks] >= threshold).mean()) if attacks.any() else float("nan")


def choose_threshold(
    y: np.ndarray, scores: np.ndarray, recall_target: float, max_fpr: float | None = None
) -> float:
    """The highest threshold whose recall on (y, scores) is at least ``recall_target``; with
    ``max_fpr``, lowered further to :func:`threshold_at_fpr` while that is lower. Lowering it
    costs nothing on this window's safe mail and leaves room for attacks a little weaker than any
    seen here (the recall-target threshold sits exactly on the weakest attack of the window, so
    one new variant below it is a miss)."""
    require_both_classes(y, "validation")
    attack_scores = np.sort(scores[y == 1])[::-1]
    needed = max(1, math.ceil(recall_target * len(attack_scores)))
    at_recall = float(attack_scores[needed - 1])
    if max_fpr is None:
        return at_recall
    return min(at_recall, max(threshold_at_fpr(y, scores, max_fpr), 0.0))
