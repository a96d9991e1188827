"""Champion vs challenger comparison and recall at a false-positive budget."""

import numpy as np
import pandas as pd
import pytest

from detection.model.comparison import compare, recall_at_fp_budget


def test_recall_at_fp_budget_uses_the_strictest_threshold_within_budget():
    y = np.array([0] * 100 + [1] * 4)
    safe = np.linspace(0.0, 0.5, 100)
    scores = np.concatenate([safe, [0.99, 0.6, 0.495, 0.1]])
    # 1% of 100 safe rows may be flagged: the threshold sits just above the second-highest safe
    assert recall_at_fp_budget(y, scores, 0.01) == pytest.approx(0.75)
    assert recall_at_fp_budget(y, scores, 0.0) == pytest.approx(0.5)


def _golden() -> pd.DataFrame:
    categories = ["safe"] * 200 + ["bec"] * 10 + ["malware"] * 10 + ["extortion_scam"] * 2
    return pd.DataFrame({"category": categories,
                         "is_attack": [0] * 200 + [1] * 22})  # fmt: skip


def test_a_challenger_losing_one_category_is_refused():
    golden = _golden()
    rng = np.random.default_rng(3)
    champion = np.concatenate([rng.uniform(0, 0.4, 200), np.full(22, 0.9)])
    challenger = champion.copy()
    challenger[200:210] = 0.1  # stops catching BEC
    result = compare(golden, champion, challenger, budget=0.01, tolerance=0.01, min_attacks=5)
    assert not result.passed
    assert set(result.regressions) == {"overall", "bec"}
    assert result.not_judged == ["extortion_scam"]


def test_an_equal_or_better_challenger_passes():
    golden = _golden()
    champion = np.concatenate([np.linspace(0, 0.5, 200), np.full(22, 0.45)])
    challenger = np.concatenate([np.linspace(0, 0.5, 200), np.full(22, 0.95)])
    result = compare(golden, champion, challenger, budget=0.01, tolerance=0.01, min_attacks=5)
    assert result.passed and result.challenger["overall"] == 1.0


def test_threshold_meets_the_recall_target_and_drops_while_validation_fpr_allows():
    from detection.model.training import choose_threshold

    y = np.array([0] * 1000 + [1] * 10)
    scores = np.concatenate([np.linspace(0.0, 0.5, 1000), np.linspace(0.9, 0.99, 10)])
    assert choose_threshold(y, scores, 0.995) == pytest.approx(0.9)  # the weakest attack
    lowered = choose_threshold(y, scores, 0.995, max_fpr=0.001)
    assert 0.4994 < lowered < 0.5  # just above the second-highest safe score: 1 of 1000 flagged
    flagged = scores[y == 0] >= lowered
    assert flagged.sum() == 1 and (scores[y == 1] >= lowered).all()
