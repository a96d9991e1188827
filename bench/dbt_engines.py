"""The dbt project on another engine beside DuckDB: the same lake, the same runs, every table
compared and every run timed.

    python -m bench.dbt_engines --engine spark --lake LAKE --out DIR --windows 0:4,4:6,6:8
    python -m bench.dbt_engines compare --days 8 --repeats 3      # both engines, timed

A run plan is a list of day windows over the lake's days, landed one window at a time into a lake
of the plan's own (as ``raw_messages`` lands them): the first window's run builds every model and
test from nothing (``dbt build``), each later one is an incremental ``dbt run`` of its window as
Dagster passes it (``window_start``/``window_end`` vars, whole UTC days), then ``dbt test``.
Every invocation of a plan runs in one process of dbt's own environment (``bench/dbt_runner.py``
under ``.venv-dbt``'s interpreter, through dbt's Python API), so Spark's session (its JVM and
metastore, about half a minute to start) is started once per plan. At the end each base table is
written to ``OUT/tables/NAME/`` as parquet and the seconds of each invocation to ``OUT/runs.json``.

Spark runs in dbt-spark's session mode (``make env SYNC_GROUPS="--group engines"`` installs
dbt-spark in dbt's environment; Java 17+ on PATH).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
SCHEMA = {"spark": "attack_detection", "duckdb": "main"}


def landed_days(lake_dir: Path) -> list[date]:
    return sorted(
        date.fromisoformat(p.name.removeprefix("date="))
        for p in (lake_dir / "messages").glob("date=*")
    )


def windows_of(spec: str) -> list[tuple[int, int]]:
    """``0:4,4:6`` -> [(0, 4), (4, 6)]: half-open ranges of landed-day indices."""
    return [(int(a), int(b)) for a, b in (part.split(":") for part in spec.split(","))]


def run_plan(
    engine: str, lake_dir: Path, out: Path, windows: list[tuple[int, int]]
) -> dict[str, object]:
    """Run the plan on one engine; write its tables and timings under ``out``. dbt runs in its
    own environment (``bench/dbt_runner.py`` under dbt's interpreter), one process per plan."""
    from detection.features.behaviour import dbt_vars
    from orchestration.dbt_env import dbt_python

    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    lake_dir = lake_dir.resolve()
    staged = out / "lake"
    environment = {
        # Spark's driver binds to loopback (no network needed) and Derby writes its log in the
        # working directory: the plan's own folder
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "ATTACK_DETECTION_LAKE_DIR": str(staged),
        "ATTACK_DETECTION_DUCKDB_PATH": str(out / "warehouse.duckdb"),
        "ATTACK_DETECTION_SPARK_DIR": str(out / "spark"),
    }
    days = landed_days(lake_dir)
    common = [
        "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
        "--target", {"spark": "spark", "duckdb": "local"}[engine],
        "--target-path", str(out / "target"), "--log-path", str(out / "logs"), "--quiet",
    ]  # fmt: skip
    steps: list[dict[str, object]] = []
    runs: list[dict[str, object]] = []
    for position, (first, last) in enumerate(windows):
        copies = [
            (str(folder), str(staged / folder.parent.name / folder.name))
            for day in days[first:last]
            for folder in lake_dir.glob(f"*/date={day}")
        ]
        window = {
            "window_start": f"{days[first]} 00:00:00",
            "window_end": f"{days[last - 1] + timedelta(days=1)} 00:00:00",
        }
        step = "build" if position == 0 else "run"  # the first builds models and tests
        variables = ["--vars", json.dumps({**dbt_vars(), **window})]
        steps.append({"copies": copies, "args": [step, *common, *variables]})
        runs.append({"step": step, "window": window})
    if len(windows) > 1:
        test = ["test", *common, "--vars", json.dumps(dbt_vars())]
        steps.append({"copies": [], "args": test})
        runs.append({"step": "test"})
    plan = {"engine": engine, "schema": SCHEMA[engine], "out": str(out), "steps": steps,
            "environment": environment}  # fmt: skip
    (out / "plan.json").write_text(json.dumps(plan))
    runner = Path(__file__).with_name("dbt_runner.py")
    # -P: the script's folder (bench/, whose profile.py would shadow the standard library's for
    # cProfile, which dbt imports) is not put on the path; dbt's own output (errors, failing tests)
    # goes to this process's, the report to a file
    subprocess.run([dbt_python(), "-P", str(runner), str(out / "plan.json")], check=True)
    report = json.loads((out / "report.json").read_text())
    for run, seconds in zip(runs, report["seconds"], strict=True):
        run["seconds"] = seconds
    result = {"engine": engine, "runs": runs, "tables": report["tables"]}
    (out / "runs.json").write_text(json.dumps(result, indent=2))
    return result


def simulated_lake(lake_dir: Path, days: int, seed: int) -> None:
    from detection.mail import lake
    from detection.mail.schema import messages_to_tables
    from detection.simulation.generator import SimulationConfig, simulate

    config = SimulationConfig(days=days, tenants=2, employees=15, attack_rate=0.05, seed=seed)
    for day, messages in simulate(config):
        lake.write_day(lake_dir, day, messages_to_tables(messages))


def _compare(args: argparse.Namespace) -> None:
    """Both engines on one simulated lake, each plan in its own process, ``repeats`` times."""
    root = Path(tempfile.mkdtemp(prefix="dbt-engines-"))
    try:
        simulated_lake(root / "lake", args.days, args.seed)
        half = args.days // 2
        plans = {"full build": f"0:{args.days}", "build + 2 incremental days": f"0:{half},"
                 f"{half}:{half + 1},{half + 1}:{half + 2}"}  # fmt: skip
        rows = []
        for label, spec in plans.items():
            seconds: dict[str, list[float]] = {"duckdb": [], "spark": []}
            for _ in range(args.repeats):
                for engine in seconds:
                    out = root / f"{engine}-run"
                    shutil.rmtree(out, ignore_errors=True)
                    started = time.perf_counter()
                    subprocess.run(
                        [sys.executable, "-m", "bench.dbt_engines", "--engine", engine,
                         "--lake", str(root / "lake"), "--out", str(out), "--windows", spec],
                        check=True, stdout=subprocess.DEVNULL,
                    )  # fmt: skip
                    seconds[engine].append(time.perf_counter() - started)
            rows.append((label, seconds))
        print(f"lake: {args.days} simulated days, seed {args.seed}; {args.repeats} runs each")
        print("plan | DuckDB s (min-max) | Spark s (min-max) | Spark / DuckDB")
        for label, seconds in rows:
            d, s = statistics.median(seconds["duckdb"]), statistics.median(seconds["spark"])
            print(
                f"{label} | {d:.1f} ({min(seconds['duckdb']):.1f}-{max(seconds['duckdb']):.1f})"
                f" | {s:.1f} ({min(seconds['spark']):.1f}-{max(seconds['spark']):.1f})"
                f" | {s / d:.1f}x"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command")
    compare = sub.add_parser("compare", help="time both engines on one simulated lake")
    compare.add_argument("--days", type=int, default=8, help="simulated days (default 8)")
    compare.add_argument("--seed", type=int, default=18, help="simulation seed (default 18)")
    compare.add_argument("--repeats", type=int, default=3, help="runs per engine (default 3)")
    parser.add_argument("--engine", choices=sorted(SCHEMA), help="the engine of one plan")
    parser.add_argument("--lake", type=Path, help="the lake to read (landed days)")
    parser.add_argument("--out", type=Path, help="where tables, logs and timings go")
    parser.add_argument("--windows", default="0:1", help="day windows, e.g. 0:4,4:6 (first builds)")
    args = parser.parse_args(argv)
    if args.command == "compare":
        _compare(args)
        return
    if not (args.engine and args.lake and args.out):
        parser.error("--engine, --lake and --out are required to run a plan")
    result = run_plan(args.engine, args.lake, args.out, windows_of(args.windows))
    print(json.dumps(result["runs"]))


if __name__ == "__main__":
    main()
