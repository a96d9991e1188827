"""The one code location: every stage's assets and checks, jobs, schedules, sensors, resources."""

import dagster as dg

from assets import (
    analysis,
    bundle,
    deployment,
    evaluation,
    features,
    mail,
    operating_point,
    real_mail,
    training,
)
from assets.baselines import build_baseline_assets
from orchestration.jobs import ingest_job, retrain_job, rollback_job, whatif_job
from orchestration.resources import resources
from orchestration.schedules import daily_retrain_schedule
from orchestration.sensors import (
    check_failure_alert_sensor,
    drift_retrain_sensor,
    feature_automation_sensor,
    mail_drop_sensor,
    run_failure_alert_sensor,
)

STAGE_MODULES = [
    mail,
    features,
    training,
    operating_point,
    real_mail,
    evaluation,
    bundle,
    deployment,
    analysis,
]


def all_assets() -> list[dg.AssetsDefinition]:
    return [*dg.load_assets_from_modules(STAGE_MODULES), build_baseline_assets()]  # type: ignore[list-item]


def all_asset_checks() -> list[dg.AssetChecksDefinition]:
    return list(dg.load_asset_checks_from_modules(STAGE_MODULES))  # type: ignore[arg-type]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=all_assets(),
        asset_checks=all_asset_checks(),
        jobs=[ingest_job, retrain_job, rollback_job, whatif_job],
        schedules=[daily_retrain_schedule],
        sensors=[
            drift_retrain_sensor,
            mail_drop_sensor,
            run_failure_alert_sensor,
            check_failure_alert_sensor,
            feature_automation_sensor,
        ],
        resources=resources(),
        # Every run's steps in the run's own process: the definitions are imported and the dbt
        # project loaded once per run, not once per step (a step process spent 30-120 s starting
        # against seconds of work). The graph is a chain and the warehouse takes one writer at a
        # time (the duckdb_warehouse pool), so separate step processes bought no parallelism;
        # the content signals fan out to their own worker processes.
        executor=dg.in_process_executor,
    )
