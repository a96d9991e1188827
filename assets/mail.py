"""Mail stage: ``raw_messages`` lands one day of mail per partition in the parquet lake.

A partition is the mail that arrived on that day: simulated (day ``i`` of the simulated world,
which starts on ``MAIL_START``), the files delivered into the drop folder's ``YYYY-MM-DD/``
directory, or, for one partition, any directory of real .eml/mbox mail. A range of partitions runs
in a single run (single-run backfill policy).
"""

import hashlib
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from assets.resources import LakeResource
from detection.mail import lake
from detection.mail.ingest import ingest
from detection.mail.schema import messages_to_tables
from detection.simulation.generator import SimulationConfig
from detection.simulation.to_lake import write_simulation

GROUP = "mail"
MAIL_START = "2026-01-05"  # the simulated world's first day, and the first partition
MAIL_DAYS = dg.DailyPartitionsDefinition(start_date=MAIL_START)
SOURCES = ("simulated", "drop", "path")


class MailSourceConfig(dg.Config):
    source: str = Field(
        default="simulated",
        description="'simulated' (the built-in simulator), 'drop' (files in the drop folder's "
        "YYYY-MM-DD/ directory), or 'path' (a directory of real .eml/mbox mail, one partition)",
    )
    path: str = Field(default="", description="with source='path': a directory or file of mail")
    tenant_id: str = Field(
        default="default",
        description="with 'drop'/'path': the mail's tenant; a labelled corpus of unrelated "
        "mailboxes lands as 'corpus:<name>' (no organisational history: its behavioural "
        "features are unknown, and the real-mail evaluation holds it out by source)",
    )
    tenants: int = Field(default=3, description="simulated organisations")
    employees: int = Field(default=30, description="employees per simulated organisation")
    seed: int = Field(default=7, description="simulator seed: the same seed gives the same mail")
    attack_rate: float = Field(
        default=0.03,
        description="share of attacks; above the real ~1% so a small demo window has "
        "enough attacks to learn from",
    )
    drift_day: int = Field(
        default=-1, description="simulated day index from which the drift scenario starts; -1: none"
    )
    workers: int = Field(default=2, description="simulator processes (the output is identical)")


def _simulated(config: MailSourceConfig, days: list[date], lake_dir: Path) -> dict[str, Any]:
    start = date.fromisoformat(MAIL_START)
    sim = SimulationConfig(
        days=max(1, max((d - start).days for d in days) + 1),
        tenants=config.tenants,
        employees=config.employees,
        seed=config.seed,
        attack_rate=config.attack_rate,
        start=start,
        drift_day=None if config.drift_day < 0 else config.drift_day,
    )
    counts = write_simulation(sim, lake_dir, config.workers, [(d - start).days for d in days])
    for day in days:
        lake.write_quarantine(lake_dir, day, [])
    return {"messages": sum(counts.values()), "quarantined": 0, "categories": dict(counts)}


def part_name(config: MailSourceConfig) -> str:
    """The file a source writes inside a day's partition: mail from a path lands beside the
    day's simulated or dropped mail (one file per path), each replacing only its own file."""
    if config.source == "path":
        digest = hashlib.sha256(str(Path(config.path).resolve()).encode()).hexdigest()[:12]
        return f"path-{digest}"
    return "part-0"


def _real(config: MailSourceConfig, days: list[date], lake_store: LakeResource) -> dict[str, Any]:
    if config.source == "path" and (len(days) != 1 or not config.path):
        raise dg.Failure(
            "source='path' needs config 'path' and exactly one partition (the day the mail "
            f"arrived); got path={config.path!r} and {len(days)} partitions"
        )
    totals: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for day in days:
        folder = Path(config.path) if config.source == "path" else lake_store.drop / day.isoformat()
        result = ingest([folder], tenant_id=config.tenant_id) if folder.exists() else None
        messages = result.messages if result else []
        tables = messages_to_tables(messages) if messages else lake.empty_tables()
        part = part_name(config)
        lake.write_day(lake_store.lake, day, tables, part=part)
        lake.write_quarantine(lake_store.lake, day, result.quarantine if result else [], part=part)
        if result:
            summary = result.summary()
            totals.update(
                parsed=summary["parsed"],
                quarantined=summary["quarantined"],
                duplicates=summary["duplicates"],
            )
            reasons.update(summary["by_reason"])
            categories.update(m.category for m in messages)
    return {
        "messages": totals["parsed"],
        "quarantined": totals["quarantined"],
        "duplicates": totals["duplicates"],
        "quarantine_reasons": dict(reasons),
        "categories": dict(categories),
    }


@dg.asset(
    group_name=GROUP,
    kinds={"python", "parquet"},
    partitions_def=MAIL_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def raw_messages(
    context: dg.AssetExecutionContext, config: MailSourceConfig, lake_store: LakeResource
) -> dg.MaterializeResult:
    """Parsed mail of each day as parquet partitions (messages, recipients, urls) plus a
    quarantine table with a reason per unparseable input. Replaces only its own partitions."""
    if config.source not in SOURCES:
        raise dg.Failure(f"unknown mail source {config.source!r}; use one of {', '.join(SOURCES)}")
    days = [date.fromisoformat(key) for key in context.partition_keys]
    if config.source == "simulated":
        summary = _simulated(config, days, lake_store.lake)
    else:
        summary = _real(config, days, lake_store)
    context.log.info(
        f"{config.source}: {summary['messages']} messages, {summary['quarantined']} quarantined, "
        f"over {len(days)} day(s) {days[0]}..{days[-1]}"
    )
    categories = summary.pop("categories")
    return dg.MaterializeResult(
        metadata={
            **{
                k: dg.MetadataValue.json(v) if isinstance(v, dict) else v
                for k, v in summary.items()
            },
            "source": config.source,
            "days": len(days),
            "lake_dir": dg.MetadataValue.path(str(lake_store.lake)),
            "messages_by_category": dg.MetadataValue.json(categories),
        }
    )
