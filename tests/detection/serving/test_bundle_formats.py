"""Bundles outlive releases: a committed bundle of every released format loads, scores, and can be
promoted and rolled back to, forever; versions are immutable; bundle files are read only when they
are regular files within the cap."""

import os
from pathlib import Path

import pyarrow as pa
import pytest

from detection.features.behaviour import SNAPSHOT_TABLES
from detection.serving.artifact import FORMATS, MANIFEST, MODEL_FILE, Bundle, BundleError
from detection.serving.registry import load_version, promote, read_production, rollback
from detection.serving.scorer import Scorer
from detection.serving.stores import ArtifactStoreError, LocalArtifactStore
from tests.detection.serving.test_artifact import make_bundle

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bundles"
RELEASED = sorted(FIXTURES.glob("format-*"))
PHISH = (
    b"From: IT Desk <it@evil.test>\r\nTo: a@corp.com\r\nSubject: Verify your mailbox\r\n"
    b"Date: Tue, 06 Jan 2026 09:00:00 +0000\r\n\r\n"
    b"Your password expires today. Verify now: https://evil.test/login\r\n"
)


def test_every_released_format_has_a_committed_bundle():
    assert {int(p.name.split("-")[1]) for p in RELEASED} == set(FORMATS)


@pytest.mark.parametrize("fixture", RELEASED, ids=[p.name for p in RELEASED])
def test_a_released_bundle_loads_scores_and_can_be_rolled_back_to(fixture, tmp_path):
    bundle = Bundle.read_dir(fixture)
    verdict = Scorer.load(fixture).score_bytes(PHISH, explain=True)
    assert verdict.verdict in {"attack", "safe"} and 0.0 <= verdict.score <= 1.0
    store = LocalArtifactStore(tmp_path / "store")
    promote(store, bundle, {"run_id": "old"})
    promote(store, make_bundle(0.7), {"run_id": "current"})
    rollback(store, bundle.version, {"run_id": "back", "reason": "test"})
    pointer = read_production(store)
    assert pointer is not None and pointer.version == bundle.version
    assert load_version(store, bundle.version).version == bundle.version


def test_a_release_that_adds_a_snapshot_table_still_loads_older_bundles(monkeypatch):
    """The new table is empty for a bundle whose format predates it (its model reads none of
    the table's features); the bundle is not refused as partial."""
    schema = pa.schema([("tenant_id", pa.string()), ("count", pa.int64())])
    monkeypatch.setitem(SNAPSHOT_TABLES, "future_baselines", schema)
    for fixture in RELEASED:
        snapshot = Bundle.read_dir(fixture).snapshot()
        assert snapshot["future_baselines"].num_rows == 0
        assert snapshot["sender_baselines"].schema.names[:2] == ["tenant_id", "sender_address"]


def test_promoting_an_existing_version_never_rewrites_it(tmp_path):
    store = LocalArtifactStore(tmp_path)
    first = make_bundle()
    promote(store, first, {"run_id": "1"})
    manifest = store.get(f"models/{first.version}/{MANIFEST}")
    again = make_bundle()  # the same content, a new manifest (time stamp)
    assert again.version == first.version and again.files[MANIFEST] != manifest
    promote(store, again, {"run_id": "2"})
    assert store.get(f"models/{first.version}/{MANIFEST}") == manifest


def test_bundle_files_must_be_regular_files(tmp_path):
    make_bundle().write_dir(tmp_path)
    (tmp_path / MODEL_FILE).unlink()
    os.mkfifo(tmp_path / MODEL_FILE)  # reading a FIFO would hang the loader
    with pytest.raises(BundleError, match="not a regular file"):
        Bundle.read_dir(tmp_path)
    store = LocalArtifactStore(tmp_path / "store")
    version = promote(store, make_bundle(), {"run_id": "1"})["version"]
    target = store.root / "models" / version / MODEL_FILE
    target.unlink()
    os.mkfifo(target)
    with pytest.raises(ArtifactStoreError, match="not a regular file"):
        load_version(store, version)


PORTUGUESE = (
    "From: Banco <aviso@banco-seguro.test>\r\nTo: a@corp.com\r\nSubject: Conta bloqueada\r\n"
    "Date: Tue, 06 Jan 2026 09:00:00 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Sua conta foi bloqueada. Verificação: confirme sua senha hoje: https://banco-seguro.test/a\r\n"
).encode()


def _rebuilt(fixture: Path, terms_version: int) -> Bundle:
    """A released bundle's own files built again as this release builds them, with a chosen
    term families' version."""
    old = Bundle.read_dir(fixture)
    return Bundle.build(
        model_text=old.files[MODEL_FILE].decode(),
        text_model=old.text_model or b"",
        detectors=old.detectors or b"[]",
        features=old.features,
        rules_text=old.files["rules.yaml"].decode(),
        threshold=old.threshold,
        snapshot=old.snapshot(),
        terms_version=terms_version,
        metrics={},
        lineage={},
    )


def test_each_bundle_counts_terms_with_the_version_it_learnt_from():
    """Bundles of formats 1-3 learnt from the English term families (version 1) and are scored
    with them; a bundle of this release records its version (2: with the translations) and is
    scored with it."""
    from detection.features.terms import TERMS_VERSION
    from detection.mail.parsing import parse_message

    message = parse_message(PORTUGUESE, tenant_id="t")
    for fixture in RELEASED:
        bundle = Bundle.read_dir(fixture)
        expected = 1 if int(str(bundle.manifest.get("format_version", 1))) < 4 else TERMS_VERSION
        assert bundle.terms_version == expected, fixture.name
        values = Scorer(bundle).feature_vector(message)
        assert (values["terms_credential"] > 0) == (expected >= 2), fixture.name
    now = _rebuilt(FIXTURES / "format-3", TERMS_VERSION)
    assert now.terms_version == TERMS_VERSION == 2
    values = Scorer(now).feature_vector(message)
    # credentials: "conta bloqueada" (the subject), "verificação", "senha"; urgency: "bloqueada"
    # (inside the subject's phrase, and in the body), "hoje"
    assert values["terms_credential"] == 3 and values["terms_urgency"] == 3


def test_a_bundle_of_term_families_this_release_cannot_count_is_refused():
    bundle = _rebuilt(FIXTURES / "format-3", 99)
    with pytest.raises(BundleError, match="upgrade the scorer"):
        Scorer(bundle)


def test_an_unreadable_signals_file_is_refused_with_what_to_do():
    bundle = _rebuilt(FIXTURES / "format-3", 2)
    bundle.files["signals.json"] = b"{not json"
    with pytest.raises(BundleError, match=r"signals\.json is unreadable.*redeploy"):
        _ = bundle.terms_version
    bundle.files["signals.json"] = b'{"terms_version": "2"}'
    with pytest.raises(BundleError, match="not a number"):
        _ = bundle.terms_version
