"""A run launched from the code location, its steps in the run's process (the code location's
executor) against a process per step (Dagster's multiprocess executor, the default before):

    python -m bench.executor --days 3 --repeats 3

Each run is ``ingest_job`` over ``days`` simulated days on a fresh persistent instance and lake,
started as the UI's run worker starts it (``execute_job`` of a reconstructable job), the two
executors alternated. Reports the wall time of each run and the time between the run's start and
its first step's start (what a step process's start-up costs the run).

    python -m bench.executor retrain --days 42 --repeats 3

``retrain_job`` as the UI runs it against as ``make run`` runs it, on one lake landed once as
``make run`` lands it (the shared real-mail corpus when present, then ``days`` simulated days):
the UI's run worker is a fresh process that imports the definitions and executes the
reconstructable job (timed from outside the process, its start-up included); ``make run``
executes the job in a process that has the definitions loaded already (``execute_in_process``,
timed around that call). Alternated, each a full retrain.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
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


def _point_at(root: str) -> None:
    """Every location a run writes (lake, warehouse, work directory, deployed bundles) under
    ``root``; the run worker processes inherit it."""
    os.environ["ATTACK_DETECTION_LAKE_DIR"] = f"{root}/lake"
    os.environ["ATTACK_DETECTION_DUCKDB_PATH"] = f"{root}/warehouse.duckdb"
    os.environ["ATTACK_DETECTION_WORK_DIR"] = f"{root}/work"
    os.environ["ATTACK_DETECTION_ARTIFACT_URI"] = f"{root}/artifacts"


def _one(kind: str, days: int) -> dict[str, float]:
    from orchestration.run import partition_range_tags

    target = {"in-process": in_process_job, "multiprocess": multiprocess_job}[kind]
    with tempfile.TemporaryDirectory(prefix="executor-") as root:
        _point_at(root)
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


def retrain_job() -> dg.JobDefinition:
    from orchestration.definitions import defs
    from orchestration.jobs import RETRAIN_JOB

    return defs().resolve_job_def(RETRAIN_JOB)


# what the UI's run worker does in its fresh process: import the definitions, execute the job
_RUN_WORKER = """
import sys
import dagster as dg
from bench.executor import retrain_job
instance = dg.DagsterInstance.from_config(sys.argv[1])
result = dg.execute_job(dg.reconstructable(retrain_job), instance=instance)
raise SystemExit(0 if result.success else 1)
"""


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def compare_retrain(days: int, repeats: int) -> None:
    from assets.mail import MAIL_START
    from assets.resources import real_mail_dir
    from orchestration.definitions import defs
    from orchestration.jobs import INGEST_JOB
    from orchestration.run import corpus_run_config, partition_range_tags

    times: dict[str, list[float]] = {"UI run worker": [], "make run": []}
    outcomes: set[tuple[bool, bool]] = set()  # (run worker succeeded, make run succeeded)
    with tempfile.TemporaryDirectory(prefix="retrain-") as root:
        _point_at(root)
        home = Path(root, "home")
        home.mkdir()
        Path(home, "dagster.yaml").write_text(Path("orchestration/dagster.yaml").read_text())
        instance = dg.DagsterInstance.from_config(str(home))
        ingest = defs().resolve_job_def(INGEST_JOB)
        corpus = real_mail_dir()
        if (corpus / "manifest.csv").is_file():
            ingest.execute_in_process(
                instance=instance, partition_key=MAIL_START, run_config=corpus_run_config(corpus)
            )
        else:
            print(f"no real-mail corpus at {corpus}: simulated mail only (the gate may block)")
        ingest.execute_in_process(instance=instance, tags=partition_range_tags(days))
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", _RUN_WORKER, str(home)], check=False)
            times["UI run worker"].append(time.perf_counter() - started)
            started = time.perf_counter()
            result = retrain_job().execute_in_process(instance=instance, raise_on_error=False)
            times["make run"].append(time.perf_counter() - started)
            outcomes.add((done.returncode == 0, result.success))
    print(f"retrain_job on {days} landed days; {repeats} runs each, alternated")
    print(f"runs (worker succeeded, make run succeeded): {sorted(outcomes)}")
    print("launched as | wall s, median (min-max)")
    for kind, values in times.items():
        print(f"{kind} | {_summary(values)}")
    ratio = statistics.median(times["UI run worker"]) / statistics.median(times["make run"])
    print(f"UI run worker / make run: {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("job", nargs="?", choices=["ingest", "retrain"], default="ingest")
    parser.add_argument("--days", type=int, default=3, help="simulated days to land (default 3)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per executor (default 3)")
    args = parser.parse_args()
    if not Path("dbt_project/target/manifest.json").is_file():
        raise SystemExit("run `make manifest` first (dagster-dbt needs dbt's manifest)")
    if args.job == "retrain":
        compare_retrain(args.days, args.repeats)
        return
    results: dict[str, list[dict[str, float]]] = {"in-process": [], "multiprocess": []}
    for _ in range(args.repeats):
        for kind in results:
            results[kind].append(_one(kind, args.days))
    print(f"ingest_job over {args.days} days; {args.repeats} runs each, alternated")
    print("executor | run wall s, median (min-max) | run start -> first step s")
    for kind, runs in results.items():
        firsts = [r["first_step_after"] for r in runs]
        print(f"{kind} | {_summary([r['wall'] for r in runs])} | {statistics.median(firsts):.1f}")
    ratio = statistics.median(r["wall"] for r in results["multiprocess"]) / statistics.median(
        r["wall"] for r in results["in-process"]
    )
    print(f"multiprocess / in-process: {ratio:.2f}x")


if __name__ == "__main__":
    main()
