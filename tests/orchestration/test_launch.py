"""``make run``'s runs are launched through the instance and the workspace's code location
(``orchestration.launch``), as the UI launches them: they carry the code location's origin (what
puts a run on its job's Runs tab and the timeline, and lets the UI re-execute it), start without a
daemon under the instance settings ``make run`` installs, and report what failed."""

import shutil
from pathlib import Path

import dagster as dg
import pytest

from orchestration import launch as launching
from orchestration.jobs import INGEST_JOB
from orchestration.run import CORPUS_TENANT, PARTITION_TAG, corpus_run_config

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
LOCATION = "orchestration.definitions"  # workspace.yaml's python_module


@pytest.fixture
def home(session_env: Path, dbt_manifest: Path, tmp_path: Path, monkeypatch) -> Path:
    home = tmp_path / "dagster-home"
    home.mkdir()
    shutil.copy(REPO / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_a_launched_run_carries_the_code_location_and_says_what_failed(home: Path, tmp_path):
    missing = tmp_path / "no-such-corpus"
    run_id = launching.launch(
        INGEST_JOB, tags={PARTITION_TAG: "2026-01-05"}, run_config=corpus_run_config(missing)
    )
    instance = dg.DagsterInstance.get()
    finished = launching.wait(instance, run_id, timeout_s=600)

    assert not finished.success
    assert finished.run.status == dg.DagsterRunStatus.FAILURE
    origin = finished.run.remote_job_origin
    assert origin is not None, "launched without the code location's origin"
    assert origin.location_name == LOCATION
    assert finished.run.tags[PARTITION_TAG] == "2026-01-05"
    # the error names the step and the path that was wrong
    assert any(
        line.startswith("step failed: raw_messages") and str(missing) in line
        for line in finished.problems
    ), finished.problems
    listed = instance.get_runs(filters=dg.RunsFilter(job_name=INGEST_JOB))
    assert [r.run_id for r in listed] == [run_id]
    assert CORPUS_TENANT in str(finished.run.run_config)


def test_a_run_that_no_daemon_takes_is_reported(home: Path, monkeypatch):
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n"
        "  module: dagster.core.run_coordinator\n"
        "  class: QueuedRunCoordinator\n"
        "telemetry:\n  enabled: false\n"
    )
    monkeypatch.setattr(launching, "QUEUE_PATIENCE_S", 1.0)
    run_id = launching.launch(INGEST_JOB, tags={PARTITION_TAG: "2026-01-05"})
    instance = dg.DagsterInstance.get()
    with pytest.raises(launching.LaunchError, match="no daemon is running"):
        launching.wait(instance, run_id, poll_s=0.2, timeout_s=120)
    run = instance.get_run_by_id(run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.CANCELED  # never runs later


def test_a_job_the_code_location_lacks_is_a_clear_error(home: Path):
    with pytest.raises(launching.LaunchError, match="no_such_job"):
        launching.launch("no_such_job")


def test_the_local_instance_keeps_the_warehouse_pool_without_a_queue(home: Path):
    """The instance make run installs starts runs without a queue; the DuckDB pool (one step at
    a time) is then enforced by each step claiming its slot in its run's process, which Dagster
    does at op granularity only."""
    instance = dg.DagsterInstance.get()
    assert not isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    pools = instance.get_concurrency_config().pool_config
    assert pools.default_pool_limit == 1
    assert pools.pool_granularity is not None and pools.pool_granularity.value == "op"


def test_a_runs_errors_checks_and_materialisations_are_read_back():
    """What make run prints comes from the run's events: a step's exception with its cause
    (Dagster wraps it), a failed check, an asset's metadata."""

    @dg.asset
    def broken() -> None:
        raise ValueError("the lake folder is missing; land mail first")

    @dg.asset(check_specs=[dg.AssetCheckSpec("has_rows", asset="shipped")])
    def shipped():
        yield dg.MaterializeResult(metadata={"version": "abc", "recall": 0.5})
        yield dg.AssetCheckResult(check_name="has_rows", passed=False)

    with dg.instance_for_test() as instance:
        failed = dg.materialize([broken], instance=instance, raise_on_error=False)
        lines = launching.problems(instance, failed.run_id)
        assert len(lines) == 1 and lines[0].startswith("step failed: broken: ")
        assert "ValueError: the lake folder is missing; land mail first" in lines[0]

        done = dg.materialize([shipped], instance=instance)
        assert launching.problems(instance, done.run_id) == ["check failed: shipped has_rows"]
        metadata = launching.materialization(instance, done.run_id, "shipped")
        assert metadata == {"version": "abc", "recall": 0.5}
        assert launching.materialization(instance, done.run_id, "broken") is None
