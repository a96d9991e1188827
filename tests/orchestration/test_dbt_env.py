"""Where the project finds dbt: the variable, then dbt's environment at the root, then PATH; a
clear error (what to run) where there is none."""

import os
from pathlib import Path

import pytest

from orchestration import dbt_env


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No variable, no dbt environment, no dbt on PATH."""
    monkeypatch.delenv(dbt_env.EXECUTABLE_VARIABLE, raising=False)
    monkeypatch.setattr(dbt_env, "DBT_ENVIRONMENT", tmp_path / "absent")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return tmp_path


def test_no_dbt_anywhere_says_what_to_run(nowhere: Path):
    with pytest.raises(dbt_env.DbtNotFoundError, match="make env"):
        dbt_env.dbt_executable()
    reason = dbt_env.missing_dbt()
    assert reason is not None and "make env" in reason


def test_dbts_environment_first_then_path(nowhere: Path, monkeypatch: pytest.MonkeyPatch):
    on_path = _executable(nowhere / "empty-bin" / "dbt")
    assert dbt_env.dbt_executable() == str(on_path)
    environment = nowhere / "venv-dbt"
    own = _executable(environment / "bin" / "dbt")
    monkeypatch.setattr(dbt_env, "DBT_ENVIRONMENT", environment)
    assert dbt_env.dbt_executable() == str(own)
    assert dbt_env.missing_dbt() is None


def test_the_variable_wins_and_is_checked(nowhere: Path, monkeypatch: pytest.MonkeyPatch):
    _executable(nowhere / "venv-dbt" / "bin" / "dbt")
    monkeypatch.setattr(dbt_env, "DBT_ENVIRONMENT", nowhere / "venv-dbt")
    chosen = _executable(nowhere / "elsewhere" / "dbt")
    monkeypatch.setenv(dbt_env.EXECUTABLE_VARIABLE, str(chosen))
    assert dbt_env.dbt_executable() == str(chosen)
    # a bare name is looked up on PATH and returned as an absolute path
    monkeypatch.setenv("PATH", str(chosen.parent))
    monkeypatch.setenv(dbt_env.EXECUTABLE_VARIABLE, "dbt")
    assert dbt_env.dbt_executable() == str(chosen)
    monkeypatch.setenv(dbt_env.EXECUTABLE_VARIABLE, str(nowhere / "missing" / "dbt"))
    with pytest.raises(dbt_env.DbtNotFoundError, match=dbt_env.EXECUTABLE_VARIABLE):
        dbt_env.dbt_executable()


def test_dbts_python_sits_beside_it(nowhere: Path, monkeypatch: pytest.MonkeyPatch):
    dbt = _executable(nowhere / "venv-dbt" / "bin" / "dbt")
    monkeypatch.setenv(dbt_env.EXECUTABLE_VARIABLE, str(dbt))
    with pytest.raises(dbt_env.DbtNotFoundError, match="no Python interpreter"):
        dbt_env.dbt_python()
    python = _executable(dbt.with_name("python"))
    assert dbt_env.dbt_python() == str(python)
    assert os.path.isabs(dbt_env.dbt_python())
