"""Jobs: ``ingest_job`` lands days of mail and updates the baselines for those days (both
partitioned by day); ``retrain_job`` does everything after."""

import dagster as dg

from assets.deployment import rollback_production

INGEST_JOB = "ingest_job"
RETRAIN_JOB = "retrain_job"
RAW_MESSAGES = dg.AssetKey("raw_messages")
DAILY = dg.AssetSelection.assets(RAW_MESSAGES) | dg.AssetSelection.groups("baselines")
RETRAIN = dg.AssetSelection.all() - DAILY

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


@dg.job(description="Point production at an earlier model version (config: version, reason).")
def rollback_job() -> None:
    rollback_production()
