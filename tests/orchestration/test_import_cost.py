"""Loading the code location stays light: every Dagster process (the webserver's code server,
the daemon, each step of a multiprocess run) imports the definitions, so the stage libraries
(LightGBM with scikit-learn and SciPy, pandas, Evidently, DuckDB, boto3) are imported by the
functions that use them, not at import time. Importing them took the load from about 6 s to
about 11 s (BENCHMARKS.md, start-up). dbt-core is not in the project's environment at all: dbt
runs in its own (``.venv-dbt``) as a subprocess, and dagster-dbt without dbt-core saves every
load 1.9 s."""

import json
import subprocess
import sys

HEAVY = ("lightgbm", "sklearn", "scipy", "pandas", "evidently", "duckdb", "boto3", "dbt")
PROBE = f"""
import json, sys
from orchestration.definitions import defs
loaded = defs()
print(json.dumps({{
    "assets": len(list(loaded.resolve_all_asset_keys())),
    "heavy": [m for m in {HEAVY!r} if m in sys.modules],
}}))
"""


def test_loading_the_definitions_imports_no_stage_library():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=300
    )
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["assets"] > 20  # the whole graph was built
    assert probe["heavy"] == []


def test_dbt_is_not_importable_beside_dagster():
    """dagster-dbt imports dbt-core whenever it can (its adapters and result schemas, 1.9 s), so
    the project's environment must not hold it: a dependency that pulls dbt-core back in fails
    here, and belongs in dbt's environment (dbt_project/environment)."""
    import importlib.util

    assert importlib.util.find_spec("dbt") is None, (
        "dbt-core is installed in the project's environment; dbt belongs in .venv-dbt "
        "(dbt_project/environment/pyproject.toml)"
    )
