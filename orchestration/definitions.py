"""The one code location: every stage's assets and checks, jobs, schedules, sensors, resources."""


import dagster as dg

from assets import deployment, evaluation, features, mail, training
from assets.baselines import build_baseline_assets
from orchestration.jobs import retrain_job
from orchestration.resources import resources
from orchestration.schedules import daily_retrain_schedule
from orchestration.sensors import drift_retrain_sensor


@dg.definitions
def defs() -> dg.Definitions:
    modules = [mail, features, training, evaluation, deployment]
    return dg.Definitions(
        assets=[*dg.load_assets_from_modules(modules), build_baseline_assets()],
        asset_checks=dg.load_asset_checks_from_modules(modules),
        jobs=[retrain_job],
        schedules=[daily_retrain_schedule],
        sensors=[drift_retrain_sensor],
        resources=resources(),
    )
