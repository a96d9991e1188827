"""Specialised detectors: trained on their category against safe mail with their own FP budget,
kept only when they catch more of their category at the same global budget and stay within
budget on real safe mail, serialised without pickle and refused when malformed."""

import json

import numpy as np
import pandas as pd
import pytest

from detection.features.terms import TERMS_VERSION
from detection.features.vector import MODEL_FEATURES
from detection.model.candidate import Candidate, Window
from detection.model.detectors import (
    MIN_TRAINING_ATTACKS,
    SPECS,
    DetectorParams,
    choose_detectors,
    earns_place,
    effects,
    own_threshold,
    train_detector,
)
from detection.model.evaluation import candidate_scores
from detection.model.thresholds import threshold_at_fpr
from detection.model.training import TrainParams, train_booster
from detection.rules import parse_rules
from detection.serving.artifact import TEXT_MODEL_FILE, Bundle, BundleError
from detection.serving.detectors import DetectorError, DetectorSet, detectors_of
from tests.detection.serving.test_artifact import make_bundle


def _frame(seed: int, safe: int = 3000, bec: int = 120, phish: int = 120) -> pd.DataFrame:
    """Safe mail, BEC (secrecy and payment terms, a display name of a VIP from outside, no
    link) and credential phishing (links and credential terms)."""
    rng = np.random.default_rng(seed)
    n = safe + bec + phish
    frame = pd.DataFrame(rng.random((n, len(MODEL_FEATURES))) * 0.3, columns=list(MODEL_FEATURES))
    category = np.array(["safe"] * safe + ["bec"] * bec + ["credential_phishing"] * phish)
    is_bec, is_phish = category == "bec", category == "credential_phishing"
    frame.loc[is_bec, "terms_secrecy"] = rng.random(bec) * 0.5 + 0.6
    frame.loc[is_bec, "display_name_vip_external"] = 1.0
    frame.loc[is_bec, "terms_payment"] = rng.random(bec) * 0.5 + 0.5
    frame.loc[is_phish, "url_count"] = 3.0
    frame.loc[is_phish, "terms_credential"] = 1.0
    frame["category"] = category
    frame["is_attack"] = (category != "safe").astype(int)
    return frame


@pytest.fixture(scope="module")
def trained():
    return train_detector(
        "bec", _frame(1), _frame(2), DetectorParams(fp_budget=0.001), TrainParams(num_threads=1)
    )


def test_a_detector_learns_its_category_within_its_own_budget(trained):
    assert trained.detector is not None and trained.reason == "trained"
    assert trained.detector.features == SPECS["bec"][1]
    assert trained.validation_fpr is not None and trained.validation_fpr.value <= 0.001
    assert trained.validation_recall is not None and trained.validation_recall.value > 0.9
    fired = trained.detector.frame_scores(_frame(3)) >= trained.detector.threshold
    categories = _frame(3)["category"].to_numpy()
    assert fired[categories == "bec"].mean() > 0.9  # later mail it never saw
    assert fired[categories == "credential_phishing"].mean() < 0.1  # not attacks in general


def test_too_few_attacks_train_no_detector_and_say_why():
    few = _frame(1, bec=MIN_TRAINING_ATTACKS - 1)
    result = train_detector("bec", few, _frame(2), DetectorParams(), TrainParams(num_threads=1))
    assert result.detector is None and f"{MIN_TRAINING_ATTACKS - 1} bec attacks" in result.reason


def _general_scores(validation: pd.DataFrame, miss_bec: bool) -> np.ndarray:
    """A general model that ranks phishing high and, with ``miss_bec``, BEC among safe mail."""
    rng = np.random.default_rng(5)
    category = validation["category"].to_numpy()
    scores = rng.random(len(validation)) * 0.5
    scores[category == "credential_phishing"] = 0.99
    if not miss_bec:
        scores[category == "bec"] = 0.98
    return scores


def test_a_detector_that_catches_what_the_general_model_misses_is_kept(trained):
    validation = _frame(2)
    scores = _general_scores(validation, miss_bec=True)
    place = earns_place(trained, validation, scores, 0.003, _frame(4, bec=0, phish=0))
    assert place.kept, place.reason
    assert place.with_detector.k > place.without.k and place.without.n == 120
    assert place.fpr_with.value <= 0.003 and place.fpr_without.value <= 0.003  # same budget
    assert place.real_safe_fired is not None and place.real_safe_fired.n == 3000


def test_a_detector_that_adds_nothing_is_dropped(trained):
    validation = _frame(2)
    place = earns_place(trained, validation, _general_scores(validation, False), 0.003, None)
    assert not place.kept and "does not earn its place" in place.reason
    assert place.with_detector.k == place.without.k
    assert place.judged and not place.over_budget_on_real_mail


def test_a_detector_that_fires_on_real_safe_mail_is_dropped(trained):
    validation = _frame(2)
    real_safe = _frame(6, safe=0, phish=0).assign(is_attack=0, category="safe")  # BEC-looking
    place = earns_place(trained, validation, _general_scores(validation, True), 0.003, real_safe)
    assert not place.kept and "real safe messages" in place.reason
    assert place.over_budget_on_real_mail and place.judged
    assert place.real_safe_fired is not None and place.real_safe_fired.k > 100


def test_too_few_attacks_in_the_validation_days_are_not_enough_to_judge(trained):
    validation = _frame(2, bec=5)
    place = earns_place(trained, validation, _general_scores(validation, True), 0.003, None)
    assert not place.kept and not place.judged and "not enough evidence" in place.reason


def test_chosen_detectors_set_the_verdict_and_the_threshold_keeps_the_budget(trained):
    validation, test = _frame(2), _frame(3)
    model = _general_scores(validation, miss_bec=True)
    kept, places, with_detectors = choose_detectors((trained,), validation, model, 0.003, None)
    assert kept.names == ("bec",) and [p.kept for p in places] == [True]
    assert np.array_equal(with_detectors, np.where(kept.fired(validation), 1.0, model))
    y = validation["is_attack"].to_numpy()
    threshold = threshold_at_fpr(y, with_detectors, 0.003)
    without = threshold_at_fpr(y, model, 0.003)
    test_model = _general_scores(test, miss_bec=True)
    result = {
        e.slice: e
        for e in effects(
            test, test_model, np.zeros(len(test), bool), kept.fired(test), threshold, without
        )
    }
    assert result["bec"].after.k > result["bec"].before.k
    assert result["all attacks"].after.n == 240 and result["safe mail (FPR)"].after.value <= 0.01


def test_detectors_round_trip_as_json_and_fire_alike_on_a_frame_and_one_message(trained):
    assert trained.detector is not None
    detectors = DetectorSet((trained.detector,))
    data = detectors.to_bytes()
    assert b"\x80" not in data and json.loads(data)["format_version"] == 1  # JSON, not pickle
    loaded = DetectorSet.from_bytes(data, set(MODEL_FEATURES))
    frame = _frame(3)
    fired = loaded.fired(frame)
    values = frame[list(MODEL_FEATURES)].to_numpy(dtype=float)
    one = [bool(loaded.fired_one(dict(zip(MODEL_FEATURES, row, strict=True)))) for row in values]
    assert fired.tolist() == one and fired.any()
    assert np.array_equal(fired, detectors.fired(frame))


def _reversed_features(document: dict) -> None:
    entry = document["detectors"][0]
    entry["features"] = entry["features"][::-1]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d.update(format_version=99), "format 99"),
        (lambda d: d["detectors"][0].update(features=["no_such_feature"]), "unknown features"),
        (lambda d: d["detectors"][0].pop("threshold"), "malformed detector"),
        (lambda d: d["detectors"][0].update(threshold=None), "malformed detector"),
        (lambda d: d["detectors"][0].update(threshold=-1.0), "not in \\(0, 1\\]"),
        (lambda d: d["detectors"][0].update(fp_budget=float("nan")), "FP budget nan"),
        (lambda d: d["detectors"][0].update(category=["bec"]), "must be strings"),
        (lambda d: d["detectors"][0].update(category="spam"), "not an attack category"),
        (lambda d: d["detectors"][0].update(lightgbm_text="garbage"), "does not load"),
        (_reversed_features, "in the same order"),
        (lambda d: d["detectors"][0].update(features=SPECS["bec"][1][:5]), "same order"),
        (lambda d: d["detectors"].append(d["detectors"][0]), "two detectors for one category"),
        (lambda d: d.update(detectors=d["detectors"] * 7), "at most 6"),
        (lambda d: d.update(detectors={}), "must be a list"),
    ],
)
def test_a_malformed_detectors_file_is_refused_with_the_reason(trained, change, says):
    assert trained.detector is not None
    document = json.loads(DetectorSet((trained.detector,)).to_bytes())
    change(document)
    data = json.dumps(document).encode()
    with pytest.raises(DetectorError, match=says) as refused:
        DetectorSet.from_bytes(data, set(MODEL_FEATURES))
    assert "rebuild the bundle" in str(refused.value)


def test_a_bundle_with_a_malformed_detectors_file_does_not_load(trained):
    assert trained.detector is not None
    document = json.loads(DetectorSet((trained.detector,)).to_bytes())
    document["detectors"][0]["lightgbm_text"] = "garbage"
    bundle = make_bundle()
    bundle = Bundle.build(
        model_text="tree\n",
        text_model=bundle.files[TEXT_MODEL_FILE],
        detectors=json.dumps(document).encode(),
        features=list(MODEL_FEATURES),
        rules_text="rules: []\n",
        threshold=0.5,
        snapshot=bundle.snapshot(),
        terms_version=TERMS_VERSION,
        metrics={},
        lineage={},
    )
    with pytest.raises(BundleError, match=r"model does not load .*; rebuild the bundle"):
        detectors_of(bundle)


def test_a_detectors_file_that_is_not_json_or_too_large_is_refused():
    with pytest.raises(DetectorError, match="not JSON"):
        DetectorSet.from_bytes(b"\x80\x04pickle", set(MODEL_FEATURES))
    with pytest.raises(DetectorError, match="over"):
        DetectorSet.from_bytes(b" " * (16 * 1024 * 1024 + 1), set(MODEL_FEATURES))


def test_a_detector_whose_false_positives_cost_other_attacks_is_dropped(trained):
    """Safe mail that looks like BEC makes it fire often enough to raise the general threshold
    at the same budget: it gains its BEC but loses more of the phishing the general model
    caught."""
    validation = _frame(2, phish=200)
    lookalike = np.flatnonzero(validation["category"].to_numpy() == "safe")[:60]
    validation.loc[lookalike, "terms_secrecy"] = 0.9
    validation.loc[lookalike, "display_name_vip_external"] = 1.0
    validation.loc[lookalike, "terms_payment"] = 0.8
    place = earns_place(trained, validation, _general_scores(validation, True), 0.003, None)
    assert place.with_detector.k > place.without.k
    assert place.all_with is not None and place.all_without is not None
    assert place.all_with.k < place.all_without.k
    assert not place.kept and "fewer attacks in all" in place.reason


def test_the_candidates_verdict_counts_its_detectors_as_forced(trained):
    """Offline evaluation decides as the scorer: a firing detector forces attack."""
    assert trained.detector is not None
    frame = _frame(1)
    booster = train_booster(frame, list(MODEL_FEATURES), TrainParams(num_threads=1))
    candidate = _candidate(booster.model_to_string(), (trained.detector,))
    _, forced = candidate_scores(_frame(3), candidate, parse_rules("rules: []\n", set()))
    fired = DetectorSet((trained.detector,)).fired(_frame(3))
    assert fired.any() and np.array_equal(forced, fired)
    without = _candidate(booster.model_to_string(), ())
    _, none = candidate_scores(_frame(3), without, parse_rules("rules: []\n", set()))
    assert not none.any()


def _candidate(model_text: str, detectors: tuple) -> Candidate:
    window = Window("2026-01-01", "2026-01-02", 1, 0)
    return Candidate(
        model_text=model_text,
        features=tuple(MODEL_FEATURES),
        threshold=0.5,
        validation_fpr=0.003,
        train=window,
        pooled=window,
        validation=window,
        test=window,
        test_days=1,
        seed=7,
        detectors=detectors,
    )


def test_a_saturated_detector_gets_no_threshold_rather_than_one_that_flags_every_tie():
    y = np.array([0] * 1000 + [1] * 50)
    scores = np.concatenate([np.linspace(0.0, 0.9, 1000), np.ones(50)])
    threshold, why_not = own_threshold(y, scores, 0.002)  # two safe messages may be flagged
    assert why_not == "" and 0.9 > threshold > 0.89  # above all but the two highest safe ones
    scores[:5] = 1.0  # five safe messages score exactly 1.0, as the attacks do
    threshold, why_not = own_threshold(y, scores, 0.002)
    assert np.isnan(threshold)
    assert "5 of the validation days' 1000 safe messages score 1.0" in why_not
    assert "not trained" in why_not
    threshold, why_not = own_threshold(y, scores, 0.01)  # ten allowed: the five and five more
    assert why_not == "" and ((scores >= threshold) & (y == 0)).sum() == 10
    assert np.isnan(own_threshold(y, scores, 1.0)[0])  # everything allowed: no threshold either
