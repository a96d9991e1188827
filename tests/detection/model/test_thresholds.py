"""Operating points: the threshold at a false-positive budget (one implementation) and at a
recall target."""

import numpy as np
import pytest

from detection.model.thresholds import choose_threshold, recall_at_fpr, threshold_at_fpr


def test_recall_at_fpr_uses_the_strictest_threshold_within_budget():
    y = np.array([0] * 100 + [1] * 4)
    safe = np.linspace(0.0, 0.5, 100)
    scores = np.concatenate([safe, [0.99, 0.6, 0.495, 0.1]])
    # 1% of 100 safe rows may be flagged: the threshold sits just above the second-highest safe
    assert recall_at_fpr(y, scores, 0.01) == pytest.approx(0.75)
    assert recall_at_fpr(y, scores, 0.0) == pytest.approx(0.5)


def test_threshold_at_fpr_allows_exactly_the_budget_and_everything_at_budget_one():
    y = np.array([0] * 1000 + [1] * 5)
    scores = np.concatenate([np.linspace(0.0, 0.5, 1000), np.full(5, 0.9)])
    threshold = threshold_at_fpr(y, scores, 0.005)
    assert (scores[y == 0] >= threshold).sum() == 5
    assert threshold_at_fpr(y, scores, 1.0) == -np.inf


def test_threshold_meets_the_recall_target_and_drops_while_validation_fpr_allows():
    y = np.array([0] * 1000 + [1] * 10)
    scores = np.concatenate([np.linspace(0.0, 0.5, 1000), np.linspace(0.9, 0.99, 10)])
    assert choose_threshold(y, scores, 0.995) == pytest.approx(0.9)  # the weakest attack
    lowered = choose_threshold(y, scores, 0.995, max_fpr=0.001)
    assert 0.4994 < lowered < 0.5  # just above the second-highest safe score: 1 of 1000 flagged
    flagged = scores[y == 0] >= lowered
    assert flagged.sum() == 1 and (scores[y == 1] >= lowered).all()
