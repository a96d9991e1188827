"""The dbt project on Spark (dbt-spark session mode, plain parquet tables): every model and every
dbt test builds over a small lake, an incremental window runs on top, and every table then equals
DuckDB's full build of the same days row for row."""

import math
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bench.dbt_engines import simulated_lake
from tests.system_deps import require, spark_missing

pytestmark = [pytest.mark.engines, pytest.mark.slow]

DAYS = 8


def _plan(engine: str, lake_dir: Path, out: Path, windows: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "bench.dbt_engines", "--engine", engine, "--lake", str(lake_dir),
         "--out", str(out), "--windows", windows],
        check=True, timeout=900,
    )  # fmt: skip


def _value(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 9)
    return value


def _tables(out: Path) -> dict[str, tuple[list[str], list[tuple]]]:
    """Each table's sorted column names and its rows (columns in that order), sorted."""
    tables = {}
    for folder in sorted((out / "tables").iterdir()):
        rows = pq.read_table(folder).to_pylist()
        columns = sorted(rows[0]) if rows else []
        values = [tuple(_value(row[c]) for c in columns) for row in rows]
        tables[folder.name] = (columns, sorted(values, key=repr))
    return tables


@pytest.fixture(scope="module")
def lake(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("engines")
    simulated_lake(root / "lake", DAYS, seed=18)
    return root / "lake"


def test_spark_builds_every_model_and_equals_duckdb(lake, tmp_path):
    require(spark_missing())
    _plan("duckdb", lake, tmp_path / "duckdb", f"0:{DAYS}")
    # six days built from nothing (dbt build: every model and test), then days seven and eight
    # as one incremental window, then dbt test over the result
    _plan("spark", lake, tmp_path / "spark", f"0:{DAYS - 2},{DAYS - 2}:{DAYS}")
    duck, spark = _tables(tmp_path / "duckdb"), _tables(tmp_path / "spark")
    assert len(duck) == 16, sorted(duck)  # 7 intermediate + 9 mart tables
    assert sorted(spark) == sorted(duck)
    assert len(duck["fct_message_behaviour"][1]) > 500
    for name, (columns, rows) in duck.items():
        assert spark[name][0] == columns, name
        different = set(rows) ^ set(spark[name][1])
        assert len(spark[name][1]) == len(rows) and not different, (
            f"{name}: {len(different)} rows differ, e.g. {sorted(different, key=repr)[:2]}"
        )
