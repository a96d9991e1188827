"""Session fixtures: isolated local paths for every location the system writes, the dbt manifest
prepared once, and moto's standalone S3 server on 127.0.0.1 (real HTTP, boto3 unpatched)."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.dbt_env import dbt_executable
from tests.servers import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
REAL_MAIL = REPO_ROOT.parent / "shared" / "data" / "real-mail"


@pytest.fixture(scope="session")
def session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every location the pipeline writes points into one temp directory for the session."""
    root = tmp_path_factory.mktemp("attack-detection")
    values = {
        "ATTACK_DETECTION_LAKE_DIR": str(root / "lake"),
        "ATTACK_DETECTION_DUCKDB_PATH": str(root / "warehouse.duckdb"),
        "ATTACK_DETECTION_WORK_DIR": str(root / "work"),
        "ATTACK_DETECTION_ARTIFACT_URI": str(root / "artifacts"),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        patch.delenv("ATTACK_DETECTION_S3_ENDPOINT_URL", raising=False)
        patch.delenv("DAGSTER_HOME", raising=False)  # tests use ephemeral Dagster instances
        yield root


@pytest.fixture(scope="session")
def dbt_manifest(session_env: Path) -> Path:
    """``dbt parse`` once per session, as ``make`` does before Dagster loads the definitions."""
    project = REPO_ROOT / "dbt_project"
    parse = [dbt_executable(), "parse", "--profiles-dir", ".", "--quiet"]
    subprocess.run(parse, cwd=project, check=True)
    return project / "target" / "manifest.json"


@pytest.fixture(scope="session")
def s3_endpoint(session_env: Path) -> Iterator[str]:
    """moto's standalone server over real HTTP on 127.0.0.1, for the session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test."""
    import boto3

    name = "test-" + "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())[
        :50
    ].strip("-")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def real_mail() -> Path:
    if not (REAL_MAIL / "manifest.csv").is_file():
        pytest.skip(
            f"real-mail corpus not found at {REAL_MAIL} (it lives in ../shared/data/real-mail)"
        )
    return REAL_MAIL
