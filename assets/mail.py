"""Mail stage: ``raw_messages`` lands simulated or real mail in the parquet lake."""

from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import DagsterLogManager
from pydantic import Field

from assets.resources import LakeResource
from detection import lake
from detection.ingest import ingest
from detection.schema import messages_to_tables
from detection.simulation.generator import SimulationConfig, simulate

GROUP = "mail"


class MailSourceConfig(dg.Config):
    source: str = Field(
        default="simulated",
        description="'simulated' (built-in simulator) or 'path' (real .eml/mbox mail)",
    )
    path: str = Field(
        default="", description="with source='path': a directory or file of .eml/mbox mail"
    )
    tenant_id: str = Field(
        default="default", description="with source='path': the tenant the mail belongs to"
    )
    days: int = Field(default=42, description="simulated days")
    tenants: int = Field(default=3, description="simulated organisations")
    employees: int = Field(default=30, description="employees per simulated organisation")
    seed: int = Field(default=7, description="simulator seed: the same seed gives the same mail")
    attack_rate: float = Field(
        default=0.03,
        description="share of attacks; above the real ~1% so a small demo window has "
        "enough attacks to learn from",
    )
    start: str = Field(default="2026-01-05", description="first simulated day (ISO date)")
    drift_day: int = Field(
        default=-1, description="day index from which the drift scenario starts; -1 for none"
    )


def _simulated(config: MailSourceConfig, lake_dir: Path, log: DagsterLogManager) -> dict[str, Any]:
    sim = SimulationConfig(
        days=config.days,
        tenants=config.tenants,
        employees=config.employees,
        seed=config.seed,
        attack_rate=config.attack_rate,
        start=date.fromisoformat(config.start),
        drift_day=None if config.drift_day < 0 else config.drift_day,
    )
    total, categories = 0, Counter()
    for day, messages in simulate(sim):
        lake.write_day(lake_dir, day, messages_to_tables(messages))
        total += len(messages)
        categories.update(m.category for m in messages)
    lake.write_quarantine(lake_dir, [])
    log.info(f"simulated {total} messages over {config.days} days")
    return {"messages": total, "quarantined": 0, "categories": dict(categories)}


def _real(config: MailSourceConfig, lake_dir: Path, log: DagsterLogManager) -> dict[str, Any]:
    if not config.path:
        raise dg.Failure(
            "source='path' needs config 'path' pointing at a directory of .eml/mbox mail"
        )
    result = ingest([config.path], tenant_id=config.tenant_id)
    by_day = defaultdict(list)
    for message in result.messages:
        by_day[message.received_at.date()].append(message)
    for day, messages in sorted(by_day.items()):
        lake.write_day(lake_dir, day, messages_to_tables(messages))
    lake.write_quarantine(lake_dir, result.quarantine)
    summary = result.summary()
    log.info(
        f"ingested {summary['parsed']} messages, quarantined {summary['quarantined']}, "
        f"skipped {summary['duplicates']} duplicates"
    )
    return {
        "messages": summary["parsed"],
        "quarantined": summary["quarantined"],
        "duplicates": summary["duplicates"],
        "quarantine_reasons": summary["by_reason"],
        "categories": dict(Counter(m.category for m in result.messages)),
    }


@dg.asset(group_name=GROUP, kinds={"python", "parquet"})
def raw_messages(
    context: dg.AssetExecutionContext, config: MailSourceConfig, lake_store: LakeResource
) -> dg.MaterializeResult:
    """Parsed mail as daily parquet partitions (messages, recipients) plus a quarantine table.
    Simulated by default; real .eml/mbox mail with source='path'. Replaces the whole lake."""
    if config.source not in ("simulated", "path"):
        raise dg.Failure(f"unknown mail source {config.source!r}; use 'simulated' or 'path'")
    lake_dir = lake_store.lake
    lake.clear(lake_dir)
    summary = (_simulated if config.source == "simulated" else _real)(config, lake_dir, context.log)
    if not summary["messages"]:
        raise dg.Failure("no message could be parsed; see the quarantine table for reasons")
    categories = summary.pop("categories")
    return dg.MaterializeResult(
        metadata={
            **{
                k: dg.MetadataValue.json(v) if isinstance(v, dict) else v
                for k, v in summary.items()
            },
            "source": config.source,
            "lake_dir": dg.MetadataValue.path(str(lake_dir)),
            "messages_by_category": dg.MetadataValue.json(categories),
        }
    )
