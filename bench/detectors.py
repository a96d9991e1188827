"""The specialised detectors before and after (issue #20's target), from a finished run.

Reads the work directory ``make run`` (or any retrain) leaves behind and prints, as markdown:

- each trained detector's judgement on the validation days: its category's recall without and
  with it at the same global FP budget, the global FPR both ways, kept or dropped and why;
- the test days (held out from every choice): each category's recall, all attacks' recall and the
  FPR before and after the kept detectors, each side at its own validation threshold;
- every trained detector (kept or not) on the real corpora, all held out from it: the real safe
  mail it would flag and the real attacks it fires on (the corpus has no category labels, so this
  is its cost on real mail, not its recall on its category).

- every trained detector added to the real-mail evaluation's held-out scores (each split at its
  own threshold): the real attacks it would add and the held-out real safe mail it would flag
  (detectors read no text-model score, so nothing of the corpora reaches them).

With ``--budgets`` the detectors are trained again at each FP budget (same data and seed) and
judged the same way, to show what a larger budget does.

No timing: the figures are efficacy.
Usage: python -m bench.detectors [--work var/work] [--budgets 0.002,0.005]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.markdown import table
from detection.model.candidate import Candidate
from detection.model.detectors import (
    SPECS,
    DetectorParams,
    Place,
    Trained,
    choose_detectors,
    train_detector,
)
from detection.model.report import detector_effect_table, place_table, real_firing_table
from detection.model.training import (
    TrainParams,
    combined_scores,
    organisation_rows,
    predict,
    time_split,
)
from detection.rules import default_rules_text, parse_rules
from detection.workdir import WorkDir

if TYPE_CHECKING:
    import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--work", type=Path, default=Path("var/work"))
    parser.add_argument("--budgets", default="", help="comma-separated detector FP budgets")
    args = parser.parse_args()
    work = WorkDir(args.work)
    candidate, evaluation = work.load_candidate(), work.load_evaluation()
    training = work.load_detectors()
    frame = work.read_scored_training_table()
    corpus = frame.loc[frame["tenant_id"].astype(str).str.startswith(POOLED_TENANT_PREFIX)]
    trained = [one.detector for one in training.trained if one.detector is not None]
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
    if corpus.empty:  # a world landed without the shared corpus (e.g. bench.efficacy's)
        print("No real corpus was landed in this run: nothing to measure.")
    else:
        print(real_firing_table(corpus, trained))
        print("\n## Added to the real-mail held-out scores (each split at its own threshold)\n")
        print(_real_lead(work, frame, training.trained))
    for budget in [float(b) for b in args.budgets.split(",") if b]:
        print(f"\n## Validation days with detectors trained at FP budget {budget:g}\n")
        print(place_table(_judged_at(frame, candidate, budget)))


def _real_lead(work: WorkDir, frame: pd.DataFrame, trained: tuple[Trained, ...]) -> str:
    """Each detector OR-ed into every held-out split's verdict: attacks caught and safe mail
    flagged, before and after."""
    held, report = work.read_holdout_scores(), work.load_holdouts()
    thresholds = {split.name: split.threshold for split in report.splits}
    rows = frame.set_index("message_id")
    lines = []
    for one in trained:
        if one.detector is None:
            continue
        for name, part in held.groupby("split", sort=True):
            y = part["is_attack"].to_numpy()
            before = part["score"].to_numpy() >= thresholds[str(name)]
            after = before | (
                one.detector.frame_scores(rows.loc[part["message_id"]]) >= one.detector.threshold
            )
            lines.append(
                [
                    one.category,
                    str(name),
                    f"{before[y == 1].sum()} → {after[y == 1].sum()} of {(y == 1).sum()}",
                    f"{before[y == 0].sum()} → {after[y == 0].sum()} of {(y == 0).sum()}",
                ]
            )
    return table(["detector", "held-out split", "attacks caught", "safe mail flagged"], lines)


def _judged_at(frame: pd.DataFrame, candidate: Candidate, budget: float) -> tuple[Place, ...]:
    """The detectors trained again at ``budget`` and judged as candidate_model judges them."""
    import lightgbm as lgb

    split = time_split(frame)
    base = TrainParams.from_lightgbm(candidate.params)
    params = DetectorParams(fp_budget=budget)
    own = organisation_rows(split.train)
    trained = tuple(train_detector(c, own, split.validation, params, base) for c in SPECS)
    booster = lgb.Booster(model_str=candidate.model_text)
    rules = parse_rules(default_rules_text(), set(candidate.features))
    scores = combined_scores(
        predict(booster, split.validation, list(candidate.features)),
        rules.forced(split.validation),
    )
    pooled = split.train.drop(own.index)
    real_safe = pooled.loc[pooled["is_attack"].to_numpy() == 0]
    _, places, _ = choose_detectors(
        trained, split.validation, scores, candidate.validation_fpr, real_safe
    )
    return places


if __name__ == "__main__":
    main()
