"""The sensors against real runs and asset-check evaluations stored in a Dagster instance, on
SQLite and on PostgreSQL (the ``instance`` fixture, tests/orchestration/conftest.py)."""

import json

import dagster as dg
import pytest

from assets.resources import LakeResource
from orchestration import sensors
from orchestration.sensors import TRIGGER_TAG, drift_retrain_sensor, mail_drop_sensor


def _evaluate_drift(
    instance: dg.DagsterInstance, passed: bool, tags: dict[str, str] | None = None
) -> None:
    """Record one feature_drift evaluation on candidate_model, as a real run would."""

    @dg.asset(
        name="candidate_model",
        check_specs=[dg.AssetCheckSpec("feature_drift", asset="candidate_model")],
    )
    def fake_candidate():
        yield dg.MaterializeResult(
            check_results=[dg.AssetCheckResult(passed=passed, severity=dg.AssetCheckSeverity.WARN)]
        )

    assert dg.materialize([fake_candidate], instance=instance, tags=tags or {}).success


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    result = drift_retrain_sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult)
    return result


def _cursor(result: dg.SensorResult) -> str:
    assert result.cursor is not None
    return result.cursor


def _requests(result: dg.SensorResult) -> list[dg.RunRequest]:
    return list(result.run_requests or [])


def test_one_drift_failure_requests_one_retraining_run(instance):
    result = _tick(instance, None)
    assert _requests(result) == []
    _evaluate_drift(instance, passed=False)
    result = _tick(instance, None)
    [request] = _requests(result)
    assert (request.run_key or "").startswith("drift-") and request.tags[TRIGGER_TAG] == "drift"
    cursor = _cursor(result)
    result = _tick(instance, cursor)  # same evaluation again: nothing new
    assert _requests(result) == []


def test_passing_drift_check_and_own_retraining_run_do_not_trigger(instance):
    _evaluate_drift(instance, passed=True)
    result = _tick(instance, None)
    assert _requests(result) == []
    _evaluate_drift(instance, passed=False, tags={TRIGGER_TAG: "drift"})
    result = _tick(instance, _cursor(result))
    assert _requests(result) == []


def test_cooldown_suppresses_a_second_episode(instance, monkeypatch: pytest.MonkeyPatch):
    _evaluate_drift(instance, passed=False)
    result = _tick(instance, None)
    assert len(_requests(result)) == 1
    _evaluate_drift(instance, passed=False)
    second = _tick(instance, _cursor(result))
    assert _requests(second) == []
    monkeypatch.setattr(sensors, "DRIFT_COOLDOWN_SECONDS", 0)
    _evaluate_drift(instance, passed=False)
    third = _tick(instance, _cursor(second))
    assert len(_requests(third)) == 1
    assert (
        json.loads(_cursor(third))["evaluation_id"] > json.loads(_cursor(second))["evaluation_id"]
    )


def _drop_tick(cursor: str | None) -> dg.SensorResult:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"lake_store": LakeResource()}
        )
        result = mail_drop_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_drop_sensor_lands_new_and_changed_days_once(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTACK_DETECTION_DROP_DIR", str(tmp_path))
    assert _requests(_drop_tick(None)) == []
    (tmp_path / "2026-01-06").mkdir()
    (tmp_path / "2026-01-06" / "a.eml").write_bytes(b"From: a@b.c\r\n\r\nhi")
    (tmp_path / "not-a-day").mkdir()
    (tmp_path / "not-a-day" / "x.eml").write_bytes(b"x")
    first = _drop_tick(None)
    [request] = _requests(first)
    assert request.partition_key == "2026-01-06"
    assert request.run_config["ops"]["raw_messages"]["config"]["source"] == "drop"
    assert _requests(_drop_tick(_cursor(first))) == []  # nothing new
    (tmp_path / "2026-01-06" / "b.eml").write_bytes(b"From: a@b.c\r\n\r\nagain")
    (tmp_path / "2026-01-07").mkdir()
    (tmp_path / "2026-01-07" / "c.eml").write_bytes(b"From: a@b.c\r\n\r\nnew day")
    again = _requests(_drop_tick(_cursor(first)))
    assert sorted(r.partition_key or "" for r in again) == ["2026-01-06", "2026-01-07"]
    assert len({r.run_key for r in again} | {request.run_key}) == 3


def test_check_failure_alert_announces_each_failed_evaluation_once(instance, monkeypatch):
    posted: list[str] = []
    monkeypatch.setattr(sensors, "post_alert", lambda text: posted.append(text))
    _evaluate_drift(instance, passed=False)
    context = dg.build_sensor_context(instance=instance)
    sensors.check_failure_alert_sensor(context)
    assert len(posted) == 1 and "candidate_model:feature_drift failed" in posted[0]
    assert posted[0].endswith("what to do: http://127.0.0.1:3001/runbook#feature_drift")
    again = dg.build_sensor_context(instance=instance, cursor=context.cursor)
    sensors.check_failure_alert_sensor(again)
    assert len(posted) == 1  # the same evaluation is not announced twice
    _evaluate_drift(instance, passed=True)
    third = dg.build_sensor_context(instance=instance, cursor=again.cursor)
    sensors.check_failure_alert_sensor(third)
    assert len(posted) == 1


def test_a_landed_day_brings_the_feature_refresh_although_most_days_are_missing(
    instance, dbt_manifest
):
    """The mail partitions run to today while mail exists for a few days: a missing day must not
    hold the features back (Dagster's eager condition waits for every dependency partition)."""
    from datetime import date

    from assets.mail import MAIL_START
    from orchestration.definitions import defs

    definitions = defs()
    features = dg.AssetSelection.groups("features")
    first = dg.evaluate_automation_conditions(
        defs=definitions, instance=instance, asset_selection=features
    )
    assert first.total_requested == 0  # nothing landed, nothing to refresh
    day = date.fromisoformat(MAIL_START).isoformat()
    instance.report_runless_asset_event(dg.AssetMaterialization("raw_messages", partition=day))
    landed = dg.evaluate_automation_conditions(
        defs=definitions, instance=instance, asset_selection=features, cursor=first.cursor
    )
    assert landed.get_num_requested(dg.AssetKey("message_features")) == 1
    again = dg.evaluate_automation_conditions(
        defs=definitions, instance=instance, asset_selection=features, cursor=landed.cursor
    )
    assert again.total_requested == 0  # requested once per landing, not every tick
