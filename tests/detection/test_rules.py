import pandas as pd
import pytest

from detection.features.vector import FEATURE_COLUMNS
from detection.rules import RuleError, default_rules_text, parse_rules

FEATURES = set(FEATURE_COLUMNS)


def _rule(**overrides) -> str:
    rule = {
        "name": "r1",
        "category": "bec",
        "action": "flag",
        "all": [{"feature": "sender_is_freemail", "op": "==", "value": 1}],
    }
    rule.update(overrides)
    import yaml

    return yaml.safe_dump({"rules": [rule]})


def test_default_rules_load():
    rules = parse_rules(default_rules_text(), FEATURES)
    assert {r.action for r in rules.rules} == {"flag", "force_attack"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"all": [{"feature": "no_such_feature", "op": "==", "value": 1}]},
            "rule 'r1': unknown feature 'no_such_feature'",
        ),
        (
            {"all": [{"feature": "sender_is_freemail", "op": "~", "value": 1}]},
            "rule 'r1': unknown operator '~'",
        ),
        (
            {"all": [{"feature": "sender_is_freemail", "op": "==", "value": "yes"}]},
            "rule 'r1': value .* must be a number",
        ),
        ({"action": "delete"}, "rule 'r1': action 'delete'"),
        ({"category": "spam"}, "rule 'r1': category 'spam'"),
        ({"all": []}, "rule 'r1': needs a non-empty 'all'"),
        ({"when": 1}, "rule 'r1': unknown keys"),
        ({"name": ""}, "rule '#0': missing a non-empty name"),
    ],
)
def test_bad_rule_gives_clear_error_naming_the_rule(overrides, message):
    with pytest.raises(RuleError, match=message):
        parse_rules(_rule(**overrides), FEATURES)


def test_not_yaml_and_duplicate_names_are_refused():
    with pytest.raises(RuleError, match="not valid YAML"):
        parse_rules("rules: [", FEATURES)
    text = _rule()
    with pytest.raises(RuleError, match="unique"):
        parse_rules(text + text.replace("rules:\n", ""), FEATURES)


def test_rule_evaluation_single_and_vectorised_agree():
    rules = parse_rules(default_rules_text(), FEATURES)
    rows = [dict.fromkeys(FEATURE_COLUMNS, 0.0) for _ in range(3)]
    rows[1].update(attachment_executable=1.0)
    rows[2].update(terms_credential=2.0, url_brand_lookalike=0.9)
    frame = pd.DataFrame(rows)
    hits = rules.hits(frame)
    for i, row in enumerate(rows):
        assert [r.name for r in rules.fired(row)] == [n for n in hits.columns if hits.loc[i, n]]
    assert rules.forced(frame).tolist() == [False, True, True]
