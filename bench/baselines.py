"""Baselines benchmark: the dbt-duckdb models (the full build of every baseline, the feature mart
and the serving snapshot) against the same features written in pandas, on one lake; then the rest
of the way to a model on the same lake: content signals for every message (as ``message_features``
computes them, on every core), the join with the mart into the training table, and LightGBM
training with the project's default parameters on all of it.

Each engine runs in its own child process so its peak memory is its own. Prints one JSON object:
seconds, rows/s and peak resident memory per engine, and the dbt/pandas time ratio.
``--check`` also compares every value pandas computes with the mart's (not timed).

Usage: python -m bench.baselines --messages 1000000 [--check]
The lake is simulated once per size under var/bench/lake-N and reused.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import time
from pathlib import Path

from bench.child import run_json
from bench.world import BENCH_DIR, MESSAGES_PER_DAY, simulate
from detection.features import behaviour
from orchestration.dbt_env import dbt_executable

DBT_PROJECT = Path("dbt_project")
ENGINES = ("dbt", "pandas", "features")
FEATURE_STEPS = ("content_seconds", "join_seconds", "training_seconds")


def lake_for(messages: int) -> Path:
    """A simulated lake with at least ``messages`` messages (created once, then reused)."""
    lake = BENCH_DIR / f"lake-{messages}"
    if not (lake / "messages").is_dir():
        simulate(max(1, math.ceil(messages / MESSAGES_PER_DAY)), workers=2, out=lake)
    return lake.resolve()


def _peak_children_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def _dbt(lake: Path, warehouse: Path, *args: str, window: dict[str, str] | None = None) -> float:
    env = {
        **os.environ,
        "ATTACK_DETECTION_LAKE_DIR": str(lake),
        "ATTACK_DETECTION_DUCKDB_PATH": str(warehouse.resolve()),
    }
    dbt = dbt_executable()
    target = str((BENCH_DIR / "dbt-target").resolve())
    dbt_vars = json.dumps({**behaviour.dbt_vars(), **(window or {})})
    started = time.perf_counter()
    subprocess.run(
        [
            dbt,
            "run",
            "--profiles-dir",
            ".",
            "--quiet",
            "--target-path",
            target,
            "--vars",
            dbt_vars,
            *args,
        ],
        cwd=DBT_PROJECT,
        env=env,
        check=True,
    )
    return time.perf_counter() - started


def run_dbt(lake: Path, warehouse: Path) -> dict[str, float]:
    """A full build, then the daily incremental run of the last landed day over that history."""
    warehouse.unlink(missing_ok=True)
    seconds = _dbt(lake, warehouse, "--full-refresh")
    last = max(p.name.removeprefix("date=") for p in (lake / "messages").iterdir())
    window = {"window_start": f"{last} 00:00:00", "window_end": f"{last} 23:59:59.999999"}
    incremental = _dbt(lake, warehouse, window=window)
    # dbt's fixed cost per invocation: start, parse, connect, select nothing. The vars differ
    # from the last run's, as they do in every partition run, which makes dbt parse afresh.
    nothing = {"window_start": "1900-01-02 00:00:00", "window_end": "1900-01-03 00:00:00"}
    startup = _dbt(lake, warehouse, "--select", "tag:no-such-tag", window=nothing)
    return {
        "seconds": seconds,
        "peak_mib": _peak_children_mib(),
        "last_day_seconds": incremental,
        "startup_seconds": startup,
    }


def run_pandas(lake: Path) -> dict[str, float]:
    from bench.pandas_baselines import compute

    started = time.perf_counter()
    compute(lake)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_features(lake: Path, warehouse: Path) -> dict[str, float]:
    """Content signals, the training-table join and LightGBM training, timed apart."""
    import duckdb

    from detection.features.behaviour import BEHAVIOUR_FEATURES
    from detection.features.vector import (
        FEATURE_COLUMNS,
        feature_workers,
        files_content_frame,
        join_behaviour,
    )
    from detection.model.training import TrainParams, train_booster

    started = time.perf_counter()
    content = files_content_frame(
        sorted((lake / "messages").glob("*/*.parquet")), workers=feature_workers()
    )
    content_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        behaviour = con.execute(
            f"select message_id, {', '.join(BEHAVIOUR_FEATURES)} from fct_message_behaviour"
        ).df()
    table = join_behaviour(content, behaviour)
    join_seconds = time.perf_counter() - started
    started = time.perf_counter()
    train_booster(table, list(FEATURE_COLUMNS), TrainParams())
    return {
        "content_seconds": content_seconds,
        "join_seconds": join_seconds,
        "training_seconds": time.perf_counter() - started,
        "training_rows": len(table),
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def check(lake: Path, warehouse: Path) -> dict[str, int]:
    """Values pandas computes that differ from the mart's (0 everywhere when they agree)."""
    import duckdb
    import numpy as np

    from bench.pandas_baselines import FEATURES, compute

    ours = compute(lake).set_index("message_id").sort_index()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        mart = con.execute(
            f"select message_id, {', '.join(FEATURES)} from fct_message_behaviour"
        ).df()
    mart = mart.set_index("message_id").sort_index()
    assert list(mart.index) == list(ours.index), "the mart and pandas cover different messages"
    return {
        name: int((~np.isclose(ours[name], mart[name], equal_nan=True)).sum()) for name in FEATURES
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--check", action="store_true", help="compare pandas with the mart")
    parser.add_argument("--engine", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--lake", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--warehouse", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # one engine, in this (child) process
        if args.engine == "dbt":
            figures = run_dbt(args.lake, args.warehouse)
        elif args.engine == "pandas":
            figures = run_pandas(args.lake)
        else:
            figures = run_features(args.lake, args.warehouse)
        print(json.dumps(figures))
        return
    lake = lake_for(args.messages)
    warehouse = BENCH_DIR / f"baselines-{args.messages}.duckdb"
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(f).num_rows for f in (lake / "messages").glob("*/*.parquet"))
    result: dict[str, object] = {"messages": rows}
    for engine in ENGINES:  # dbt first: the features engine reads the mart it builds
        figures = run_json(
            "bench.baselines",
            "--engine",
            engine,
            "--lake",
            str(lake),
            "--warehouse",
            str(warehouse),
        )
        if "seconds" in figures:
            figures["rows_per_s"] = rows / figures["seconds"]
        result[engine] = figures
    dbt, pandas, features = result["dbt"], result["pandas"], result["features"]
    assert isinstance(dbt, dict) and isinstance(pandas, dict) and isinstance(features, dict)
    result["pandas_over_dbt_time"] = pandas["seconds"] / dbt["seconds"]
    # the way from landed mail to a trained model: baselines, content signals, join, training
    to_model = dbt["seconds"] + sum(features[k] for k in FEATURE_STEPS)
    result["to_model_seconds"] = to_model
    result["to_model_us_per_message"] = to_model / rows * 1e6
    if args.check:
        result["mismatches"] = check(lake, warehouse)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
