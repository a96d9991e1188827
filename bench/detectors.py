"""The specialised detectors before and after (issue #20's target), from a finished run.

Reads the work directory ``make run`` (or any retrain) leaves behind and prints, as markdown:

- each trained detector's judgement on the validation days: its category's recall without and
  with it at the same global FP budget, the global FPR both ways, kept or dropped and why;
- the test days (held out from every choice): each category's recall, all attacks' recall and the
  FPR before and after the kept detectors, each side at its own validation threshold;
- every trained detector (kept or not) on the real corpora, all held out from it: the real safe
  mail it would flag and the real attacks it fires on (the corpus has no category labels, so this
  is its cost on real mail, not its recall on its category).

No timing: the figures are efficacy. Usage: python -m bench.detectors [--work var/work]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from assets.training import place_table
from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.markdown import table
from detection.model.intervals import Rate
from detection.model.report import detector_effect_table
from detection.workdir import WorkDir


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("var/work"))
    args = parser.parse_args()
    work = WorkDir(args.work)
    candidate, evaluation = work.load_candidate(), work.load_evaluation()
    training = work.load_detectors()
    frame = work.read_scored_training_table()
    corpus = frame.loc[frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX)]
    y = corpus["is_attack"].to_numpy()
    real = []
    for one in training.trained:
        if one.detector is None:
            real.append([one.category, "not trained", ""])
            continue
        fired = one.detector.frame_scores(corpus) >= one.detector.threshold
        real.append(
            [
                one.category,
                str(Rate.of(int((fired & (y == 0)).sum()), int((y == 0).sum()))),
                str(Rate.of(int((fired & (y == 1)).sum()), int((y == 1).sum()))),
            ]
        )
    print(f"## Validation days: does each detector earn its place? (work dir {args.work})\n")
    print(place_table(candidate.places))
    print(
        f"\nGeneral threshold without detectors {candidate.threshold_without_detectors:.6f}, "
        f"with the kept ones {candidate.threshold:.6f} (validation FPR budget "
        f"{candidate.validation_fpr}).\n"
    )
    print("## Test days: before and after the kept detectors\n")
    print(detector_effect_table(evaluation))
    print("\n## Real corpora (held out from every detector)\n")
    print(table(["detector", "real safe mail flagged", "real attacks flagged"], real))


if __name__ == "__main__":
    main()
