"""The operating point (training stage): the thresholds that ship, for mail without tenant history
(calibrated on real mail held out by source), for tenants with history (the candidate's, on
their validation days) and per tenant with enough traffic (its own, at an alert budget, never
less sensitive than the default)."""

import dagster as dg
from pydantic import Field

from assets.real_mail import real_mail_evaluation
from assets.resources import GatePolicyResource, WorkDirResource, handoff_failures
from assets.training import candidate_model
from detection.markdown import table
from detection.model.evaluation import candidate_scores
from detection.model.operating_point import OperatingPoint, global_threshold, tenant_thresholds
from detection.model.training import VALIDATION, combined_scores, in_split, organisation_rows
from detection.rules import default_rules_text, parse_rules

GROUP = "training"


class OperatingPointConfig(dg.Config):
    tenant_alerts_per_day: float = Field(
        default=0.1,
        description="a tenant's own threshold flags at most this many of its safe messages a "
        "day on the validation days (0.1: one in ten days; over a week, none)",
    )
    tenant_min_safe: int = Field(
        default=1000,
        description="tenants with fewer safe messages on the validation days keep the global "
        "threshold",
    )


@dg.asset(group_name=GROUP, deps=[candidate_model, real_mail_evaluation], kinds={"python"})
def operating_point(
    context: dg.AssetExecutionContext,
    config: OperatingPointConfig,
    work_dir: WorkDirResource,
    gate_policy: GatePolicyResource,
) -> dg.MaterializeResult:
    """The thresholds that ship. Global (mail whose tenant has no history: the default tenant,
    one the scorer never saw): the real-mail threshold at the gate policy's FP budget on
    sources the scoring models never saw; without a landed corpus, the candidate's threshold on
    the validation days. With history: the candidate's threshold on the validation days. Per
    tenant with at least tenant_min_safe safe messages there: the strictest threshold that flags
    at most tenant_alerts_per_day of them a day, never above the one with history."""
    work, policy = work_dir.open(), gate_policy.policy()
    with handoff_failures():
        candidate, holdouts = work.load_candidate(), work.load_holdouts()
        frame = work.read_scored_training_table()
    threshold, decided_by = global_threshold(candidate.threshold, holdouts.threshold)
    own = organisation_rows(in_split(frame, VALIDATION))
    rules = parse_rules(default_rules_text(), set(candidate.features))
    scores = combined_scores(*candidate_scores(own, candidate, rules))
    tenants = tenant_thresholds(
        own[["tenant_id", "received_at", "is_attack"]].assign(score=scores),
        candidate.threshold,
        config.tenant_alerts_per_day,
        config.tenant_min_safe,
    )
    point = OperatingPoint(
        threshold=threshold,
        with_history=candidate.threshold,
        simulated=candidate.threshold,
        real_mail=holdouts.threshold,
        fp_budget=policy.fp_budget,
        decided_by=decided_by,
        tenants=tenants,
        alerts_per_day=config.tenant_alerts_per_day,
    )
    point.save(work.operating_point)
    context.log.info(f"global threshold {threshold:.6f} ({decided_by}); {len(tenants)} tenants")
    return dg.MaterializeResult(
        metadata={
            "global_threshold": threshold,
            "with_history_threshold": candidate.threshold,
            "decided_by": decided_by,
            "candidate_threshold": candidate.threshold,
            "real_mail_threshold": holdouts.threshold,
            "fp_budget": policy.fp_budget,
            "tenant_thresholds": dg.MetadataValue.md(
                table(["tenant", "threshold"], sorted(tenants.items()))
            ),
        }
    )
