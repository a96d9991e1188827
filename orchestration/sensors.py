"""Sensors: drift -> retrain; new files in the drop folder -> land their day's partition."""

import json
import time
from datetime import date
from pathlib import Path

import dagster as dg

from assets.mail import MAIL_START, QUARANTINE_CHECK
from assets.report_links import runbook_url
from assets.resources import LakeResource
from assets.training import FEATURE_DRIFT_CHECK
from detection.alerts import post_alert
from orchestration.jobs import ingest_job, retrain_job

DRIFT_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("candidate_model"), FEATURE_DRIFT_CHECK)
TRIGGER_TAG = "attack_detection/trigger"
DRIFT_COOLDOWN_SECONDS = 6 * 3600


def _cursor(raw: str | None) -> dict[str, float]:
    return json.loads(raw) if raw else {"evaluation_id": 0, "requested_at": 0.0}


@dg.sensor(
    job=retrain_job,
    minimum_interval_seconds=120,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Requests one retraining run per drift episode: when the latest feature_drift check "
        "evaluation failed, it is newer than the cursor, it did not come from a run this "
        "sensor started (that run already retrained on the drifted mail), and the cooldown "
        "has passed."
    ),
)
def drift_retrain_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    cursor = _cursor(context.cursor)
    record = context.instance.get_latest_asset_check_evaluation_record(DRIFT_CHECK_KEY)
    if record is None or record.id <= cursor["evaluation_id"]:
        return dg.SensorResult(skip_reason="no new feature_drift evaluation", cursor=context.cursor)
    cursor["evaluation_id"] = record.id
    if record.status.value != "FAILED":
        return dg.SensorResult(
            skip_reason="latest feature_drift evaluation passed", cursor=json.dumps(cursor)
        )
    run = context.instance.get_run_by_id(record.run_id)
    if run is not None and run.tags.get(TRIGGER_TAG) == "drift":
        return dg.SensorResult(
            skip_reason="drift seen by the retraining run this sensor started",
            cursor=json.dumps(cursor),
        )
    if time.time() - cursor["requested_at"] < DRIFT_COOLDOWN_SECONDS:
        return dg.SensorResult(
            skip_reason="drift retraining requested recently; in cooldown",
            cursor=json.dumps(cursor),
        )
    cursor["requested_at"] = time.time()
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=f"drift-{record.id}", tags={TRIGGER_TAG: "drift"})],
        cursor=json.dumps(cursor),
    )


def _day_signature(folder: Path) -> str:
    files = [f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")]
    if not files:
        return ""
    newest = max(f.stat().st_mtime_ns for f in files)
    return f"{len(files)}-{newest}"


@dg.sensor(
    job=ingest_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Lands a day's partition when files appear or change in the drop folder's YYYY-MM-DD/ "
        "directory. The cursor remembers each day's file count and newest modification time, "
        "so a day is landed again only when its files change."
    ),
)
def mail_drop_sensor(
    context: dg.SensorEvaluationContext, lake_store: LakeResource
) -> dg.SensorResult:
    seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests, skipped = [], []
    root = lake_store.drop
    folders = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    for folder in folders:
        try:
            day = date.fromisoformat(folder.name)
        except ValueError:
            skipped.append(folder.name)
            continue
        if day < date.fromisoformat(MAIL_START) or day > date.today():
            skipped.append(folder.name)
            continue
        signature = _day_signature(folder)
        if signature and seen.get(folder.name) != signature:
            seen[folder.name] = signature
            requests.append(
                dg.RunRequest(
                    run_key=f"drop-{folder.name}-{signature}",
                    partition_key=folder.name,
                    run_config={"ops": {"raw_messages": {"config": {"source": "drop"}}}},
                )
            )
    if skipped:
        context.log.warning(
            f"ignored drop folders that are not days in the partition range: {skipped}"
        )
    reason = None if requests else f"no new or changed mail under {root}"
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(seen), skip_reason=reason)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Every failed run (a failed step, or a blocking check that stopped deployment) goes "
        "to the log and, when ATTACK_DETECTION_ALERT_WEBHOOK_URL is set, to that webhook."
    ),
)
def run_failure_alert_sensor(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    failed_steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    text = (
        f"attack-detection: run {run.run_id} of {run.job_name} failed"
        + (f" at {', '.join(failed_steps)}" if failed_steps else "")
        + f": {context.failure_event.message or 'see the run in the Dagster UI'}"
    )
    context.log.error(text)
    problem = post_alert(text)
    if problem:
        context.log.warning(problem)


ALERTED_CHECKS = (
    dg.AssetCheckKey(dg.AssetKey("model_evaluation"), "recall_at_threshold"),
    dg.AssetCheckKey(dg.AssetKey("model_evaluation"), "false_positive_rate_within_budget"),
    dg.AssetCheckKey(dg.AssetKey("model_evaluation"), "category_recall_at_floor"),
    dg.AssetCheckKey(dg.AssetKey("model_evaluation"), "prediction_drift"),
    dg.AssetCheckKey(dg.AssetKey("candidate_bundle"), "challenger_not_worse_than_champion"),
    dg.AssetCheckKey(dg.AssetKey("candidate_bundle"), "scoring_latency_within_budget"),
    DRIFT_CHECK_KEY,
    dg.AssetCheckKey(dg.AssetKey("raw_messages"), QUARANTINE_CHECK),
)


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Every new failed evaluation of a gate or drift check (blocking or WARN) goes to the "
        "log and, when ATTACK_DETECTION_ALERT_WEBHOOK_URL is set, to that webhook. The cursor "
        "keeps the last evaluation seen per check, so each failure is announced once."
    ),
)
def check_failure_alert_sensor(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    alerts = []
    for key in ALERTED_CHECKS:
        record = context.instance.get_latest_asset_check_evaluation_record(key)
        name = key.to_user_string()
        if record is None or record.id <= seen.get(name, 0):
            continue
        seen[name] = record.id
        if record.status.value == "FAILED":
            alerts.append(
                f"attack-detection: check {name} failed in run {record.run_id}; what to do: "
                f"{runbook_url(key.name)}"
            )
    for text in alerts:
        context.log.error(text)
        problem = post_alert(text)
        if problem:
            context.log.warning(problem)
    context.update_cursor(json.dumps(seen))
    return dg.SkipReason(f"{len(alerts)} check failure(s) alerted" if alerts else "no new failures")


feature_automation_sensor = dg.AutomationConditionSensorDefinition(
    "feature_automation_sensor",
    target=dg.AssetSelection.groups("features"),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Declarative automation: refreshes the feature assets (eager) after new mail and "
    "its baselines land, so the next retraining starts from current features.",
)
