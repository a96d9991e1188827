"""Sensors: drift -> retrain."""

import json
import time

import dagster as dg

from assets.training import FEATURE_DRIFT_CHECK
from orchestration.jobs import retrain_job

DRIFT_CHECK_KEY = dg.AssetCheckKey(dg.AssetKey("candidate_model"), FEATURE_DRIFT_CHECK)
TRIGGER_TAG = "attack_detection/trigger"
DRIFT_COOLDOWN_SECONDS = 6 * 3600


def _cursor(raw: str | None) -> dict[str, float]:
    return json.loads(raw) if raw else {"evaluation_id": 0, "requested_at": 0.0}


@dg.sensor(
    job=retrain_job, minimum_interval_seconds=120, default_status=dg.DefaultSensorStatus.RUNNING
)
def drift_retrain_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Requests one retraining run per drift episode: when the latest feature_drift check
    evaluation failed, it is newer than the cursor, it did not come from a run this sensor
    started (that run already retrained on the drifted mail), and the cooldown has passed."""
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
