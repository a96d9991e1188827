"""Jobs."""

import dagster as dg

RETRAIN_JOB = "retrain_job"

retrain_job = dg.define_asset_job(
    name=RETRAIN_JOB,
    selection=dg.AssetSelection.all(),
    description="Land mail, rebuild the baselines, retrain, evaluate and, if every blocking check "
    "passes, deploy. Requested by the daily schedule and by the drift sensor.",
)
