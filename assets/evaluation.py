"""Evaluation stage: ``model_evaluation`` scores the held-out test window with the candidate it is
given (metrics, slices, Evidently classification report, pictures, model card), the blocking
efficacy checks that gate deployment (judged by the deployment's gate policy), prediction drift,
the FN/FP analysis and the rules' record. The logic lives in detection.model.evaluation and
detection.model.report; this module does I/O and metadata."""

import dagster as dg
import numpy as np

from assets.features import training_table
from assets.operating_point import operating_point
from assets.report_links import picture, report_metadata, runbook
from assets.resources import (
    GatePolicyResource,
    LakeResource,
    WorkDirResource,
    for_people,
    handoff_failures,
    metadata_of,
)
from detection import storage
from detection.features.vector import DESCRIPTIONS, FEATURE_COLUMNS
from detection.mail.lake import sender_org_domains
from detection.markdown import table
from detection.model import plots, report
from detection.model.drift import classification_quality, prediction_drift
from detection.model.evaluation import (
    Judgement,
    candidate_scores,
    evaluate,
    judge_categories,
    judge_false_positive_rate,
    judge_recall,
)
from detection.model.training import TEST, VALIDATION, combined_scores, in_split, rows
from detection.rules import default_rules_text, parse_rules

GROUP = "evaluation"
RECALL_CHECK = "recall_at_threshold"
FPR_CHECK = "false_positive_rate_within_budget"
CATEGORY_CHECK = "category_recall_at_floor"
PREDICTION_DRIFT_CHECK = "prediction_drift"


def _rules(features: list[str] | tuple[str, ...]):
    return parse_rules(default_rules_text(), set(features))


def _check(judgement: Judgement, name: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=judgement.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"verdict: {judgement.verdict}",
        metadata={**metadata_of(judgement.metadata), **runbook(name)},
    )


@dg.asset(group_name=GROUP, deps=[operating_point], kinds={"python", "evidently"})
def model_evaluation(
    context: dg.AssetExecutionContext, work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.MaterializeResult:
    """Efficacy of the candidate on the latest, held-out days: recall at the chosen threshold,
    FPR and false positives per million safe messages, PR-AUC, recall per attack category and per
    tenant, rules alone vs model alone vs combined, Evidently's classification report, pictures
    (precision-recall, scores by class, recall per category) and the model card."""
    import pandas as pd

    work, policy = work_dir.open(), gate_policy.policy()
    with handoff_failures():
        candidate, point = work.load_candidate(), work.load_operating_point()
        frame = work.read_scored_training_table()
        holdouts = work.load_holdouts()
    rules = _rules(candidate.features)
    evaluation, scored = evaluate(in_split(frame, TEST), candidate, rules, point)
    y, scores = scored["is_attack"].to_numpy(), scored["score"].to_numpy()
    # Evidently and the pictures take one threshold: the window's typical (tenants' own) one
    threshold = float(np.median(scored["threshold"])) if len(scored) else point.threshold
    directory = work.reports
    quality = classification_quality(y, scores, threshold)
    classification_report = report_metadata(
        directory, "classification_quality", quality.html, key="classification_report"
    )
    evaluation = evaluation.with_classification(quality.values)
    evaluation.save(work.evaluation)
    validation = in_split(frame, VALIDATION)
    reference = combined_scores(*candidate_scores(validation, candidate, rules))
    labels = ["message_id", "tenant_id", "category", "is_attack"]
    labelled = pd.concat(
        [
            validation[labels].assign(score=reference, window="validation"),
            scored[[*labels, "score", "threshold"]].assign(window="test"),
        ],
        ignore_index=True,
    )
    storage.write_frame(labelled, work.evaluation_scores)
    combined = evaluation.combined
    context.log.info(
        f"test recall {combined.recall:.4f}, FPR {combined.fpr:.5f} at threshold {threshold:.4f}"
    )
    floors = policy.floors(sorted(evaluation.recall_by_category))
    # each picture its own metadata entry (one markdown image), not three behind one entry
    pictures = {
        "picture_precision_recall": picture(
            directory, "precision_recall", plots.precision_recall_png(y, scores, threshold)
        ),
        "picture_score_distribution": picture(
            directory, "score_distribution", plots.score_distribution_png(y, scores, threshold)
        ),
        "picture_category_recall": picture(
            directory,
            "category_recall",
            plots.category_recall_png(evaluation.recall_by_category, floors),
        ),
    }
    return dg.MaterializeResult(
        metadata={
            "recall": for_people(combined.recall),
            "fpr": for_people(combined.fpr),
            "false_positives_per_million": for_people(combined.false_positives_per_million),
            "pr_auc": for_people(combined.pr_auc),
            "threshold": for_people(threshold, digits=6),
            "recall_by_category": dg.MetadataValue.json(for_people(evaluation.recall_by_category)),
            "rules_vs_model_vs_combined": dg.MetadataValue.md(report.comparison_table(evaluation)),
            "by_tenant": dg.MetadataValue.md(report.tenant_table(evaluation)),
            "specialised_detectors_before_after": dg.MetadataValue.md(
                report.detector_effect_table(evaluation)
            ),
            "evidently_classification": dg.MetadataValue.json(for_people(quality.values)),
            "evidently_classification_table": dg.MetadataValue.md(
                table(["Evidently metric", "value"], for_people(quality.values).items())
            ),
            **classification_report,
            **pictures,
            "model_card": dg.MetadataValue.md(
                report.model_card(candidate, evaluation, policy, quality.values, point, holdouts)
            ),
            "path": dg.MetadataValue.path(str(work.evaluation)),
        }
    )


@dg.asset_check(asset=model_evaluation, name=RECALL_CHECK, blocking=True)
def recall_at_threshold(
    work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Blocking. Recall on the held-out latest days at the chosen threshold must reach the gate
    policy's recall floor. When it fails the candidate is not deployed and production keeps
    serving. Look at recall_by_category on model_evaluation to see which attacks are missed."""
    with handoff_failures():
        evaluation = work_dir.open().load_evaluation()
    return _check(judge_recall(evaluation, gate_policy.policy()), RECALL_CHECK)


@dg.asset_check(asset=model_evaluation, name=FPR_CHECK, blocking=True)
def false_positive_rate_within_budget(
    work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Blocking. The false-positive rate on held-out safe mail must stay within the gate policy's
    FP budget (1%). When it fails the candidate is not deployed; look at by_tenant and the rules
    comparison on model_evaluation to find what over-fires."""
    with handoff_failures():
        evaluation = work_dir.open().load_evaluation()
    return _check(judge_false_positive_rate(evaluation, gate_policy.policy()), FPR_CHECK)


@dg.asset_check(asset=model_evaluation, name=CATEGORY_CHECK, blocking=True)
def category_recall_at_floor(
    work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Blocking. Every attack category's recall on the held-out days must reach its floor (the
    gate policy's category_recall_floor, per-category overrides in category_floors); categories
    with fewer test attacks than min_category_attacks are listed but not judged. When it fails
    the candidate is not deployed: a model that is better overall but stops catching one kind of
    attack (say BEC) must not ship. Look at error_analysis for the missed messages' signals."""
    with handoff_failures():
        evaluation = work_dir.open().load_evaluation()
    return _check(judge_categories(evaluation, gate_policy.policy()), CATEGORY_CHECK)


@dg.asset_check(asset=model_evaluation, name=PREDICTION_DRIFT_CHECK, blocking=False)
def prediction_drift_check(work_dir: WorkDirResource) -> dg.AssetCheckResult:
    """WARN. Evidently drift test between the candidate's scores on the validation days and on
    the test days. When it warns, the model sees differently distributed mail than the one its
    threshold was chosen on: read the HTML report, compare attack share and categories between
    the windows (model_evaluation), and expect the drift sensor to retrain."""
    work = work_dir.open()
    with handoff_failures():
        candidate, scores = work.load_candidate(), work.read_evaluation_scores()
    window = scores["window"].to_numpy()
    values = scores["score"].to_numpy()
    drift = prediction_drift(
        values[window == "validation"], values[window == "test"], seed=candidate.seed
    )
    links = report_metadata(work.reports, "prediction_drift", drift.html)
    column = drift.column_scores.get("score", {})
    return dg.AssetCheckResult(
        passed=drift.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drifted": not drift.passed,
            "method": str(column.get("method")),
            "drift_score": float(str(column.get("score", "nan"))),
            "reference_rows": drift.reference_rows,
            "current_rows": drift.current_rows,
            **links,
            **runbook(PREDICTION_DRIFT_CHECK),
        },
    )


@dg.asset(group_name=GROUP, deps=[operating_point, training_table], kinds={"python"})
def error_analysis(
    context: dg.AssetExecutionContext, work_dir: WorkDirResource, lake_store: LakeResource
) -> dg.MaterializeResult:
    """What the candidate gets wrong on the test window, for the analyst: missed attacks by
    category with their strongest signals (TreeSHAP), false positives by sender domain and by
    fired rule, and each rule's hit rate and precision there. No message content is shown. It
    scores the test window itself, so it runs (and explains) even when a blocking check on
    model_evaluation stops the deployment."""
    import lightgbm as lgb
    import pandas as pd

    work = work_dir.open()
    with handoff_failures():
        candidate, point = work.load_candidate(), work.load_operating_point()
        frame = work.read_scored_training_table()
    features = list(candidate.features)
    rules = _rules(features)
    test = in_split(frame, TEST).reset_index(drop=True)
    _, scored = evaluate(test, candidate, rules, point)
    caught = scored["score"].to_numpy() >= scored["threshold"].to_numpy()
    attacks = scored["is_attack"].to_numpy() == 1
    missed = rows(test, attacks & ~caught).reset_index(drop=True)
    booster = lgb.Booster(model_str=candidate.model_text)
    contributions = (
        np.asarray(booster.predict(missed[features].to_numpy(dtype=float), pred_contrib=True))[
            :, :-1
        ]
        if len(missed)
        else np.zeros((0, len(features)))
    )
    false_positives = rows(test, ~attacks & caught)
    domains = sender_org_domains(lake_store.lake, false_positives["message_id"].tolist())
    by_domain = pd.Series(
        [domains.get(m, "?") for m in false_positives["message_id"]]
    ).value_counts()
    fired = rules.hits(false_positives).sum()
    by_rule = pd.Series(fired[fired > 0]).sort_values(ascending=False)
    records = report.rule_records(test, rules)
    context.log.info(f"{len(missed)} missed attacks, {len(false_positives)} false positives")
    return dg.MaterializeResult(
        metadata={
            "missed_attacks": len(missed),
            "false_positives": len(false_positives),
            "missed_by_category": dg.MetadataValue.md(
                report.missed_attack_table(missed, contributions, features, DESCRIPTIONS)
            ),
            "false_positives_by_sender_domain": dg.MetadataValue.md(
                report.counts_table("Sender domain", by_domain)
            ),
            "false_positives_by_rule": dg.MetadataValue.md(report.counts_table("Rule", by_rule)),
            "rules_on_test_window": dg.MetadataValue.md(
                report.rule_table(records, ("hits", "hit_rate", "precision", "false_positives"))
            ),
        }
    )


@dg.asset(group_name=GROUP, deps=[training_table], kinds={"python"})
def rule_report(
    context: dg.AssetExecutionContext, work_dir: WorkDirResource
) -> dg.MaterializeResult:
    """How each heuristic rule performs on all labelled mail: hits, hit rate, precision, attacks
    caught and false positives. A force_attack rule with false positives blocks good mail."""
    with handoff_failures():
        frame = work_dir.open().read_training_table()
    records = report.rule_records(frame, _rules(FEATURE_COLUMNS))
    context.log.info(f"rule report over {len(records)} rules")
    columns = ("hits", "precision", "attacks_caught", "false_positives")
    return dg.MaterializeResult(
        metadata={
            "rules": dg.MetadataValue.md(report.rule_table(records, columns)),
            "force_attack_false_positives": sum(
                r["false_positives"] for r in records.values() if r["forces_attack"]
            ),
        }
    )
