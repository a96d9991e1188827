"""Champion vs challenger comparison on a golden set."""

import numpy as np
import pandas as pd

from detection.model.comparison import compare


def _golden() -> pd.DataFrame:
    categories = ["safe"] * 200 + ["bec"] * 10 + ["malware"] * 10 + ["extortion_scam"] * 2
    return pd.DataFrame({"category": categories, "is_attack": [0] * 200 + [1] * 22})


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
