"""Where dbt runs: its own environment, apart from the project's.

dbt-core, its adapters (DuckDB; Spark with the ``engines`` group) and sqlfluff's dbt templater
are installed in ``.venv-dbt`` from ``dbt_project/environment`` (``make env`` syncs it beside
``.venv``). Dagster runs dbt as a subprocess through dagster-dbt's ``DbtCliResource``, which
needs no dbt-core in its own process, so no Dagster process imports dbt (1.9 s of every
definitions load). No dagster import here: benches and tests resolve dbt through this too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_ENVIRONMENT = REPO_ROOT / ".venv-dbt"
EXECUTABLE_VARIABLE = "ATTACK_DETECTION_DBT_EXECUTABLE"


class DbtNotFoundError(FileNotFoundError):
    """No dbt where this project looks for it; the message says how to get one."""


def dbt_executable() -> str:
    """``$ATTACK_DETECTION_DBT_EXECUTABLE`` (a path, or a name on PATH), else dbt's environment at
    the repository root, else a dbt on PATH; as an absolute path."""
    wanted = os.environ.get(EXECUTABLE_VARIABLE) or ""
    if not wanted and (DBT_ENVIRONMENT / "bin" / "dbt").exists():
        wanted = str(DBT_ENVIRONMENT / "bin" / "dbt")
    found = shutil.which(wanted or "dbt")
    if found is None:
        where = f"{EXECUTABLE_VARIABLE}={wanted}" if wanted else f"{DBT_ENVIRONMENT} or PATH"
        raise DbtNotFoundError(
            f"no dbt executable ({where}): run `make env`, which syncs dbt's own environment "
            f"into {DBT_ENVIRONMENT.name}, or set {EXECUTABLE_VARIABLE} to a dbt executable"
        )
    return os.path.abspath(found)


def dbt_python() -> str:
    """The interpreter of dbt's environment (beside :func:`dbt_executable`): code that calls
    dbt's Python API (``bench/dbt_runner.py``) runs there."""
    executable = dbt_executable()
    beside = Path(executable).with_name("python")
    if not beside.exists():
        raise DbtNotFoundError(
            f"no Python interpreter beside {executable} to run dbt's Python API with: use dbt "
            f"from a virtual environment (`make env` syncs {DBT_ENVIRONMENT.name})"
        )
    return str(beside)


def missing_dbt() -> str | None:
    """Why dbt cannot run here, or None."""
    try:
        dbt_executable()
    except DbtNotFoundError as error:
        return str(error)
    return None
