"""The deployment gate beyond the efficacy checks: the candidate as the exact bundle that would
ship, a frozen golden set, champion vs challenger on it, and scoring latency on a replay set.
``deployed_model`` runs only when every blocking check here and on model_evaluation passed."""

import hashlib
import importlib.metadata
import json
import shutil

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
from pydantic import Field

from assets.dbt_project import DBT_PROJECT_DIR
from assets.evaluation import EVALUATION_FILE, FPR_BUDGET, model_evaluation
from assets.features import SNAPSHOT_DIR, baseline_snapshot
from assets.resources import ArtifactStoreResource, GateResource, LakeResource
from assets.training import candidate_model, load_candidate, training_frame
from detection.features.behaviour import SNAPSHOT_TABLES
from detection.features.vector import FEATURE_COLUMNS
from detection.mail.schema import message_from_row
from detection.model.comparison import GoldenSetError, bundle_scores, compare, latency_ms
from detection.model.training import rows
from detection.rules import default_rules_text
from detection.serving.artifact import Bundle, BundleError
from detection.serving.registry import load_production, read_production
from detection.serving.stores import ArtifactStoreError

GROUP = "deployment"
BUNDLE_DIR = "candidate_bundle"
GOLDEN_FILE = "golden/golden_set.parquet"
CHAMPION_CHECK = "challenger_not_worse_than_champion"
LATENCY_CHECK = "scoring_latency_within_budget"
REPLAY_MESSAGES = 500


def _dbt_manifest_hash() -> str:
    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def lineage_of(info: dict, run_id: str) -> dict[str, object]:
    return {
        "run_id": run_id,
        "data_windows": info["windows"],
        "dbt_manifest_sha256": _dbt_manifest_hash(),
        "code_version": importlib.metadata.version("attack-detection"),
        "training_params": info["params"],
    }


class GoldenSetConfig(dg.Config):
    refresh: bool = Field(
        default=False,
        description="re-freeze the golden set from the current test window (after a feature "
        "change, or to move to newer mail); otherwise it never changes once frozen",
    )


@dg.asset(group_name="evaluation", deps=[candidate_model], kinds={"parquet"})
def golden_set(
    context: dg.AssetExecutionContext, config: GoldenSetConfig, lake_store: LakeResource
) -> dg.MaterializeResult:
    """A frozen evaluation set: the feature rows, labels and categories of the test window at the
    time it was first frozen. Every challenger and the serving champion are compared on exactly
    these rows, so a comparison never moves because the data did."""
    path = lake_store.path(GOLDEN_FILE)
    if path.is_file() and not config.refresh:
        frozen = pd.read_parquet(path, columns=["is_attack"])
        context.log.info(f"golden set kept as frozen at {path}")
    else:
        info, _ = load_candidate(lake_store)
        frame = training_frame(lake_store)
        test = rows(frame, frame["received_at"] >= pd.Timestamp(info["windows"]["test"]["start"]))
        columns = ["message_id", "tenant_id", "received_at", "category", "is_attack"]
        frozen = test.loc[:, columns + list(FEATURE_COLUMNS)]
        frozen.to_parquet(path, index=False)
        context.log.info(f"golden set frozen from the test window: {len(frozen)} rows at {path}")
    return dg.MaterializeResult(
        metadata={
            "rows": len(frozen),
            "attacks": int(pd.Series(frozen["is_attack"]).sum()),
            "path": dg.MetadataValue.path(str(path)),
        }
    )


@dg.asset(
    group_name=GROUP,
    deps=[candidate_model, model_evaluation, baseline_snapshot],
    kinds={"python"},
)
def candidate_bundle(
    context: dg.AssetExecutionContext, lake_store: LakeResource
) -> dg.MaterializeResult:
    """The bundle that would ship (LightGBM text model, features, rules, threshold, baseline
    snapshot, manifest with the sha256 of every file, metrics and lineage), written to the work
    directory so the gate's checks test exactly what deployed_model promotes."""
    require_same_run(context, model_evaluation.key)
    info, model_text = load_candidate(lake_store)
    evaluation = json.loads(lake_store.path(EVALUATION_FILE).read_text())
    snapshot = {
        name: pq.read_table(lake_store.path(SNAPSHOT_DIR, f"{name}.parquet"))
        for name in SNAPSHOT_TABLES
    }
    bundle = Bundle.build(
        model_text=model_text,
        features=list(info["features"]),
        rules_text=default_rules_text(),
        threshold=float(info["threshold"]),
        snapshot=snapshot,
        metrics=evaluation,
        lineage=lineage_of(info, context.run_id),
    )
    directory = lake_store.path(BUNDLE_DIR)
    shutil.rmtree(directory, ignore_errors=True)
    bundle.write_dir(directory)
    context.log.info(f"candidate bundle {bundle.version} written to {directory}")
    return dg.MaterializeResult(
        metadata={"version": bundle.version, "path": dg.MetadataValue.path(str(directory))}
    )


def require_same_run(context: dg.AssetExecutionContext, upstream: dg.AssetKey) -> None:
    """The gate holds only within one run: refuse to act on an upstream result (and its checks)
    that another run produced."""
    event = context.instance.get_latest_materialization_event(upstream)
    if event is None or event.run_id != context.run_id:
        raise dg.Failure(
            f"{context.asset_key.to_user_string()} must run in the same run as "
            f"{upstream.to_user_string()} (and its blocking checks); materialise them together, "
            "e.g. with retrain_job"
        )


def load_candidate_bundle(lake_store: LakeResource) -> Bundle:
    try:
        return Bundle.read_dir(lake_store.path(BUNDLE_DIR))
    except BundleError as exc:
        raise dg.Failure(f"{exc}; materialise candidate_bundle first") from exc


@dg.asset_check(
    asset=candidate_bundle, name=CHAMPION_CHECK, blocking=True, additional_deps=[golden_set]
)
def challenger_not_worse_than_champion(
    lake_store: LakeResource, artifact_store: ArtifactStoreResource, gate: GateResource
) -> dg.AssetCheckResult:
    """Blocking. On the frozen golden set, the candidate (challenger) may not lose more than the
    tolerance in recall at the false-positive budget against the model production serves
    (champion), overall or in any category with enough attacks. Passes when nothing is serving
    yet. When it fails, production keeps the champion: compare the two columns per category
    below, then read error_analysis for what the challenger misses."""
    path = lake_store.path(GOLDEN_FILE)
    if not path.is_file():
        raise dg.Failure(f"no golden set at {path}; materialise golden_set first")
    golden = pd.read_parquet(path)
    challenger = load_candidate_bundle(lake_store)
    store = artifact_store.open()
    try:
        pointer = read_production(store)
        champion = load_production(store) if pointer is not None else None
    except (ArtifactStoreError, BundleError) as exc:
        raise dg.Failure(f"cannot load the serving champion to compare against: {exc}") from exc
    if champion is None:
        return dg.AssetCheckResult(passed=True, metadata={"champion": "none (first deployment)"})
    info, _ = load_candidate(lake_store)
    try:
        result = compare(
            golden,
            bundle_scores(champion, golden),
            bundle_scores(challenger, golden),
            budget=FPR_BUDGET,
            tolerance=gate.tolerance,
            min_attacks=int(info.get("category_min_attacks", 5)),
        )
    except GoldenSetError as exc:
        raise dg.Failure(str(exc)) from exc
    table = ["| slice | champion | challenger |", "|---|---|---|"] + [
        f"| {name} | {result.champion[name]:.4f} | {result.challenger[name]:.4f} |"
        for name in result.champion
    ]
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "champion": champion.version,
            "challenger": challenger.version,
            "fp_budget": FPR_BUDGET,
            "tolerance": gate.tolerance,
            "recall_at_fp_budget": dg.MetadataValue.md("\n".join(table)),
            "regressions": dg.MetadataValue.json(result.regressions),
            "not_judged_too_few_attacks": dg.MetadataValue.json(result.not_judged),
            "golden_rows": len(golden),
        },
    )


@dg.asset_check(asset=candidate_bundle, name=LATENCY_CHECK, blocking=True)
def scoring_latency_within_budget(
    lake_store: LakeResource, gate: GateResource
) -> dg.AssetCheckResult:
    """Blocking. The candidate bundle scores a replay set (the latest landed messages, one at a
    time, features + model + rules + reasons) and its p99 latency must stay within the budget.
    When it fails, the model became too slow to serve inline (more trees, slower features):
    compare p50/p99 with the previous deployment's, and profile with `make bench`."""
    bundle = load_candidate_bundle(lake_store)
    files = sorted((lake_store.lake / "messages").glob("*/*.parquet"))
    replay = []
    for file in reversed(files):
        replay += [message_from_row(r) for r in pq.read_table(file).to_pylist()]
        if len(replay) >= REPLAY_MESSAGES:
            break
    if not replay:
        raise dg.Failure(f"no landed mail under {lake_store.lake} to replay")
    timings = latency_ms(bundle, replay[:REPLAY_MESSAGES])
    return dg.AssetCheckResult(
        passed=timings["p99_ms"] <= gate.latency_ms,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={**timings, "budget_ms": gate.latency_ms, "version": bundle.version},
    )
