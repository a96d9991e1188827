"""Baselines stage: the dbt project as assets; dbt tests become asset checks."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from assets.dbt_project import dbt_project

WAREHOUSE_POOL = "duckdb_warehouse"
BEHAVIOUR_MART = dg.AssetKey("fct_message_behaviour")
SNAPSHOT_MODELS = {
    "sender_baselines": dg.AssetKey("dim_sender_baselines"),
    "pair_baselines": dg.AssetKey("dim_pair_baselines"),
    "domain_baselines": dg.AssetKey("dim_domain_baselines"),
    "display_name_baselines": dg.AssetKey("dim_display_name_baselines"),
    "url_domain_baselines": dg.AssetKey("dim_url_domain_baselines"),
    "org_domain_baselines": dg.AssetKey("dim_org_domain_baselines"),
}


class BaselineTranslator(DagsterDbtTranslator):
    """Groups come from each model's ``meta.dagster_group`` (set per folder in dbt_project.yml)."""

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        node = manifest.get("nodes", {}).get(unique_id) or {}
        group = (node.get("meta") or {}).get("dagster_group") or (
            node.get("config", {}).get("meta") or {}
        ).get("dagster_group")
        return spec.replace_attributes(group_name=group) if group else spec


def build_baseline_assets() -> dg.AssetsDefinition:
    """The ``@dbt_assets`` definition, built on demand: importing this module needs no manifest."""
    project = dbt_project()
    translator = BaselineTranslator(
        settings=DagsterDbtTranslatorSettings(
            enable_asset_checks=True, enable_duplicate_source_asset_keys=True
        )
    )

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def baseline_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
        """Point-in-time behavioural baselines, the feature mart and the serving snapshot."""
        yield from dbt.cli(["build"], context=context).stream()

    return baseline_models
