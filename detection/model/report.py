"""What the evaluation shows an analyst, as markdown: the model card, each rule's record on
labelled mail, missed attacks by category with their strongest signals, counts of false
positives. No message content appears in any of them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np

from detection.markdown import keyed_table, table
from detection.model.candidate import Candidate
from detection.model.detectors import Place
from detection.model.evaluation import Evaluation
from detection.model.holdouts import SAFE_SOURCE, HoldoutReport
from detection.model.intervals import Rate
from detection.model.operating_point import OperatingPoint
from detection.model.policy import GatePolicy
from detection.rules import RuleSet
from detection.serving.detectors import Detector

if TYPE_CHECKING:
    import pandas as pd

METRIC_COLUMNS = ("recall", "fpr", "precision")


def model_card(
    candidate: Candidate,
    evaluation: Evaluation,
    policy: GatePolicy,
    quality: dict[str, float],
    point: OperatingPoint,
    holdouts: HoldoutReport,
) -> str:
    """The model card: data windows, features, the operating point, metrics on the simulated
    test days and on real mail held out by source and time, slices, the policy, limitations."""
    combined = evaluation.combined
    train, test = candidate.train, candidate.test
    if holdouts.judged:
        folds = holdouts.of_kind(SAFE_SOURCE)
        real = (
            f"**Real mail** ({sum(holdouts.messages_by_source.values())} labelled messages from "
            f"{len(holdouts.messages_by_source)} sources), each safe source held out with the "
            f"threshold chosen without it: mean recall {holdouts.safe_source_mean_recall:.4f}, "
            f"worst held-out source FPR {holdouts.safe_source_max_fpr:.4f}; "
            + "; ".join(f"{s.held_out}: recall {s.recall}, FPR {s.fpr}" for s in folds)
            + ". Other splits (attack source, random, time) in real_mail_evaluation."
        )
    else:
        real = f"**Real mail**: not evaluated ({holdouts.reason})."
    lines = [
        "### Model card",
        f"**Data**: trained on {train.start} .. {train.end} ({train.rows} messages, "
        f"{train.attacks} attacks) and {candidate.pooled.rows} messages of labelled corpora "
        f"({candidate.pooled.attacks} attacks); tested on {test.start} .. {test.end} "
        f"({test.rows} messages, {test.attacks} attacks).",
        f"**Operating point**: threshold {point.threshold:.6f}, decided by the "
        f"{point.decided_by} (simulated validation days at FPR {candidate.validation_fpr}: "
        f"{point.simulated:.6f}; real mail at the FP budget {point.fp_budget} on held-out "
        f"sources: {point.real_mail:.6f}).",
        f"**Features**: {len(candidate.features)} (content signals, structure, the text model's "
        "score, point-in-time behaviour; unknown history is missing).",
        real,
        f"**Test metrics**: recall {combined.recall:.4f}, FPR {combined.fpr:.5f} "
        f"({combined.false_positives_per_million:.0f} FP per million safe), PR-AUC "
        f"{combined.pr_auc:.4f}; Evidently ROC AUC {quality.get('roc_auc', float('nan')):.4f}.",
        "**Recall by category**: "
        + ", ".join(
            f"{c} {r:.3f} ({evaluation.attacks_by_category.get(c, 0)})"
            for c, r in evaluation.recall_by_category.items()
        ),
        "**Specialised detectors** (kept: "
        + (", ".join(d.name for d in candidate.detectors) or "none")
        + "); before → after on the test days: "
        + ", ".join(
            f"{e.slice} {e.before.value:.3f} → {e.after.value:.3f} ({e.after.n})"
            for e in evaluation.detector_effects
        ),
        "**Tenants**: "
        + ", ".join(f"{t} recall {m.recall:.3f}" for t, m in evaluation.by_tenant.items()),
        f"**Gate policy**: recall ≥ {policy.recall_floor}, FPR ≤ {policy.fp_budget}, every "
        f"category ≥ {policy.category_recall_floor} (judged from {policy.min_category_attacks} "
        "attacks), set by the deployment.",
        "**Known limitations**: trained on the simulated world unless real mail was landed; "
        "behavioural features need weeks of a tenant's history; categories with few test "
        "attacks have wide uncertainty; see docs/model_card.md.",
    ]
    return "\n\n".join(lines)


def comparison_table(evaluation: Evaluation) -> str:
    rows = {
        "combined": evaluation.combined.as_dict(),
        "model_only": evaluation.model_only.as_dict(),
        "rules_and_detectors_only": evaluation.rules_only.as_dict(),
    }
    return keyed_table("scores", rows, METRIC_COLUMNS)


def detector_effect_table(evaluation: Evaluation) -> str:
    """The specialised detectors' effect on the test window: each slice before (general model
    and rules) and after (with the kept detectors), each side at the one global threshold chosen
    for it on the validation days at the same FP budget (not the per-tenant operating point the
    other figures use: it is chosen only with the detectors)."""
    return table(
        [
            "slice (test days)",
            "before detectors (validation threshold)",
            "after detectors (validation threshold)",
            "change",
        ],
        [
            [e.slice, str(e.before), str(e.after), f"{e.after.k - e.before.k:+d}"]
            for e in evaluation.detector_effects
        ],
    )


def place_table(places: tuple[Place, ...]) -> str:
    """Each detector's judgement on the validation days: its category's and all attacks' recall
    and the FPR without and with it at the same global budget, real safe mail it fires on, and
    whether it was kept and why."""

    def cell(rate: Rate | None) -> str:
        return "" if rate is None else str(rate)

    return table(
        [
            "detector",
            "recall without",
            "recall with",
            "all attacks without",
            "all attacks with",
            "FPR without",
            "FPR with",
            "real safe mail fired",
            "kept",
            "why",
        ],
        [
            [
                p.category,
                str(p.without),
                str(p.with_detector),
                cell(p.all_without),
                cell(p.all_with),
                str(p.fpr_without),
                str(p.fpr_with),
                cell(p.real_safe_fired),
                "yes" if p.kept else "no",
                p.reason,
            ]
            for p in places
        ],
    )


def real_firing_table(corpus: pd.DataFrame, detectors: Iterable[Detector]) -> str:
    """Each detector on real labelled mail it never trained on: the safe mail it would flag (its
    real false-positive cost) and the attacks it fires on (the corpus has no category labels)."""
    y = corpus["is_attack"].to_numpy()
    rows = []
    for detector in detectors:
        fired = detector.fires(corpus)
        rows.append([detector.name, str(Rate.among(fired, y == 0)), str(Rate.among(fired, y == 1))])
    return table(["detector", "real safe mail flagged", "real attacks flagged"], rows)


def tenant_table(evaluation: Evaluation) -> str:
    rows = {tenant: m.as_dict() for tenant, m in evaluation.by_tenant.items()}
    return keyed_table("tenant", rows, ("recall", "fpr", "attacks"))


def rule_records(frame: pd.DataFrame, rules: RuleSet) -> dict[str, dict[str, float]]:
    """Per rule: hits, hit rate, precision, attacks caught and false positives on labelled mail."""
    hits = rules.hits(frame)
    attacks = frame["is_attack"].to_numpy(dtype=bool)
    records = {}
    for rule in rules.rules:
        fired = hits[rule.name].to_numpy(dtype=bool)
        caught = int((fired & attacks).sum())
        records[rule.name] = {
            "hits": float(fired.sum()),
            "hit_rate": float(fired.mean()) if len(fired) else 0.0,
            "precision": caught / fired.sum() if fired.any() else float("nan"),
            "attacks_caught": float(caught),
            "false_positives": float((fired & ~attacks).sum()),
            "forces_attack": float(rule.action == "force_attack"),
        }
    return records


def rule_table(records: dict[str, dict[str, float]], columns: tuple[str, ...]) -> str:
    return keyed_table("rule", records, columns)


def counts_table(title: str, counts: pd.Series, limit: int = 15) -> str:
    """The ``limit`` largest counts, largest first."""
    if counts.empty:
        return f"no {title.lower()}: nothing to show"
    return table([title, "messages"], ([str(k), int(v)] for k, v in counts.head(limit).items()))


def missed_attack_table(
    missed: pd.DataFrame,
    contributions: np.ndarray,
    features: list[str],
    descriptions: dict[str, str],
) -> str:
    """Missed attacks per category, with the features that pushed them most towards attack."""
    if not len(missed):
        return "no missed attacks in the test window"
    categories = missed["category"].to_numpy()
    rows = []
    for category in sorted(set(categories)):
        positions = np.flatnonzero(categories == category)
        mean = contributions[positions].mean(axis=0)
        top = [
            f"{descriptions.get(features[j], features[j])} ({mean[j]:+.2f})"
            for j in np.argsort(-mean)[:3]
            if mean[j] > 0
        ]
        rows.append([category, len(positions), "; ".join(top) or "none"])
    return table(["category", "missed", "strongest signals (mean contribution)"], rows)
