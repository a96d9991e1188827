"""Jobs: ``ingest_job`` lands days of mail and updates the baselines for those days (both
partitioned by day); ``retrain_job`` does everything after, except the analysis group, which
``whatif_job`` runs on demand."""

import dagster as dg

from assets.deployment import rollback_production

INGEST_JOB = "ingest_job"
RETRAIN_JOB = "retrain_job"
WHATIF_JOB = "whatif_job"
RAW_MESSAGES = dg.AssetKey("raw_messages")
DAILY = dg.AssetSelection.assets(RAW_MESSAGES) | dg.AssetSelection.groups("baselines")
ANALYSIS = dg.AssetSelection.groups("analysis")
RETRAIN = dg.AssetSelection.all() - DAILY - ANALYSIS

ingest_job = dg.define_asset_job(
    name=INGEST_JOB,
    selection=DAILY,  # partitioned by day: Dagster infers it from the selected assets
    description="Land one or more days of mail (simulated, drop folder or a path) in the lake and "
    "update the dbt baselines and feature mart for those days (incremental).",
)

retrain_job = dg.define_asset_job(
    name=RETRAIN_JOB,
    selection=RETRAIN,
    description="Compute features over all landed mail, retrain, evaluate and, if every "
    "blocking check passes, deploy. Requested by the daily schedule and by the drift sensor.",
)


whatif_job = dg.define_asset_job(
    name=WHATIF_JOB,
    selection=ANALYSIS,
    description="Replay a proposed change (rules file, added rules, threshold, tenant thresholds, "
    "candidate bundle: the what_if_replay config) over landed labelled mail against production, "
    "and report what flips and what is still missed (capability_gaps). On demand only.",
)


@dg.job(description="Point production at an earlier model version (config: version, reason).")
def rollback_job() -> None:
    rollback_production()
