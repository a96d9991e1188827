"""Real-mail evaluation: the candidate's whole training procedure refitted with each source (and
the later years) of the landed labelled corpus held out, thresholds chosen without the held-out
part; the operating point that ships; the shortcut audit. Two blocking checks judge them."""

import dataclasses
from typing import TYPE_CHECKING, cast

import dagster as dg
import numpy as np
from pydantic import Field

from assets.report_links import runbook
from assets.resources import (
    GatePolicyResource,
    LakeResource,
    WorkDirResource,
    for_people,
    handoff_failures,
    metadata_of,
)
from assets.training import candidate_model
from detection import storage
from detection.features.text import TEXT_SCORE
from detection.markdown import table
from detection.model.candidate import Candidate
from detection.model.holdouts import (
    SAFE_SOURCE,
    HoldoutReport,
    corpus_rows,
    evaluate_holdouts,
    judge_real_mail,
)
from detection.model.intervals import Rate
from detection.model.report import real_firing_table
from detection.model.shortcuts import (
    ShortcutAudit,
    audit_features,
    english_share,
    score_source_identification,
    slice_results,
)
from detection.model.stack import fit_stack
from detection.model.stack import text_scores as text_scores_of
from detection.model.text_training import TermMatrix, TextParams, lake_term_matrix
from detection.model.training import TRAIN, TrainParams, combined_scores, predict
from detection.model.training import rows as select_rows
from detection.rules import default_rules_text, parse_rules

if TYPE_CHECKING:
    import pandas as pd

GROUP = "evaluation"
REAL_MAIL_CHECK = "real_mail_recall_at_fp_budget"
SHORTCUT_CHECK = "shortcut_audit"
ENGLISH_SHARE = 0.08  # at least this share of common English function words: "English"


class RealMailEvaluationConfig(dg.Config):
    time_cutoff: str = Field(
        default="2010-01-01",
        description="time-held-out split: train on corpus mail before this date, test after it",
    )
    seed: int = Field(default=7, description="seed of the held-out shares")


def _slice_columns(
    frame: "pd.DataFrame", texts: dict[str, tuple[str, str, bool]]
) -> "pd.DataFrame":
    import pandas as pd

    subject_body = [texts.get(m, ("", "", False)) for m in frame["message_id"]]
    return pd.DataFrame(
        {
            "message_id": frame["message_id"].to_numpy(),
            "body_is_html": [t[2] for t in subject_body],
            "english": [english_share(f"{t[0]}\n{t[1]}") >= ENGLISH_SHARE for t in subject_body],
            "words": [len(t[1].split()) for t in subject_body],
            "attachments": frame["attachment_count"].to_numpy(),
        }
    )


def _split_table(report: HoldoutReport) -> str:
    def rate(value: Rate | None) -> str:
        return "n/a" if value is None else str(value)

    rows = [
        [
            s.name,
            s.train_rows,
            s.threshold,
            rate(s.recall),
            rate(s.fpr),
            s.pr_auc,
            s.recall_at_fpr.get("0.001"),
            s.recall_at_fpr.get("0.005"),
            s.recall_at_fpr.get("0.01"),
        ]
        for s in report.splits
    ]
    headers = [
        "split",
        "trained on",
        "threshold",
        "recall [95% CI]",
        "FPR [95% CI]",
        "PR-AUC",
        "recall @0.1% FPR",
        "@0.5%",
        "@1%",
    ]
    return table(headers, rows)


def _flag_table(report: HoldoutReport) -> str:
    rows = [
        [s.name, source, str(rate)]
        for s in report.splits
        for source, rate in s.flagged_by_source.items()
    ]
    return table(["split", "source", "flagged [95% CI]"], rows)


def _audit_table(audit: ShortcutAudit) -> str:
    ranked = sorted(audit.features, key=lambda f: -f.gain_share)[:25]
    rows = [
        [f.feature, f.gain_share, f.safe_source_auc, f.attack_source_auc, f.label_auc, f.shortcut]
        for f in ranked
    ]
    headers = [
        "input",
        "gain share",
        "safe-source AUC",
        "attack-source AUC",
        "label AUC",
        "shortcut",
    ]
    return table(headers, rows)


def _utc(day: str) -> "pd.Timestamp":
    import pandas as pd

    return cast(pd.Timestamp, pd.Timestamp(day, tz="UTC"))


@dg.asset(group_name=GROUP, deps=[candidate_model], kinds={"lightgbm", "sklearn"})
def real_mail_evaluation(
    context: dg.AssetExecutionContext,
    config: RealMailEvaluationConfig,
    work_dir: WorkDirResource,
    lake_store: LakeResource,
    gate_policy: GatePolicyResource,
) -> dg.MaterializeResult:
    """The candidate's procedure (text model with out-of-fold scores, LightGBM, rules, the same
    parameters) refitted with each part of the landed labelled corpus held out: each safe source
    (threshold from the other sources' held-out safe mail), each attack source, a random quarter
    and the later years; the real-mail threshold at the policy's FP budget (for mail without
    tenant history); the shortcut audit. Without a corpus in the lake it says so."""
    work, policy = work_dir.open(), gate_policy.policy()
    with handoff_failures():
        candidate = work.load_candidate()
        frame = work.read_training_table()
        text_scores = work.read_text_scores()
    features = list(candidate.features)
    train_params = TrainParams.from_lightgbm(candidate.params)
    text_params = TextParams(**candidate.text_params)
    rules = parse_rules(default_rules_text(), set(features))
    corpus = corpus_rows(frame)
    with handoff_failures():
        if len(corpus):
            matrix = lake_term_matrix(frame["message_id"].tolist(), lake_store.lake)
        else:
            matrix = TermMatrix.build([[]] * len(frame))

    detectors = candidate.detector_set()  # trained on the organisations' mail: none of this

    def fit_score(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        stack, _ = fit_stack(frame, matrix, train, features, train_params, text_params)
        held_out = frame.iloc[test].assign(**{TEXT_SCORE: text_scores_of(stack, matrix, test)})
        scores = predict(stack.booster, held_out, features)
        return combined_scores(scores, rules.forced(held_out) | detectors.fired(held_out))

    trainable = np.flatnonzero(frame["split"].to_numpy() == TRAIN)
    report, held = evaluate_holdouts(
        frame,
        trainable,
        fit_score,
        budget=policy.fp_budget,
        time_cutoff=_utc(config.time_cutoff),
        seed=config.seed,
    )
    audit = _audit(report, held, frame, text_scores, candidate, lake_store)
    report.save(work.holdout_report)
    storage.write_frame(held, work.holdout_scores)
    audit.save(work.shortcut_audit)
    summary = report.reason or f"mean recall {report.safe_source_mean_recall:.4f} by safe source"
    context.log.info(f"real mail: {summary}; threshold at the FP budget {report.threshold:.6f}")
    metadata: dict[str, object] = {
        "judged": report.judged,
        "real_mail_threshold": report.threshold,
        "fp_budget": policy.fp_budget,
        "messages_by_source": dg.MetadataValue.json(report.messages_by_source),
    }
    if report.judged:
        metadata |= {
            "safe_source_mean_recall": report.safe_source_mean_recall,
            "safe_source_max_fpr": report.safe_source_max_fpr,
            "splits": dg.MetadataValue.md(_split_table(report)),
            "flagged_by_source": dg.MetadataValue.md(_flag_table(report)),
            "shortcut_audit": dg.MetadataValue.md(_audit_table(audit)),
            "slices": dg.MetadataValue.md(
                table(
                    ["slice (safe-source folds)", "recall [95% CI]", "FPR [95% CI]"],
                    ([s.name, str(s.recall), str(s.fpr)] for s in audit.slices),
                )
            ),
        }
    else:
        metadata["not_judged"] = report.reason
    if len(corpus) and len(detectors):
        metadata["specialised_detectors_on_real_mail"] = dg.MetadataValue.md(
            real_firing_table(frame.iloc[corpus], detectors.detectors)
        )
    return dg.MaterializeResult(metadata=metadata)  # type: ignore[arg-type]


def _audit(
    report: HoldoutReport,
    held: "pd.DataFrame",
    frame: "pd.DataFrame",
    text_scores: "pd.DataFrame",
    candidate: Candidate,
    lake_store: LakeResource,
) -> ShortcutAudit:
    if not report.judged:
        return ShortcutAudit(False, report.reason)
    import lightgbm as lgb

    from detection.mail.lake import read_texts

    scored = frame.merge(text_scores[["message_id", TEXT_SCORE]], on="message_id")
    corpus = scored.iloc[corpus_rows(scored)]
    booster = lgb.Booster(model_str=candidate.model_text)
    gain = dict(zip(candidate.features, booster.feature_importance("gain").tolist(), strict=True))
    features = audit_features(corpus, list(candidate.features), gain)
    own = select_rows(held, held["split"].str.startswith(SAFE_SOURCE).to_numpy())  # once each
    thresholds = {s.name: s.threshold for s in report.of_kind(SAFE_SOURCE)}
    texts = read_texts(lake_store.lake, own["message_id"].tolist())
    positions = frame.reset_index(drop=True).index[frame["message_id"].isin(own["message_id"])]
    attributes = _slice_columns(frame.iloc[positions], texts)
    slices = slice_results(own.merge(attributes, on="message_id", how="left"), thresholds)
    identification = score_source_identification(select_rows(own, own["is_attack"].to_numpy() == 0))
    return ShortcutAudit(
        judged=True,
        reason="",
        features=features,
        score_identifies_safe_source=identification,
        slices=slices,
        shortcuts=[f.feature for f in features if f.shortcut],
    )


def _not_judged(reason: str, check: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=True, metadata={"judged": False, "not_judged": reason, **runbook(check)}
    )


@dg.asset_check(asset=real_mail_evaluation, name=REAL_MAIL_CHECK, blocking=True)
def real_mail_recall_at_fp_budget(
    work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Blocking. On real mail held out by safe source, at thresholds chosen without the held-out
    source: the pooled recall's 95% lower bound must reach the policy's real_mail_recall_floor
    and no held-out safe source's FPR upper bound may exceed source_fpr_cap; too few attacks or
    safe messages is "not enough evidence", which blocks. Not judged (and says so) when no
    labelled corpus was landed. When it fails the candidate is not deployed: read the splits
    table on real_mail_evaluation (which source's safe mail is flagged, which attack source is
    missed) and the shortcut audit."""
    with handoff_failures():
        report = work_dir.open().load_holdouts()
    if not report.judged:
        return _not_judged(report.reason, REAL_MAIL_CHECK)
    judgement = judge_real_mail(report, gate_policy.policy())
    return dg.AssetCheckResult(
        passed=judgement.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"verdict: {judgement.verdict}",
        metadata={**metadata_of(judgement.metadata), **runbook(REAL_MAIL_CHECK)},
    )


@dg.asset_check(asset=real_mail_evaluation, name=SHORTCUT_CHECK, blocking=True)
def shortcut_audit(work_dir: WorkDirResource) -> dg.AssetCheckResult:
    """Blocking. Does the model identify where mail came from instead of what it says? Fails
    when a model input identifies a source within a label almost perfectly, predicts the label
    and carries a real share of the model's gain (the criterion is in the metadata). When it
    fails: drop or fix the named input (a transport or era artefact, a list tag), retrain, and
    check the real-mail splits again. Not judged without a labelled corpus."""
    with handoff_failures():
        audit = work_dir.open().load_shortcut_audit()
    if not audit.judged:
        return _not_judged(audit.reason, SHORTCUT_CHECK)
    return dg.AssetCheckResult(
        passed=audit.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            **runbook(SHORTCUT_CHECK),
            "criterion": audit.criterion,
            "shortcuts": dg.MetadataValue.json(for_people(audit.shortcuts)),
            "score_identifies_safe_source": dg.MetadataValue.json(
                audit.score_identifies_safe_source
            ),
            "inputs": dg.MetadataValue.json(
                [dataclasses.asdict(f) for f in audit.features if f.gain_share >= 0.01]
            ),
        },
    )
