"""The evaluation's figures and the gate's efficacy judgements, as pure functions."""

import numpy as np
import pandas as pd

from detection.model.candidate import Window
from detection.model.evaluation import (
    Evaluation,
    Metrics,
    judge_categories,
    judge_false_positive_rate,
    judge_recall,
    recall_by_category,
)
from detection.model.policy import GatePolicy


def test_metrics_count_what_they_report():
    y = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.6, 0.3, 0.9, 0.4])
    m = Metrics.of(y, scores, 0.5)
    assert (m.attacks, m.safe, m.true_positives, m.false_positives) == (2, 4, 1, 1)
    assert m.recall == 0.5 and m.fpr == 0.25 and m.false_positives_per_million == 250_000
    assert m.precision == 0.5 and 0 < m.pr_auc <= 1


def test_recall_by_category():
    frame = pd.DataFrame({"is_attack": [1, 1, 1, 0], "category": ["bec", "bec", "malware", "safe"]})
    assert recall_by_category(frame, np.array([0.9, 0.1, 0.8, 0.9]), 0.5) == {
        "bec": 0.5,
        "malware": 1.0,
    }


def _evaluation(
    recall_by_category, attacks_by_category, *, attacks=400, caught=400, safe=5000, false=0
) -> Evaluation:
    metrics = Metrics(
        caught / attacks, 1.0, false / safe, false / safe * 1e6, 1.0, attacks, safe, caught, false
    )
    return Evaluation(
        threshold=0.5,
        window=Window("a", "b", attacks + safe, attacks),
        combined=metrics,
        model_only=metrics,
        rules_only=metrics,
        recall_by_category=recall_by_category,
        attacks_by_category=attacks_by_category,
        by_tenant={},
    )


def test_recall_is_judged_on_its_lower_bound_with_minimum_evidence():
    evaluation = _evaluation({}, {}, attacks=400, caught=396)  # 0.99, lower bound 0.975
    judgement = judge_recall(evaluation, GatePolicy(recall_floor=0.96))
    assert judgement.passed and judgement.verdict == "pass"
    assert 0.97 < judgement.metadata["recall"]["low"] < 0.99  # type: ignore[index]
    assert judge_recall(evaluation, GatePolicy(recall_floor=0.98)).verdict == "fail"
    thin = judge_recall(_evaluation({}, {}, attacks=40, caught=40), GatePolicy())
    assert not thin.passed and thin.verdict == "not enough evidence"  # never passes silently


def test_fpr_is_judged_on_its_upper_bound_with_minimum_evidence():
    evaluation = _evaluation({}, {}, safe=5000, false=5)  # 0.1%, upper bound 0.23%
    assert judge_false_positive_rate(evaluation, GatePolicy(fp_budget=0.005)).passed
    tight = judge_false_positive_rate(evaluation, GatePolicy(fp_budget=0.002))
    assert tight.verdict == "fail" and tight.metadata["fpr"]["k"] == 5  # type: ignore[index]
    small = judge_false_positive_rate(_evaluation({}, {}, safe=500), GatePolicy())
    assert small.verdict == "not enough evidence"


def test_every_category_needs_evidence_and_its_lower_bound_at_the_floor():
    evaluation = _evaluation(
        {"bec": 0.5, "malware": 1.0, "scam": 1.0}, {"bec": 40, "malware": 40, "scam": 2}
    )
    judgement = judge_categories(evaluation, GatePolicy(category_floors={"malware": 0.99}))
    assert judgement.verdict == "fail"
    assert judgement.metadata["below_floor"] == {"bec": 0.5, "malware": 1.0}  # 40/40: low 0.91
    assert judgement.metadata["not_enough_evidence"] == ["scam"]
    enough = _evaluation({"bec": 1.0, "malware": 1.0}, {"bec": 40, "malware": 40})
    assert judge_categories(enough, GatePolicy()).passed
    thin = _evaluation({"bec": 1.0, "scam": 1.0}, {"bec": 40, "scam": 2})
    assert judge_categories(thin, GatePolicy()).verdict == "not enough evidence"
