"""Real-mail ablation: what each step of the model adds on the shared corpus, under the same
source-held-out protocol the pipeline's real_mail_evaluation uses (thresholds chosen without the
held-out source), trained on the real corpus alone (no simulated tenants).

Variants: the content signals alone; with the structure features; the text model alone; the
stack (signals + structure + the text model's out-of-fold score); the stack without the signals,
and without the structure features; the stack with an unmasked featuriser (addresses, URLs and
digits kept as words, list tags and footers kept).

With ``--sweep``, the stack alone, once as it ships and once per change of one of its
parameters (:data:`SWEEP`: the text model's regularisation and minimum document frequency, the
booster's leaves, rounds, leaf size, feature fraction and learning rate): how much the figures
move with the procedure's settings.

With ``--weighting``, the stack beside ways of giving the text model more weight than a feature
the booster may split on (:data:`OFFSETS`): its out-of-fold score (times a weight; or only where
it is positive) as the booster's starting log-odds (LightGBM's ``init_score``), added back to the
booster's log-odds when scoring, so the text model's ranking keeps its full resolution and the
trees learn corrections to it; and the featuriser with character 3-5-grams of each word beside
the words (the text model reads misspelt, garbled and non-English words by their pieces).

Not a timing benchmark: one deterministic run per variant. Prints JSON.

With ``--terms-version 2``, the content signals count the term families in seven languages
(``detection.features.terms``; the pipeline's default is what ``message_features`` counts).

Usage: python -m bench.real_mail [--corpus ../shared/data/real-mail] [--sweep | --weighting]
       [--terms-version N]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from detection.features.behaviour import BEHAVIOUR_FEATURES, POOLED_TENANT_PREFIX
from detection.features.signals import CONTENT_FEATURES, ERA_ARTEFACTS, TRANSPORT_FEATURES
from detection.features.structure import STRUCTURE_FEATURES
from detection.features.terms import DEFAULT_TERMS_VERSION, TERMS_VERSIONS
from detection.features.text import TEXT_SCORE, text_terms
from detection.features.vector import MODEL_FEATURES, content_frame
from detection.mail.ingest import ingest
from detection.model.holdouts import SAFE_SOURCE, evaluate_holdouts
from detection.model.stack import TextOffset, fit_stack, score_stack
from detection.model.text_training import TermMatrix, TextParams, score_rows
from detection.model.text_training import fit_text_model as fit_text
from detection.model.training import TRAIN, TrainParams, predict, train_booster
from detection.rules import default_rules_text, parse_rules

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-mail"
_RAW_WORD = re.compile(r"\w+")
SIGNALS = [f for f in CONTENT_FEATURES if f not in TRANSPORT_FEATURES | ERA_ARTEFACTS]
WITH_STRUCTURE = [*SIGNALS, *STRUCTURE_FEATURES]


# one change each against the shipped parameters: (text model changes, booster changes)
SWEEP: dict[str, tuple[dict[str, float], dict[str, float]]] = {
    "as shipped": ({}, {}),
    "text C 1": ({"c": 1.0}, {}),
    "text C 3": ({"c": 3.0}, {}),
    "text C 30": ({"c": 30.0}, {}),
    "text C 100": ({"c": 100.0}, {}),
    "text min_df 1": ({"min_df": 1}, {}),
    "text min_df 3": ({"min_df": 3}, {}),
    "booster 7 leaves": ({}, {"num_leaves": 7}),
    "booster 31 leaves": ({}, {"num_leaves": 31}),
    "booster 400 rounds": ({}, {"num_boost_round": 400}),
    "booster 40 rows per leaf": ({}, {"min_data_in_leaf": 40}),
    "booster feature fraction 0.7": ({}, {"feature_fraction": 0.7}),
    "booster learning rate 0.02": ({}, {"learning_rate": 0.02}),
}

# the text score as the booster's starting log-odds
OFFSETS: dict[str, TextOffset] = {
    "text score as offset, weight 0.25": TextOffset(0.25),
    "text score as offset, weight 0.5": TextOffset(0.5),
    "text score as offset, weight 1": TextOffset(1.0),
    "positive text score as offset, weight 0.5": TextOffset(0.5, positive_only=True),
}


def _character_grams(words: list[str]) -> list[str]:
    """Character 3-5-grams of each word (bigrams skipped), ``<`` and ``>`` marking its ends."""
    grams = []
    for word in words:
        if " " in word:
            continue
        padded = f"<{word}>"
        for n in (3, 4, 5):
            grams += [f"#{padded[i : i + n]}" for i in range(len(padded) - n + 1)]
    return grams


def _unmasked_terms(subject: str, body: str) -> list[str]:
    words = _RAW_WORD.findall(f"{subject}\n{body[:2000]}".lower())[:400]
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def _mean_terms(matrix: TermMatrix) -> float:
    """Terms (with repeats) per message, over the messages (not the distinct documents)."""
    per_document = np.asarray(matrix.counts.sum(axis=1)).ravel()
    return float(per_document[matrix.document_of].mean())


def corpus_frame(path: Path, terms_version: int) -> tuple[pd.DataFrame, list]:
    messages = [m for m in ingest([path]).messages if m.label in ("safe", "attack")]
    frame = content_frame(messages, terms_version).reset_index()
    for name in BEHAVIOUR_FEATURES:
        frame[name] = np.nan  # a pooled corpus has no organisational history
    frame["tenant_id"] = f"{POOLED_TENANT_PREFIX}bench"
    frame["label"] = [m.label for m in messages]
    frame["is_attack"] = (frame["label"] == "attack").astype(int)
    frame["source"] = [m.source for m in messages]
    frame["received_at"] = pd.to_datetime([m.received_at for m in messages], utc=True)
    frame["split"] = TRAIN
    return frame, messages


def summary(report, held: pd.DataFrame) -> dict[str, object]:
    folds = report.of_kind(SAFE_SOURCE)
    return {
        "safe_source_mean_recall": report.safe_source_mean_recall,
        "safe_source_max_fpr": report.safe_source_max_fpr,
        "per_safe_source": {
            f.held_out: {
                "recall": f.recall.value,
                "fpr": f.fpr.value if f.fpr else None,
                "recall_at_0.5%_fpr": f.recall_at_fpr.get("0.005"),
                "pr_auc": f.pr_auc,
            }
            for f in folds
        },
        "other_splits_recall": {
            s.name: s.recall.value for s in report.splits if s.kind != SAFE_SOURCE
        },
        "held_out_rows": len(held),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--budget", type=float, default=0.005)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--sweep", action="store_true", help="the stack under SWEEP's changes")
    modes.add_argument("--weighting", action="store_true", help="the text model weighed more")
    parser.add_argument(
        "--terms-version",
        type=int,
        default=DEFAULT_TERMS_VERSION,
        choices=TERMS_VERSIONS,
        help="the content signals' term families (default: what the pipeline counts)",
    )
    args = parser.parse_args()
    frame, messages = corpus_frame(args.corpus, args.terms_version)
    masked = TermMatrix.build([text_terms(m) for m in messages])
    raw = TermMatrix.build([_unmasked_terms(m.subject, m.body_text) for m in messages])
    rules = parse_rules(default_rules_text(), set(MODEL_FEATURES))
    trainable = np.arange(len(frame))
    cutoff = cast(pd.Timestamp, pd.Timestamp("2010-01-01", tz="UTC"))
    train, text = TrainParams(), TextParams()

    def booster_only(features: list[str]):
        def fit_score(fit: np.ndarray, test: np.ndarray) -> np.ndarray:
            booster = train_booster(frame.iloc[fit], features, train)
            return predict(booster, frame.iloc[test], features)

        return fit_score

    def text_only(fit: np.ndarray, test: np.ndarray) -> np.ndarray:
        y = frame["is_attack"].to_numpy()[fit]
        return score_rows(fit_text(masked, fit, y, text), masked, test)

    def stack(
        matrix: TermMatrix,
        features: list[str],
        train: TrainParams = train,
        text: TextParams = text,
        offset: TextOffset | None = None,
    ):
        def fit_score(fit: np.ndarray, test: np.ndarray) -> np.ndarray:
            model, _ = fit_stack(frame, matrix, fit, features, train, text, offset)
            scores = score_stack(model, frame, matrix, test)
            # rules only: the specialised detectors learn the organisations' mail, which this
            # corpus-only comparison of procedures has none of (real_mail_evaluation adds them)
            return np.where(rules.forced(frame.iloc[test]), 1.0, scores)

        return fit_score

    stacked = [*WITH_STRUCTURE, TEXT_SCORE]
    term_costs: dict[str, float] = {}
    if args.weighting:
        grams = TermMatrix.build([t + _character_grams(t) for t in map(text_terms, messages)])
        # what character grams cost: terms per message, with and without them
        term_costs["words and bigrams"] = _mean_terms(masked)
        term_costs["with character 3-5-grams"] = _mean_terms(grams)
        variants = {
            "stack (as shipped)": stack(masked, stacked),
            **{name: stack(masked, stacked, offset=o) for name, o in OFFSETS.items()},
            "stack, words and character 3-5-grams": stack(grams, stacked),
        }
    elif args.sweep:
        variants = {
            name: stack(
                masked,
                stacked,
                dataclasses.replace(train, **booster),
                dataclasses.replace(text, **text_changes),
            )
            for name, (text_changes, booster) in SWEEP.items()
        }
    else:
        variants = {
            "content signals": booster_only(SIGNALS),
            "+ structure features": booster_only(WITH_STRUCTURE),
            "text model alone": text_only,
            "stack (signals + structure + text, masked)": stack(masked, stacked),
            "stack without the content signals": stack(masked, [*STRUCTURE_FEATURES, TEXT_SCORE]),
            "stack without the structure features": stack(masked, [*SIGNALS, TEXT_SCORE]),
            "stack, unmasked featuriser": stack(raw, stacked),
        }
    result: dict[str, object] = {
        "messages": len(frame),
        "budget": args.budget,
        "terms_version": args.terms_version,
        "variants": {},
    }
    if term_costs:
        result["mean_terms_per_message"] = term_costs
    for name, fit_score in variants.items():
        report, held = evaluate_holdouts(
            frame, trainable, fit_score, budget=args.budget, time_cutoff=cutoff, seed=7
        )
        cast("dict[str, object]", result["variants"])[name] = summary(report, held)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
