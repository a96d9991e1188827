"""Dagster on PostgreSQL: an ``ingest_job`` run with a process per step (as a backfill or a
step-per-pod executor runs it; bench.executor's job) over three days lands mail and builds the
baselines, with its run, events and materialisations stored in a real PostgreSQL server
(pgserver). The sensor tests run on the same storage through the ``instance`` fixture."""

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.mail import MAIL_START
from bench.executor import multiprocess_job
from orchestration.run import partition_range_tags
from tests.orchestration.conftest import postgres_storage

SHIPPED = Path(__file__).resolve().parents[2] / "orchestration" / "dagster.postgres.yaml"

pytestmark = [pytest.mark.engines, pytest.mark.slow]


def test_multiprocess_ingest_on_postgres(postgres_server, session_env, dbt_manifest):
    with dg.instance_for_test(overrides=postgres_storage(postgres_server)) as instance:
        assert "Postgres" in type(instance.run_storage).__name__
        result = dg.execute_job(
            dg.reconstructable(multiprocess_job), instance=instance, tags=partition_range_tags(3)
        )
        assert result.success
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        # each step ran in its own process (the code location runs steps in the run's process; a
        # backfill or a step-per-pod executor runs them apart, which is what stresses storage)
        starts = instance.get_records_for_run(
            result.run_id, of_type=dg.DagsterEventType.STEP_START
        ).records
        pids = {record.event_log_entry.dagster_event.pid for record in starts}  # type: ignore[union-attr]
        assert len(starts) >= 2 and len(pids) == len(starts)
        raw = instance.fetch_materializations(dg.AssetKey("raw_messages"), limit=10).records
        start = date.fromisoformat(MAIL_START)
        days = [(start + timedelta(days=n)).isoformat() for n in range(3)]
        assert sorted(r.partition_key or "" for r in raw) == days
        mart = instance.fetch_materializations(dg.AssetKey("fct_message_behaviour"), limit=10)
        assert len(mart.records) == 3


def test_the_shipped_postgres_instance_file_loads(postgres_server, monkeypatch):
    """orchestration/dagster.postgres.yaml (what docs/portability.md tells a deployment to copy)
    gives a PostgreSQL-backed instance with the queued run coordinator and its limits."""
    overrides = yaml.safe_load(SHIPPED.read_text())
    url = postgres_storage(postgres_server)["storage"]["postgres"]["postgres_url"]  # type: ignore[index]
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", url)
    with dg.instance_for_test(overrides=overrides) as instance:
        assert "Postgres" in type(instance.run_storage).__name__
        assert "Postgres" in type(instance.event_log_storage).__name__
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        limits = instance.get_concurrency_config().run_queue_config
        assert limits is not None and limits.max_concurrent_runs == 4
