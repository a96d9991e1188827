"""Schedules."""

import dagster as dg

from orchestration.jobs import retrain_job

daily_retrain_schedule = dg.ScheduleDefinition(
    name="daily_retrain_schedule",
    job=retrain_job,
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    description="Retrain every day at 03:00 UTC on the latest mail.",
)
