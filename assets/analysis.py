"""Analysis stage, on demand (``whatif_job``, never part of a retrain): the counterfactual replay
of a proposed change against production on landed, labelled mail, and the capability-gap report
of what the proposal (or production, with no proposal) still misses. Both come from one replay
(detection.model.whatif, detection.model.gaps), shown as markdown in the UI and saved as parquet
in the work directory's ``whatif/`` for analysts."""

import os
from datetime import datetime
from pathlib import Path

import dagster as dg
from pydantic import Field

from assets.deployment import deployed_model
from assets.features import training_table
from assets.resources import (
    ArtifactStoreResource,
    LakeResource,
    WorkDirResource,
    for_people,
    handoff_failures,
)

GROUP = "analysis"
WHAT_IF = dg.AssetKey("what_if_replay")
GAPS = dg.AssetKey("capability_gaps")
# the markdown shown in the UI stays readable: the parquet files hold every row
MAX_TABLE_ROWS = 60
MAX_PROPOSAL_BYTES = 10 * 1024 * 1024


class WhatIfConfig(dg.Config):
    """A proposal (any mix; empty: production against itself, for its gap report) and the window
    of landed labelled mail to replay it over."""

    rules_path: str = Field(default="", description="a rules file to use instead of production's")
    add_rules_path: str = Field(
        default="", description="rules to add to production's (e.g. the last report's ideas)"
    )
    threshold: float | None = Field(
        default=None,
        description="one threshold for every message, tenants' own too unless "
        "tenant_thresholds_path is given (0 < t <= 1)",
    )
    tenant_thresholds_path: str = Field(
        default="", description='JSON file {"tenant": threshold}: replaces the per-tenant table'
    )
    bundle_uri: str = Field(
        default="", description="a candidate bundle directory, or a store whose production it is"
    )
    days: int = Field(default=14, ge=1, description="the last N days of labelled mail")
    start: str = Field(default="", description="window start, ISO time (overrides days)")
    end: str = Field(default="", description="window end, exclusive, ISO time")
    all_days: bool = Field(default=False, description="every labelled message (no window)")
    examples: int = Field(default=5, ge=0, description="examples per kind of change")
    idea_fpr: float = Field(
        default=0.001,
        ge=0.0,
        le=1.0,
        description="a rule idea may newly flag at most this share of the window's safe mail",
    )


def _read(path: str, what: str) -> str | None:
    if not path:
        return None
    file = Path(path)
    if not file.is_file():
        raise dg.Failure(f"{what} {path!r} is not a file; give a path the run can read")
    if file.stat().st_size > MAX_PROPOSAL_BYTES:
        raise dg.Failure(
            f"{what} {path!r} is over {MAX_PROPOSAL_BYTES} bytes; a rules or "
            "threshold file is small"
        )
    return file.read_text(encoding="utf-8", errors="replace")


def _time(value: str, what: str) -> "datetime | None":
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise dg.Failure(f"{what} {value!r}: {exc}; give an ISO time such as 2026-02-01") from exc


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            WHAT_IF,
            group_name=GROUP,
            deps=[training_table, deployed_model],
            kinds={"python", "parquet"},
            description="What a proposed rules file, threshold, tenant threshold table or "
            "candidate bundle would have decided on landed, labelled mail against production: "
            "the messages that flip (new catches, new misses, new false positives) per category "
            "and tenant, with counts and 95% intervals, and the top examples as ids with "
            "reasons (no bodies). Launch whatif_job with this asset's config.",
        ),
        dg.AssetSpec(
            GAPS,
            group_name=GROUP,
            deps=[WHAT_IF],
            kinds={"python", "parquet"},
            description="The attacks the proposal (production, with no proposal) still misses in "
            "the window, grouped by what was absent (no link, known sender, clean content, "
            "ordinary language, new tactic), by category and by sender relationship, with rule "
            "ideas and their false-positive cost measured on the window's safe mail.",
        ),
    ],
)
def what_if(
    context: dg.AssetExecutionContext,
    config: WhatIfConfig,
    work_dir: WorkDirResource,
    lake_store: LakeResource,
    artifact_store: ArtifactStoreResource,
):
    from detection.features.vector import feature_workers
    from detection.model.whatif import Proposal, WhatIfError, tenant_table
    from detection.model.whatif_report import (
        columns_of,
        load_window,
        needs_text,
        run,
        vocabulary_of,
    )
    from detection.rules import RuleError
    from detection.serving.artifact import BundleError
    from detection.serving.registry import load_production
    from detection.serving.scorer import Scorer

    store = artifact_store.open()
    try:
        production = load_production(store)
    except BundleError as exc:
        raise dg.Failure(f"production model: {exc}. Deploy one first (retrain_job).") from exc
    candidate = None
    if config.bundle_uri:
        endpoint = artifact_store.s3_endpoint_url or os.environ.get(
            "ATTACK_DETECTION_S3_ENDPOINT_URL"
        )
        try:
            candidate = Scorer.load(config.bundle_uri, endpoint_url=endpoint or None).bundle
        except (BundleError, OSError) as exc:
            raise dg.Failure(f"bundle_uri {config.bundle_uri!r}: {exc}") from exc
    tenants_text = _read(config.tenant_thresholds_path, "tenant_thresholds_path")
    try:
        start, end = _time(config.start, "start"), _time(config.end, "end")
        tenants = None
        if tenants_text is not None:
            tenants = tenant_table(tenants_text, config.tenant_thresholds_path)
        proposal = Proposal(
            rules_text=_read(config.rules_path, "rules_path"),
            added_rules_text=_read(config.add_rules_path, "add_rules_path"),
            threshold=config.threshold,
            tenant_thresholds=tenants,
            bundle=candidate,
        )
        proposal.apply(production)
        work = work_dir.open()
        bundles = [production] + ([candidate] if candidate else [])
        with handoff_failures():
            window = load_window(
                work.training_table,
                lake_store.lake if needs_text(*bundles) else None,
                vocabulary=vocabulary_of(*bundles),
                workers=feature_workers(),
                columns=columns_of(*bundles),
                start=start,
                end=end,
                days=None if config.all_days else config.days,
            )
        report = run(
            production, proposal, window, examples=config.examples, fpr_cap=config.idea_fpr
        )
    except (WhatIfError, RuleError, ValueError) as exc:
        raise dg.Failure(f"what-if replay: {exc}") from exc
    paths = report.write(work.whatif)
    summary = report.summary()
    context.log.info(f"what-if {summary['proposal']}: {summary['changes']}; files in {work.whatif}")
    by_tenant = report.replay.summary("tenant_id")
    yield dg.MaterializeResult(
        asset_key=WHAT_IF,
        metadata={
            **for_people(
                {k: v for k, v in summary.items() if k not in ("window", "changes", "proposal")}
            ),
            "proposal": str(summary["proposal"]),
            "window": dg.MetadataValue.json(summary["window"]),
            "changes": dg.MetadataValue.json(summary["changes"]),
            "whole_window": dg.MetadataValue.md(report.summary_markdown()),
            "by_category": dg.MetadataValue.md(report.summary_markdown("category")),
            "by_tenant": dg.MetadataValue.md(
                report.summary_markdown("tenant_id")
                if len(by_tenant) <= MAX_TABLE_ROWS
                else f"{len(by_tenant)} tenants: see {paths['summary_by_tenant']}"
            ),
            "top_examples": dg.MetadataValue.md(report.examples_markdown()),
            "changes_file": dg.MetadataValue.path(str(paths["changes"])),
            "directory": dg.MetadataValue.path(str(work.whatif)),
        },
    )
    gaps = report.gaps
    yield dg.MaterializeResult(
        asset_key=GAPS,
        metadata={
            "misses": gaps.misses,
            "attacks": gaps.attacks,
            "rule_ideas": len(gaps.ideas),
            "report": dg.MetadataValue.md(report.gaps_markdown()),
            "rule_ideas_yaml": dg.MetadataValue.md(f"```yaml\n{report.ideas_yaml()}```"),
            "rule_ideas_file": dg.MetadataValue.path(str(paths["rule_ideas_yaml"])),
        },
    )
