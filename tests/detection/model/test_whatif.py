"""The what-if replay: production's replayed decisions are the online scorer's, a proposal flips
exactly the messages it should, bad proposals and windows say what is wrong, and the gap
report's rule ideas cost what a replay of them shows."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from detection import storage
from detection.features.behaviour import BEHAVIOUR_FEATURES
from detection.features.terms import TERMS_VERSION, TERMS_VERSION_COLUMN
from detection.features.text import text_terms
from detection.features.vector import FEATURE_COLUMNS, content_frame
from detection.mail import lake
from detection.mail.schema import messages_to_tables
from detection.model.gaps import ABSENT, RELATIONSHIPS, absent_groups, relationship
from detection.model.text_training import TermMatrix
from detection.model.whatif import (
    FALSE_POSITIVE_REMOVED,
    NEW_CATCH,
    NEW_FALSE_POSITIVE,
    NEW_MISS,
    UNCHANGED,
    Proposal,
    WhatIfError,
    replay,
    thresholds_of,
)
from detection.model.whatif_report import load_window, run, vocabulary_of
from detection.rules import RuleError, default_rules_text, parse_rules
from detection.serving.artifact import Bundle
from detection.serving.scorer import Scorer
from detection.simulation.generator import SimulationConfig, simulate

# format 3: with a BEC detector
BUNDLE = Path(__file__).resolve().parents[2] / "fixtures" / "bundles" / "format-3"
START = datetime(2026, 3, 2, tzinfo=UTC)
FORCING = {
    r.name
    for r in parse_rules(default_rules_text(), set(FEATURE_COLUMNS)).rules
    if r.action == "force_attack"
}


@pytest.fixture(scope="module")
def production() -> Bundle:
    return Bundle.read_dir(BUNDLE)


@pytest.fixture(scope="module")
def mail():
    config = SimulationConfig(
        days=4, tenants=1, employees=30, seed=3, attack_rate=0.2, start=START.date()
    )
    messages = [m for _, day in simulate(config) for m in day]
    for message in messages:  # no history: the scorer and the window both have none
        message.tenant_id = "default"
    return messages


def _window(messages) -> pd.DataFrame:
    frame = content_frame(messages, TERMS_VERSION).reset_index()
    for name in BEHAVIOUR_FEATURES:
        frame[name] = np.nan
    frame["tenant_id"] = [m.tenant_id for m in messages]
    frame["label"] = [m.label for m in messages]
    frame["category"] = [m.category for m in messages]
    frame["received_at"] = pd.to_datetime([m.received_at for m in messages], utc=True)
    frame[TERMS_VERSION_COLUMN] = TERMS_VERSION  # what content_frame counted
    return frame


@pytest.fixture(scope="module")
def window(mail):
    return _window(mail), TermMatrix.build([text_terms(m) for m in mail])


def test_replayed_production_decides_as_the_online_scorer(production, mail, window):
    frame, matrix = window
    result = replay(production, Proposal(), frame, matrix)
    scorer = Scorer(production)
    verdicts = [scorer.score_message(m) for m in mail]
    np.testing.assert_allclose(result.rows["production_score"], [v.score for v in verdicts])
    assert result.rows["production_attack"].tolist() == [v.verdict == "attack" for v in verdicts]
    forced = [bool(v.detectors) or bool(set(v.rules) & FORCING) for v in verdicts]
    assert result.rows["production_forced"].tolist() == forced
    assert any(v.detectors for v in verdicts), "the window exercises the bundle's detector"
    assert (result.rows["change"] == UNCHANGED).all()  # no proposal: nothing flips
    decided = result.rows["production_attack"].to_numpy()
    assert decided.any() and not decided.all()


def test_a_lower_threshold_only_adds_verdicts_and_a_higher_one_only_removes(production, window):
    frame, matrix = window
    base = replay(production, Proposal(), frame, matrix).rows
    scores = base["production_score"].to_numpy()
    by_score = (base["production_attack"] & ~base["production_forced"]).to_numpy()
    assert by_score.sum() >= 2
    # just above the highest score that decided alone: every such verdict flips
    low, high = float(np.quantile(scores, 0.5)), float(scores[by_score].max()) + 1e-9
    lower = replay(production, Proposal(threshold=low), frame, matrix)
    changes = set(lower.rows["change"])
    assert changes & {NEW_CATCH, NEW_FALSE_POSITIVE} and not changes & {NEW_MISS}
    expected = (lower.rows["production_score"] >= low) & ~lower.rows["production_attack"]
    assert ((lower.rows["change"] != UNCHANGED) == expected).all()
    higher = replay(production, Proposal(threshold=high), frame, matrix)
    assert not set(higher.rows["change"]) & {NEW_CATCH, NEW_FALSE_POSITIVE}
    assert set(higher.rows["change"]) & {NEW_MISS, FALSE_POSITIVE_REMOVED}
    assert ((higher.rows["change"] != UNCHANGED) == (by_score & (scores < high))).all()
    total = higher.summary().iloc[0]
    assert total["attacks"] + total["safe"] == len(frame)
    assert total["recall_after"] <= total["recall_before"]
    assert total["recall_after_low"] <= total["recall_after"] <= total["recall_after_high"]


def test_added_rules_force_the_messages_they_fire_on(production, window):
    frame, matrix = window
    added = (
        "rules:\n  - name: any_link\n    category: credential_phishing\n"
        '    action: force_attack\n    all:\n      - {feature: url_count, op: ">=", value: 1}\n'
    )
    result = replay(production, Proposal(added_rules_text=added), frame, matrix)
    fires = (frame["url_count"] >= 1).to_numpy()
    expected = fires & ~result.rows["production_attack"].to_numpy()
    assert ((result.rows["change"] != UNCHANGED).to_numpy() == expected).all()
    assert expected.any()


def test_a_tenant_threshold_applies_to_its_tenant_only(production, window):
    frame, matrix = window
    other = frame.assign(
        tenant_id=["default", "other"] * (len(frame) // 2) + ["default"] * (len(frame) % 2)
    )
    result = replay(production, Proposal(tenant_thresholds={"other": 1e-6}), other, matrix)
    changed = result.rows.loc[result.rows["change"] != UNCHANGED, "tenant_id"]
    assert len(changed) and set(changed) == {"other"}
    by_tenant = result.summary("tenant_id").set_index("tenant_id")
    assert by_tenant.loc["default", [NEW_CATCH, NEW_FALSE_POSITIVE]].sum() == 0


@pytest.mark.parametrize(
    ("proposal", "error", "says"),
    [
        (Proposal(threshold=0.0), WhatIfError, "(0, 1]"),
        (Proposal(threshold=1.5), WhatIfError, "(0, 1]"),
        (Proposal(tenant_thresholds={"a": -1}), WhatIfError, "tenant 'a'"),
        (
            Proposal(
                rules_text="rules:\n  - {name: x, category: bec, action: flag, "
                "all: [{feature: nope, op: '>', value: 1}]}\n"
            ),
            RuleError,
            "unknown feature",
        ),
        (Proposal(added_rules_text="rules: [oops"), RuleError, "not valid YAML"),
        (Proposal(added_rules_text="rules:\n"), RuleError, "a 'rules' list"),
    ],
)
def test_a_bad_proposal_says_what_is_wrong(production, window, proposal, error, says):
    frame, matrix = window
    with pytest.raises(error, match=says.replace("(", r"\(").replace("[", r"\[")):
        replay(production, proposal, frame, matrix)


def test_an_added_rule_that_repeats_a_production_rule_name_is_refused(production):
    name = Scorer(production).rules.rules[0].name
    added = (
        f"rules:\n  - name: {name}\n    category: bec\n    action: flag\n"
        '    all:\n      - {feature: url_count, op: ">=", value: 1}\n'
    )
    with pytest.raises(RuleError, match="unique"):
        Proposal(added_rules_text=added).apply(production)


def test_every_miss_has_one_relationship_and_groups_say_what_was_absent(window):
    frame, _ = window
    relation = relationship(frame)
    assert set(relation) <= set(RELATIONSHIPS) and set(relation) == {"no history"}
    groups = absent_groups(frame.assign(text_score=0.0), {"bec": 100})
    assert set(groups) == set(ABSENT)
    assert (groups["no link"] == (frame["url_count"] == 0).to_numpy()).all()
    new_tactic = groups["new tactic"]
    assert not new_tactic[(frame["category"] == "bec").to_numpy()].any()
    assert new_tactic[(frame["category"] == "malware").to_numpy()].all()


def _landed(tmp_path: Path, mail) -> Path:
    """The mail in a lake and a training table as the pipeline writes them."""
    for day in sorted({m.received_at.date() for m in mail}):
        lake.write_day(
            tmp_path / "lake",
            day,
            messages_to_tables([m for m in mail if m.received_at.date() == day]),
        )
    table = tmp_path / "training_table.parquet"
    _window(mail).to_parquet(table, index=False)
    return table


def test_the_report_rule_ideas_cost_what_their_replay_shows(production, mail, tmp_path):
    table = _landed(tmp_path, mail)
    loaded = load_window(table, tmp_path / "lake", days=None, vocabulary=vocabulary_of(production))
    strict = Proposal(threshold=0.999)  # misses to explain
    report = run(production, strict, loaded, fpr_cap=0.05)
    assert report.gaps.misses == int(
        ((report.replay.rows["label"] == "attack") & ~report.replay.rows["proposed_attack"]).sum()
    )
    assert report.gaps.ideas, "a strict threshold leaves misses with obvious rules"
    idea = report.gaps.ideas[0]
    again = run(
        production,
        Proposal(threshold=0.999, added_rules_text="rules:\n" + idea.yaml(0)),
        loaded,
    )
    flipped = again.replay.rows
    # against production both ways, so compare the proposals' verdicts directly
    before, after = report.replay.rows["proposed_attack"], flipped["proposed_attack"]
    safe, attack = flipped["label"] == "safe", flipped["label"] == "attack"
    assert int((after & ~before & safe).sum()) == idea.new_false_positives.k
    assert int((after & ~before & attack).sum()) == idea.catches_all.k
    paths = report.write(tmp_path / "out")
    for name, path in paths.items():
        assert path.is_file(), name
    examples = storage.read_frame(paths["examples"])
    assert {"subject", "body_text", "body"}.isdisjoint(examples.columns)
    assert "rules:" in paths["rule_ideas_yaml"].read_text()
    markdown = report.markdown()
    assert "## By category" in markdown and "Capability gaps" in markdown


def test_a_window_says_where_the_labelled_mail_is(production, mail, tmp_path):
    table = _landed(tmp_path, mail)
    last = max(m.received_at for m in mail)
    two_days = load_window(table, None, days=2)
    assert two_days.frame["received_at"].min() >= last - timedelta(days=2)
    assert len(two_days.frame) < len(mail)
    earlier = load_window(table, None, start=START, end=START + timedelta(days=1))
    assert earlier.history == {}  # nothing before the first day
    later = load_window(table, None, start=START + timedelta(days=1), days=None)
    assert sum(later.history.values()) == int(
        sum(m.label == "attack" and m.received_at < START + timedelta(days=1) for m in mail)
    )
    with pytest.raises(WhatIfError, match="no labelled mail received"):
        load_window(table, None, start=datetime(2020, 1, 1), end=datetime(2020, 1, 2))
    with pytest.raises(WhatIfError, match="not before"):
        load_window(table, None, start=START, end=START)
    with pytest.raises(WhatIfError, match="no training table"):
        load_window(tmp_path / "missing.parquet", None)


def test_counting_only_the_models_terms_scores_the_same(production, mail, tmp_path):
    from detection.features.text import TextModel
    from detection.model.text_training import lake_term_matrix, score_rows

    _landed(tmp_path, mail)
    ids = [m.message_id for m in mail]
    model = TextModel.from_bytes(production.text_model or b"")
    full = lake_term_matrix(ids, tmp_path / "lake")
    restricted = lake_term_matrix(ids, tmp_path / "lake", vocabulary_of(production))
    shared = lake_term_matrix(ids, tmp_path / "lake", vocabulary_of(production), workers=2)
    assert restricted.counts.shape[1] < full.counts.shape[1]
    positions = np.arange(len(ids))
    expected = score_rows(model, full, positions)
    np.testing.assert_allclose(score_rows(model, restricted, positions), expected)
    np.testing.assert_allclose(score_rows(model, shared, positions), expected)
    np.testing.assert_allclose(
        score_rows(model, restricted, positions[:20]), [model.score(m) for m in mail[:20]]
    )


def test_a_threshold_replaces_every_threshold_unless_tenants_are_given(production, window):
    frame, _ = window
    own = Proposal(tenant_thresholds={"default": 0.999}).apply(production)
    assert Proposal(threshold=0.2).apply(own).tenant_thresholds == {}
    both = Proposal(threshold=0.2, tenant_thresholds={"default": 0.999}, bundle=own)
    applied = both.apply(production)
    assert applied.tenant_thresholds == {"default": 0.999} and applied.threshold == 0.2
    tenants = frame["tenant_id"].to_numpy()
    assert set(thresholds_of(Proposal(threshold=0.2).apply(own), tenants)) == {0.2}
    assert set(thresholds_of(applied, tenants)) == {0.999}


def _with_thresholds(bundle: Bundle, document: dict) -> Bundle:
    import json

    from detection.serving.artifact import THRESHOLD_FILE

    files = {**bundle.files, THRESHOLD_FILE: json.dumps(document).encode()}
    return Bundle(files, {**bundle.manifest, "version": "thresholds"})


def test_each_row_gets_the_threshold_the_scorer_would_choose(production):
    bundle = _with_thresholds(
        production, {"threshold": 0.3, "with_history": 0.6, "tenants": {"t-own": 0.9}}
    )
    tenants = np.array(["t000-acmecorp", "t-own", "never-seen", "corpus:real-mail"])
    scorer = Scorer(bundle)
    expected = [scorer.threshold_for(t) for t in tenants]
    assert expected == [0.6, 0.9, 0.3, 0.3]  # every branch of threshold_for
    assert thresholds_of(bundle, tenants).tolist() == expected
    # from the point-in-time features: history where the message had it when it arrived
    history = np.array([False, True, True, False])
    assert thresholds_of(bundle, tenants, history).tolist() == [0.3, 0.9, 0.6, 0.3]


def test_rows_with_history_take_the_with_history_threshold_in_a_replay(production, window):
    frame, matrix = window
    bundle = _with_thresholds(production, {"threshold": 0.999, "with_history": 1e-6})
    known = frame.assign(sender_prior_messages=1.0)  # every message had history
    result = replay(bundle, Proposal(), known, matrix)
    assert (result.production.decisions.threshold == 1e-6).all()
    result = replay(bundle, Proposal(), frame, matrix)  # none had
    assert (result.production.decisions.threshold == 0.999).all()


def test_relationship_names_each_kind_of_sender():
    frame = pd.DataFrame(
        {
            "sender_prior_messages": [np.nan, 0, 0, 3, 3],
            "domain_prior_messages": [np.nan, 0, 5, 3, 3],
            "recipient_has_replied": [np.nan, 0, 0, 0, 1],
        }
    )
    assert relationship(frame).tolist() == list(RELATIONSHIPS)


def test_nothing_of_a_message_but_its_id_leaves_in_the_report(production, mail, tmp_path):
    table = _landed(tmp_path, mail)
    loaded = load_window(table, tmp_path / "lake", days=None, vocabulary=vocabulary_of(production))
    report = run(production, Proposal(threshold=0.999), loaded, fpr_cap=0.05)
    paths = report.write(tmp_path / "out")
    written = [
        report.markdown(),
        *(p.read_text() for p in paths.values() if p.suffix != ".parquet"),
    ]
    written += [storage.read_frame(p).to_csv() for p in paths.values() if p.suffix == ".parquet"]
    text = "\n".join(written)
    for message in mail:
        for part in (message.subject, message.body_text[:40], message.sender_address):
            if len(part) > 12:
                assert part not in text, part
    # the ideas file is a rules file: it parses and replays as a whole
    ideas = paths["rule_ideas_yaml"].read_text()
    from detection.rules import parse_rules

    assert len(parse_rules(ideas, set(production.features)).rules) == len(report.gaps.ideas)
    again = run(production, Proposal(threshold=0.999, added_rules_text=ideas), loaded)
    assert again.gaps.misses <= report.gaps.misses


def test_a_message_landed_twice_scores_the_same_with_two_processes(production, mail, tmp_path):
    from detection.features.text import TextModel
    from detection.model.text_training import lake_term_matrix, score_rows

    lake.write_day(tmp_path, START.date(), messages_to_tables(mail[:30]))
    lake.write_day(tmp_path, (START + timedelta(days=1)).date(), messages_to_tables(mail[20:60]))
    ids = [m.message_id for m in mail[:60]]
    model = TextModel.from_bytes(production.text_model or b"")
    vocabulary = vocabulary_of(production)
    one = lake_term_matrix(ids, tmp_path, vocabulary)
    two = lake_term_matrix(ids, tmp_path, vocabulary, workers=2)
    positions = np.arange(len(ids))
    np.testing.assert_allclose(score_rows(model, two, positions), score_rows(model, one, positions))
    np.testing.assert_allclose(
        score_rows(model, one, positions), [model.score(m) for m in mail[:60]]
    )


def test_a_failed_write_leaves_the_previous_report_whole(production, mail, tmp_path):
    from dataclasses import replace

    table = _landed(tmp_path, mail)
    loaded = load_window(table, tmp_path / "lake", days=None, vocabulary=vocabulary_of(production))
    report = run(production, Proposal(), loaded)
    out = tmp_path / "out"
    paths = report.write(out)
    before = {name: path.read_bytes() for name, path in paths.items()}
    other = run(production, Proposal(threshold=0.999), loaded)  # other changes to write
    # examples that cannot become parquet: the fourth file of the report fails
    broken = replace(other, examples=pd.DataFrame({"reasons": [1, "not a number"]}))
    with pytest.raises((pa.ArrowInvalid, pa.ArrowTypeError)):
        broken.write(out)
    assert {name: path.read_bytes() for name, path in paths.items()} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in paths.values())


def test_a_bundle_of_other_term_families_than_the_window_is_named_in_the_report(
    production, mail, tmp_path
):
    """The window's table counts this release's term families; a production bundle that learnt
    from another version (format 3: version 1) decides here on counts it never learnt from, and
    the report says so; a bundle of this release's version is not named."""
    table = _landed(tmp_path, mail)
    current = Bundle.read_dir(BUNDLE.parent / "format-4")
    for bundle, named in ((production, True), (current, False)):
        loaded = load_window(table, tmp_path / "lake", days=None, vocabulary=vocabulary_of(bundle))
        report = run(bundle, Proposal(threshold=0.9), loaded)
        other = report.summary()["other_terms_version"]
        assert ("production" in other) is named
        assert ("learnt from other term families" in report.markdown()) is named
    assert other == {}
