"""The dbt project handle, on its own: the prepare command imports this module, and it must not
define ``@dbt_assets`` (that would need the manifest it is about to build)."""

import functools
import hashlib
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


@functools.cache
def dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    return project


def manifest_sha256() -> str:
    """The hash of the dbt manifest the run used (bundle lineage), or "missing"."""
    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"
