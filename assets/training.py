"""Training stage: ``candidate_model`` (seeded LightGBM + rules + a threshold meeting the recall
target on the validation days) and the Evidently drift check between training and recent mail."""

import dagster as dg
import pandas as pd
from pydantic import Field

from assets.features import training_table
from assets.resources import GatePolicyResource, WorkDirResource, handoff_failures
from detection.features.vector import FEATURE_COLUMNS
from detection.model.candidate import Candidate, Window
from detection.model.drift import data_drift
from detection.model.thresholds import choose_threshold
from detection.model.training import (
    TrainingError,
    TrainParams,
    combined_scores,
    predict,
    rows,
    time_split,
    train_booster,
)
from detection.rules import default_rules_text, parse_rules

GROUP = "training"
FEATURE_DRIFT_CHECK = "feature_drift"


class TrainingConfig(dg.Config):
    """Training knobs only. What the candidate is judged by (recall and category floors, FP
    budget, minimum evidence) is the deployment's gate policy (GatePolicyResource), which a
    training run cannot change."""

    seed: int = Field(
        default=7, description="LightGBM seed: the same data and seed give the same model"
    )
    validation_days: int = Field(
        default=7, description="days after training used to choose the threshold"
    )
    test_days: int = Field(default=7, description="latest days held out for evaluation")
    validation_fpr: float = Field(
        default=0.001,
        description="the threshold meets the gate policy's recall floor on the validation days "
        "and is lowered further while the FPR there stays within this (a tenth of the default 1% "
        "budget): more room for new attack variants at no cost on known safe mail",
    )
    num_boost_round: int = Field(default=200, description="boosting rounds")
    learning_rate: float = Field(default=0.05, description="LightGBM learning rate")
    num_leaves: int = Field(default=15, description="LightGBM leaves per tree")
    min_data_in_leaf: int = Field(default=10, description="LightGBM minimum rows per leaf")
    feature_fraction: float = Field(
        default=0.3,
        description="share of features each tree may use: low values make the model learn "
        "from several signals instead of the one that happens to split the training window best",
    )
    num_threads: int = Field(default=2, description="LightGBM threads (fixed, for reproducibility)")


@dg.asset(group_name=GROUP, deps=[training_table], kinds={"lightgbm"})
def candidate_model(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    work_dir: WorkDirResource,
    gate_policy: GatePolicyResource,
) -> dg.MaterializeResult:
    """LightGBM on content + behavioural features, trained on the earliest days; the threshold meets
    the gate policy's recall floor on the validation days (combined: model or force_attack rule)
    and is lowered further while the validation FPR stays within validation_fpr. Written as
    LightGBM text plus the typed Candidate hand-off; no pickle."""
    work, policy = work_dir.open(), gate_policy.policy()
    with handoff_failures():
        frame = work.read_training_table()
    features = list(FEATURE_COLUMNS)
    params = TrainParams(
        seed=config.seed,
        num_boost_round=config.num_boost_round,
        learning_rate=config.learning_rate,
        num_leaves=config.num_leaves,
        min_data_in_leaf=config.min_data_in_leaf,
        feature_fraction=config.feature_fraction,
        num_threads=config.num_threads,
    )
    rules = parse_rules(default_rules_text(), set(features))
    try:
        split = time_split(frame, config.validation_days, config.test_days)
        booster = train_booster(split.train, features, params)
        validation_scores = combined_scores(
            predict(booster, split.validation, features),
            rules.forced(split.validation),
        )
        threshold = choose_threshold(
            split.validation["is_attack"].to_numpy(),
            validation_scores,
            policy.recall_floor,
            max_fpr=config.validation_fpr,
        )
    except TrainingError as exc:
        raise dg.Failure(str(exc)) from exc
    candidate = Candidate(
        model_text=booster.model_to_string(),
        features=tuple(features),
        threshold=threshold,
        threshold_recall_target=policy.recall_floor,
        validation_fpr=config.validation_fpr,
        train=Window.of(split.train),
        validation=Window.of(split.validation),
        test=Window.of(split.test),
        test_days=config.test_days,
        seed=config.seed,
        params=params.lightgbm(0.0) | {"num_boost_round": params.num_boost_round},
        run_id=context.run_id,
    )
    candidate.save(work.candidate)
    importance = dict(
        zip(features, booster.feature_importance("gain").round(1).tolist(), strict=True)
    )
    top = dict(sorted(importance.items(), key=lambda kv: -kv[1])[:10])
    windows = {part: window.as_dict() for part, window in candidate.windows().items()}
    return dg.MaterializeResult(
        metadata={
            "threshold": threshold,
            "recall_target": policy.recall_floor,
            "windows": dg.MetadataValue.json(windows),
            "top_features_by_gain": dg.MetadataValue.json(top),
            "model_path": dg.MetadataValue.path(str(work.candidate)),
        }
    )


@dg.asset_check(asset=candidate_model, name=FEATURE_DRIFT_CHECK, blocking=False)
def feature_drift(
    work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Evidently data drift between the candidate's training window and the latest landed days
    (as many as its test window). WARN when the share of drifted features reaches the gate
    policy's drift_share_threshold (30%): mail has changed since the model learned it. Open the
    HTML report in the metadata, look at which features drifted, and let the drift sensor's
    retraining run finish; investigate if it keeps firing."""
    work = work_dir.open()
    with handoff_failures():
        candidate, frame = work.load_candidate(), work.read_training_table()
    reference = candidate.train.select(frame)
    # the latest landed days, as long as the model's test window: for a fresh candidate this is
    # its test window; after more mail lands it is what production sees now
    latest = frame["received_at"].max() - pd.Timedelta(days=candidate.test_days)
    current = rows(frame, frame["received_at"] > latest)
    result = data_drift(
        reference,
        current,
        list(candidate.features),
        drift_share_threshold=gate_policy.policy().drift_share_threshold,
        seed=candidate.seed,
    )
    report = work.reports / "feature_drift.html"
    report.write_text(result.html)
    drifted = {
        c: float(str(s["score"])) for c, s in result.column_scores.items() if s.get("drifted")
    }
    top = sorted(drifted.items(), key=lambda item: -item[1])
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drift_share": result.drift_share,
            "threshold": result.threshold,
            "drifted_features": dg.MetadataValue.json(result.drifted_columns),
            "top_drift_scores": dg.MetadataValue.json(dict(top[:10])),
            "reference_rows": result.reference_rows,
            "current_rows": result.current_rows,
            "report": dg.MetadataValue.path(str(report)),
        },
    )
