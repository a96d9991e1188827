"""The local and S3 stores behave identically (S3 through boto3 against moto's HTTP server)."""

import threading

import pytest

from detection.serving.artifact import MANIFEST
from detection.serving.registry import (
    PRODUCTION,
    load_production,
    promote,
    read_production,
    rollback,
)
from detection.serving.stores import (
    ArtifactStoreError,
    LocalArtifactStore,
    PointerConflict,
    S3ArtifactStore,
)
from tests.detection.serving.test_artifact import make_bundle


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalArtifactStore(tmp_path / "store")
    bucket = request.getfixturevalue("s3_bucket")
    return S3ArtifactStore(
        bucket, "models-prefix", endpoint_url=request.getfixturevalue("s3_endpoint")
    )


def test_put_get_list_and_missing_key(store):
    store.put("a/b.txt", b"1")
    store.put("a/c.txt", b"2")
    assert store.get("a/b.txt") == b"1"
    assert store.list("a/") == ["a/b.txt", "a/c.txt"]
    with pytest.raises(KeyError):
        store.get("a/missing.txt")
    with pytest.raises(ArtifactStoreError, match="invalid artifact key"):
        store.put("../escape", b"x")


def test_pointer_conditional_writes(store):
    assert store.read_pointer(PRODUCTION) is None
    etag = store.write_pointer(PRODUCTION, b"v1", None)
    with pytest.raises(PointerConflict):
        store.write_pointer(PRODUCTION, b"v1-again", None)  # already exists
    etag2 = store.write_pointer(PRODUCTION, b"v2", etag)
    with pytest.raises(PointerConflict):
        store.write_pointer(PRODUCTION, b"v3", etag)  # stale etag
    assert store.read_pointer(PRODUCTION) == (b"v2", etag2)


def test_conditional_create_never_overwrites(store):
    assert store.put_if_absent("v/manifest.json", b"first") is True
    assert store.put_if_absent("v/manifest.json", b"second") is False
    assert store.get("v/manifest.json") == b"first"
    assert store.list("v/") == ["v/manifest.json"]  # no temporary file left behind


def test_two_uploads_of_one_version_racing_keep_the_first_manifest(store):
    """Two promotions of the same content race: both find the version absent and upload; the
    manifest (run, time) is created once, and the slower one keeps and serves it."""
    first, second = make_bundle(0.5), make_bundle(0.5)
    assert first.version == second.version and first.files[MANIFEST] != second.files[MANIFEST]
    original = store.put_if_absent

    def overtaken(key, data):  # the other promotion creates its manifest just before ours
        if key.endswith(MANIFEST):
            assert original(key, first.files[MANIFEST]) is True
        return original(key, data)

    store.put_if_absent = overtaken  # type: ignore[method-assign]
    promote(store, second, {"run_id": "slower"})
    assert store.get(f"models/{first.version}/{MANIFEST}") == first.files[MANIFEST]
    assert load_production(store).version == first.version


def test_promote_load_and_rollback(store):
    first, second = make_bundle(0.4), make_bundle(0.6)
    promote(store, first, {"run_id": "r1"})
    assert load_production(store).version == first.version
    result = promote(store, second, {"run_id": "r2"})
    assert result["previous"] == first.version
    assert load_production(store).version == second.version
    rollback(store, first.version, {"run_id": "r3"})
    pointer = read_production(store)
    assert pointer is not None and pointer.version == first.version
    assert len(store.list("audit/")) == 3


def test_concurrent_promotions_exactly_one_wins(store):
    promote(store, make_bundle(0.1), {"run_id": "base"})
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    original = store.write_pointer

    def synchronised(key, data, expected):  # both read the same pointer before either writes
        barrier.wait(timeout=10)
        return original(key, data, expected)

    store.write_pointer = synchronised  # type: ignore[method-assign]

    def attempt(threshold: float) -> None:
        try:
            promote(store, make_bundle(threshold), {"run_id": str(threshold)})
            outcomes.append("won")
        except PointerConflict as exc:
            assert "changed since it was read" in str(exc)
            outcomes.append("lost")

    threads = [threading.Thread(target=attempt, args=(t,)) for t in (0.2, 0.3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]


def test_tampered_object_in_store_is_refused(store):
    bundle = make_bundle()
    promote(store, bundle, {"run_id": "r"})
    store.put(f"models/{bundle.version}/model.txt", b"tampered")
    with pytest.raises(ValueError, match="does not match the manifest"):
        load_production(store)


def test_s3_missing_bucket_and_unreachable_endpoint_give_clear_errors(s3_endpoint):
    missing = S3ArtifactStore("no-such-bucket", endpoint_url=s3_endpoint)
    with pytest.raises(ArtifactStoreError, match="does not exist"):
        missing.put("x", b"1")
    dead = S3ArtifactStore("bucket", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(ArtifactStoreError, match="cannot reach the S3 endpoint"):
        dead.put("x", b"1")
