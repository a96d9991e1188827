"""Promotion with wrong credentials, against a moto server with IAM authentication switched on
(its own process: moto reads INITIAL_NO_AUTH_ACTION_COUNT at start-up)."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from detection.serving.registry import promote, read_production
from detection.serving.stores import ArtifactStoreError, S3ArtifactStore
from tests.detection.serving.test_artifact import make_bundle

SETUP_ACTIONS = 4  # create user, attach policy, create access key, create bucket: unauthenticated
POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def authenticating_s3(session_env):
    port = _port()
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": str(SETUP_ACTIONS)}
    server = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
        iam.create_user(UserName="deployer")
        iam.put_user_policy(UserName="deployer", PolicyName="s3", PolicyDocument=json.dumps(POLICY))
        key = iam.create_access_key(UserName="deployer")["AccessKey"]
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="models"
        )
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def _store(endpoint: str, key_id: str, secret: str) -> S3ArtifactStore:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )
    return S3ArtifactStore("models", "detection", client=client)


def test_wrong_credentials_give_a_clear_error_and_production_is_unchanged(authenticating_s3):
    endpoint, key_id, secret = authenticating_s3
    good = _store(endpoint, key_id, secret)
    first = make_bundle(threshold=0.4)
    promote(good, first, {"run_id": "first"})
    wrong_keys = [(key_id, "not-the-secret"), ("AKIAWRONG", secret)]
    for wrong in (_store(endpoint, *pair) for pair in wrong_keys):
        with pytest.raises(ArtifactStoreError, match="access denied"):
            promote(wrong, make_bundle(threshold=0.6), {"run_id": "wrong"})
    pointer = read_production(good)
    assert pointer is not None and pointer.version == first.version
