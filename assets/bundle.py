"""Deployment stage, before the promotion: the candidate as the exact bundle that would ship, a
frozen golden set, champion vs challenger on it, and scoring latency on a replay set, each judged
by the deployment's gate policy. ``deployed_model`` runs only when every blocking check here and
on model_evaluation passed."""

import importlib.metadata
from typing import Any

import dagster as dg
from pydantic import Field

from assets.dbt_project import manifest_sha256
from assets.evaluation import model_evaluation
from assets.features import baseline_snapshot
from assets.operating_point import operating_point
from assets.report_links import runbook
from assets.resources import (
    ArtifactStoreResource,
    GatePolicyResource,
    LakeResource,
    WorkDirResource,
    for_people,
    handoff_failures,
)
from assets.training import candidate_model, text_model
from detection import storage
from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.features.signals import TERM_SIGNALS
from detection.features.terms import TERMS_VERSIONS
from detection.features.vector import FEATURE_COLUMNS
from detection.mail.lake import replay_sets
from detection.model.candidate import Candidate
from detection.model.comparison import (
    GoldenSetError,
    bundle_scores,
    compare,
    latency_ms,
    versioned,
    with_texts,
)
from detection.model.policy import GatePolicy
from detection.model.training import TEST, in_split
from detection.rules import default_rules_text
from detection.serving.artifact import Bundle, BundleError
from detection.serving.registry import load_production, read_production
from detection.serving.stores import ArtifactStoreError
from detection.storage import Location

GROUP = "deployment"
CHAMPION_CHECK = "challenger_not_worse_than_champion"
LATENCY_CHECK = "scoring_latency_within_budget"
GOLDEN_COLUMNS = ["message_id", "tenant_id", "received_at", "category", "is_attack"]


def lineage_of(candidate: Candidate, policy: GatePolicy, run_id: str) -> dict[str, object]:
    return {
        "run_id": run_id,
        "data_windows": {part: w.as_dict() for part, w in candidate.windows().items()},
        "text_params": candidate.text_params,
        "dbt_manifest_sha256": manifest_sha256(),
        "code_version": importlib.metadata.version("attack-detection"),
        "training_params": candidate.params,
        "gate_policy": policy.as_dict(),
    }


class GoldenSetConfig(dg.Config):
    refresh: bool = Field(
        default=False,
        description="re-freeze the golden set from the current test window (after a feature "
        "change, or to move to newer mail); otherwise it never changes once frozen",
    )


@dg.asset(group_name=GROUP, deps=[candidate_model], kinds={"parquet"})
def golden_set(
    context: dg.AssetExecutionContext,
    config: GoldenSetConfig,
    work_dir: WorkDirResource,
    lake_store: LakeResource,
) -> dg.MaterializeResult:
    """A frozen evaluation set for the champion/challenger check: the feature rows, labels and
    categories of the test window at the time it was first frozen. Every challenger and the
    serving champion are compared on exactly these rows, so a comparison never moves because
    the data did."""
    import pandas as pd

    work = work_dir.open()
    path = work.golden_set
    stale = path.is_file() and not frozen_with_term_versions(path)
    if stale:  # a feature change: this release's bundles could not be judged on it
        context.log.info(
            f"golden set at {path} holds no term signals per terms version (frozen by an "
            "earlier release); freezing it again from the current test window"
        )
    if path.is_file() and not config.refresh and not stale:
        frozen = storage.read_frame(path, columns=["is_attack"])
        context.log.info(f"golden set kept as frozen at {path}")
    else:
        with handoff_failures():
            frame = work.read_training_table()
        columns = GOLDEN_COLUMNS + [c for c in FEATURE_COLUMNS if c in frame.columns]
        frozen = with_texts(in_split(frame, TEST).loc[:, columns], lake_store.lake)
        storage.write_frame(frozen, path)
        context.log.info(f"golden set frozen from the test window: {len(frozen)} rows at {path}")
    return dg.MaterializeResult(
        metadata={
            "rows": len(frozen),
            "attacks": int(pd.Series(frozen["is_attack"]).sum()),
            "path": dg.MetadataValue.path(str(path)),
            "refrozen_for_term_versions": stale,
        }
    )


def frozen_with_term_versions(path: Location) -> bool:
    """Whether the frozen golden set holds the term signals of every terms version this release
    counts (:func:`detection.model.comparison.with_texts`)."""
    names = set(storage.column_names(path))
    return all(versioned(n, v) in names for n in TERM_SIGNALS for v in TERMS_VERSIONS)


@dg.asset(
    group_name=GROUP,
    deps=[text_model, candidate_model, operating_point, model_evaluation, baseline_snapshot],
    kinds={"python"},
)
def candidate_bundle(
    context: dg.AssetExecutionContext, work_dir: WorkDirResource, gate_policy: GatePolicyResource
) -> dg.MaterializeResult:
    """The bundle that would ship (LightGBM text model, the kept specialised detectors, features,
    rules, threshold, baseline
    snapshot, manifest with the sha256 of every file, metrics and lineage, the gate policy it is
    judged by), written to the work directory so the gate's checks test exactly what
    deployed_model promotes."""
    require_same_run(context, model_evaluation.key)
    work = work_dir.open()
    with handoff_failures():
        candidate, evaluation = work.load_candidate(), work.load_evaluation()
        point = work.load_operating_point()
        _, text_model = work.load_text_model()
        snapshot = work.read_snapshot()
    bundle = Bundle.build(
        model_text=candidate.model_text,
        text_model=text_model.to_bytes(),
        detectors=candidate.detector_set().to_bytes(),
        features=list(candidate.features),
        rules_text=default_rules_text(),
        threshold=point.threshold,
        tenant_thresholds=point.tenants,
        with_history=point.with_history,
        snapshot=snapshot,
        terms_version=candidate.terms_version,
        metrics=evaluation.as_dict(),
        lineage=lineage_of(candidate, gate_policy.policy(), context.run.run_id),
    )
    directory = work.candidate_bundle
    storage.remove_tree(directory)
    bundle.write_dir(directory)
    context.log.info(f"candidate bundle {bundle.version} written to {directory}")
    return dg.MaterializeResult(
        metadata={"version": bundle.version, "path": dg.MetadataValue.path(str(directory))}
    )


def require_same_run(context: dg.AssetExecutionContext, upstream: dg.AssetKey) -> None:
    """The gate holds only within one run: refuse to act on an upstream result (and its checks)
    that another run produced."""
    event = context.instance.get_latest_materialization_event(upstream)
    if event is None or event.run_id != context.run.run_id:
        raise dg.Failure(
            f"{context.asset_key.to_user_string()} must run in the same run as "
            f"{upstream.to_user_string()} (and its blocking checks); materialise them together, "
            "e.g. with retrain_job"
        )


@dg.asset_check(
    asset=candidate_bundle, name=CHAMPION_CHECK, blocking=True, additional_deps=[golden_set]
)
def challenger_not_worse_than_champion(
    work_dir: WorkDirResource,
    artifact_store: ArtifactStoreResource,
    gate_policy: GatePolicyResource,
) -> dg.AssetCheckResult:
    """Blocking. On the frozen golden set, the candidate (challenger) may not lose more than the
    gate policy's champion_tolerance in recall at the FP budget against the model production
    serves (champion), overall or in any category with enough attacks. Passes when nothing is
    serving yet. When it fails, production keeps the champion: compare the two columns per
    category below, then read error_analysis for what the challenger misses."""
    work, policy = work_dir.open(), gate_policy.policy()
    with handoff_failures():
        golden, challenger = work.read_golden_set(), work.load_candidate_bundle()
    store = artifact_store.open()
    try:
        pointer = read_production(store)
        champion = load_production(store) if pointer is not None else None
    except (ArtifactStoreError, BundleError) as exc:
        raise dg.Failure(f"cannot load the serving champion to compare against: {exc}") from exc
    if champion is None:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"champion": "none (first deployment)", **runbook(CHAMPION_CHECK)},
        )
    try:
        result = compare(
            golden,
            bundle_scores(champion, golden),
            bundle_scores(challenger, golden),
            budget=policy.fp_budget,
            tolerance=policy.champion_tolerance,
            min_attacks=policy.min_category_attacks,
        )
    except GoldenSetError as exc:
        raise dg.Failure(str(exc)) from exc
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "champion": champion.version,
            "challenger": challenger.version,
            "fp_budget": policy.fp_budget,
            "tolerance": policy.champion_tolerance,
            "recall_at_fp_budget": dg.MetadataValue.md(result.table()),
            "regressions": dg.MetadataValue.json(for_people(result.regressions)),
            "not_judged_too_few_attacks": dg.MetadataValue.json(result.not_judged),
            "golden_rows": len(golden),
            **runbook(CHAMPION_CHECK),
        },
    )


@dg.asset_check(asset=candidate_bundle, name=LATENCY_CHECK, blocking=True)
def scoring_latency_within_budget(
    work_dir: WorkDirResource, lake_store: LakeResource, gate_policy: GatePolicyResource
) -> dg.AssetCheckResult:
    """Blocking. The candidate bundle scores two replay sets, one message at a time (features +
    model + rules + reasons): the latest landed messages, whose p99 must stay within the gate
    policy's `latency_budget_ms`, and, when a labelled real corpus was landed, a fixed sample of
    its messages, within `real_mail_latency_budget_ms`. When it fails, the model became too slow
    to serve inline (more trees, slower features, longer texts): compare p50/p99 with the
    previous deployment's, and profile with `python -m bench.profile scorer --corpus ...`."""
    policy = gate_policy.policy()
    with handoff_failures():
        bundle = work_dir.open().load_candidate_bundle()
    replays = replay_sets(lake_store.lake, policy.replay_messages, POOLED_TENANT_PREFIX)
    if not replays["latest"]:
        raise dg.Failure(f"no landed mail under {lake_store.lake} to replay")
    timings = latency_ms(bundle, replays["latest"])
    passed = timings["p99_ms"] <= policy.latency_budget_ms
    metadata: dict[str, Any] = {
        **timings,
        "budget_ms": policy.latency_budget_ms,
        "version": bundle.version,
        **runbook(LATENCY_CHECK),
    }
    if replays["real_mail"]:
        real = latency_ms(bundle, replays["real_mail"])
        passed = passed and real["p99_ms"] <= policy.real_mail_latency_budget_ms
        metadata.update(
            {f"real_mail_{k}": v for k, v in real.items()},
            real_mail_budget_ms=policy.real_mail_latency_budget_ms,
        )
    else:
        metadata["real_mail"] = "not replayed: no labelled real corpus landed"
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR, metadata=metadata
    )
