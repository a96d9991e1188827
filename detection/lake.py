"""The parquet lake that raw mail lands in: daily partitions of messages and recipients, plus a
quarantine table. Files are written atomically (temp name, then rename)."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from detection.schema import MESSAGES, QUARANTINE, RECIPIENTS, URLS

TABLES = {"messages": MESSAGES, "recipients": RECIPIENTS, "urls": URLS}


def _write(table: pa.Table, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def partition_dir(lake_dir: Path, table: str, day: date) -> Path:
    return lake_dir / table / f"date={day.isoformat()}"


def write_day(lake_dir: Path, day: date, tables: dict[str, pa.Table], part: str = "part-0") -> None:
    """Replace one day's partition of every table (messages, recipients, urls)."""
    for name, schema in TABLES.items():
        _write(tables[name].cast(schema), partition_dir(lake_dir, name, day) / f"{part}.parquet")


def write_quarantine(lake_dir: Path, day: date, rows: list[dict[str, str]]) -> Path:
    """Replace one day's quarantine partition."""
    path = partition_dir(lake_dir, "quarantine", day) / "part-0.parquet"
    _write(pa.Table.from_pylist(rows, schema=QUARANTINE), path)
    return path


def empty_tables() -> dict[str, pa.Table]:
    return {name: schema.empty_table() for name, schema in TABLES.items()}
