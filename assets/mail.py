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

from assets.report_links import runbook
from assets.resources import LakeResource, WorkDirResource, real_mail_dir
from detection.features.behaviour import POOLED_TENANT_PREFIX
from detection.mail import lake
from detection.mail.ingest import ingest
from detection.mail.schema import messages_to_tables
from detection.model.intervals import wilson
from detection.simulation.corpus_text import HOLD_BACK_SHARE, held_back_ids, write_pool
from detection.simulation.generator import SimulationConfig
from detection.simulation.to_lake import write_simulation
from detection.storage import Location
from detection.workdir import WorkDir

GROUP = "mail"
MAIL_START = "2026-01-05"  # the simulated world's first day, and the first partition
MAIL_DAYS = dg.DailyPartitionsDefinition(start_date=MAIL_START)
SOURCES = ("simulated", "drop", "path")
# the demo world's attack mix: even enough that every category has evidence in a week
DEMO_ATTACK_MIX = {
    "credential_phishing": 0.25,
    "bec": 0.15,
    "vendor_fraud": 0.15,
    "account_takeover": 0.15,
    "malware": 0.15,
    "extortion_scam": 0.15,
}


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
    tenants: int = Field(default=10, description="simulated organisations")
    employees: int = Field(default=30, description="employees per simulated organisation")
    seed: int = Field(default=7, description="simulator seed: the same seed gives the same mail")
    attack_rate: float = Field(
        default=0.1,
        description="share of attacks: the demo world's 10% (with an even mix) puts over 300 "
        "attacks, and at least 30 of every category, in its test week, enough evidence for the "
        "gate; the benchmark world uses a realistic 0.5%",
    )
    attack_mix: dict[str, float] = Field(
        default_factory=lambda: dict(DEMO_ATTACK_MIX),
        description="relative weight of each attack category",
    )
    text_corpus: str = Field(
        default="",
        description="a labelled real corpus whose words the simulated mail takes (kept, the "
        "world simulated); empty: $ATTACK_DETECTION_REAL_MAIL_DIR, else ../shared/data/real-mail, "
        "and the templates when it is absent; 'none': the templates",
    )
    text_late_from_day: int = Field(
        default=28,
        description="simulated day index from which words come only from the corpus's held-back "
        "latest share (never landed as training rows): the demo world's validation and test weeks",
    )
    text_early: bool = Field(
        default=False,
        description="words from the corpus in the days before text_late_from_day too (False: "
        "templates there, real words only in the last days)",
    )
    hard_case_share: float = Field(
        default=0.3,
        description="share of BEC, vendor-fraud and account-takeover attacks drawn as hard cases "
        "(clean content: behaviour must catch them)",
    )
    label_noise: float = Field(
        default=0.0,
        description="share of simulated mail labelled wrongly (safe reported as phish, attacks "
        "nobody noticed)",
    )
    hold_back_latest: float = Field(
        default=-1.0,
        description="with 'path': the share of each source's latest labelled messages not landed "
        "(kept for the simulated world's last days); -1: 0.1 for a pooled 'corpus:' tenant, "
        "else 0",
    )
    drift_day: int = Field(
        default=-1, description="simulated day index from which the drift scenario starts; -1: none"
    )
    workers: int = Field(default=2, description="simulator processes (the output is identical)")


def text_pool(config: MailSourceConfig, work: WorkDir) -> "Location | None":
    """The simulator's pool of real words (built once per corpus), or None for the templates."""
    if config.text_corpus == "none":
        return None
    corpus = Path(config.text_corpus) if config.text_corpus else real_mail_dir()
    manifest = corpus / "manifest.csv"
    if not manifest.is_file():
        return None
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:16]
    path = work.text_pool(f"{digest}-{HOLD_BACK_SHARE}")
    return path if path.is_file() else write_pool(corpus, path, HOLD_BACK_SHARE)


def _simulated(
    config: MailSourceConfig, days: list[date], lake_dir: "Location", pool: "Location | None"
) -> dict[str, Any]:
    start = date.fromisoformat(MAIL_START)
    sim = SimulationConfig(
        days=max(1, max((d - start).days for d in days) + 1),
        tenants=config.tenants,
        employees=config.employees,
        seed=config.seed,
        attack_rate=config.attack_rate,
        start=start,
        drift_day=None if config.drift_day < 0 else config.drift_day,
        attack_mix=dict(config.attack_mix),
        text_pool=str(pool) if pool else "",
        text_late_from=config.text_late_from_day,
        text_early=config.text_early,
        hard_case_share=config.hard_case_share,
        label_noise=config.label_noise,
    )
    counts = write_simulation(sim, lake_dir, config.workers, [(d - start).days for d in days])
    for day in days:
        lake.write_quarantine(lake_dir, day, [])
    return {
        "messages": sum(counts.values()),
        "quarantined": 0,
        "quarantine_rate": 0.0,
        "categories": dict(counts),
        "words": f"real, from {pool}" if pool else "templates (no labelled corpus)",
    }


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
    if config.source == "path" and not Path(config.path).exists():
        raise dg.Failure(
            f"source='path': {config.path} does not exist (nothing was landed); give a directory "
            "or file of .eml/mbox mail, or a labelled corpus with manifest.csv"
        )
    totals: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    for day in days:
        folder = Path(config.path) if config.source == "path" else lake_store.drop / day.isoformat()
        result = ingest([folder], tenant_id=config.tenant_id) if folder.exists() else None
        messages = result.messages if result else []
        share = config.hold_back_latest
        if share < 0:
            share = HOLD_BACK_SHARE if config.tenant_id.startswith(POOLED_TENANT_PREFIX) else 0.0
        if share > 0:
            held = held_back_ids(messages, share)
            messages = [m for m in messages if m.message_id not in held]
            totals.update(held_back=len(held))
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
    inputs = totals["parsed"] + totals["quarantined"]
    return {
        "messages": totals["parsed"],
        "quarantined": totals["quarantined"],
        "quarantine_rate": round(totals["quarantined"] / inputs, 6) if inputs else 0.0,
        "duplicates": totals["duplicates"],
        "held_back": totals["held_back"],
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
    context: dg.AssetExecutionContext,
    config: MailSourceConfig,
    lake_store: LakeResource,
    work_dir: WorkDirResource,
) -> dg.MaterializeResult:
    """Parsed mail of each day as parquet partitions (messages, recipients, urls) plus a
    quarantine table with a reason per unparseable input. Replaces only its own partitions."""
    if config.source not in SOURCES:
        raise dg.Failure(f"unknown mail source {config.source!r}; use one of {', '.join(SOURCES)}")
    days = [date.fromisoformat(key) for key in context.partition_keys]
    if config.source == "simulated":
        pool = text_pool(config, work_dir.open())
        summary = _simulated(config, days, lake_store.lake, pool)
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


QUARANTINE_CHECK = "quarantine_rate_within_bound"


class QuarantineCheckConfig(dg.Config):
    max_rate: float = Field(
        default=0.02,
        description="the share of a run's inputs that may be quarantined before on-call is warned",
    )


@dg.asset_check(asset=raw_messages, name=QUARANTINE_CHECK, blocking=False)
def quarantine_rate_check(
    context: dg.AssetCheckExecutionContext, config: QuarantineCheckConfig
) -> dg.AssetCheckResult:
    """WARN. The share of the last landing's inputs that could not be parsed and went to the
    quarantine table instead of the lake (each with its reason). Quarantined mail is not scored
    by the pipeline, so a rise is either a broken feed (an exporter writing empty or truncated
    files) or somebody sending mail built to be unreadable. Read `quarantine_reasons` in the
    materialisation, then the rows of `quarantine/` for the day (names and reasons, no bodies);
    fix the feed, or score the files with `attack-detection score`, which gives unreadable mail
    the `suspicious` verdict."""
    event = context.instance.get_latest_materialization_event(raw_messages.key)
    materialization = event.asset_materialization if event else None
    if event is None or materialization is None:
        return dg.AssetCheckResult(
            passed=True,
            metadata={
                "judged": False,
                "not_judged": "no mail has landed yet",
                **runbook(QUARANTINE_CHECK),
            },
        )
    metadata = materialization.metadata

    def count(name: str) -> int:
        entry = metadata.get(name)
        return int(entry.value) if entry is not None else 0  # type: ignore[arg-type]

    quarantined, parsed = count("quarantined"), count("messages")
    inputs = quarantined + parsed
    rate = quarantined / inputs if inputs else 0.0
    low, high = wilson(quarantined, inputs) if inputs else (0.0, 0.0)
    entry = metadata.get("quarantine_reasons")
    reasons = entry.value if entry is not None and isinstance(entry.value, dict) else {}
    return dg.AssetCheckResult(
        passed=rate <= config.max_rate,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{quarantined} of {inputs} inputs quarantined ({rate:.2%}); the bound is "
            f"{config.max_rate:.2%}"
        ),
        metadata={
            **runbook(QUARANTINE_CHECK),
            "quarantined": quarantined,
            "inputs": inputs,
            "quarantine_rate": round(rate, 6),
            "interval_95": f"[{low:.4f}, {high:.4f}]",
            "max_rate": config.max_rate,
            "quarantine_reasons": dg.MetadataValue.json(reasons),
            "judged_run": event.run_id,
            "partition": materialization.partition or "",
        },
    )
