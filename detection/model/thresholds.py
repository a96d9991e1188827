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
    safe = scores[y == 0]
    return threshold_allowing(safe, math.floor(budget * len(safe)))


def threshold_within_budget(y: np.ndarray, scores: np.ndarray, budget: float) -> float:
    """:func:`threshold_at_fpr`, raised just above the highest safe score below the weakest attack
    it flags: the safe mail between the two is flagged for no attack caught on these rows, so it
    spends the budget for nothing; the room below the weakest attack that costs no false positive
    is kept (an attack a little weaker than any seen here is still flagged). Where simulated safe
    mail has many near-identical messages (a template's copies tie), the budget's threshold can
    sit just below a whole cluster of them, and a test window with a few more copies then breaks
    the budget the gate judges on its upper bound. Unchanged when it flags no attack or no safe
    message below the weakest attack it flags."""
    threshold = threshold_at_fpr(y, scores, budget)
    caught = scores[(y == 1) & (scores >= threshold)]
    if not len(caught):
        return threshold
    idle = scores[(y == 0) & (scores >= threshold) & (scores < caught.min())]
    return float(np.nextafter(idle.max(), np.inf)) if len(idle) else threshold


def threshold_allowing(safe_scores: np.ndarray, allowed: int) -> float:
    """The strictest threshold that flags at most ``allowed`` of these safe scores (``-inf``
    when that is all of them)."""
    ranked = np.sort(safe_scores)[::-1]
    return float(np.nextafter(ranked[allowed], np.inf)) if allowed < len(ranked) else -math.inf


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


def verdict_threshold(threshold: float) -> float:
    """A threshold on verdict scores (the model's, 1.0 where a force_attack rule fires) kept in
    [0, 1]: when forced verdicts alone spend the budget, the model flags nothing more but the
    forced verdicts still count (as the scorer applies them)."""
    return min(max(threshold, 0.0), 1.0)


def source_threshold(safe_scores: dict[str, np.ndarray], budget: float) -> float:
    """The threshold that keeps every source's false-positive rate within ``budget``: the
    strictest of :func:`threshold_at_fpr` over the sources' safe scores (``-inf`` when there are
    none). Fitted on sources held out from the model, it is the estimate of how a new source of
    safe mail will score."""
    thresholds = [
        threshold_at_fpr(np.zeros(len(scores)), scores, budget)
        for scores in safe_scores.values()
        if len(scores)
    ]
    return max(thresholds, default=-math.inf)
