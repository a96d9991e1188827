"""Resource wiring. Every value is read from the environment when a run uses it (see README)."""

from dagster_dbt import DbtCliResource

from assets.dbt_project import DBT_PROJECT_DIR
from assets.resources import (
    ArtifactStoreResource,
    GatePolicyResource,
    LakeResource,
    WarehouseResource,
    WorkDirResource,
)
from orchestration.dbt_env import dbt_executable


def resources() -> dict[str, object]:
    return {
        "dbt": DbtCliResource(
            project_dir=str(DBT_PROJECT_DIR),
            profiles_dir=str(DBT_PROJECT_DIR),
            dbt_executable=dbt_executable(),
        ),
        "warehouse": WarehouseResource(),
        "lake_store": LakeResource(),
        "work_dir": WorkDirResource(),
        "artifact_store": ArtifactStoreResource(),
        "gate_policy": GatePolicyResource(),
    }
