"""Tests that need more than Python (Spark with Java, PostgreSQL, a browser) skip with the reason
where it is absent under ``make test``; ``.ci/run`` installs them and sets
ATTACK_DETECTION_REQUIRE_SYSTEM_DEPS=1, which turns the skip into a failure."""

import importlib.util
import os
import shutil
import subprocess

import pytest

REQUIRED = os.environ.get("ATTACK_DETECTION_REQUIRE_SYSTEM_DEPS") == "1"


def require(reason: str | None) -> None:
    """Skip (or, under .ci/run, fail) with ``reason`` when it is not None."""
    if reason is None:
        return
    if REQUIRED:
        pytest.fail(f"ATTACK_DETECTION_REQUIRE_SYSTEM_DEPS=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def spark_missing() -> str | None:
    """dbt-spark and PySpark live in dbt's own environment (``.venv-dbt``), with Java on PATH."""
    from orchestration.dbt_env import dbt_python, missing_dbt

    reason = missing_dbt()
    if reason is not None:
        return reason
    probe = "import importlib.util as u, sys; sys.exit(u.find_spec('dbt.adapters.spark') is None"
    probe += " or u.find_spec('pyspark') is None)"
    if subprocess.run([dbt_python(), "-c", probe], check=False).returncode != 0:
        return (
            "pyspark and dbt-spark are not installed in dbt's environment "
            '(make env SYNC_GROUPS="--group engines")'
        )
    if shutil.which("java") is None:
        return "no Java on PATH for Spark (apt-get install openjdk-17-jre-headless)"
    return None


def postgres_missing() -> str | None:
    for module, what in (
        ("pgserver", "pgserver (PostgreSQL for tests)"),
        ("dagster_postgres", "dagster-postgres"),
        ("psycopg2", "psycopg2"),
    ):
        if importlib.util.find_spec(module) is None:
            return f"{what} is not installed (uv sync --group engines)"
    return None


CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """Debian's Chromium (apt-get install chromium), or $ATTACK_DETECTION_CHROMIUM."""
    explicit = os.environ.get("ATTACK_DETECTION_CHROMIUM")
    if explicit:
        return explicit
    return next((p for p in map(shutil.which, CHROMIUM_CANDIDATES) if p), None)


def browser_missing() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (uv sync --group browser)"
    if chromium_path() is None:
        return "no Chromium on PATH (apt-get install chromium)"
    return None
