"""Training stage: ``text_model`` (TF-IDF + logistic regression on the language of labelled
mail, with out-of-fold scores), ``candidate_model`` (seeded LightGBM on every feature with the
text score stacked, rules, and a threshold at a false-positive budget on the validation days) and
the Evidently drift check between training and recent mail."""

import dataclasses

import dagster as dg
import numpy as np
from pydantic import Field

from assets.features import training_table
from assets.report_links import report_metadata, runbook
from assets.resources import (
    GatePolicyResource,
    LakeResource,
    WorkDirResource,
    for_people,
    handoff_failures,
)
from detection import storage
from detection.features.text import TEXT_SCORE
from detection.features.vector import MODEL_FEATURES
from detection.markdown import table
from detection.model.candidate import Candidate, TextModelInfo, Window
from detection.model.detectors import (
    SPECS,
    DetectorParams,
    DetectorTraining,
    Trained,
    choose_detectors,
    train_detector,
)
from detection.model.drift import data_drift
from detection.model.intervals import Rate
from detection.model.report import place_table
from detection.model.stack import strata, text_groups
from detection.model.text_training import (
    TextParams,
    first_of_each,
    fit_text_model,
    lake_term_matrix,
    out_of_fold_scores,
    score_rows,
)
from detection.model.thresholds import threshold_within_budget, verdict_threshold
from detection.model.training import (
    TEST,
    TRAIN,
    TrainingError,
    TrainParams,
    combined_scores,
    in_split,
    organisation_rows,
    predict,
    require_both_classes,
    rows,
    terms_version_of,
    time_split,
    train_booster,
)
from detection.rules import default_rules_text, parse_rules

GROUP = "training"
FEATURE_DRIFT_CHECK = "feature_drift"
DETECTOR_BUDGET_CHECK = "detectors_within_budget_on_test_days"
DETECTOR_PLACE_CHECK = "detectors_earn_their_place"


class TextModelConfig(dg.Config):
    c: float = Field(default=10.0, description="inverse L2 regularisation of the regression")
    min_df: int = Field(default=2, description="a term must occur in this many training messages")
    folds: int = Field(
        default=5, description="folds for the out-of-fold text scores the booster learns from"
    )
    seed: int = Field(default=7, description="fold and solver seed")

    def params(self) -> TextParams:
        return TextParams(c=self.c, min_df=self.min_df, folds=self.folds, seed=self.seed)


class TrainingConfig(dg.Config):
    """Training knobs only. What the candidate is judged by (recall and category floors, FP
    budget, minimum evidence) is the deployment's gate policy (GatePolicyResource), which a
    training run cannot change."""

    seed: int = Field(
        default=7, description="LightGBM seed: the same data and seed give the same model"
    )
    validation_fpr: float = Field(
        default=0.003,
        description="the candidate's threshold keeps the FPR on the simulated validation days "
        "within this (stricter than the policy's budget), and is raised past the safe mail "
        "below the weakest validation attack it flags (flagged for nothing); the operating "
        "point may raise it for real mail",
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

    def params(self) -> TrainParams:
        return TrainParams(
            seed=self.seed,
            num_boost_round=self.num_boost_round,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_data_in_leaf=self.min_data_in_leaf,
            feature_fraction=self.feature_fraction,
            num_threads=self.num_threads,
        )


class DetectorConfig(dg.Config):
    """The specialised detectors' knobs (detection.model.detectors)."""

    fp_budget: float = Field(
        default=DetectorParams().fp_budget,
        gt=0.0,
        le=0.01,
        description="each detector's own false-positive budget on the validation days' safe mail",
    )
    num_boost_round: int = Field(
        default=DetectorParams().num_boost_round, ge=10, le=1000, description="boosting rounds"
    )
    num_leaves: int = Field(
        default=DetectorParams().num_leaves, ge=2, le=63, description="leaves per tree"
    )
    seed: int = Field(default=7, description="LightGBM seed")

    def params(self) -> DetectorParams:
        return DetectorParams(
            num_boost_round=self.num_boost_round,
            num_leaves=self.num_leaves,
            fp_budget=self.fp_budget,
        )


@dg.asset(group_name=GROUP, deps=[training_table], kinds={"sklearn", "parquet"})
def text_model(
    context: dg.AssetExecutionContext,
    config: TextModelConfig,
    work_dir: WorkDirResource,
    lake_store: LakeResource,
) -> dg.MaterializeResult:
    """The learned text model: TF-IDF word uni- and bigrams of the masked subject and capped
    visible body (detection.features.text, the featuriser the scorer uses) and a class-balanced
    logistic regression, fitted on the training days, saved as a parquet table (never pickle).
    Writes every labelled message's text score: out-of-fold for the training rows (the booster
    learns from scores of messages the text model never saw), the fitted model's elsewhere."""
    import pandas as pd

    work, params = work_dir.open(), config.params()
    with handoff_failures():
        frame = work.read_training_table()
    with handoff_failures():
        matrix = lake_term_matrix(frame["message_id"].tolist(), lake_store.lake)
    y = frame["is_attack"].to_numpy(dtype=int)
    train = np.flatnonzero(frame["split"].to_numpy() == TRAIN)
    try:
        require_both_classes(y[train], "training")
    except TrainingError as exc:
        raise dg.Failure(str(exc)) from exc
    scores = np.zeros(len(frame))
    rows = frame.iloc[train]
    groups = text_groups(rows, matrix.document_of[train])
    scores[train] = out_of_fold_scores(matrix, train, y[train], strata(rows), params, groups)
    once = train[first_of_each(np.arange(len(train)), groups)]
    model = fit_text_model(matrix, once, y[once], params)
    others = np.setdiff1d(np.arange(len(frame)), train)
    scores[others] = score_rows(model, matrix, others)
    info = TextModelInfo(
        params=dataclasses.asdict(params),
        rows=len(train),
        attacks=int(y[train].sum()),
        terms=len(model.terms),
        out_of_fold_rows=len(train),
        run_id=context.run.run_id,
    )
    info.save(work.text_model, model.to_bytes())
    text_scores = pd.DataFrame(
        {
            "message_id": frame["message_id"],
            TEXT_SCORE: scores,
            "out_of_fold": np.isin(np.arange(len(frame)), train),
        }
    )
    storage.write_frame(text_scores, work.text_scores)
    heaviest = sorted(model.terms.items(), key=lambda kv: -kv[1][1] * kv[1][0])
    context.log.info(f"text model: {len(model.terms)} terms from {len(train)} training messages")
    return dg.MaterializeResult(
        metadata={
            "terms": len(model.terms),
            "training_rows": len(train),
            "params": dg.MetadataValue.json(dataclasses.asdict(params)),
            "out_of_fold_auc_on_training_rows": for_people(_auc(y[train], scores[train])),
            "strongest_attack_terms": dg.MetadataValue.json([t for t, _ in heaviest[:20]]),
            "path": dg.MetadataValue.path(str(work.text_model)),
        }
    )


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores)) if 0 < y.sum() < len(y) else float("nan")


@dg.asset(group_name=GROUP, deps=[text_model], kinds={"lightgbm"})
def specialised_detectors(
    context: dg.AssetExecutionContext, config: DetectorConfig, work_dir: WorkDirResource
) -> dg.MaterializeResult:
    """One small LightGBM per high-value category (BEC / CEO fraud, vendor invoice fraud,
    account takeover), trained on that category against safe mail of the organisations' own
    training days, on the features that matter for it, with its own threshold at its own FP
    budget on the validation days. candidate_model decides which earn their place beside the
    general model (detection.model.detectors explains how the verdict combines them)."""
    work, params = work_dir.open(), config.params()
    with handoff_failures():
        frame = work.read_scored_training_table()
    try:
        split = time_split(frame)
    except TrainingError as exc:
        raise dg.Failure(str(exc)) from exc
    base = TrainParams(seed=config.seed)
    trained = tuple(
        train_detector(category, organisation_rows(split.train), split.validation, params, base)
        for category in SPECS
    )
    DetectorTraining(
        trained=trained, params=dataclasses.asdict(params), run_id=context.run.run_id
    ).save(work.detectors)
    for one in trained:
        context.log.info(f"detector {one.category}: {one.reason}")
    return dg.MaterializeResult(
        metadata={
            "detectors": dg.MetadataValue.md(_detector_table(trained)),
            "trained": sum(one.detector is not None for one in trained),
            "fp_budget": params.fp_budget,
            "path": dg.MetadataValue.path(str(work.detectors)),
        }
    )


def _detector_table(trained: tuple[Trained, ...]) -> str:
    def cell(rate: Rate | None) -> str:
        return "" if rate is None else str(rate)

    return table(
        ["detector", "recall on its category (validation)", "FPR (validation safe)", "status"],
        [
            [one.category, cell(one.validation_recall), cell(one.validation_fpr), one.reason]
            for one in trained
        ],
    )


@dg.asset_check(asset=specialised_detectors, name=DETECTOR_BUDGET_CHECK, blocking=False)
def detectors_within_budget(work_dir: WorkDirResource) -> dg.AssetCheckResult:
    """Each trained detector on the test days, which it never saw: recall on its category and
    its false-positive rate on safe mail at its own threshold, with 95% intervals. WARN when a
    detector's FPR is above its own budget even at the interval's lower bound (it spends more
    than it was given on later mail: look at its features' drift, retrain, or lower its
    budget), or when no detector could be trained (the reason is in the table)."""
    work = work_dir.open()
    with handoff_failures():
        training = work.load_detectors()
        frame = work.read_scored_training_table()
    test = in_split(frame, TEST)
    y = test["is_attack"].to_numpy()
    categories = test["category"].astype(str).to_numpy()
    lines, over = [], []
    for one in training.trained:
        if one.detector is None:
            lines.append([one.category, "", "", one.reason])
            continue
        fired = one.detector.fires(test)
        recall, fpr = Rate.among(fired, categories == one.category), Rate.among(fired, y == 0)
        if fpr.n and fpr.low > one.detector.fp_budget:
            over.append(one.category)
        lines.append([one.category, str(recall), str(fpr), f"budget {one.detector.fp_budget:g}"])
    none_trained = all(one.detector is None for one in training.trained)
    return dg.AssetCheckResult(
        passed=not over and not none_trained,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "detectors": dg.MetadataValue.md(
                table(
                    ["detector", "recall on its category (test)", "FPR (test safe)", "note"], lines
                )
            ),
            "over_budget": dg.MetadataValue.json(over),
            "test_rows": len(test),
            **runbook(DETECTOR_BUDGET_CHECK),
        },
    )


@dg.asset(group_name=GROUP, deps=[text_model, specialised_detectors], kinds={"lightgbm"})
def candidate_model(
    context: dg.AssetExecutionContext, config: TrainingConfig, work_dir: WorkDirResource
) -> dg.MaterializeResult:
    """LightGBM on content, structure and behavioural features with the text model's
    out-of-fold score stacked in, trained on the earliest days. Its threshold keeps the
    false-positive rate of the verdict (model, or a force_attack rule) on the validation days
    within validation_fpr, raised past the safe mail below the weakest validation attack it
    flags; real_mail_evaluation adds the real-mail operating point. Written as
    LightGBM text plus the typed Candidate hand-off; no pickle."""
    work = work_dir.open()
    with handoff_failures():
        frame = work.read_scored_training_table()
        text_info, _ = work.load_text_model()
        detectors = work.load_detectors()
    features = list(MODEL_FEATURES)
    params = config.params()
    rules = parse_rules(default_rules_text(), set(features))
    try:
        terms_version = terms_version_of(frame)
        split = time_split(frame)
        booster = train_booster(split.train, features, params)
        y_validation = split.validation["is_attack"].to_numpy()
        require_both_classes(y_validation, "validation")
        general_scores = combined_scores(
            predict(booster, split.validation, features), rules.forced(split.validation)
        )
    except TrainingError as exc:
        raise dg.Failure(str(exc)) from exc
    pooled = split.train.drop(organisation_rows(split.train).index)
    kept, places, validation_scores = choose_detectors(
        detectors.trained,
        split.validation,
        general_scores,
        config.validation_fpr,
        rows(pooled, pooled["is_attack"].to_numpy() == 0),
    )
    threshold = verdict_threshold(
        threshold_within_budget(y_validation, validation_scores, config.validation_fpr)
    )
    threshold_without = verdict_threshold(
        threshold_within_budget(y_validation, general_scores, config.validation_fpr)
    )
    test_days = int(split.test["received_at"].dt.floor("D").nunique())
    candidate = Candidate(
        model_text=booster.model_to_string(),
        features=tuple(features),
        threshold=threshold,
        validation_fpr=config.validation_fpr,
        train=Window.of(organisation_rows(split.train)),
        pooled=Window.of(split.train.drop(organisation_rows(split.train).index)),
        validation=Window.of(split.validation),
        test=Window.of(split.test),
        test_days=test_days,
        seed=config.seed,
        params=params.lightgbm(0.0) | {"num_boost_round": params.num_boost_round},
        text_params=text_info.params,
        run_id=context.run.run_id,
        detectors=kept.detectors,
        places=places,
        threshold_without_detectors=threshold_without,
        terms_version=terms_version,
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
            "threshold_without_detectors": threshold_without,
            "detectors_kept": dg.MetadataValue.json(list(kept.names)),
            "validation_fpr": config.validation_fpr,
            "windows": dg.MetadataValue.json(windows),
            "top_features_by_gain": dg.MetadataValue.json(top),
            "model_path": dg.MetadataValue.path(str(work.candidate)),
        }
    )


@dg.asset_check(asset=candidate_model, name=DETECTOR_PLACE_CHECK, blocking=False)
def detectors_earn_their_place(work_dir: WorkDirResource) -> dg.AssetCheckResult:
    """Each specialised detector beside the general model, on the validation days at the same
    global FP budget: its category's recall without and with it (95% intervals), the global FPR
    both ways, and its firing on the real corpora's safe mail. A detector is kept only when it
    catches more of its category and stays within its budget on real safe mail; one that adds
    nothing is dropped, which is a normal outcome. WARN when a detector could not be judged (not
    trained, or too few attacks of its category: land more days) or fires on real safe mail
    beyond its own budget (it learned something of the simulated mail that real safe mail also
    has: look at its features before it can ever ship)."""
    with handoff_failures():
        candidate = work_dir.open().load_candidate()
    unjudged = [p.category for p in candidate.places if not p.judged]
    over = [p.category for p in candidate.places if p.over_budget_on_real_mail]
    return dg.AssetCheckResult(
        passed=bool(candidate.places) and not unjudged and not over,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "detectors": dg.MetadataValue.md(place_table(candidate.places)),
            "kept": dg.MetadataValue.json([p.category for p in candidate.places if p.kept]),
            "not_judged": dg.MetadataValue.json(unjudged),
            "over_budget_on_real_safe_mail": dg.MetadataValue.json(over),
            **runbook(DETECTOR_PLACE_CHECK),
            "threshold": candidate.threshold,
            "threshold_without_detectors": candidate.threshold_without_detectors,
        },
    )


@dg.asset_check(asset=candidate_model, name=FEATURE_DRIFT_CHECK, blocking=False)
def feature_drift(
    work_dir: WorkDirResource, lake_store: LakeResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Evidently data drift between the candidate's training window and the latest landed days
    (as many as its test window). WARN when the share of drifted features reaches the gate
    policy's drift_share_threshold (30%): mail has changed since the model learned it. Open the
    HTML report in the metadata, look at which features drifted, and let the drift sensor's
    retraining run finish; investigate if it keeps firing."""
    import pandas as pd

    work = work_dir.open()
    with handoff_failures():
        candidate = work.load_candidate()
        frame = work.read_training_table()
        _, model = work.load_text_model()
        scores = work.read_text_scores()
        # mail landed after the text model ran is scored with it here
        known = dict(zip(scores["message_id"], scores[TEXT_SCORE], strict=True))
        new = [m for m in frame["message_id"] if m not in known]
        if new:
            matrix = lake_term_matrix(new, lake_store.lake)
            known |= dict(zip(new, score_rows(model, matrix, np.arange(len(new))), strict=True))
    frame[TEXT_SCORE] = np.array([known[m] for m in frame["message_id"]], dtype=float)
    reference = organisation_rows(in_split(frame, TRAIN))
    # the latest landed days, as long as the model's test window: for a fresh candidate this is
    # its test window; after more mail lands it is what production sees now
    own = organisation_rows(frame)
    latest = own["received_at"].max() - pd.Timedelta(days=candidate.test_days)
    current = rows(own, own["received_at"] > latest)
    result = data_drift(
        reference,
        current,
        list(candidate.features),
        drift_share_threshold=gate_policy.policy().drift_share_threshold,
        seed=candidate.seed,
    )
    links = report_metadata(work.reports, "feature_drift", result.html)
    drifted = {
        c: float(str(s["score"])) for c, s in result.column_scores.items() if s.get("drifted")
    }
    top = sorted(drifted.items(), key=lambda item: -item[1])
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "drift_share": for_people(result.drift_share),
            "threshold": result.threshold,
            "drifted_features": dg.MetadataValue.json(result.drifted_columns),
            "top_drift_scores": dg.MetadataValue.json(for_people(dict(top[:10]))),
            "top_drifted_features": dg.MetadataValue.md(
                table(["feature", "drift score"], for_people(top[:10]))
                if top
                else "no feature drifted"
            ),
            "reference_rows": result.reference_rows,
            "current_rows": result.current_rows,
            **links,
            **runbook(FEATURE_DRIFT_CHECK),
        },
    )
