"""Resource wiring. Every value is read from the environment when a run uses it (see README)."""

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource

from assets.dbt_project import DBT_PROJECT_DIR
from assets.resources import (
    ArtifactStoreResource,
    GatePolicyResource,
    LakeResource,
    WarehouseResource,
    WorkDirResource,
)


def _dbt_executable() -> str:
    """dbt from the same environment as this interpreter, even when the venv is not activated."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else shutil.which("dbt") or "dbt"


def resources() -> dict[str, object]:
    return {
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=_dbt_executable(),
        ),
        "warehouse": WarehouseResource(),
        "lake_store": LakeResource(),
        "work_dir": WorkDirResource(),
        "artifact_store": ArtifactStoreResource(),
        "gate_policy": GatePolicyResource(),
    }
