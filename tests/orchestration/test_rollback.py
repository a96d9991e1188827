"""Rollback through the CLI and the Dagster job: audited, verified, production moves back."""

import json
import subprocess
import sys
from pathlib import Path

from assets.resources import ArtifactStoreResource
from detection.serving.registry import promote, read_production
from detection.serving.stores import LocalArtifactStore
from orchestration.jobs import rollback_job
from tests.detection.serving.test_artifact import make_bundle


def _store_with_two_versions(root: Path) -> tuple[LocalArtifactStore, str, str]:
    store = LocalArtifactStore(root)
    first, second = make_bundle(0.4), make_bundle(0.6)
    promote(store, first, {"run_id": "1"})
    promote(store, second, {"run_id": "2"})
    return store, first.version, second.version


def test_cli_rolls_back_and_refuses_unknown_versions(tmp_path):
    store, v1, v2 = _store_with_two_versions(tmp_path)
    cli = Path(sys.executable).with_name("attack-detection")
    done = subprocess.run(
        [
            str(cli),
            "rollback",
            "--artifact",
            str(tmp_path),
            "--to",
            v1,
            "--reason",
            "v2 misses invoices",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout)["previous"] == v2
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v1
    refused = subprocess.run(
        [str(cli), "rollback", "--artifact", str(tmp_path), "--to", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2 and "no model version 'nope'" in refused.stderr
    audit = [json.loads(store.get(k)) for k in store.list("audit/")]
    assert [a["action"] for a in audit].count("rollback") == 1
    assert any(a.get("reason") == "v2 misses invoices" for a in audit)


def test_rollback_job_moves_production_and_refuses_a_tampered_version(tmp_path):
    store, v1, v2 = _store_with_two_versions(tmp_path)
    resources = {"artifact_store": ArtifactStoreResource(uri=str(tmp_path))}
    config = {"ops": {"rollback_production": {"config": {"version": v1, "reason": "test"}}}}
    assert rollback_job.execute_in_process(run_config=config, resources=resources).success
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v1
    store.put(f"models/{v2}/model.txt", b"tampered")
    config["ops"]["rollback_production"]["config"]["version"] = v2
    result = rollback_job.execute_in_process(
        run_config=config, resources=resources, raise_on_error=False
    )
    assert not result.success
    pointer = read_production(store)
    assert pointer is not None and pointer.version == v1
