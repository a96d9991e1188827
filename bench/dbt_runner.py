"""Runs one dbt plan of ``bench.dbt_engines`` inside dbt's own environment (``.venv-dbt``), which
has dbt, its adapters, DuckDB and (with the ``engines`` group) PySpark, but not this project's
packages: standard library, dbt and the engines only, no project imports.

    .venv-dbt/bin/python -P bench/dbt_runner.py PLAN.json

The plan (written by ``bench.dbt_engines``): ``engine``, ``schema``, ``out``, ``environment``
(variables to set) and ``steps``, each a list of ``copies`` (source and destination folders:
the window's days landed into the plan's lake) and the ``args`` of one dbt invocation. Every
invocation runs in this process through dbt's Python API, so Spark's session (its JVM and
metastore, about half a minute to start) is started once per plan. At the end each base table is
written to ``OUT/tables/NAME/`` as parquet; the seconds of each invocation and the tables' row
counts go to ``OUT/report.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path


def _invoke(args: list[str]) -> float:
    from dbt.cli.main import dbtRunner  # pyright: ignore[reportMissingImports]

    started = time.perf_counter()
    result = dbtRunner().invoke(args)
    if not result.success:
        raise SystemExit(f"dbt {' '.join(args[:1])} failed: {result.exception or 'see the log'}")
    return time.perf_counter() - started


def _dump_tables(engine: str, schema: str, out: Path) -> dict[str, int]:
    """Every base table (not the staging views) to ``out/tables/NAME/`` as parquet; row counts
    returned."""
    target = out / "tables"
    counts: dict[str, int] = {}
    if engine == "spark":
        from pyspark.sql import SparkSession  # pyright: ignore[reportMissingImports]

        spark = SparkSession.builder.getOrCreate()
        for table in spark.catalog.listTables(schema):
            if table.tableType == "VIEW" or table.isTemporary:
                continue
            frame = spark.table(f"{schema}.{table.name}")
            frame.coalesce(1).write.mode("overwrite").parquet(str(target / table.name))
            counts[table.name] = frame.count()
        spark.stop()
    else:
        import duckdb

        # the same settings as dbt's own connection in this process (DuckDB refuses a second
        # connection to one file with others)
        with duckdb.connect(os.environ["ATTACK_DETECTION_DUCKDB_PATH"]) as con:
            names = [
                r[0]
                for r in con.execute(
                    "select table_name from information_schema.tables"
                    " where table_type = 'BASE TABLE'"
                ).fetchall()
            ]
            for name in names:
                (target / name).mkdir(parents=True)
                con.execute(f"copy {name} to '{target / name}/part-0.parquet' (format parquet)")
                counts[name] = con.execute(f"select count(*) from {name}").fetchone()[0]  # type: ignore[index]
    return counts


def main(plan_path: str) -> None:
    plan = json.loads(Path(plan_path).read_text())
    out = Path(plan["out"])
    os.environ.update(plan["environment"])
    os.chdir(out)
    seconds = []
    for step in plan["steps"]:
        for source, destination in step["copies"]:
            shutil.copytree(source, destination)
        seconds.append(_invoke(step["args"]))
    tables = _dump_tables(plan["engine"], plan["schema"], out)
    (out / "report.json").write_text(json.dumps({"seconds": seconds, "tables": tables}))


if __name__ == "__main__":
    main(sys.argv[1])
