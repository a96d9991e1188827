"""What-if replay over about a million landed messages (issue #20's target: <= 2 minutes).

The world is the one ``python -m bench.pipeline --days 33 --text-corpus ../shared/data/real-mail``
leaves in ``var/bench/pipeline-33d-real-text`` (20 organisations, 33 days, real words every day,
its production bundle deployed). Two proposals, each replayed over every labelled message:

- ``threshold``: production with another threshold (the scores are production's, reused);
- ``bundle``: a candidate bundle (``--bundle``, default ``var/work/candidate_bundle``, the one
  ``make run`` builds: another model, so every message is scored twice and each text model's
  score computed).

Each run is ``attack-detection whatif`` end to end in a fresh process (imports, the training
table, the texts from the lake, both decisions, examples, the gap report, parquet), timed from
outside; ``--phases`` also times the stages in-process once. Prints JSON.

Usage: python -m bench.whatif [--world DIR] [--bundle DIR] [--repeats 3] [--phases]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.world import BENCH_DIR

WORLD = BENCH_DIR / "pipeline-33d-real-text"


def _cli(world: Path, extra: list[str], out: Path) -> tuple[float, dict]:
    cli = Path(sys.executable).with_name("attack-detection")
    command = [
        str(cli),
        "whatif",
        "--artifact",
        str(world / "artifacts"),
        "--work",
        str(world / "work"),
        "--lake",
        str(world / "lake"),
        "--all",
        "--format",
        "json",
        "--out",
        str(out),
        *extra,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    return seconds, json.loads(done.stdout)


def _phases(world: Path, bundle: Path) -> dict[str, float]:
    from detection.model.whatif import Proposal, replay
    from detection.model.whatif_report import load_window, top_examples, vocabulary_of
    from detection.serving.artifact import Bundle
    from detection.serving.registry import load_production
    from detection.serving.stores import open_store

    times: dict[str, float] = {}
    start = time.perf_counter()
    production = load_production(open_store(str(world / "artifacts")))
    candidate = Bundle.read_dir(bundle)
    times["load bundles"] = time.perf_counter() - start
    start = time.perf_counter()
    window = load_window(world / "work" / "training_table.parquet", None, days=None)
    times["training table"] = time.perf_counter() - start
    from detection.model.text_training import lake_term_matrix

    start = time.perf_counter()
    ids = window.frame["message_id"].astype(str).tolist()
    from detection.features.vector import feature_workers

    vocabulary = vocabulary_of(production, candidate)
    matrix = lake_term_matrix(ids, world / "lake", vocabulary, feature_workers())
    times["texts (lake, tokenise, count)"] = time.perf_counter() - start
    start = time.perf_counter()
    result = replay(production, Proposal(bundle=candidate), window.frame, matrix)
    times["both decisions"] = time.perf_counter() - start
    start = time.perf_counter()
    top_examples(result)
    times["examples"] = time.perf_counter() - start
    from detection.model.gaps import capability_gaps

    start = time.perf_counter()
    side = result.proposed
    capability_gaps(side.frame, side.decisions.attack, side.bundle.features, window.history)
    times["gap report"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--world", type=Path, default=WORLD)
    parser.add_argument("--bundle", type=Path, default=Path("var/work/candidate_bundle"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--phases", action="store_true")
    args = parser.parse_args()
    if not (args.world / "work" / "training_table.parquet").is_file():
        raise SystemExit(
            f"no world at {args.world}: run `python -m bench.pipeline --days 33 --text-corpus "
            "../shared/data/real-mail` first (it keeps its world there)"
        )
    proposals = {
        "threshold": ["--threshold", "0.3"],
        "bundle": ["--bundle", str(args.bundle)],
    }
    result: dict[str, object] = {"world": str(args.world)}
    with tempfile.TemporaryDirectory() as out:
        for name, extra in proposals.items():
            runs, summary = [], {}
            for _ in range(args.repeats):
                seconds, summary = _cli(args.world, extra, Path(out))
                runs.append(seconds)
            result[name] = {
                "seconds": runs,
                "median": statistics.median(runs),
                "min": min(runs),
                "max": max(runs),
                "messages": summary["window"]["messages"],
                "changes": summary["changes"],
            }
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024 / 1024
    result["peak_memory_gib"] = round(children, 2)
    if args.phases:
        result["phases_seconds"] = _phases(args.world, args.bundle)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
