"""Deployment stage: ``deployed_model`` builds the artifact bundle and promotes it. It runs only
when every blocking check on ``model_evaluation`` passed in the same run."""

import hashlib
import importlib.metadata
import json

import dagster as dg
import pyarrow.parquet as pq
from pydantic import Field

from assets.dbt_project import DBT_PROJECT_DIR
from assets.evaluation import EVALUATION_FILE, model_evaluation
from assets.features import SNAPSHOT_DIR, baseline_snapshot
from assets.resources import ArtifactStoreResource, LakeResource
from assets.training import candidate_model, load_candidate
from detection.artifact import Bundle, BundleError
from detection.behaviour import SNAPSHOT_TABLES
from detection.registry import promote, rollback
from detection.rules import default_rules_text
from detection.stores import ArtifactStoreError

GROUP = "deployment"


def _dbt_manifest_hash() -> str:
    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


@dg.asset(
    group_name=GROUP,
    deps=[candidate_model, model_evaluation, baseline_snapshot],
    kinds={"s3", "python"},
)
def deployed_model(
    context: dg.AssetExecutionContext,
    lake_store: LakeResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """The artifact bundle (LightGBM text model, features, rules, threshold, baseline snapshot,
    manifest with sha256 of every file, metrics and lineage) promoted to the artifact store:
    uploaded under an immutable version, read back and verified, then the production pointer is
    moved with a conditional write and an audit record appended."""
    info, model_text = load_candidate(lake_store)
    evaluation = json.loads(lake_store.path(EVALUATION_FILE).read_text())
    snapshot = {
        name: pq.read_table(lake_store.path(SNAPSHOT_DIR, f"{name}.parquet"))
        for name in SNAPSHOT_TABLES
    }
    lineage = {
        "run_id": context.run_id,
        "data_windows": info["windows"],
        "dbt_manifest_sha256": _dbt_manifest_hash(),
        "code_version": importlib.metadata.version("attack-detection"),
        "training_params": info["params"],
    }
    bundle = Bundle.build(
        model_text=model_text,
        features=list(info["features"]),
        rules_text=default_rules_text(),
        threshold=float(info["threshold"]),
        snapshot=snapshot,
        metrics=evaluation,
        lineage=lineage,
    )
    store = artifact_store.open()
    try:
        where = promote(
            store,
            bundle,
            {
                "run_id": context.run_id,
                "metrics": evaluation["combined"],
                "lineage": lineage,
                "checks": "all blocking checks passed",
            },
        )
    except ArtifactStoreError as exc:
        raise dg.Failure(f"promotion failed, production is unchanged: {exc}") from exc
    context.log.info(f"deployed model {where['version']} to {where['uri']}")
    return dg.MaterializeResult(
        metadata={
            "version": where["version"],
            "uri": str(where["uri"]),
            "previous": str(where["previous"]),
            "audit_record": str(where["audit"]),
            "threshold": bundle.threshold,
            "recall": evaluation["combined"]["recall"],
            "fpr": evaluation["combined"]["fpr"],
        }
    )


class RollbackConfig(dg.Config):
    version: str = Field(
        description="the model version production should serve (models/<version>/)"
    )
    reason: str = Field(default="", description="why, for the audit record")


@dg.op
def rollback_production(
    context: dg.OpExecutionContext, config: RollbackConfig, artifact_store: ArtifactStoreResource
) -> None:
    """Point production at an earlier version after verifying its hashes; audited. The online
    scorer picks the pointer up on its next refresh."""
    store = artifact_store.open()
    try:
        result = rollback(
            store, config.version, {"run_id": context.run_id, "reason": config.reason}
        )
    except (ArtifactStoreError, BundleError) as exc:
        raise dg.Failure(f"rollback refused, production is unchanged: {exc}") from exc
    context.log.info(f"production now serves {result['version']} (was {result['previous']})")
