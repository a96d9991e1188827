"""What a kept specialised detector costs the online scorer per message (issue #20).

The committed format-3 bundle (``tests/fixtures/bundles/format-3``) scores the same simulated
messages one at a time (``Scorer.score_message``, no reasons) with no detector, one and three of
the production-size detectors (120 rounds of 7 leaves) that the last retrain trained
(``<work>/detectors/detectors.json``, kept or not; three is the most a bundle holds today: one per
category of ``detection.model.detectors.SPECS``). Each run is the mean per message over the
messages; the configurations are interleaved, and the median, min and max of ``--repeats`` runs
are printed as JSON with the added cost against no detector.

Usage: python -m bench.detector_cost [--work var/work] [--messages 400] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from detection.serving.artifact import Bundle
from detection.serving.detectors import DetectorSet
from detection.serving.scorer import Scorer
from detection.simulation.generator import SimulationConfig, simulate
from detection.workdir import WorkDir

BUNDLE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bundles" / "format-3"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("var/work"))
    parser.add_argument("--messages", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    bundle = Bundle.read_dir(BUNDLE)
    trained = WorkDir(args.work).load_detectors().trained
    detectors = tuple(one.detector for one in trained if one.detector is not None)
    if len(detectors) < 3:
        raise SystemExit(f"{args.work} holds {len(detectors)} trained detectors; run make run")
    scorers = {name: Scorer(bundle) for name in ("none", "one", "three")}
    scorers["none"].detectors = DetectorSet()
    scorers["one"].detectors = DetectorSet(detectors[:1])
    scorers["three"].detectors = DetectorSet(detectors[:3])
    config = SimulationConfig(days=7, tenants=1, employees=15, seed=5)
    mail = [m for _, day in simulate(config) for m in day][: args.messages]
    for scorer in scorers.values():  # warm: first calls build caches
        for message in mail[:20]:
            scorer.score_message(message, explain=False)
    runs: dict[str, list[float]] = {name: [] for name in scorers}
    for _ in range(args.repeats):
        for name, scorer in scorers.items():
            start = time.perf_counter()
            for message in mail:
                scorer.score_message(message, explain=False)
            runs[name].append((time.perf_counter() - start) / len(mail) * 1e6)
    base = statistics.median(runs["none"])
    print(
        json.dumps(
            {
                "messages": len(mail),
                "detectors": [d.name for d in detectors],
                "repeats": args.repeats,
                "us_per_message": {
                    name: {
                        "median": round(statistics.median(values), 1),
                        "min": round(min(values), 1),
                        "max": round(max(values), 1),
                        "added_vs_none": round(statistics.median(values) - base, 1),
                    }
                    for name, values in runs.items()
                },
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
