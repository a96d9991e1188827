"""Where dbt runs: its own environment, apart from the project's.

dbt-core, its adapters (DuckDB; Spark with the ``engines`` group) and sqlfluff's dbt templater
are installed in ``.venv-dbt`` from ``dbt_project/environment`` (``make env`` syncs it beside
``.venv``). Dagster runs dbt as a subprocess through dagster-dbt's ``DbtCliResource``, which
needs no dbt-core in its own process, so no Dagster process imports dbt (1.9 s of every
definitions load). No dagster import here: benches and tests resolve dbt through this too."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_ENVIRONMENT = REPO_ROOT / ".venv-dbt"
EXECUTABLE_VARIABLE = "ATTACK_DETECTION_DBT_EXECUTABLE"


def dbt_executable() -> str:
    """``$ATTACK_DETECTION_DBT_EXECUTABLE``, else dbt's environment at the repository root, else
    a dbt beside this interpreter (an image that installs both in one environment), else dbt on
    PATH."""
    explicit = os.environ.get(EXECUTABLE_VARIABLE)
    if explicit:
        return explicit
    for candidate in (DBT_ENVIRONMENT / "bin" / "dbt", Path(sys.executable).with_name("dbt")):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def dbt_python() -> str:
    """The interpreter of dbt's environment (the one beside :func:`dbt_executable`): code that
    calls dbt's Python API (``bench.dbt_runner``) runs there."""
    beside = Path(dbt_executable()).with_name("python")
    return str(beside) if beside.exists() else sys.executable


def missing_dbt() -> str | None:
    """Why dbt cannot run here, or None."""
    executable = dbt_executable()
    if Path(executable).exists() or shutil.which(executable):
        return None
    return f"no dbt at {executable}: run `make env` (it syncs dbt's environment, .venv-dbt)"
