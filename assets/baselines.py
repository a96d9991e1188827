"""Baselines stage: the dbt project as assets, partitioned by day like the mail; dbt tests become
asset checks.

Each run passes its partition window to dbt as the vars ``window_start``/``window_end`` and the
incremental models rewrite only the mail inside it (computed from all mail before its end). The
window widens to cover any landed mail dated outside the partition days (a directory of old real
mail lands in one partition). ``full_refresh`` rebuilds every table from all landed mail.
"""

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from pydantic import Field

from assets.dbt_project import dbt_project, expect_dbt_elsewhere
from assets.mail import MAIL_DAYS
from assets.resources import LakeResource
from detection.features import behaviour
from detection.features.behaviour import SNAPSHOT_TABLES
from detection.mail import lake

WAREHOUSE_POOL = "duckdb_warehouse"
BEHAVIOUR_MART = dg.AssetKey("fct_message_behaviour")
# the serving snapshot: each table of detection.features.behaviour.SNAPSHOT_TABLES is the dbt
# model dim_<table> (a test holds their columns equal)
SNAPSHOT_MODELS = {name: dg.AssetKey(f"dim_{name}") for name in SNAPSHOT_TABLES}
VAR_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class BaselineConfig(dg.Config):
    full_refresh: bool = Field(
        default=False,
        description="rebuild every baseline table from all landed mail (dbt --full-refresh) "
        "instead of rewriting only this run's partition window; use after landing a day that "
        "is older than days already built",
    )


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


def partition_window(
    start: datetime, end: datetime, landed: tuple[datetime, datetime] | None
) -> dict[str, str]:
    """The dbt vars for a run over [start, end), widened to the landed mail's own dates."""
    if landed is not None:
        start = min(start, landed[0])
        end = max(end, landed[1] + timedelta(microseconds=1))
    as_utc = [t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC) for t in (start, end)]
    return {
        "window_start": as_utc[0].strftime(VAR_FORMAT),
        "window_end": as_utc[1].strftime(VAR_FORMAT),
    }


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
        partitions_def=MAIL_DAYS,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def baseline_models(
        context: dg.AssetExecutionContext,
        dbt: DbtCliResource,
        lake_store: LakeResource,
        config: BaselineConfig,
    ):
        """Point-in-time behavioural baselines, the feature mart and the serving snapshot,
        rewritten for this run's partition window."""
        window = context.partition_time_window
        days = [date.fromisoformat(key) for key in context.partition_keys]
        window_vars = partition_window(
            window.start, window.end, lake.arrival_span(lake_store.lake, days)
        )
        args = ["build", "--vars", json.dumps({**behaviour.dbt_vars(), **window_vars})]
        if config.full_refresh:
            args.append("--full-refresh")
        context.log.info(f"dbt {' '.join(args)}")
        expect_dbt_elsewhere()
        yield from dbt.cli(args, context=context).stream()

    return baseline_models
