"""A run launched from the code location, its steps in the run's process (the code location's
executor) against a process per step (Dagster's multiprocess executor, the default before):

    python -m bench.executor --days 3 --repeats 3

Each run is ``ingest_job`` over ``days`` simulated days on a fresh persistent instance and lake,
started as the UI's run worker starts it (``execute_job`` of a reconstructable job), the two
executors alternated. Reports the wall time of each run and the time between the run's start and
its first step's start (what a step process's start-up costs the run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import dagster as dg


def in_process_job() -> dg.JobDefinition:
    from orchestration.definitions import defs
    from orchestration.jobs import INGEST_JOB

    return defs().resolve_job_def(INGEST_JOB)


def multiprocess_job() -> dg.JobDefinition:
    """ingest_job with a process per step (module-level: the step processes rebuild it); also the
    job tests/orchestration/test_postgres.py runs on PostgreSQL."""
    from orchestration.definitions import all_asset_checks, all_assets
    from orchestration.jobs import DAILY, INGEST_JOB
    from orchestration.resources import resources

    job = dg.define_asset_job(INGEST_JOB, selection=DAILY, executor_def=dg.multiprocess_executor)
    definitions = dg.Definitions(
        assets=all_assets(), asset_checks=all_asset_checks(), jobs=[job], resources=resources()
    )
    return definitions.resolve_job_def(INGEST_JOB)


def _one(kind: str, days: int) -> dict[str, float]:
    from orchestration.run import partition_range_tags

    target = {"in-process": in_process_job, "multiprocess": multiprocess_job}[kind]
    with tempfile.TemporaryDirectory(prefix="executor-") as root:
        os.environ["ATTACK_DETECTION_LAKE_DIR"] = f"{root}/lake"
        os.environ["ATTACK_DETECTION_DUCKDB_PATH"] = f"{root}/warehouse.duckdb"
        os.environ["ATTACK_DETECTION_WORK_DIR"] = f"{root}/work"
        Path(root, "home").mkdir()
        with dg.instance_for_test(temp_dir=f"{root}/home") as instance:
            started = time.perf_counter()
            result = dg.execute_job(
                dg.reconstructable(target), instance=instance, tags=partition_range_tags(days)
            )
            wall = time.perf_counter() - started
            if not result.success:
                raise SystemExit(f"{kind} run failed")
            events = instance.all_logs(result.run_id)
            run_start = next(
                e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.RUN_START
            )
            step_starts = [
                e.timestamp
                for e in events
                if e.dagster_event_type == dg.DagsterEventType.STEP_START
            ]
            return {"wall": wall, "first_step_after": min(step_starts) - run_start}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--days", type=int, default=3, help="simulated days to land (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per executor (default 3)")
    args = parser.parse_args()
    if not Path("dbt_project/target/manifest.json").is_file():
        raise SystemExit("run `make manifest` first (dagster-dbt needs dbt's manifest)")
    results: dict[str, list[dict[str, float]]] = {"in-process": [], "multiprocess": []}
    for _ in range(args.repeats):
        for kind in results:
            results[kind].append(_one(kind, args.days))
    print(f"ingest_job over {args.days} days; {args.repeats} runs each, alternated")
    print("executor | run wall s, median (min-max) | run start -> first step s")
    for kind, runs in results.items():
        walls = [r["wall"] for r in runs]
        firsts = [r["first_step_after"] for r in runs]
        print(
            f"{kind} | {statistics.median(walls):.1f} ({min(walls):.1f}-{max(walls):.1f})"
            f" | {statistics.median(firsts):.1f}"
        )
    ratio = statistics.median(r["wall"] for r in results["multiprocess"]) / statistics.median(
        r["wall"] for r in results["in-process"]
    )
    print(f"multiprocess / in-process: {ratio:.2f}x")


if __name__ == "__main__":
    main()
