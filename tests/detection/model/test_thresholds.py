"""Operating points: the threshold at a false-positive budget (one implementation) and at a
recall target."""

import numpy as np
import pytest

from detection.model.thresholds import (
    choose_threshold,
    recall_at_fpr,
    threshold_at_fpr,
    threshold_within_budget,
)


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


def test_threshold_within_budget_spends_nothing_below_the_weakest_attack_it_flags():
    """A cluster of tied safe scores between the budget's threshold and the weakest attack it
    flags is not flagged; the attacks flagged stay the same, and the room below the weakest
    attack that costs no false positive is kept."""
    safe = np.array([0.1] * 980 + [0.60] * 3 + [0.65] * 15 + [0.9, 0.95])
    attacks = np.array([0.2, 0.7, 0.8, 0.99])
    y = np.r_[np.zeros(len(safe)), np.ones(len(attacks))]
    scores = np.r_[safe, attacks]
    at_budget = threshold_at_fpr(y, scores, 0.017)  # 17 of 1,000 allowed: below the ties
    tightened = threshold_within_budget(y, scores, 0.017)
    assert at_budget < 0.65 < tightened < 0.66  # just above the cluster, below the attacks
    flagged = scores >= tightened
    assert (flagged & (y == 1)).sum() == ((scores >= at_budget) & (y == 1)).sum() == 3
    assert (flagged & (y == 0)).sum() == 2  # 0.9 and 0.95: above the weakest attack flagged
    # no safe mail between the budget's threshold and the weakest attack it flags: unchanged
    gap = np.r_[np.array([0.1] * 990 + [0.3] * 8 + [0.9, 0.95]), attacks]
    assert threshold_within_budget(y, gap, 0.017) == threshold_at_fpr(y, gap, 0.017) < 0.7
    # flagging no attack (every attack below the safe mail's top score): as it is
    weak = np.r_[scores[y == 0], [0.2, 0.3]]
    y_weak = np.r_[np.zeros((y == 0).sum()), np.ones(2)]
    assert threshold_within_budget(y_weak, weak, 0.0) == threshold_at_fpr(y_weak, weak, 0.0)


def test_threshold_within_budget_keeps_a_safe_tie_with_the_weakest_attack_and_everything():
    """A safe score equal to the weakest attack flagged stays flagged (nothing separates them);
    a budget that allows every safe message (-inf) is raised past the safe mail below the
    weakest attack."""
    scores = np.array([0.1, 0.2, 0.5, 0.5, 0.9])
    y = np.array([0, 0, 0, 1, 1])
    assert threshold_within_budget(y, scores, 0.5) == threshold_at_fpr(y, scores, 0.5)
    assert ((scores >= threshold_within_budget(y, scores, 0.5)) & (y == 0)).sum() == 1  # the tie
    assert threshold_at_fpr(y, scores, 1.0) == -np.inf
    raised = threshold_within_budget(y, scores, 1.0)
    assert 0.2 < raised <= 0.5 and ((scores >= raised) & (y == 1)).sum() == 2
