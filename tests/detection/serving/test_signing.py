"""Signed bundles: whoever can write the store cannot re-hash a bundle with a raised threshold and
have it served, once trusted keys are configured."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from detection.serving.artifact import MANIFEST, THRESHOLD_FILE, Bundle, BundleError, sha256
from detection.serving.registry import load_production, promote, rollback
from detection.serving.scorer import Scorer
from detection.serving.signing import SIGNATURE_FILE, SIGNING_KEY_ENV, TRUSTED_KEYS_ENV
from detection.serving.stores import LocalArtifactStore
from tests.detection.serving.test_artifact import make_bundle
from tests.detection.serving.test_bundle_formats import FIXTURES


def _keys(tmp_path, name: str):
    key = Ed25519PrivateKey.generate()
    private = tmp_path / f"{name}.pem"
    public = tmp_path / f"{name}.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def _rehashed_with_threshold(directory, threshold: float) -> None:
    """What an attacker with write access to the store does: raise the threshold and rewrite
    the manifest's hashes and version so every checksum matches again."""
    (directory / THRESHOLD_FILE).write_text(json.dumps({"threshold": threshold}))
    manifest = json.loads((directory / MANIFEST).read_text())
    manifest["files"][THRESHOLD_FILE] = sha256((directory / THRESHOLD_FILE).read_bytes())
    hashes = dict(sorted(manifest["files"].items()))
    manifest["version"] = sha256(json.dumps(hashes, sort_keys=True).encode())[:16]
    (directory / MANIFEST).write_text(json.dumps(manifest))


def test_promotion_signs_and_the_scorer_verifies(tmp_path, monkeypatch):
    private, public = _keys(tmp_path, "deploy")
    real = Bundle.read_dir(FIXTURES / "format-2")  # a real model the scorer can load (unsigned)
    monkeypatch.setenv(SIGNING_KEY_ENV, str(private))
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(public))
    store = LocalArtifactStore(tmp_path / "store")
    result = promote(store, real, {"run_id": "1"})
    assert SIGNATURE_FILE in load_production(store).files
    assert Scorer.load(store.root).version == result["version"] == real.version


def test_a_rehashed_bundle_with_a_raised_threshold_is_refused(tmp_path, monkeypatch):
    private, public = _keys(tmp_path, "deploy")
    monkeypatch.setenv(SIGNING_KEY_ENV, str(private))
    store = LocalArtifactStore(tmp_path / "store")
    version = promote(store, make_bundle(0.5), {"run_id": "1"})["version"]
    directory = store.root / "models" / version
    _rehashed_with_threshold(directory, 0.999)
    # without trusted keys the checksums alone cannot tell: this is what signing is for
    assert Bundle.read_dir(directory).threshold == 0.999
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(public))
    with pytest.raises(BundleError, match="does not match the manifest"):
        Bundle.read_dir(directory)


def test_unsigned_and_unknown_key_bundles_are_refused_where_signing_is_configured(
    tmp_path, monkeypatch
):
    _, trusted = _keys(tmp_path, "ours")
    other, _ = _keys(tmp_path, "theirs")
    store = LocalArtifactStore(tmp_path / "store")
    unsigned = promote(store, make_bundle(0.4), {"run_id": "1"})["version"]
    monkeypatch.setenv(SIGNING_KEY_ENV, str(other))
    foreign = promote(store, make_bundle(0.6), {"run_id": "2"})["version"]
    monkeypatch.delenv(SIGNING_KEY_ENV)
    monkeypatch.setenv(TRUSTED_KEYS_ENV, str(trusted))
    with pytest.raises(BundleError, match="unsigned"):
        rollback(store, unsigned, {"run_id": "r"})
    with pytest.raises(BundleError, match="not in ATTACK_DETECTION_TRUSTED_KEYS"):
        Scorer.load(store.root)  # production is the foreign-signed bundle
    # the refused rollback left production where it was
    assert json.loads((store.root / "production.json").read_text())["version"] == foreign
