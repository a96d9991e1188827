"""Simulator throughput: ``attack-detection simulate`` as a whole process (generation, Arrow
conversion, zstd parquet of messages, recipients and URLs), on every core and on one.

Each run writes into a fresh directory under var/bench/ and is removed afterwards. Prints one JSON
object: messages, wall seconds, messages per second, CPU seconds and peak memory of the largest
process, per worker count, and the time ratio between them.

Usage: python -m bench.simulator [--days 30]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time

from bench.child import run_json
from bench.world import BENCH_DIR, simulate


def timed_simulation(days: int, workers: int) -> dict[str, float]:
    out = BENCH_DIR / f"simulator-{workers}w"
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = simulate(days, workers, out)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    shutil.rmtree(out, ignore_errors=True)
    messages = int(json.loads(result.stdout)["messages"])
    return {
        "messages": messages,
        "seconds": seconds,
        "messages_per_second": messages / seconds,
        "cpu_seconds": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        "peak_mib": after.ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--workers", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.workers:
        print(json.dumps(timed_simulation(args.days, args.workers)))
        return
    both, one = (
        run_json("bench.simulator", "--days", str(args.days), "--workers", str(workers))
        for workers in (2, 1)
    )
    ratio = both["seconds"] / one["seconds"]
    print(json.dumps({"workers_2": both, "workers_1": one, "time_ratio_2_over_1": ratio}))


if __name__ == "__main__":
    main()
