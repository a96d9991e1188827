"""Garbage-collector pauses while scoring, with and without ``Scorer.prepare_for_serving()``.

Loads a deployed model (by default the one the whole-graph benchmark deploys: a snapshot of 20
organisations and about a million messages), replays the scorer benchmark's messages through
``score_bytes`` and records every collection (``gc.callbacks``): count, longest and total pause
per generation; then times one full collection, the pause a message meets when one comes. Each
variant runs in its own process, so neither inherits the other's heap.

Usage: python -m bench.gc_pause [--artifact var/bench/pipeline-33d/artifacts] [--repeats 20]
"""

from __future__ import annotations

import argparse
import gc
import json
import time

from bench.child import run_json


def replay(artifact: str, repeats: int, prepared: bool) -> dict[str, object]:
    from bench.scorer import sample_mail
    from detection.serving.scorer import Scorer

    scorer = Scorer.load(artifact)
    if prepared:
        scorer.prepare_for_serving()
    raws, tenant = sample_mail(2000)
    tracked = len(gc.get_objects())
    pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
    started: list[float] = []

    def watch(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses[info["generation"]].append((time.perf_counter() - started.pop()) * 1e3)

    gc.callbacks.append(watch)
    for _ in range(repeats):
        for raw in raws:
            scorer.score_bytes(raw, tenant_id=tenant)
    gc.callbacks.remove(watch)
    # Full collections come when enough objects have survived since the last one, so a replay
    # may or may not meet one; what one costs when it comes is measured directly.
    started.append(time.perf_counter())
    gc.collect()
    full = (time.perf_counter() - started.pop()) * 1e3
    return {
        "messages_scored": repeats * len(raws),
        "objects_the_collector_walks": tracked,
        "full_collection_ms": full,
        "pauses_ms": {
            str(generation): {
                "count": len(values),
                "max": max(values, default=0.0),
                "total": sum(values),
            }
            for generation, values in pauses.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--artifact", default="var/bench/pipeline-33d/artifacts")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--variant", choices=("loaded", "prepared"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(replay(args.artifact, args.repeats, args.variant == "prepared")))
        return
    result = {
        variant: run_json(
            "bench.gc_pause",
            "--artifact",
            args.artifact,
            "--repeats",
            str(args.repeats),
            "--variant",
            variant,
        )
        for variant in ("loaded", "prepared")
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
