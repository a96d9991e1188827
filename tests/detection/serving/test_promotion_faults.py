"""Promotion against an S3 server that goes away at the worst moments: each failure is a clear
error and production keeps serving the previous model. A dedicated moto server (real HTTP on
127.0.0.1) is stopped and restarted by the test; moto keeps its buckets across the restart."""

import json
import socket

import boto3
import pytest
from moto.server import ThreadedMotoServer

from detection.serving.registry import (
    PRODUCTION,
    load_production,
    model_prefix,
    promote,
    read_production,
    rollback,
)
from detection.serving.stores import ArtifactStoreError, S3ArtifactStore
from tests.detection.serving.test_artifact import make_bundle


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Outage:
    def __init__(self) -> None:
        self.port = _port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.server: ThreadedMotoServer | None = None

    def up(self) -> None:
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()

    def down(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def outage(session_env):
    server = _Outage()
    server.up()
    boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1").create_bucket(
        Bucket="faults"
    )
    yield server
    server.down()


def _store(endpoint: str) -> S3ArtifactStore:
    return S3ArtifactStore("faults", "prod", endpoint_url=endpoint)


def test_s3_down_during_upload_leaves_production_unchanged(outage):
    v1, v2 = make_bundle(0.4), make_bundle(0.6)
    promote(_store(outage.endpoint), v1, {"run_id": "1"})
    uploaded: list[str] = []

    class DiesMidUpload(S3ArtifactStore):
        def put(self, key: str, data: bytes) -> None:
            if len(uploaded) == 3:  # three files of the new version are in; then S3 goes away
                outage.down()
            super().put(key, data)
            uploaded.append(key)

    with pytest.raises(ArtifactStoreError, match=r"upload to .*cannot reach the S3 endpoint"):
        promote(DiesMidUpload("faults", "prod", endpoint_url=outage.endpoint), v2, {"run_id": "2"})
    assert len(uploaded) == 3
    outage.up()
    assert load_production(_store(outage.endpoint)).version == v1.version


def test_s3_down_during_pointer_move_leaves_production_unchanged(outage):
    v1, v2 = make_bundle(0.4), make_bundle(0.6)
    promote(_store(outage.endpoint), v1, {"run_id": "1"})

    class FailsAtPointer(S3ArtifactStore):
        def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
            outage.down()  # the upload and its read-back verification have completed
            return super().write_pointer(key, data, expected_etag)

    with pytest.raises(ArtifactStoreError, match=r"move pointer .*cannot reach"):
        promote(FailsAtPointer("faults", "prod", endpoint_url=outage.endpoint), v2, {"run_id": "2"})
    outage.up()
    store = _store(outage.endpoint)
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v1.version
    assert f"{model_prefix(v2.version)}/manifest.json" in store.list(
        "models/"
    )  # uploaded, not live
    assert not [k for k in store.list("audit/") if v2.version in k]  # no audit for a failed move


def test_missing_bucket_is_a_clear_error(outage):
    store = S3ArtifactStore("no-such-bucket", "prod", endpoint_url=outage.endpoint)
    with pytest.raises(ArtifactStoreError, match="bucket 'no-such-bucket' does not exist"):
        promote(store, make_bundle(), {"run_id": "1"})


def test_a_pointer_move_whose_response_was_lost_finishes(outage):
    """The conditional write lands but its response is lost; the retry is refused (412) because
    the pointer already moved, by this very promotion. It finishes, audit included, instead of
    reporting a lost race with production moved and no record."""
    v1, v2 = make_bundle(0.4), make_bundle(0.6)
    promote(_store(outage.endpoint), v1, {"run_id": "1"})

    class LosesTheResponse(S3ArtifactStore):
        def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
            super().write_pointer(key, data, expected_etag)  # lands; the response never arrives
            return super().write_pointer(key, data, expected_etag)  # the retry: 412

    result = promote(
        LosesTheResponse("faults", "prod", endpoint_url=outage.endpoint), v2, {"run_id": "2"}
    )
    store = _store(outage.endpoint)
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v2.version == result["version"]
    assert [k for k in store.list("audit/") if f"promote-{v2.version}" in k]


def test_a_lost_race_is_still_refused(outage):
    v1, v2, v3 = make_bundle(0.4), make_bundle(0.6), make_bundle(0.7)
    promote(_store(outage.endpoint), v1, {"run_id": "1"})

    class Overtaken(S3ArtifactStore):
        def write_pointer(self, key: str, data: bytes, expected_etag: str | None) -> str:
            promote(_store(outage.endpoint), v3, {"run_id": "3"})  # another promotion wins
            return super().write_pointer(key, data, expected_etag)

    with pytest.raises(ArtifactStoreError, match="another promotion or rollback won"):
        promote(Overtaken("faults", "prod", endpoint_url=outage.endpoint), v2, {"run_id": "2"})
    pointer = read_production(_store(outage.endpoint))
    assert pointer is not None and pointer.version == v3.version


def test_rollback_force_replaces_a_corrupt_pointer_and_says_so(outage):
    v1, v2 = make_bundle(0.4), make_bundle(0.6)
    store = _store(outage.endpoint)
    promote(store, v1, {"run_id": "1"})
    promote(store, v2, {"run_id": "2"})
    store.put(PRODUCTION, b"{not json")
    with pytest.raises(ArtifactStoreError, match="unreadable"):
        rollback(store, v1.version, {"run_id": "r"})
    result = rollback(store, v1.version, {"run_id": "r", "reason": "corrupt pointer"}, force=True)
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v1.version == result["version"]
    audit = [k for k in store.list("audit/") if f"rollback-{v1.version}" in k]
    assert json.loads(store.get(audit[0]))["replaced_unreadable_pointer"] is True
