"""Resource classes the assets take as typed parameters.

Locations come from environment variables, read when a run uses the resource (never at import
time); unset variables fall back to local defaults under ``var/`` so nothing needs setting up.
The lake and warehouse locations are environment-only on purpose: the dbt subprocess reads the
same variables (``dbt_project/profiles.yml`` and the source definitions), so the two can never
disagree. ``orchestration/resources.py`` wires these.
"""

import dataclasses
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

from detection import storage
from detection.handoff import HandoffError
from detection.model.policy import GatePolicy, PolicyError
from detection.serving.stores import ArtifactStore, open_store
from detection.storage import Location
from detection.workdir import WorkDir

if TYPE_CHECKING:
    import pandas as pd

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"
POLICY_FIELDS = tuple(f.name for f in dataclasses.fields(GatePolicy))


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default)


def real_mail_dir() -> Path:
    """The labelled real corpus: $ATTACK_DETECTION_REAL_MAIL_DIR, else ../shared/data/real-mail
    beside the repository."""
    return _env_path(
        "ATTACK_DETECTION_REAL_MAIL_DIR", REPO_ROOT.parent / "shared" / "data" / "real-mail"
    )


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse dbt builds ($ATTACK_DETECTION_DUCKDB_PATH, default
    var/warehouse.duckdb). Python only reads it: dbt is its one writer."""

    @property
    def path(self) -> Path:
        return _env_path("ATTACK_DETECTION_DUCKDB_PATH", VAR_DIR / "warehouse.duckdb")

    def read(self, sql: str) -> "pd.DataFrame":
        """Run a query on a read-only connection and return a DataFrame."""
        import duckdb

        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql).df()


class LakeResource(dg.ConfigurableResource):
    """Where raw mail lands as parquet ($ATTACK_DETECTION_LAKE_DIR, default var/lake; dbt reads
    it) and where new mail is delivered ($ATTACK_DETECTION_DROP_DIR, default var/drop)."""

    @property
    def lake(self) -> "Location":
        """A local directory or a URL such as s3://bucket/lake (detection.storage)."""
        return storage.location(os.environ.get("ATTACK_DETECTION_LAKE_DIR") or VAR_DIR / "lake")

    @property
    def drop(self) -> Path:
        """Where new mail is delivered, one YYYY-MM-DD/ directory per day."""
        return _env_path("ATTACK_DETECTION_DROP_DIR", VAR_DIR / "drop")


class WorkDirResource(dg.ConfigurableResource):
    """Where the Python stages keep their outputs ($ATTACK_DETECTION_WORK_DIR, default var/work);
    :class:`detection.workdir.WorkDir` owns the layout and the typed loaders."""

    def open(self) -> WorkDir:
        return WorkDir(
            storage.location(os.environ.get("ATTACK_DETECTION_WORK_DIR") or VAR_DIR / "work")
        )


def for_people(value: Any, digits: int = 4) -> Any:
    """A figure as people read it in the UI: floats to ``digits`` significant digits (0.00234,
    not 0.0023378141437755697), inside dicts and lists too; the exact values stay in the
    stage's own hand-off files and the bundle."""
    if isinstance(value, float):
        return value if not math.isfinite(value) else float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: for_people(item, digits) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [for_people(item, digits) for item in value]
    return value


def metadata_of(values: dict[str, object]) -> dict[str, Any]:
    """Plain values as Dagster metadata, rounded for people: objects and lists as JSON."""
    return {
        key: dg.MetadataValue.json(for_people(value))
        if isinstance(value, dict | list)
        else for_people(value)
        for key, value in values.items()
    }


@contextmanager
def handoff_failures() -> Iterator[None]:
    """A missing or outdated hand-off from another stage fails the step with its message (which
    names the asset to materialise), not with a stack trace."""
    try:
        yield
    except HandoffError as exc:
        raise dg.Failure(str(exc)) from exc


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where deployed bundles go: a directory or s3://bucket/prefix. Credentials come from the
    standard AWS chain (environment, profile, instance role), never from config."""

    uri: str = Field(
        default="",
        description="store URI; empty: $ATTACK_DETECTION_ARTIFACT_URI, else var/artifacts",
    )
    s3_endpoint_url: str = Field(
        default="",
        description="S3 endpoint (MinIO, moto); empty: $ATTACK_DETECTION_S3_ENDPOINT_URL, else AWS",
    )

    @property
    def resolved_uri(self) -> str:
        return (
            self.uri
            or os.environ.get("ATTACK_DETECTION_ARTIFACT_URI")
            or str(VAR_DIR / "artifacts")
        )

    def open(self) -> ArtifactStore:
        endpoint = (
            self.s3_endpoint_url or os.environ.get("ATTACK_DETECTION_S3_ENDPOINT_URL") or None
        )
        return open_store(self.resolved_uri, endpoint_url=endpoint)


class GatePolicyResource(dg.ConfigurableResource):
    """The gate policy (detection.model.policy.GatePolicy) set by the deployment: every blocking
    check and the candidate's operating point read it; the bundle's manifest and the audit record
    keep a copy. A field left unset here comes from $ATTACK_DETECTION_<FIELD> (e.g.
    ATTACK_DETECTION_FP_BUDGET), else from the policy's default. Never from training config."""

    fp_budget: float | None = Field(default=None, description="FPR allowed on held-out safe mail")
    recall_floor: float | None = Field(
        default=None, description="recall on the held-out days at the candidate's threshold"
    )
    real_mail_recall_floor: float | None = Field(
        default=None, description="mean recall on real mail held out by safe source"
    )
    source_fpr_cap: float | None = Field(
        default=None, description="FPR no held-out safe source may exceed"
    )
    category_recall_floor: float | None = Field(
        default=None, description="recall every attack category must reach"
    )
    category_floors: dict[str, float] | None = Field(
        default=None, description="per-category floors overriding category_recall_floor"
    )
    min_attacks: int | None = Field(
        default=None, description="minimum held-out attacks for the recall checks"
    )
    min_category_attacks: int | None = Field(
        default=None, description="minimum held-out attacks per category"
    )
    min_safe: int | None = Field(
        default=None, description="minimum held-out safe messages for the FPR check"
    )
    min_source_safe: int | None = Field(
        default=None, description="minimum safe messages per held-out real source"
    )
    champion_tolerance: float | None = Field(
        default=None, description="recall at the FP budget the challenger may lose to production"
    )
    latency_budget_ms: float | None = Field(
        default=None, description="p99 scoring latency on the replay set"
    )
    real_mail_latency_budget_ms: float | None = Field(
        default=None, description="p99 scoring latency on the real-mail replay set"
    )
    replay_messages: int | None = Field(
        default=None, description="latest landed messages replayed for the latency check"
    )
    drift_share_threshold: float | None = Field(
        default=None, description="share of drifted features from which feature_drift warns"
    )

    def policy(self) -> GatePolicy:
        try:
            base = GatePolicy.from_env(os.environ)
            return base.replace(**{name: getattr(self, name) for name in POLICY_FIELDS})
        except PolicyError as exc:
            raise dg.Failure(f"the gate policy is invalid: {exc}") from exc
