import subprocess
import sys
from pathlib import Path

import dagster as dg

from orchestration.definitions import defs

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = {"mail", "baselines", "features", "training", "evaluation", "deployment", "analysis"}


def test_definitions_load_with_every_job_schedule_and_sensor(dbt_manifest):
    definitions = defs()
    assert definitions.resolve_job_def("retrain_job") is not None
    assert definitions.resolve_job_def("ingest_job").partitions_def is not None
    assert definitions.resolve_sensor_def("mail_drop_sensor") is not None
    assert definitions.resolve_schedule_def("daily_retrain_schedule").cron_schedule == "0 3 * * *"
    assert definitions.resolve_sensor_def("drift_retrain_sensor") is not None
    assert definitions.resolve_sensor_def("check_failure_alert_sensor") is not None
    assert definitions.resolve_sensor_def("feature_automation_sensor") is not None
    graph = definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {
        "raw_messages",
        "fct_message_behaviour",
        "message_features",
        "training_table",
        "baseline_snapshot",
        "candidate_model",
        "model_evaluation",
        "candidate_bundle",
        "golden_set",
        "error_analysis",
        "text_model",
        "specialised_detectors",
        "real_mail_evaluation",
        "deployed_model",
    } <= keys
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == STAGES
    checks = {k.name for k in graph.asset_check_keys}
    assert {
        "recall_at_threshold",
        "false_positive_rate_within_budget",
        "category_recall_at_floor",
        "prediction_drift",
        "challenger_not_worse_than_champion",
        "scoring_latency_within_budget",
        "feature_drift",
        "detectors_within_budget_on_test_days",
        "detectors_earn_their_place",
    } <= checks
    assert any(
        name.startswith("unique_fct_message_behaviour") for name in checks
    )  # dbt tests as checks


def test_the_analysis_runs_on_demand_never_in_a_retrain(dbt_manifest):
    from orchestration.jobs import ANALYSIS, RETRAIN

    graph = defs().resolve_asset_graph()
    analysis = {dg.AssetKey("what_if_replay"), dg.AssetKey("capability_gaps")}
    assert ANALYSIS.resolve(graph) == analysis
    assert not RETRAIN.resolve(graph) & analysis
    assert defs().resolve_job_def("whatif_job") is not None
    assert all(graph.get(k).automation_condition is None for k in analysis)


def test_blocking_checks_guard_deployment(dbt_manifest):
    from orchestration.definitions import all_asset_checks

    graph = defs().resolve_asset_graph()
    specs = [spec for checks in all_asset_checks() for spec in checks.check_specs]
    blocking = {(s.asset_key.to_user_string(), s.name) for s in specs if s.blocking}
    assert blocking == {
        ("model_evaluation", "recall_at_threshold"),
        ("model_evaluation", "false_positive_rate_within_budget"),
        ("model_evaluation", "category_recall_at_floor"),
        ("candidate_bundle", "challenger_not_worse_than_champion"),
        ("candidate_bundle", "scoring_latency_within_budget"),
        ("real_mail_evaluation", "real_mail_recall_at_fp_budget"),
        ("real_mail_evaluation", "shortcut_audit"),
    }
    # deployment sits behind both checked assets
    assert dg.AssetKey("candidate_bundle") in graph.get(dg.AssetKey("deployed_model")).parent_keys
    assert dg.AssetKey("model_evaluation") in graph.get(dg.AssetKey("candidate_bundle")).parent_keys
    # the real-mail checks sit before the evaluation (through the operating point)
    assert (
        dg.AssetKey("real_mail_evaluation") in graph.get(dg.AssetKey("operating_point")).parent_keys
    )


def test_dagster_cli_validates_the_workspace(dbt_manifest):
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_sensor_schedule_and_job_says_what_it_does(dbt_manifest):
    """The UI shows the description beside each sensor, schedule and job (a function's docstring
    is not used for it)."""
    definitions = defs()
    repository = definitions.get_repository_def()
    described = [
        *repository.sensor_defs,
        *repository.schedule_defs,
        *(j for j in repository.get_all_jobs() if not j.name.startswith("__")),
    ]
    missing = [d.name for d in described if not (d.description or "").strip()]
    assert described and not missing, f"no description: {missing}"
