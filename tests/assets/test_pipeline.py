"""The whole graph, materialised in-process once, deploying to S3 (moto's server over HTTP)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import dagster as dg
import pytest

from assets.mail import DEMO_ATTACK_MIX
from assets.resources import ArtifactStoreResource, GatePolicyResource, WorkDirResource
from assets.training import TrainingConfig
from detection.features.signals import TERM_SIGNALS
from detection.features.terms import DEFAULT_TERMS_VERSION, TERMS_VERSION
from detection.model.comparison import versioned
from detection.model.detectors import SPECS
from detection.model.policy import GatePolicy
from detection.serving.artifact import FORMAT_VERSION
from detection.serving.detectors import detectors_of
from detection.serving.registry import load_production, read_production
from detection.serving.scorer import Scorer
from detection.simulation.generator import SimulationConfig, simulate
from detection.simulation.render import render_rfc822
from detection.workdir import WorkDir
from orchestration.definitions import all_asset_checks, all_assets
from orchestration.jobs import DAILY, RETRAIN
from orchestration.resources import resources
from orchestration.run import partition_range_tags

pytestmark = pytest.mark.slow
# the demo world make run lands (10 tenants, 10% attacks, an even mix: enough evidence for the
# default gate policy), with the simulator's templates: the test does not depend on the corpus
DEMO = {"ops": {"raw_messages": {"config": {"text_corpus": "none"}}}}
BUCKET = "pipeline-artifacts"


@pytest.fixture(scope="module")
def s3_store(s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket=BUCKET
    )
    return ArtifactStoreResource(uri=f"s3://{BUCKET}/detection", s3_endpoint_url=s3_endpoint)


def _materialize(
    s3_store, selection, run_config=None, tags=None, gate=None
) -> dg.ExecuteInProcessResult:
    extra = {"gate_policy": gate} if gate is not None else {}
    return dg.materialize(
        [*all_assets(), *all_asset_checks()],
        selection=selection,
        resources={**resources(), "artifact_store": s3_store, **extra},
        run_config=run_config,
        tags=tags,
        raise_on_error=False,
    )


DOWNSTREAM = RETRAIN


@pytest.fixture(scope="module")
def first_run(dbt_manifest, s3_store):
    """Six weeks of simulated mail and their baselines as 42 daily partitions in one run (as the
    ingest job does), then the rest of the graph."""
    landed = _materialize(s3_store, DAILY, run_config=DEMO, tags=partition_range_tags(42))
    assert landed.success
    events = landed.asset_materializations_for_node("raw_messages")
    assert len(events) == 42 and {e.partition for e in events} >= {"2026-01-05", "2026-02-15"}
    mart = [
        e
        for e in landed.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("fct_message_behaviour")
    ]
    assert len(mart) == 42  # one materialisation per partition, from a single dbt run
    return _materialize(s3_store, DOWNSTREAM)


def _deployed(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    events = result.asset_materializations_for_node("deployed_model")
    return {k: v.value for k, v in events[0].metadata.items()} if events else {}


def test_whole_graph_materialises_and_deploys_to_s3(first_run, s3_store):
    assert first_run.success
    checks = {e.check_name: e.passed for e in first_run.get_asset_check_evaluations()}
    assert checks["recall_at_threshold"] and checks["false_positive_rate_within_budget"]
    assert checks["category_recall_at_floor"]
    assert checks["challenger_not_worse_than_champion"]  # nothing serving yet: passes
    assert checks["scoring_latency_within_budget"]
    assert "feature_drift" in checks and "prediction_drift" in checks
    assert {"detectors_within_budget_on_test_days", "detectors_earn_their_place"} <= set(checks)
    [place] = [
        e for e in first_run.get_asset_check_evaluations() if e.check_name.startswith("detectors_e")
    ]
    assert "| recall without | recall with |" in str(place.metadata["detectors"].value)
    [detectors] = first_run.asset_materializations_for_node("specialised_detectors")
    trained = str(detectors.metadata["detectors"].value)
    assert all(f"| {c} |" in trained for c in ("bec", "vendor_fraud", "account_takeover"))
    [evaluation] = first_run.asset_materializations_for_node("model_evaluation")
    reports = WorkDirResource().open().reports
    for picture in ("precision_recall", "score_distribution", "category_recall"):
        # a short markdown image of the published file, which the UI shows in place
        shown = str(evaluation.metadata[f"picture_{picture}"].value)
        assert shown.startswith(f"![{picture}](http://127.0.0.1:3001/reports/published/"), shown
        assert (reports / "published" / shown.rsplit("/", 1)[1].rstrip(")")).is_file()
    link = str(evaluation.metadata["classification_report"].value)
    assert (reports / "published" / link.rsplit("/", 1)[1]).is_file(), link
    assert str(evaluation.metadata["classification_report_file"].value).endswith(
        "classification_quality.html"
    )
    ours = {spec.name for checks in all_asset_checks() for spec in checks.check_specs}
    for check in first_run.get_asset_check_evaluations():
        if check.check_name not in ours:
            continue  # dbt's tests: their runbook is the dbt section
        assert str(check.metadata["runbook"].value).endswith(f"/runbook#{check.check_name}")
    assert "Model card" in str(evaluation.metadata["model_card"].value)
    effect = str(evaluation.metadata["specialised_detectors_before_after"].value)
    assert "| all attacks |" in effect and "| safe mail (FPR) |" in effect
    figures = [v.value for v in evaluation.metadata.values() if isinstance(v.value, float)]
    assert figures and all(len(repr(f)) <= 10 for f in figures), figures  # rounded for people
    [analysis] = first_run.asset_materializations_for_node("error_analysis")
    assert "| category | missed |" in str(analysis.metadata["missed_by_category"].value) or (
        analysis.metadata["missed_attacks"].value == 0
    )
    deployed = _deployed(first_run)
    assert str(deployed["uri"]).startswith(f"s3://{BUCKET}/detection/models/")
    pointer = read_production(s3_store.open())
    assert pointer is not None and pointer.version == deployed["version"]
    shipped = load_production(s3_store.open())
    assert shipped.manifest["format_version"] == FORMAT_VERSION and shipped.detectors is not None
    # the term families message_features counted (its default), carried to the bundle
    assert shipped.terms_version == DEFAULT_TERMS_VERSION
    # the golden set's term signals per version: message_features' own version's equal its rows
    golden = WorkDir(Path(os.environ["ATTACK_DETECTION_WORK_DIR"])).read_golden_set()
    for name in TERM_SIGNALS:
        assert golden[versioned(name, DEFAULT_TERMS_VERSION)].equals(golden[name]), name
        assert versioned(name, TERMS_VERSION) in golden.columns
    candidate = WorkDir(Path(os.environ["ATTACK_DETECTION_WORK_DIR"])).load_candidate()
    assert [p.category for p in candidate.places] == list(SPECS)
    assert detectors_of(shipped).names == tuple(p.category for p in candidate.places if p.kept)
    [report] = first_run.asset_materializations_for_node("rule_report")
    table = str(report.metadata["rules"].value)
    assert "executable_or_double_extension" in table and "precision" in table


def _sample_mail() -> dict[str, bytes]:
    """A phish and an internal message from the latest simulated day that has a phish (same world
    as the pipeline's default config)."""
    config = SimulationConfig(
        days=42, tenants=10, employees=30, attack_rate=0.1, attack_mix=dict(DEMO_ATTACK_MIX)
    )
    days = list(simulate(config))
    for _, messages in reversed(days):
        for phish in (m for m in messages if m.category == "credential_phishing" and m.body_text):
            domain = phish.primary_recipient.rpartition("@")[2]
            safe = [
                m
                for m in messages
                if m.tenant_id == phish.tenant_id and m.sender_address.endswith("@" + domain)
            ]
            if safe:
                return {
                    "phish": render_rfc822(phish),
                    "safe": render_rfc822(safe[0]),
                    "tenant": phish.tenant_id.encode(),
                }
    raise AssertionError("the simulated weeks hold no credential phish next to internal mail")


def test_scorer_loads_from_s3_and_explains(first_run, s3_endpoint):
    scorer = Scorer.load(f"s3://{BUCKET}/detection", endpoint_url=s3_endpoint)
    assert scorer.version == _deployed(first_run)["version"]
    mail = _sample_mail()
    tenant = mail["tenant"].decode()
    phish = scorer.score_bytes(mail["phish"], tenant_id=tenant)
    safe = scorer.score_bytes(mail["safe"], tenant_id=tenant)
    assert phish.verdict == "attack" and phish.reasons
    assert safe.verdict == "safe"
    assert phish.score > safe.score


def test_cli_scores_from_s3(first_run, s3_endpoint, tmp_path):
    mail = _sample_mail()
    (tmp_path / "phish.eml").write_bytes(mail["phish"])
    (tmp_path / "junk.eml").write_bytes(b"\x00\x01 not mail")
    cli = Path(sys.executable).with_name("attack-detection")
    env = {**os.environ, "ATTACK_DETECTION_S3_ENDPOINT_URL": s3_endpoint}
    output = subprocess.run(
        [
            str(cli),
            "score",
            "--artifact",
            f"s3://{BUCKET}/detection",
            "--format",
            "json",
            "--tenant",
            mail["tenant"].decode(),
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert output.returncode == 3, output.stderr  # the junk is held unread: a partial run
    results = {Path(r["path"]).name: r for r in json.loads(output.stdout)["results"]}
    assert results["phish.eml"]["verdict"] == "attack"
    assert (
        results["junk.eml"]["verdict"] == "suspicious"
        and "not_rfc822" in results["junk.eml"]["reasons"][0]
    )


def test_retraining_on_the_same_data_gives_the_same_model(first_run, s3_store):
    model = Path(os.environ["ATTACK_DETECTION_WORK_DIR"]) / "candidate" / "model.txt"
    before = model.read_bytes()
    again = _materialize(s3_store, selection=["candidate_model"])
    assert again.success
    assert model.read_bytes() == before


def test_failing_blocking_check_stops_deployment_and_production_stays(first_run, s3_store):
    """A degraded challenger (no tree can split: constant scores, so everything is flagged) fails
    the FPR check; deployed_model does not run and production keeps the first model."""
    before = read_production(s3_store.open())
    degraded = {"ops": {"candidate_model": {"config": {"min_data_in_leaf": 1_000_000}}}}
    result = _materialize(
        s3_store,
        selection=["candidate_model", "model_evaluation", "candidate_bundle", "deployed_model"],
        run_config=degraded,
    )
    assert not result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["false_positive_rate_within_budget"] is False
    assert _deployed(result) == {}
    after = read_production(s3_store.open())
    assert after is not None and before is not None and after.version == before.version


def test_deploying_a_bundle_from_another_run_is_refused(first_run, s3_store):
    """deployed_model alone (its candidate_bundle and checks from an earlier run) refuses."""
    before = read_production(s3_store.open())
    result = _materialize(s3_store, selection=["deployed_model"])
    assert not result.success
    assert read_production(s3_store.open()) == before


def test_retrained_challenger_is_compared_with_the_serving_champion(first_run, s3_store):
    """The same data again gives the same model: the champion check compares it with production
    on the golden set and finds no regression."""
    result = _materialize(s3_store, DOWNSTREAM)
    assert result.success
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "challenger_not_worse_than_champion"
    ]
    assert check.passed
    assert check.metadata["champion"].value == _deployed(first_run)["version"]
    assert "| overall |" in str(check.metadata["recall_at_fp_budget"].value)


def test_the_bundle_and_the_audit_record_carry_the_gate_policy(first_run, s3_store):
    store = s3_store.open()
    pointer = read_production(store)
    assert pointer is not None
    manifest = json.loads(store.get(f"models/{pointer.version}/manifest.json"))
    assert manifest["lineage"]["gate_policy"] == GatePolicy().as_dict()
    [audit_key] = [k for k in store.list("audit/") if pointer.version in k][:1]
    assert json.loads(store.get(audit_key))["gate_policy"] == GatePolicy().as_dict()


def test_a_training_run_cannot_lower_the_bar_it_is_judged_by(first_run, s3_store):
    """The floors and budgets are the deployment's: training config has no field for them (a run
    that passes one is refused before it starts), and the same candidate that passed under the
    default policy is blocked when the deployment's policy is stricter than what it shows."""
    assert not set(TrainingConfig.model_fields) & set(GatePolicy.__dataclass_fields__)
    lowered = {"ops": {"candidate_model": {"config": {"category_recall_floor": 0.0}}}}
    with pytest.raises(dg.DagsterInvalidConfigError, match="category_recall_floor"):
        _materialize(s3_store, ["candidate_model"], run_config=lowered)
    before = read_production(s3_store.open())
    strict = GatePolicyResource(fp_budget=0.0, recall_floor=1.0)
    result = _materialize(
        s3_store,
        ["candidate_model", "model_evaluation", "candidate_bundle", "deployed_model"],
        gate=strict,
    )
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["false_positive_rate_within_budget"].passed is False
    assert (
        checks["false_positive_rate_within_budget"].metadata["budget_on_upper_bound"].value == 0.0
    )
    assert _deployed(result) == {}
    assert read_production(s3_store.open()) == before


def test_whatif_job_replays_a_threshold_against_production(first_run, s3_store, s3_endpoint):
    """whatif_job over the landed window: what flips, the gaps, parquet; serving untouched. The
    CLI gives the same counts."""
    from orchestration.jobs import ANALYSIS

    serving = read_production(s3_store.open())
    # far below every threshold production has: verdicts can only be added
    config = {"ops": {"what_if": {"config": {"threshold": 1e-6, "days": 14}}}}
    result = _materialize(s3_store, ANALYSIS, run_config=config)
    assert result.success
    metadata = {
        e.asset_key.to_user_string(): e.step_materialization_data.materialization.metadata
        for e in result.get_asset_materialization_events()
        if e.asset_key is not None
    }
    replayed = metadata["what_if_replay"]
    changes = json.loads(json.dumps(replayed["changes"].value))
    assert changes["new_catch"] + changes["new_false_positive"] > 0
    assert changes["new_miss"] == 0  # a lower threshold only adds attack verdicts
    assert "| category |" in str(replayed["by_category"].value)
    assert "reasons" in str(replayed["top_examples"].value)
    gaps = metadata["capability_gaps"]
    assert "By what was absent" in str(gaps["report"].value)
    assert Path(str(replayed["changes_file"].value)).is_file()
    assert read_production(s3_store.open()) == serving  # a what-if never touches serving

    cli = Path(sys.executable).with_name("attack-detection")
    env = {**os.environ, "ATTACK_DETECTION_S3_ENDPOINT_URL": s3_endpoint}
    args = ["whatif", "--artifact", f"s3://{BUCKET}/detection", "--threshold", "1e-6"]
    output = subprocess.run(
        [str(cli), *args, "--format", "json"], env=env, capture_output=True, text=True
    )
    assert output.returncode == 0, output.stderr
    assert json.loads(output.stdout)["changes"] == changes
    bad = subprocess.run([str(cli), *args[:3], "--threshold", "2"], env=env, capture_output=True)
    assert bad.returncode == 2 and b"(0, 1]" in bad.stderr
