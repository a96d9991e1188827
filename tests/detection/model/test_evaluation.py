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


def _evaluation(recall_by_category, attacks_by_category, recall=1.0, fpr=0.0) -> Evaluation:
    metrics = Metrics(recall, 1.0, fpr, fpr * 1e6, 1.0, 40, 1000, int(40 * recall), int(1000 * fpr))
    return Evaluation(
        threshold=0.5,
        window=Window("a", "b", 1040, 40),
        combined=metrics,
        model_only=metrics,
        rules_only=metrics,
        recall_by_category=recall_by_category,
        attacks_by_category=attacks_by_category,
        by_tenant={},
    )


def test_recall_and_fpr_are_judged_against_the_policy():
    evaluation = _evaluation({}, {}, recall=0.99, fpr=0.004)
    assert not judge_recall(evaluation, GatePolicy()).passed  # floor 0.995
    assert judge_recall(evaluation, GatePolicy(recall_floor=0.98)).passed
    assert judge_false_positive_rate(evaluation, GatePolicy()).passed  # budget 0.01
    judgement = judge_false_positive_rate(evaluation, GatePolicy(fp_budget=0.001))
    assert not judgement.passed and judgement.metadata["false_positives"] == 4


def test_categories_with_too_little_evidence_are_listed_not_judged():
    evaluation = _evaluation(
        {"bec": 0.5, "malware": 0.95, "scam": 0.0}, {"bec": 10, "malware": 20, "scam": 2}
    )
    judgement = judge_categories(evaluation, GatePolicy(category_floors={"malware": 0.99}))
    assert not judgement.passed
    assert judgement.metadata["below_floor"] == {"bec": 0.5, "malware": 0.95}
    assert judgement.metadata["not_judged_too_few_attacks"] == ["scam"]
    assert judge_categories(
        evaluation, GatePolicy(category_recall_floor=0.5, min_category_attacks=25)
    ).passed
