import json

import pyarrow as pa
import pytest

from detection.features.behaviour import SNAPSHOT_TABLES
from detection.features.terms import TERMS_VERSION
from detection.features.text import TextModel
from detection.serving.artifact import MANIFEST, MODEL_FILE, Bundle, BundleError
from detection.serving.detectors import DetectorSet


def make_bundle(threshold: float = 0.5) -> Bundle:
    snapshot = {
        name: pa.Table.from_pylist([], schema=schema) for name, schema in SNAPSHOT_TABLES.items()
    }
    return Bundle.build(
        model_text="tree\n",
        text_model=TextModel({}, 0.0).to_bytes(),
        detectors=DetectorSet().to_bytes(),
        features=["a", "b"],
        rules_text="rules: []\n",
        threshold=threshold,
        snapshot=snapshot,
        terms_version=TERMS_VERSION,
        metrics={"recall": 1.0},
        lineage={"run_id": "r"},
    )


def test_round_trip_through_a_directory(tmp_path):
    bundle = make_bundle()
    bundle.write_dir(tmp_path)
    loaded = Bundle.read_dir(tmp_path)
    assert loaded.version == bundle.version
    assert loaded.threshold == 0.5 and loaded.features == ["a", "b"]


def test_version_is_content_addressed():
    assert make_bundle().version == make_bundle().version
    assert make_bundle(0.4).version != make_bundle(0.5).version


def test_tampered_file_is_refused(tmp_path):
    make_bundle().write_dir(tmp_path)
    (tmp_path / MODEL_FILE).write_text("tree\nmalicious\n")
    with pytest.raises(BundleError, match=f"sha256 of {MODEL_FILE} does not match"):
        Bundle.read_dir(tmp_path)


def test_partial_bundle_is_refused(tmp_path):
    make_bundle().write_dir(tmp_path)
    (tmp_path / "snapshot" / "sender_baselines.parquet").unlink()
    with pytest.raises(BundleError, match="partial"):
        Bundle.read_dir(tmp_path)


def test_manifest_rewritten_to_match_tampered_file_is_still_refused(tmp_path):
    """Editing a file and its hash in the manifest breaks the content-addressed version."""
    bundle = make_bundle()
    files = dict(bundle.files)
    files[MODEL_FILE] = b"evil"
    manifest = json.loads(files[MANIFEST])
    import hashlib

    manifest["files"][MODEL_FILE] = hashlib.sha256(b"evil").hexdigest()
    files[MANIFEST] = json.dumps(manifest).encode()
    with pytest.raises(BundleError, match="version does not match"):
        Bundle.from_files(files, "test")


def test_unexpected_file_names_are_refused():
    bundle = make_bundle()
    manifest = json.loads(bundle.files[MANIFEST])
    manifest["files"]["../../etc/passwd"] = "0"
    with pytest.raises(BundleError, match="unexpected files"):
        Bundle.from_files({**bundle.files, MANIFEST: json.dumps(manifest).encode()}, "test")
