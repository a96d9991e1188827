"""Efficacy at a realistic base rate: a benchmark-sized world with real words and 0.5% attacks.

Lands ``--days`` days of ``--tenants`` organisations of 575 people (about 1,550 messages each a
day) with the real corpus's words (held back for the last days, as in the demo world), the
default attack mix and ``--attack-rate`` attacks, then retrains, in-process, into fresh
directories under var/bench/. Reports from model_evaluation's labelled scores: false positives
per million safe and recall at the deployed operating point, recall at 100 FP per million
(threshold chosen on the validation days), PR-AUC with a bootstrap interval, recall per category
with Wilson intervals (:mod:`detection.model.base_rate`).

Prints one JSON object; needs ../shared/data/real-mail (or $ATTACK_DETECTION_REAL_MAIL_DIR).

Usage: python -m bench.efficacy --seed 7
       python -m bench.efficacy --work var/work    (the same report on a landed world: make run's)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from bench.pipeline import land_and_retrain
from bench.world import BENCH_DIR, EMPLOYEES
from detection.model.base_rate import base_rate_report
from detection.simulation.generator import DEFAULT_ATTACK_MIX


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=42)
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--attack-rate", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, help="report on this work directory; land nothing")
    args = parser.parse_args()
    if args.work:
        scores = pd.read_parquet(args.work / "evaluation_scores.parquet")
        print(json.dumps(base_rate_report(scores, seed=args.seed).as_dict()))
        return
    mail = {
        "tenants": args.tenants,
        "employees": EMPLOYEES,
        "seed": args.seed,
        "attack_rate": args.attack_rate,
        "attack_mix": dict(DEFAULT_ATTACK_MIX),
    }
    root = (BENCH_DIR / f"efficacy-{args.seed}").resolve()
    run = land_and_retrain(root, args.days, mail)
    scores = pd.read_parquet(root / "work" / "evaluation_scores.parquet")
    report = base_rate_report(scores, per_million=100.0, seed=args.seed)
    print(json.dumps({"world": mail | {"days": args.days}, "run": run} | report.as_dict()))


if __name__ == "__main__":
    main()
