"""The dbt project handle, on its own: the prepare command imports this module, and it must not
define ``@dbt_assets`` (that would need the manifest it is about to build)."""

import functools
import hashlib
import logging
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.dbt_env import dbt_executable

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"


@functools.cache
def dbt_project() -> DbtProject:
    """The project; under ``dg dev`` (or ``dagster dev``) its manifest parsed afresh first, by
    dbt from dbt's own environment. dagster-dbt's ``prepare_if_dev`` would look dbt up on PATH
    only (and rewrites dbt's partial-parse file with msgpack, which it does not install)."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    if project.preparer.using_dagster_dev():
        expect_dbt_elsewhere()
        dbt = DbtCliResource(project_dir=project, dbt_executable=dbt_executable())
        dbt.cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project


def manifest_sha256() -> str:
    """The hash of the dbt manifest the run used (bundle lineage), or "missing"."""
    path = DBT_PROJECT_DIR / "target" / "manifest.json"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


_NO_ADAPTER = "An error was encountered when creating a handle to the dbt adapter"


def _not_the_missing_dbt_core(record: logging.LogRecord) -> bool:
    """False for dagster-dbt's warning that it could not import dbt-core to make an adapter
    handle; every other record (another adapter error included) passes."""
    if not record.getMessage().startswith(_NO_ADAPTER) or not record.exc_info:
        return True
    error = record.exc_info[1]
    return not (isinstance(error, ModuleNotFoundError) and error.name == "dbt")


@functools.cache
def expect_dbt_elsewhere() -> None:
    """dbt runs in its own environment (``.venv-dbt``), so dagster-dbt cannot import dbt-core
    here to make the adapter handle it uses only for column metadata and row counts, which these
    assets never fetch; it would log that, with a traceback, as a warning on every dbt step. Only
    that case is silenced: an adapter error of any other kind still shows. Once per process."""
    logging.getLogger("dagster.builtin").addFilter(_not_the_missing_dbt_core)
