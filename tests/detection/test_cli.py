"""The CLI's contract: documented exit codes (0 clean, 1 attack found with -E, 2 usage, 3 partial
or runtime), inputs checked before the model loads, JSON Lines, --version, help for every
option."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import cast

import pytest

from detection.cli import EXIT_ATTACK, EXIT_CLEAN, EXIT_PARTIAL, EXIT_USAGE, build_parser
from detection.simulation.generator import SimulationConfig
from detection.simulation.to_lake import write_simulation
from tests.detection.serving.test_bundle_formats import PHISH, RELEASED

CLI = str(Path(sys.executable).with_name("attack-detection"))
SAFE = (
    b"From: Ann <ann@corp.example>\r\nTo: bob@corp.example\r\nSubject: lunch\r\n"
    b"Date: Mon, 5 Jan 2026 10:00:00 +0000\r\nMessage-ID: <l1@corp.example>\r\n\r\n"
    b"Shall we have lunch at noon?\r\n"
)
# run main() and report what it loaded: usage errors must come before the model
PROBE = """
import json, sys
from detection.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print(json.dumps({"code": code, "lightgbm": "lightgbm" in sys.modules}), file=sys.stderr)
"""


def _probe(*args: str) -> tuple[dict[str, object], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120
    )
    *said, last = done.stderr.strip().splitlines()
    return json.loads(last), "\n".join(said)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def mail(tmp_path: Path) -> dict[str, Path]:
    paths = {"phish": tmp_path / "phish.eml", "safe": tmp_path / "safe.eml"}
    paths["phish"].write_bytes(PHISH)
    paths["safe"].write_bytes(SAFE)
    return paths


def test_a_missing_input_is_a_usage_error_before_the_model_loads(tmp_path: Path):
    missing = str(tmp_path / "typo.eml")
    result, said = _probe("score", "--artifact", str(RELEASED[-1]), missing)
    assert result == {"code": EXIT_USAGE, "lightgbm": False}
    assert f"input path '{missing}' does not exist" in said


def test_a_mistyped_artifact_is_named_as_such(tmp_path: Path, mail: dict[str, Path]):
    result, said = _probe("score", "--artifact", str(tmp_path / "artefacts"), str(mail["phish"]))
    assert result == {"code": EXIT_USAGE, "lightgbm": False}
    assert "--artifact" in said and "is not a directory" in said
    empty = tmp_path / "store"
    empty.mkdir()
    done = _cli("score", "--artifact", str(empty), str(mail["phish"]))
    assert done.returncode == EXIT_PARTIAL  # a store without a model: a runtime error
    assert "no production model yet" in done.stderr


def test_exit_codes_say_clean_attack_found_and_partial(tmp_path: Path, mail: dict[str, Path]):
    bundle = str(RELEASED[1])  # format 2: a model that flags PHISH (format 3's fixture does not)
    assert _cli("score", "--artifact", bundle, str(mail["safe"])).returncode == EXIT_CLEAN
    # an attack without -E is still a clean run; with -E it is exit 1, as spamc -E
    assert _cli("score", "--artifact", bundle, str(mail["phish"])).returncode == EXIT_CLEAN
    found = _cli("score", "-E", "--artifact", bundle, str(mail["phish"]), str(mail["safe"]))
    assert found.returncode == EXIT_ATTACK
    assert _cli("score", "-E", "--artifact", bundle, str(mail["safe"])).returncode == EXIT_CLEAN
    # one unreadable input: the rest are scored and printed, the run says it was partial
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"\x00\x01\x02 not mail at all")
    partial = _cli("score", "-E", "--artifact", bundle, "--format", "jsonl", str(tmp_path))
    assert partial.returncode == EXIT_PARTIAL
    rows = [json.loads(line) for line in partial.stdout.splitlines()]
    assert {Path(r["path"]).name: r["verdict"] for r in rows} == {
        "junk.eml": "suspicious",
        "phish.eml": "attack",
        "safe.eml": "safe",
    }
    assert "1 inputs could not be read" in partial.stderr


def test_json_lines_stream_one_object_per_message(mail: dict[str, Path]):
    done = _cli(
        "score", "--artifact", str(RELEASED[-1]), "--format", "jsonl", *map(str, mail.values())
    )
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) == 2 and all(r["model_version"] and r["message_id"] for r in rows)


def test_a_bad_option_is_a_usage_error():
    assert _cli("score", "--format", "xml", "--artifact", "x", "y").returncode == EXIT_USAGE
    assert (
        "invalid choice: 'xml'" in _cli("score", "--format", "xml", "--artifact", "x", "y").stderr
    )


def test_version_and_help_for_every_option():
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("attack-detection 0.")
    parser = build_parser()
    chooser = next(a for a in parser._actions if a.dest == "command")
    commands = cast(dict[str, argparse.ArgumentParser], chooser.choices)
    assert set(commands) == {"score", "simulate", "ingest", "rollback", "whatif"}
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        assert "``" not in command.format_help()  # no reStructuredText in --help
    assert "``" not in parser.format_help()


def test_ingest_checks_its_inputs_and_says_when_a_path_could_not_be_read(tmp_path: Path):
    missing = _cli("ingest", "--out", str(tmp_path / "lake"), str(tmp_path / "nope"))
    assert missing.returncode == EXIT_USAGE and "does not exist" in missing.stderr
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "one.eml").write_bytes(SAFE)
    clean = _cli("ingest", "--out", str(tmp_path / "lake"), str(folder))
    assert clean.returncode == EXIT_CLEAN and json.loads(clean.stdout)["parsed"] == 1
    (folder / "gone.eml").symlink_to(tmp_path / "deleted.eml")  # a dangling link is not read
    partial = _cli("ingest", "--out", str(tmp_path / "lake"), str(folder))
    assert partial.returncode == EXIT_PARTIAL
    assert json.loads(partial.stdout)["skipped"] == {"dangling link": 1}


@pytest.mark.parametrize("workers", [1, 2])
def test_simulation_reports_each_day_written(tmp_path: Path, workers: int):
    config = SimulationConfig(days=3, tenants=1, employees=5, seed=3)
    written: list[int] = []
    counts = write_simulation(config, tmp_path, workers=workers, on_day=written.append)
    assert len(written) == 3 and sum(written) == sum(counts.values())
