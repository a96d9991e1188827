"""``make run``'s pipeline end to end (``python -m orchestration.run``: the real corpus when
present, 42 simulated days, ``retrain_job`` to a deployed model), each run on a fresh instance,
lake, warehouse, work folder and artifact store under a temporary folder, timed from the outside.
Prints one JSON object: wall seconds per run with the median, min and max, and the deployed model
version of each run (the same inputs must give the same model).

Usage: python -m bench.make_run [--runs 3] [--compare ../other-checkout [--compare-python PY]]
(with --compare, the same command from that checkout's root, alternated with each run here, so
both sides meet the same machine load)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.child import spread

REPO = Path(__file__).resolve().parents[1]
LINGER_S = 15.0
_DEPLOYED = re.compile(r"^deployed model (\w+)", re.MULTILINE)


def _once(root: Path, scratch: Path, python: str) -> tuple[float, str]:
    home = scratch / "dagster"
    home.mkdir(parents=True)
    shutil.copy(root / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "ATTACK_DETECTION_LAKE_DIR": str(scratch / "lake"),
        "ATTACK_DETECTION_DUCKDB_PATH": str(scratch / "warehouse.duckdb"),
        "ATTACK_DETECTION_WORK_DIR": str(scratch / "work"),
        "ATTACK_DETECTION_ARTIFACT_URI": str(scratch / "artifacts"),
        # the interpreter's environment's tools (dagster; dbt where it is installed there, as
        # before dbt had its own environment, which a checkout finds at its root)
        "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    log = scratch / "make-run.log"
    started = time.perf_counter()
    # to a file, not a pipe: a launched run's process inherits it, and a pipe would be read to
    # its last writer's exit, not to this command's
    with log.open("w") as out:
        code = subprocess.run(
            [python, "-m", "orchestration.run"],
            cwd=root,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    seconds = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if code:
        raise SystemExit(f"make run's pipeline failed in {root}:\n{text[-4000:]}")
    found = _DEPLOYED.search(text)
    return seconds, found.group(1) if found else "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", type=Path, default=None, help="another checkout to alternate")
    parser.add_argument(
        "--compare-python",
        default=sys.executable,
        help="the interpreter that runs the compared checkout (its own environment, where the "
        "comparison is an environment's change); default: this one",
    )
    args = parser.parse_args()
    # absolute, not resolved (see bench.startup): run from the compared checkout's root
    pythons = {"here": sys.executable, "compared": os.path.abspath(args.compare_python)}
    roots = {"here": REPO} | ({"compared": args.compare.resolve()} if args.compare else {})
    seconds: dict[str, list[float]] = {name: [] for name in roots}
    versions: dict[str, list[str]] = {name: [] for name in roots}
    for run in range(args.runs):
        for name, root in roots.items():
            scratch = Path(tempfile.mkdtemp(prefix=f"make-run-{name}-{run}-"))
            wall, version = _once(root, scratch, pythons[name])
            # a launched run's code server stops a moment after its run, touching the instance
            # on its way out: let it finish before the folders go (outside the timed part)
            time.sleep(LINGER_S)
            shutil.rmtree(scratch, ignore_errors=True)
            seconds[name].append(round(wall, 1))
            versions[name].append(version)
    result: dict[str, object] = {
        name: {
            "seconds": seconds[name],
            **{k: round(v, 1) for k, v in spread(seconds[name]).items()},
            "deployed": versions[name],
        }
        for name in roots
    }
    if args.compare:
        result["ratio_of_medians"] = round(
            statistics.median(seconds["here"]) / statistics.median(seconds["compared"]), 3
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
