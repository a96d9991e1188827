"""Start-up: the CLI scoring one message end to end, and loading the Dagster definitions (importing
the code location and building it, as every Dagster process does).

Each figure is a fresh process timed from the outside (wall clock), so it includes the
interpreter, every import (from cached bytecode, as an installed program after its first
start) and, for the CLI, loading and verifying the bundle, scoring one real
message and writing the row. Prints one JSON object with the median, min and max of ``--runs``.

Usage: python -m bench.startup [--artifact var/artifacts] [--runs 5] [--compare ../other-checkout
[--compare-python ../other-checkout/.venv/bin/python]]
(with --compare, both checkouts run with this environment, each from its own root, unless
--compare-python names the other's interpreter)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.child import spread

MESSAGE = (
    b"From: IT Desk <it@helpdesk-example.test>\r\nTo: a@example.com\r\n"
    b"Subject: Your mailbox is almost full\r\nDate: Tue, 06 Jan 2026 09:00:00 +0000\r\n\r\n"
    b"Verify your account today to keep receiving mail: https://helpdesk-example.test/login\r\n"
)


def _seconds(command: list[str], cwd: Path | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(
        command,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env=INSTALLED,
    )
    return time.perf_counter() - started


# as an installed program runs: Python caches the modules' bytecode on the first start (a
# sandbox's PYTHONDONTWRITEBYTECODE=1 would make every start compile the project's modules again)
INSTALLED = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _timed(
    name: str,
    command: list[str],
    runs: int,
    compare: Path | None,
    compare_python: str | None = None,
) -> dict[str, object]:
    """``<name>_seconds`` over ``runs`` runs of ``command`` here; with ``compare``, the same
    command from that checkout's root (run by ``compare_python`` in place of this interpreter,
    where given) alternated with each run here (``<name>_seconds_compared``, ``<name>_ratio``:
    there / here). The first run on each side warms the file cache and writes the bytecode
    cache, not counted.
    """
    # absolute: a relative path would be read from the compared checkout's root (its cwd); not
    # resolved, which would follow a venv's python link out of the venv
    there = command if compare_python is None else [os.path.abspath(compare_python), *command[1:]]
    sides = [(None, command)] if compare is None else [(None, command), (compare, there)]
    for cwd, run in sides:
        _seconds(run, cwd)
    timings = [[_seconds(run, cwd) for cwd, run in sides] for _ in range(runs)]
    here = [pair[0] for pair in timings]
    figures: dict[str, object] = {f"{name}_seconds": spread(here)}
    if compare is not None:
        compared = spread([pair[1] for pair in timings])
        figures[f"{name}_seconds_compared"] = compared
        figures[f"{name}_ratio"] = compared["median"] / statistics.median(here)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", default="var/artifacts")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--compare",
        type=Path,
        help="another checkout of the project (with dbt_project/target/manifest.json): its "
        "CLI and definitions load are timed alternately with this one's, side by side",
    )
    parser.add_argument(
        "--compare-python",
        help="the interpreter that runs the compared checkout (its own environment, where the "
        "comparison is an environment's change); default: this one",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        message = Path(tmp) / "one.eml"
        message.write_bytes(MESSAGE)
        # `attack-detection score`, run from a checkout's root so that checkout's code runs
        artifact = str(Path(args.artifact).resolve())
        score = [sys.executable, "-m", "detection.cli", "score", "--artifact", artifact]
        score.append(str(message))
        # what every Dagster process does with the code location: import it and build it
        definitions = [
            sys.executable,
            "-c",
            "from orchestration.definitions import defs; defs()",
        ]
        result = {
            **_timed("cli_score_one_message", score, args.runs, args.compare, args.compare_python),
            **_timed("definitions_load", definitions, args.runs, args.compare, args.compare_python),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
