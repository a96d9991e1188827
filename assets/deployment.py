"""Deployment stage: ``deployed_model`` promotes the candidate bundle. It runs only when every
blocking check on ``model_evaluation`` and ``candidate_bundle`` passed in the same run."""

import dagster as dg
from pydantic import Field

from assets.bundle import candidate_bundle, require_same_run
from assets.resources import (
    ArtifactStoreResource,
    WorkDirResource,
    for_people,
    handoff_failures,
)
from detection.serving.artifact import BundleError
from detection.serving.registry import promote, rollback
from detection.serving.stores import ArtifactStoreError

GROUP = "deployment"


@dg.asset(group_name=GROUP, deps=[candidate_bundle], kinds={"s3", "python"})
def deployed_model(
    context: dg.AssetExecutionContext,
    work_dir: WorkDirResource,
    artifact_store: ArtifactStoreResource,
) -> dg.MaterializeResult:
    """The candidate bundle promoted to the artifact store: uploaded under an immutable version,
    read back and verified, then the production pointer is moved with a conditional write and an
    audit record appended. Runs only when every blocking check on model_evaluation and
    candidate_bundle passed in the same run."""
    require_same_run(context, candidate_bundle.key)
    work = work_dir.open()
    with handoff_failures():
        bundle, evaluation = work.load_candidate_bundle(), work.load_evaluation()
    lineage = bundle.manifest.get("lineage") or {}
    policy = lineage.get("gate_policy") if isinstance(lineage, dict) else None
    store = artifact_store.open()
    try:
        where = promote(
            store,
            bundle,
            {
                "run_id": context.run.run_id,
                "metrics": evaluation.combined.as_dict(),
                "lineage": lineage,
                "gate_policy": policy,
                "checks": "all blocking checks passed (efficacy, category floors, champion vs "
                "challenger, latency)",
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
            "with_history_threshold": bundle.with_history_threshold,
            "recall": for_people(evaluation.combined.recall),
            "fpr": for_people(evaluation.combined.fpr),
        }
    )


class RollbackConfig(dg.Config):
    version: str = Field(
        description="the model version production should serve (models/<version>/)"
    )
    reason: str = Field(default="", description="why, for the audit record")
    force: bool = Field(
        default=False,
        description="replace a production pointer that cannot be read (corrupt); audited",
    )


@dg.op
def rollback_production(
    context: dg.OpExecutionContext, config: RollbackConfig, artifact_store: ArtifactStoreResource
) -> None:
    """Point production at an earlier version after verifying its hashes; audited. The online
    scorer picks the pointer up on its next refresh."""
    store = artifact_store.open()
    try:
        result = rollback(
            store,
            config.version,
            {"run_id": context.run.run_id, "reason": config.reason},
            force=config.force,
        )
    except (ArtifactStoreError, BundleError) as exc:
        raise dg.Failure(f"rollback refused, production is unchanged: {exc}") from exc
    context.log.info(f"production now serves {result['version']} (was {result['previous']})")
