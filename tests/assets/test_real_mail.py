"""The real-mail evaluation asset on the shared corpus: held-out splits reported, shortcut
features removed, and a bundle the scorer and CLI accept."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.real_mail import real_mail_model
from orchestration.resources import resources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def materialised(real_mail, session_env):
    result = dg.materialize(
        [real_mail_model],
        resources=resources(),
        run_config={"ops": {"real_mail_model": {"config": {"path": str(real_mail)}}}},
    )
    assert result.success
    [event] = result.asset_materializations_for_node("real_mail_model")
    metadata = {k: v.value for k, v in event.metadata.items()}
    report = json.loads(Path(str(metadata["report"])).read_text())
    return metadata, report


def test_reports_random_time_and_source_held_out_splits(materialised):
    _, report = materialised
    splits = report["splits"]
    assert {"random", "time_held_out", "source_held_out"} <= set(splits)
    folds = splits["source_held_out"]["folds"]
    assert len(folds) == 6  # 2 attack sources x 3 safe sources, each pair held out in turn
    for metrics in [splits["random"], splits["time_held_out"], *folds.values()]:
        assert 0.0 <= metrics["recall"] <= 1.0 and 0.0 <= metrics["fpr"] <= 1.0
    gap = report["gap_random_minus_source_held_out"]
    assert gap["recall"] == pytest.approx(
        splits["random"]["recall"] - splits["source_held_out"]["mean"]["recall"]
    )


def test_transport_shortcuts_are_removed_and_the_audit_explains_why(materialised):
    _, report = materialised
    removed = set(report["removed_features"])
    assert {"dkim_fail", "message_id_missing", "date_missing"} <= removed
    assert not removed & set(report["features"])
    audit = {row["feature"]: row for row in report["feature_audit"]}
    assert all(audit[f]["removed"] for f in removed)
    assert report["importance_gain"] and set(report["importance_gain"]) == set(report["features"])


def test_real_mail_bundle_scores_unseen_mail_through_the_cli(materialised, real_mail, tmp_path):
    metadata, _ = materialised
    manifest = (real_mail / "manifest.csv").read_text().splitlines()[1:]
    attack = next(line.split(",")[0] for line in manifest if ",attack,phishing_pot," in line)
    cli = Path(sys.executable).with_name("attack-detection")
    output = subprocess.run(
        [
            str(cli),
            "score",
            "--artifact",
            str(metadata["store"]),
            "--format",
            "json",
            str(real_mail / attack),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    [result] = json.loads(output.stdout)["results"]
    assert result["verdict"] in ("attack", "safe") and 0.0 <= result["score"] <= 1.0
