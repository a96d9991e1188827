"""The online scorer on a real (small) LightGBM bundle: loading, verification, verdicts, reasons,
batch/single agreement, pointer refresh, and the CLI on the shared real-mail corpus."""

import gc
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest

from detection.features.behaviour import BehaviourState
from detection.features.signals import content_signals
from detection.features.terms import DEFAULT_TERMS_VERSION
from detection.features.text import TEXT_SCORE, text_terms
from detection.features.vector import DESCRIPTIONS, FEATURE_COLUMNS, message_values
from detection.mail.parsing import parse_message
from detection.model.detectors import SPECS
from detection.model.text_training import TermMatrix, TextParams, fit_text_model
from detection.rules import default_rules_text
from detection.serving.artifact import MODEL_FILE, Bundle, BundleError
from detection.serving.detectors import Detector, DetectorSet
from detection.serving.registry import promote, rollback
from detection.serving.scorer import Scorer
from detection.serving.stores import LocalArtifactStore
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.render import render_rfc822

FEATURES = list(FEATURE_COLUMNS)


@pytest.fixture(scope="module")
def mail():
    config = SimulationConfig(days=10, tenants=1, employees=15, attack_rate=0.15, seed=31)
    return [m for _, day in simulate(config) for m in day]


def _bundle(mail, threshold: float = 0.5, rounds: int = 30, *, detector: bool = True) -> Bundle:
    """A real LightGBM model trained on the simulated mail's features (state replayed in order),
    with a real BEC detector (``detector``)."""
    y = np.array([m.label == "attack" for m in mail], dtype=float)
    matrix = TermMatrix.build([text_terms(m) for m in mail])
    text_model = fit_text_model(matrix, np.arange(len(mail)), y.astype(int), TextParams())
    state, rows = BehaviourState(), []
    for message in mail:
        text = {TEXT_SCORE: text_model.score(message)}
        rows.append({**message_values(message), **text, **state.features(message)})
        state.observe(message)
    x = np.array([[r[f] for f in FEATURES] for r in rows])
    booster = lgb.train(PARAMS, lgb.Dataset(x, y, feature_name=FEATURES), num_boost_round=rounds)
    return Bundle.build(
        model_text=booster.model_to_string(),
        text_model=text_model.to_bytes(),
        detectors=(_bec_detector(mail, rows) if detector else DetectorSet()).to_bytes(),
        features=FEATURES,
        rules_text=default_rules_text(),
        threshold=threshold,
        snapshot=state.to_tables(),
        terms_version=DEFAULT_TERMS_VERSION,
        metrics={},
        lineage={},
    )


PARAMS = {
    "objective": "binary",
    "verbosity": -1,
    "seed": 1,
    "deterministic": True,
    "num_threads": 1,
}


def _bec_detector(mail, rows) -> DetectorSet:
    """A real detector: LightGBM on the BEC spec's features. Trained on BEC against all other
    mail (production trains against safe mail only) so that in these few days it fires on BEC
    and not on every attack: the tests tell its verdicts from the general model's."""
    description, features = SPECS["bec"]
    x = np.array([[r[f] for f in features] for r in rows])
    y = np.array([m.category == "bec" for m in mail], dtype=float)
    assert y.sum() >= 5, "the simulated mail needs BEC attacks for the detector"
    booster = lgb.train(PARAMS, lgb.Dataset(x, y, feature_name=list(features)), 20)
    detector = Detector("bec", description, features, 0.5, 0.0005, booster.model_to_string())
    return DetectorSet((detector,))


@pytest.fixture(scope="module")
def bundle_dir(mail, tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("bundle")
    _bundle(mail).write_dir(directory)
    return directory


def test_scores_raw_bytes_with_verdict_and_reasons(mail, bundle_dir):
    scorer = Scorer.load(bundle_dir)
    phish = [m for m in mail if m.category == "credential_phishing" and m.urls]
    attack = max(phish, key=lambda m: scorer.score_message(m, explain=False).score)
    verdict = scorer.score_bytes(render_rfc822(attack), tenant_id=attack.tenant_id)
    assert verdict.verdict == "attack" and 0.0 <= verdict.score <= 1.0
    assert verdict.reasons, "attack verdicts carry reasons by default"
    safe = next(
        m
        for m in mail
        if m.category == "safe" and m.sender_address.endswith(m.tenant_id.split("-")[1] + ".com")
    )
    quiet = scorer.score_bytes(render_rfc822(safe), tenant_id=safe.tenant_id)
    assert quiet.verdict == "safe" and quiet.reasons == ()
    explained = scorer.score_bytes(render_rfc822(safe), tenant_id=safe.tenant_id, explain=True)
    assert explained.score == quiet.score


def test_path_and_shap_reasons_rank_alike(mail, bundle_dir):
    """The service's per-leaf path attributions against exact TreeSHAP on the same attacks: same
    scores and verdicts, the same strongest reason for most, never an unknown rule or feature."""
    path, shap = Scorer.load(bundle_dir), Scorer.load(bundle_dir, attribution="shap")
    attacks = [m for m in mail if m.label == "attack"][:60]
    same_first = 0
    for message in attacks:
        fast, exact = (
            path.score_message(message, explain=True),
            shap.score_message(message, explain=True),
        )
        assert (fast.score, fast.verdict, fast.rules) == (exact.score, exact.verdict, exact.rules)
        assert fast.reasons[: len(fast.rules)] == exact.reasons[: len(exact.rules)]  # rules first
        same_first += fast.reasons[len(fast.rules) :][:1] == exact.reasons[len(exact.rules) :][:1]
    assert same_first / len(attacks) >= 0.7
    with pytest.raises(ValueError, match="attribution must be one of"):
        Scorer.load(bundle_dir, attribution="lime")


def test_prepare_for_serving_takes_the_snapshot_out_of_the_collectors_reach(mail, bundle_dir):
    scorer = Scorer.load(bundle_dir)
    snapshot = [v for v in vars(scorer.state).values() if gc.is_tracked(v)]
    assert snapshot, "the behavioural state holds containers the collector tracks"
    try:
        assert scorer.prepare_for_serving() is scorer
        visited = {id(o) for o in gc.get_objects()}  # what a full collection would walk
        assert not any(id(container) in visited for container in snapshot)
        assert scorer.score_message(mail[0]).verdict in {"attack", "safe"}
    finally:
        gc.unfreeze()


def test_online_content_features_equal_the_training_path(mail, bundle_dir):
    """Raw bytes -> parser -> signals gives what the training assets compute from the lake."""
    scorer = Scorer.load(bundle_dir)
    for message in mail[:300]:
        parsed = parse_message(render_rfc822(message), tenant_id=message.tenant_id)
        online = scorer.feature_vector(parsed)
        offline = content_signals(message)
        assert {k: online[k] for k in offline} == offline, message.message_id


def test_batch_and_single_agree(mail, bundle_dir):
    scorer = Scorer.load(bundle_dir)
    sample = mail[:200]
    batch = scorer.score_batch(sample)
    for message, result in zip(sample, batch, strict=True):
        single = scorer.score_message(message, explain=False)
        assert (single.verdict, round(single.score, 9), single.detectors) == (
            result.verdict,
            round(result.score, 9),
            result.detectors,
        )
    assert any(v.detectors for v in batch), "the sample exercises the BEC detector"
    explained = scorer.score_batch(sample, explain=True)
    assert [v.reasons for v in explained] == [
        scorer.score_message(m, explain=True).reasons for m in sample
    ]


def test_the_text_models_reason_names_the_words_of_the_message_it_explains(mail, bundle_dir):
    """The words in the text model's reason are the message's own strongest terms (the scorer
    finds a message's terms once, for its score and its reasons)."""
    scorer = Scorer.load(bundle_dir)
    text_model = scorer.text_model
    assert text_model is not None
    prefix = f"{DESCRIPTIONS[TEXT_SCORE]}: "
    named = 0
    for message in mail[:300]:
        verdict = scorer.score_message(message, explain=True)
        reasons = [r for r in verdict.reasons if r.startswith(prefix)]
        words = ", ".join(text_model.top_terms(message)) or "the message as a whole"
        assert reasons in ([], [prefix + words]), message.message_id
        named += bool(reasons)
    assert named >= 10, "the sample exercises the text model's reason"


def test_a_specialised_detector_forces_the_verdict_and_names_itself(mail, tmp_path):
    """With a threshold the general model can never reach, exactly the messages the BEC detector
    fires on (and force_attack rules) are attacks, and the reason names the detector."""
    _bundle(mail, threshold=1.1).write_dir(tmp_path)
    scorer = Scorer.load(tmp_path)
    assert scorer.detectors.names == ("bec",)
    verdicts = [scorer.score_message(m) for m in mail]
    fired = [v for v in verdicts if v.detectors]
    assert fired and all(v.verdict == "attack" for v in fired)
    assert all(v.reasons[0].startswith("detector bec: business email compromise") for v in fired)
    caught = {m.category for m, v in zip(mail, verdicts, strict=True) if v.detectors}
    assert "bec" in caught
    assert all(v.verdict == "safe" for v in verdicts if not v.detectors and not v.rules)
    without = Scorer(_bundle(mail, threshold=1.1, detector=False))
    assert without.detectors.names == ()
    assert all(not without.score_message(m).detectors for m in mail[:50])


def test_force_attack_rule_overrides_a_low_score(mail, bundle_dir, tmp_path):
    bundle = _bundle(mail, threshold=1.1)  # the model alone can never flag anything
    bundle.write_dir(tmp_path)
    scorer = Scorer.load(tmp_path)
    raw = (
        b"From: Accounts <info@x-example.test>\r\nTo: a@b.com\r\nSubject: invoice\r\n"
        b"Date: Tue, 06 Jan 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="invoice.pdf.exe"\r\n'
        b"\r\nTVqQ\r\n--b--\r\n"
    )
    verdict = scorer.score_bytes(raw, tenant_id="t", received_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert verdict.verdict == "attack"
    assert "executable_or_double_extension" in verdict.rules
    assert any(r.startswith("rule executable_or_double_extension") for r in verdict.reasons)


def test_tampered_bundle_is_refused_before_use(mail, tmp_path):
    _bundle(mail).write_dir(tmp_path)
    model = tmp_path / MODEL_FILE
    model.write_text(model.read_text().replace("Tree=0", "Tree=0 ", 1))
    with pytest.raises(BundleError, match="does not match the manifest"):
        Scorer.load(tmp_path)


def test_scorer_follows_the_production_pointer(mail, tmp_path):
    store = LocalArtifactStore(tmp_path)
    first, second = _bundle(mail, 0.5), _bundle(mail, 0.6)
    promote(store, first, {"run_id": "1"})
    scorer = Scorer.load(str(tmp_path))
    assert scorer.version == first.version and scorer.refresh() is scorer
    promote(store, second, {"run_id": "2"})
    refreshed = scorer.refresh()
    assert refreshed.version == second.version and refreshed.threshold == 0.6
    rollback(store, first.version, {"run_id": "3"})
    assert refreshed.refresh().version == first.version


def test_cli_scores_the_real_corpus_sample(bundle_dir, real_mail, tmp_path):
    files = (
        sorted(real_mail.glob("attack/*/*.eml"))[:40] + sorted(real_mail.glob("safe/*/*.eml"))[:40]
    )
    cli = Path(sys.executable).with_name("attack-detection")
    output = subprocess.run(
        [str(cli), "score", "--artifact", str(bundle_dir), "--format", "json", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads(output.stdout)["results"]
    assert len(results) == len(files)
    # exit 3 exactly when some message could not be read (held as suspicious without a score)
    assert output.returncode == (3 if any(r["score"] is None for r in results) else 0)
    for row in results:
        assert row["verdict"] in {"attack", "safe", "suspicious"}
        assert row["reasons"] or row["verdict"] == "safe"
    csv_out = subprocess.run(
        [str(cli), "score", "--artifact", str(bundle_dir), *map(str, files[:5])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert csv_out[0] == "path,message_id,score,verdict,reasons" and len(csv_out) == 6


def test_cli_scores_a_hostile_batch_whole_and_holds_what_it_cannot_read(bundle_dir, tmp_path):
    """One crafted message cannot cost the batch its output, and unreadable mail is held as
    suspicious, never passed or dropped."""
    phish = (
        b"From: IT <it@evil.test>\r\nTo: a@corp.com\r\nSubject: Verify\r\n"
        b"Content-Type: text/plain; charset=idna\r\n\r\nVerify https://evil.test/x\r\n"
    )
    inputs = {
        "overflow-date.eml": b"From: a@b.c\r\nDate: Mon, 2147483648 Jan 2024 10:00:00 +0000\r\n"
        b"Subject: hi\r\n\r\nhello\r\n",
        "nul-padded.eml": phish.replace(b"charset=idna", b"charset=utf-8") + b"\x00" * 40,
        "idna.eml": phish,
        "junk.eml": b"\x00\x01\x02 not mail at all",
    }
    for name, raw in inputs.items():
        (tmp_path / name).write_bytes(raw)
    cli = Path(sys.executable).with_name("attack-detection")
    output = subprocess.run(
        [str(cli), "score", "--artifact", str(bundle_dir), "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert output.returncode == 3  # partial: one input could not be read; the rest are printed
    rows = {Path(r["path"]).name: r for r in json.loads(output.stdout)["results"]}
    assert set(rows) == set(inputs)
    for name in ("overflow-date.eml", "nul-padded.eml", "idna.eml"):
        assert rows[name]["verdict"] in {"attack", "safe"} and rows[name]["score"] is not None
    assert rows["junk.eml"]["verdict"] == "suspicious" and rows["junk.eml"]["score"] is None
    assert rows["junk.eml"]["reasons"][0].startswith("not_rfc822")
    assert "scored 4 messages" in output.stderr and "'suspicious': 1" in output.stderr
