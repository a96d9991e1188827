"""The whole graph with the lake and the work directory on S3 (moto's server over real HTTP): every
step reads and writes them through fsspec, dbt reads the lake through DuckDB's registered s3
filesystem, and the model deploys to S3. Nothing lands on local disk but the DuckDB warehouse."""

from collections.abc import Iterator
from pathlib import Path

import boto3
import dagster as dg
import pytest

from assets.resources import ArtifactStoreResource, LakeResource, WorkDirResource
from detection.serving.registry import read_production
from orchestration.definitions import all_asset_checks, all_assets
from orchestration.jobs import DAILY, RETRAIN
from orchestration.resources import resources
from orchestration.run import partition_range_tags

pytestmark = pytest.mark.slow
BUCKET = "shared-storage"
DAYS = 42  # the default gate policy needs the demo world's six weeks of evidence to ship
DEMO = {"ops": {"raw_messages": {"config": {"text_corpus": "none"}}}}


@pytest.fixture(scope="module")
def on_s3(s3_endpoint: str, session_env: Path, dbt_manifest: Path) -> Iterator[dict[str, str]]:
    """Lake and work directory at s3:// URLs; the warehouse stays a local DuckDB file."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    values = {
        "ATTACK_DETECTION_LAKE_DIR": f"s3://{BUCKET}/lake",
        "ATTACK_DETECTION_WORK_DIR": f"s3://{BUCKET}/work",
        "ATTACK_DETECTION_DUCKDB_PATH": str(session_env / "s3-warehouse.duckdb"),
        "AWS_ENDPOINT_URL_S3": s3_endpoint,  # s3fs and the dbt subprocess find moto here
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in values.items():
            patch.setenv(key, value)
        yield values


def _materialize(store: ArtifactStoreResource, selection, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [*all_assets(), *all_asset_checks()],
        selection=selection,
        resources={**resources(), "artifact_store": store},
        raise_on_error=False,
        **kwargs,
    )


@pytest.fixture(scope="module")
def graph_on_s3(on_s3: dict[str, str], s3_endpoint: str):
    store = ArtifactStoreResource(uri=f"s3://{BUCKET}/models", s3_endpoint_url=s3_endpoint)
    landed = _materialize(store, DAILY, run_config=DEMO, tags=partition_range_tags(DAYS))
    assert landed.success, [e.message for e in landed.all_events if e.is_failure]
    return landed, _materialize(store, RETRAIN), store


def _keys(s3_endpoint: str, prefix: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def test_the_resources_point_at_s3(on_s3: dict[str, str]):
    assert str(LakeResource().lake) == f"s3://{BUCKET}/lake"
    assert str(WorkDirResource().open().root) == f"s3://{BUCKET}/work"


def test_whole_graph_runs_on_s3_storage_and_deploys(graph_on_s3, s3_endpoint, session_env):
    _landed, retrained, store = graph_on_s3
    assert retrained.success, [e.message for e in retrained.all_events if e.is_failure]
    [deployed] = retrained.asset_materializations_for_node("deployed_model")
    uri = str(deployed.metadata["uri"].value)
    assert uri.startswith(f"s3://{BUCKET}/models/models/"), uri
    production = read_production(store.open())
    assert production is not None and production.version == deployed.metadata["version"].value
    checks = {e.check_name: e.passed for e in retrained.get_asset_check_evaluations()}
    assert checks["recall_at_threshold"] and checks["scoring_latency_within_budget"]
    assert "feature_drift" in checks and "prediction_drift" in checks  # Evidently read S3 too

    lake = _keys(s3_endpoint, "lake/")
    days = {key.split("/")[2] for key in lake if key.startswith("lake/messages/")}
    assert len(days) == DAYS  # one partition per landed day, written by the simulator's workers
    assert {key.split("/")[1] for key in lake} == {"messages", "recipients", "urls", "quarantine"}
    work = set(_keys(s3_endpoint, "work/"))
    for name in (
        "message_features.parquet",
        "training_table.parquet",
        "text_scores.parquet",
        "candidate/model.txt",
        "evaluation.json",
        "evaluation_scores.parquet",
        "candidate_bundle/manifest.json",
        "golden/golden_set.parquet",
    ):
        assert f"work/{name}" in work, name
    assert any(k.startswith("work/reports/published/") for k in work)  # the pictures, the reports
    assert any(k.startswith("work/snapshot/") for k in work)


def test_dbt_read_the_lake_on_s3(graph_on_s3, on_s3):
    """The behaviour mart has a row for every message the lake on S3 holds."""
    import duckdb

    from detection import storage
    from detection.mail.lake import message_files

    files = message_files(LakeResource().lake)
    landed = sum(storage.read_table(f, columns=["message_id"]).num_rows for f in files)
    with duckdb.connect(on_s3["ATTACK_DETECTION_DUCKDB_PATH"], read_only=True) as connection:
        rows = connection.execute("select count(*) from fct_message_behaviour").fetchone()
    assert landed > 0 and rows is not None and rows[0] == landed


def test_steps_in_separate_processes_share_the_lake_on_s3(
    on_s3: dict[str, str], s3_endpoint: str, session_env: Path, monkeypatch: pytest.MonkeyPatch
):
    """ingest_job with a process per step (as a step-per-pod executor runs it): the mail step
    lands three days on S3 and the dbt step, in another process, builds the baselines from them."""
    from bench.executor import multiprocess_job

    monkeypatch.setenv("ATTACK_DETECTION_LAKE_DIR", f"s3://{BUCKET}/per-step/lake")
    monkeypatch.setenv("ATTACK_DETECTION_DUCKDB_PATH", str(session_env / "per-step.duckdb"))
    with dg.instance_for_test() as instance:
        result = dg.execute_job(
            dg.reconstructable(multiprocess_job), instance=instance, tags=partition_range_tags(3)
        )
        assert result.success
        starts = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.STEP_START
        ).records
        pids = {record.event_log_entry.dagster_event.pid for record in starts}  # type: ignore[union-attr]
        assert len(starts) >= 2 and len(pids) == len(starts)
    landed = _keys(s3_endpoint, "per-step/lake/messages/")
    assert len({key.split("/")[3] for key in landed}) == 3
    import duckdb

    with duckdb.connect(str(session_env / "per-step.duckdb"), read_only=True) as connection:
        rows = connection.execute("select count(*) from fct_message_behaviour").fetchone()
    assert rows is not None and rows[0] > 0


def test_the_cli_lands_mail_and_replays_a_proposal_on_s3(graph_on_s3, on_s3, s3_endpoint, tmp_path):
    """``attack-detection ingest --out s3://...`` and ``whatif`` over the work directory and
    lake on S3 (their defaults come from the same variables), writing its parquet to S3."""
    import json
    import os
    import subprocess
    import sys

    from detection import storage
    from detection.mail.lake import message_files

    cli = str(Path(sys.executable).with_name("attack-detection"))
    env = {**os.environ, "ATTACK_DETECTION_S3_ENDPOINT_URL": s3_endpoint}
    proposal = ["--threshold", "0.5", "--format", "json", "--out", f"s3://{BUCKET}/whatif"]
    replay = subprocess.run(
        [cli, "whatif", "--artifact", f"s3://{BUCKET}/models", *proposal],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert replay.returncode == 0, replay.stderr[-2000:]
    written = _keys(s3_endpoint, "whatif/")
    assert "whatif/summary.json" in written and "whatif/changes.parquet" in written
    assert not any("/.writing/" in key for key in written)  # the staging folder is gone

    mail = tmp_path / "one.eml"
    mail.write_bytes(
        b"From: Ann <ann@corp.example>\r\nTo: bob@corp.example\r\nSubject: lunch\r\n"
        b"Date: Mon, 5 Jan 2026 10:00:00 +0000\r\nMessage-ID: <l1@corp.example>\r\n\r\nnoon?\r\n"
    )
    out = f"s3://{BUCKET}/cli-lake"
    ingest = subprocess.run(
        [cli, "ingest", "--out", out, str(mail)], env=env, capture_output=True, text=True
    )
    assert ingest.returncode == 0, ingest.stderr[-2000:]
    assert json.loads(ingest.stdout)["out"] == out
    files = message_files(storage.location(out))
    assert sum(storage.read_table(f).num_rows for f in files) == 1


def test_files_another_writer_adds_are_seen_after_a_listing(on_s3: dict[str, str], s3_endpoint):
    """s3fs caches listings per process: without turning that off, a day listed before the
    simulator's workers wrote into it kept its old listing, and make run's features missed a
    whole landed day (1,224 messages)."""
    from datetime import date

    from detection import storage
    from detection.mail import lake
    from detection.mail.schema import messages_to_tables
    from tests.detection.mail.test_lake_replay import landed_messages

    root = storage.location(f"s3://{BUCKET}/listing/lake")
    day = date(2026, 1, 5)
    lake.write_day(root, day, messages_to_tables(landed_messages("a", 2, 5)), part="path-1")
    assert len(lake.message_files(root)) == 1
    assert lake.arrival_span(root, [day]) is not None
    other = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    written = lake.partition_dir(root, "messages", day) / "path-1.parquet"
    key = f"listing/lake/messages/date={day.isoformat()}/part-0.parquet"
    other.put_object(Bucket=BUCKET, Key=key, Body=written.read_bytes())  # another writer
    assert len(lake.message_files(root)) == 2
    assert (lake.partition_dir(root, "messages", day) / "part-0.parquet").is_file()
