"""The gate policy: one set of budgets, from the deployment's environment, validated."""

import pytest

from detection.model.policy import GatePolicy, PolicyError


def test_defaults_are_the_project_policy():
    policy = GatePolicy()
    assert policy.fp_budget == 0.005 and policy.recall_floor == 0.96
    assert policy.real_mail_recall_floor == 0.75 and policy.source_fpr_cap == 0.035
    assert policy.floor_for("bec") == 0.75 and policy.min_category_attacks == 30
    assert policy.min_attacks == 300 and policy.min_safe == 1000 and policy.min_source_safe == 300
    assert policy.champion_tolerance == 0.01 and policy.latency_budget_ms == 10.0
    assert policy.replay_messages == 500 and policy.real_mail_latency_budget_ms == 25.0


def test_environment_overrides_each_field_by_its_name():
    policy = GatePolicy.from_env(
        {
            "ATTACK_DETECTION_FP_BUDGET": "0.005",
            "ATTACK_DETECTION_CATEGORY_FLOORS": '{"bec": 0.97}',
            "ATTACK_DETECTION_MIN_CATEGORY_ATTACKS": "50",
            "ATTACK_DETECTION_LATENCY_BUDGET_MS": "2.5",
            "ATTACK_DETECTION_RECALL_FLOOR": " ",  # blank: unset
        }
    )
    assert policy.fp_budget == 0.005 and policy.recall_floor == 0.96
    assert policy.floor_for("bec") == 0.97 and policy.floor_for("malware") == 0.75
    assert policy.min_category_attacks == 50 and policy.latency_budget_ms == 2.5
    assert policy.as_dict()["category_floors"] == {"bec": 0.97}


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"ATTACK_DETECTION_FP_BUDGET": "1.5"}, "fp_budget must be between 0 and 1"),
        ({"ATTACK_DETECTION_FP_BUDGET": "lots"}, "ATTACK_DETECTION_FP_BUDGET='lots'"),
        ({"ATTACK_DETECTION_CATEGORY_FLOORS": "[1]"}, "expected a JSON object"),
        ({"ATTACK_DETECTION_CATEGORY_FLOORS": '{"bec": 2}'}, r"category_floors\['bec'\]"),
        ({"ATTACK_DETECTION_MIN_CATEGORY_ATTACKS": "0"}, "at least 1"),
        ({"ATTACK_DETECTION_LATENCY_BUDGET_MS": "-1"}, "must be positive"),
    ],
)
def test_invalid_settings_say_which_and_why(environ, message):
    with pytest.raises(PolicyError, match=message):
        GatePolicy.from_env(environ)


def test_replace_ignores_unset_values():
    policy = GatePolicy().replace(fp_budget=None, recall_floor=0.99)
    assert policy.fp_budget == 0.005 and policy.recall_floor == 0.99
