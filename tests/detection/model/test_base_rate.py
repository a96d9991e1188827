"""Efficacy at a realistic base rate: FP per million, recall at a budget chosen on validation,
PR-AUC's bootstrap interval, per-category Wilson intervals."""

import numpy as np
import pandas as pd
import pytest

from detection.model.base_rate import base_rate_report, pr_auc_interval


def _scores(seed: int, safe: int, attacks: int, window: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "window": window,
            "is_attack": [0] * safe + [1] * attacks,
            "category": ["safe"] * safe + ["bec", "malware"] * (attacks // 2),
            "score": np.concatenate([rng.beta(1, 30, safe), rng.beta(8, 2, attacks)]),
            "threshold": 0.5,
        }
    )


def test_report_counts_what_it_states():
    frame = pd.concat([_scores(1, 20_000, 100, "validation"), _scores(2, 20_000, 100, "test")])
    report = base_rate_report(frame, per_million=100.0, seed=3)
    test = frame.loc[frame["window"] == "test"]
    y, s = test["is_attack"].to_numpy(), test["score"].to_numpy()
    assert (report.attacks, report.safe) == (100, 20_000)
    assert report.recall.k == int((s[y == 1] >= 0.5).sum())
    fp = int((s[y == 0] >= 0.5).sum())
    assert report.false_positives_per_million.value == pytest.approx(fp / 20_000 * 1e6)
    assert report.false_positives_per_million.low <= report.false_positives_per_million.value
    assert set(report.recall_by_category) == {"bec", "malware"}
    assert sum(r.n for r in report.recall_by_category.values()) == 100
    # the budget's threshold comes from validation: on test it lands near, not exactly at, 100/M
    assert report.realised_per_million.value <= 500
    assert report.recall_at_budget.n == 100
    assert 0 <= report.test_curve_recall_at_budget <= 1
    assert report.pr_auc.low <= report.pr_auc.value <= report.pr_auc.high


def test_pr_auc_interval_narrows_with_evidence_and_keeps_the_base_rate():
    small = _scores(4, 2_000, 20, "test")
    large = _scores(4, 20_000, 200, "test")
    a = pr_auc_interval(small["is_attack"].to_numpy(), small["score"].to_numpy(), seed=1)
    b = pr_auc_interval(large["is_attack"].to_numpy(), large["score"].to_numpy(), seed=1)
    assert b.high - b.low < a.high - a.low
    with pytest.raises(ValueError, match="both classes"):
        pr_auc_interval(np.zeros(5, dtype=int), np.zeros(5), seed=1)


def test_report_refuses_a_window_without_safe_validation_mail():
    frame = _scores(5, 100, 10, "test")
    with pytest.raises(ValueError, match="materialise model_evaluation"):
        base_rate_report(frame)
