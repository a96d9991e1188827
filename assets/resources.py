"""Resource classes the assets take as typed parameters.

Locations come from environment variables, read when a run uses the resource (never at import
time); unset variables fall back to local defaults under ``var/`` so nothing needs setting up.
The lake and warehouse locations are environment-only on purpose: the dbt subprocess reads the
same variables (``dbt_project/profiles.yml`` and the source definitions), so the two can never
disagree. ``orchestration/resources.py`` wires these.
"""

import os
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
from pydantic import Field

from detection.serving.stores import ArtifactStore, open_store

REPO_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = REPO_ROOT / "var"


def _env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default)


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse dbt builds ($ATTACK_DETECTION_DUCKDB_PATH, default
    var/warehouse.duckdb). Python only reads it: dbt is its one writer."""

    @property
    def path(self) -> Path:
        return _env_path("ATTACK_DETECTION_DUCKDB_PATH", VAR_DIR / "warehouse.duckdb")

    def read(self, sql: str) -> pd.DataFrame:
        """Run a query on a read-only connection and return a DataFrame."""
        with duckdb.connect(str(self.path), read_only=True) as connection:
            return connection.execute(sql).df()


class LakeResource(dg.ConfigurableResource):
    """Where raw mail lands as parquet ($ATTACK_DETECTION_LAKE_DIR, default var/lake; dbt reads
    it) and where Python assets keep their outputs ($ATTACK_DETECTION_WORK_DIR, default
    var/work)."""

    @property
    def lake(self) -> Path:
        return _env_path("ATTACK_DETECTION_LAKE_DIR", VAR_DIR / "lake")

    @property
    def work(self) -> Path:
        return _env_path("ATTACK_DETECTION_WORK_DIR", VAR_DIR / "work")

    @property
    def drop(self) -> Path:
        """Where new mail is delivered, one YYYY-MM-DD/ directory per day
        ($ATTACK_DETECTION_DROP_DIR, default var/drop)."""
        return _env_path("ATTACK_DETECTION_DROP_DIR", VAR_DIR / "drop")

    def path(self, *parts: str) -> Path:
        target = self.work.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target


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


class GateResource(dg.ConfigurableResource):
    """The deployment gate's budgets beyond the efficacy checks (values from the environment
    when not configured)."""

    champion_tolerance: float = Field(
        default=-1.0,
        description="recall at the FP budget the challenger may lose against the serving model on "
        "the golden set, overall or in any category; <0: $ATTACK_DETECTION_CHAMPION_TOLERANCE, "
        "else 0.01",
    )
    latency_budget_ms: float = Field(
        default=-1.0,
        description="p99 scoring latency budget on the replay set; <0: "
        "$ATTACK_DETECTION_LATENCY_BUDGET_MS, else 5",
    )

    @property
    def tolerance(self) -> float:
        if self.champion_tolerance >= 0:
            return self.champion_tolerance
        return float(os.environ.get("ATTACK_DETECTION_CHAMPION_TOLERANCE", "0.01"))

    @property
    def latency_ms(self) -> float:
        if self.latency_budget_ms >= 0:
            return self.latency_budget_ms
        return float(os.environ.get("ATTACK_DETECTION_LATENCY_BUDGET_MS", "5"))
