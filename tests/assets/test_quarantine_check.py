"""The quarantine metric and its WARN check: a landing whose inputs are mostly unreadable warns
on-call (through the check-failure alert sensor); ordinary mail passes."""

from pathlib import Path

import dagster as dg
import pytest

from assets.mail import QUARANTINE_CHECK, quarantine_rate_check, raw_messages
from assets.resources import LakeResource, WorkDirResource
from orchestration.sensors import ALERTED_CHECKS

GOOD = (
    "From: Ana <ana@example.org>\nTo: bo@example.com\nSubject: lunch {i}\n"
    "Date: Mon, 5 Jan 2026 10:0{i}:00 +0000\nMessage-ID: <m{i}@example.org>\n\nsee you at noon\n"
)


def _land(folder: Path, instance: dg.DagsterInstance) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [raw_messages, quarantine_rate_check],
        partition_key="2026-01-05",
        resources={"lake_store": LakeResource(), "work_dir": WorkDirResource()},
        run_config={"ops": {"raw_messages": {"config": {"source": "path", "path": str(folder)}}}},
        instance=instance,
    )
    assert result.success  # a WARN check never fails the run
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == QUARANTINE_CHECK
    return evaluation


def test_mostly_unreadable_landing_warns_with_counts_and_reasons(
    session_env, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ATTACK_DETECTION_LAKE_DIR", str(tmp_path / "lake"))
    folder = tmp_path / "mail"
    folder.mkdir()
    for i in range(3):
        (folder / f"good{i}.eml").write_text(GOOD.format(i=i))
    (folder / "blank.eml").write_text("  \n\n")
    (folder / "noise.eml").write_bytes(b"\x00\x01 not a message at all")
    with dg.DagsterInstance.ephemeral() as instance:
        evaluation = _land(folder, instance)
        assert not evaluation.passed
        assert evaluation.severity == dg.AssetCheckSeverity.WARN
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        assert (meta["quarantined"], meta["inputs"]) == (2, 5)
        assert meta["quarantine_rate"] == pytest.approx(0.4)
        assert set(meta["quarantine_reasons"]) == {"empty", "not_rfc822"}  # type: ignore[arg-type]

        for name in ("blank.eml", "noise.eml"):
            (folder / name).unlink()
        assert _land(folder, instance).passed


def test_the_quarantine_check_is_alerted():
    assert dg.AssetCheckKey(raw_messages.key, QUARANTINE_CHECK) in ALERTED_CHECKS
