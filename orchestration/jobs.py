"""Jobs: ``ingest_job`` lands days of mail (partitioned); ``retrain_job`` does everything after."""

import dagster as dg

from assets.deployment import rollback_production
from assets.mail import MAIL_DAYS

INGEST_JOB = "ingest_job"
RETRAIN_JOB = "retrain_job"
RAW_MESSAGES = dg.AssetKey("raw_messages")

ingest_job = dg.define_asset_job(
    name=INGEST_JOB,
    selection=dg.AssetSelection.assets(RAW_MESSAGES),
    partitions_def=MAIL_DAYS,
    description="Land one or more days of mail (simulated, drop folder or a path) in the lake.",
)

retrain_job = dg.define_asset_job(
    name=RETRAIN_JOB,
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(RAW_MESSAGES),
    description="Rebuild the baselines over all landed mail, retrain, evaluate and, if every "
    "blocking check passes, deploy. Requested by the daily schedule and by the drift sensor.",
)


@dg.job(description="Point production at an earlier model version (config: version, reason).")
def rollback_job() -> None:
    rollback_production()
