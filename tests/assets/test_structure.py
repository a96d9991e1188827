"""How the stages may depend on each other: an asset module imports another asset module's
assets, checks and asset keys (for deps) and guards, never its file names, paths or loaders;
those live in detection.workdir, behind typed hand-offs."""

import ast
import importlib
from pathlib import Path

import dagster as dg

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SHARED = {"resources", "dbt_project", "report_links"}  # resources, dbt handle, UI links


def _imports_from_stage_modules() -> list[tuple[str, str, str]]:
    found = []
    for path in sorted(ASSETS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("assets."):
                source = node.module.removeprefix("assets.")  # type: ignore[union-attr]
                if source not in SHARED:
                    found += [(path.stem, source, alias.name) for alias in node.names]
    return found


def test_stage_modules_share_assets_not_files_or_loaders():
    imports = _imports_from_stage_modules()
    assert imports, "expected stage modules to depend on each other's assets"
    allowed = (dg.AssetsDefinition, dg.AssetChecksDefinition, dg.AssetKey, dg.PartitionsDefinition)
    offending = []
    for importer, source, name in imports:
        value = getattr(importlib.import_module(f"assets.{source}"), name)
        is_mapping_of_keys = isinstance(value, dict) and all(
            isinstance(v, dg.AssetKey) for v in value.values()
        )
        is_guard = callable(value) and name == "require_same_run"
        is_name = isinstance(value, str) and not any(ch in value for ch in "./")  # pools, checks
        if not (isinstance(value, allowed) or is_mapping_of_keys or is_guard or is_name):
            offending.append(f"{importer} imports {name} from assets.{source}")
    assert offending == []


def test_no_stage_module_names_a_work_directory_file():
    for path in ASSETS.glob("*.py"):
        text = path.read_text()
        for name in ("candidate.json", "evaluation.json", "training_table.parquet", "store.path("):
            assert name not in text, f"{path.name} names {name!r}; use detection.workdir.WorkDir"
