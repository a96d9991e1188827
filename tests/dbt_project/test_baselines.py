"""dbt baselines against the online implementation: point-in-time correctness, no leakage, and
parity between the serving snapshot + online state and the feature mart."""

import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from detection import lake
from detection.behaviour import BEHAVIOUR_FEATURES, SNAPSHOT_TABLES, BehaviourState
from detection.schema import messages_to_tables
from detection.simulation.generator import SimulationConfig, simulate

PROJECT = Path(__file__).resolve().parents[2] / "dbt_project"
CONFIG = SimulationConfig(days=8, tenants=2, employees=15, attack_rate=0.05, seed=17)


def _dbt_build(lake_dir: Path, duckdb_path: Path) -> None:
    env = {**os.environ, "ATTACK_DETECTION_LAKE_DIR": str(lake_dir), "ATTACK_DETECTION_DUCKDB_PATH": str(duckdb_path)}
    subprocess.run([str(Path(sys.executable).with_name("dbt")), "build", "--profiles-dir", ".", "--quiet"],
                   cwd=PROJECT, env=env, check=True)


def _mart(duckdb_path: Path) -> dict[str, tuple]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute(f"select message_id, {', '.join(BEHAVIOUR_FEATURES)} from fct_message_behaviour").fetchall()
    return {r[0]: r[1:] for r in rows}


def _same(online: float, mart: float | None) -> bool:
    return (mart is None and math.isnan(online)) or (mart is not None and math.isclose(online, mart))


@pytest.fixture(scope="module")
def days():
    return list(simulate(CONFIG))


@pytest.fixture(scope="module")
def builds(days, tmp_path_factory, dbt_manifest):
    """Two builds: the first six days only, then all eight (later days added)."""
    root = tmp_path_factory.mktemp("dbt")
    for day, messages in days:
        lake.write_day(root / "lake", day, messages_to_tables(messages))
    partial = root / "partial_lake"
    shutil.copytree(root / "lake", partial)
    for day, _ in days[6:]:
        for table in lake.TABLES:
            shutil.rmtree(lake.partition_dir(partial, table, day))
    _dbt_build(partial, root / "partial.duckdb")
    _dbt_build(root / "lake", root / "full.duckdb")
    return root / "partial.duckdb", root / "full.duckdb"


def test_adding_later_days_does_not_change_earlier_features(builds):
    partial, full = _mart(builds[0]), _mart(builds[1])
    assert len(full) > len(partial) > 0
    changed = [m for m, values in partial.items() if values != full[m]]
    assert changed == []


def test_mart_equals_online_replay_in_arrival_order(days, builds):
    mart = _mart(builds[1])
    state = BehaviourState()
    messages = sorted((m for _, ms in days for m in ms), key=lambda m: (m.received_at, m.message_id))
    mismatches = []
    for message in messages:
        online = state.features(message)
        mismatches += [(message.message_id, name) for name, expected in zip(BEHAVIOUR_FEATURES, mart[message.message_id], strict=True)
                       if not _same(online[name], expected)]
        state.observe(message)
    assert mismatches == []
    assert any(v[BEHAVIOUR_FEATURES.index("recipient_has_replied")] for v in mart.values())
    for name in ("url_domains_new_to_tenant", "known_sender_new_link_domains",
                 "sender_lookalike_of_known_domain", "url_lookalike_of_known_domain",
                 "display_name_seen_internal"):
        assert any(v[BEHAVIOUR_FEATURES.index(name)] for v in mart.values()), f"{name} never fires"


def test_serving_snapshot_reproduces_the_mart_for_new_mail(days, builds):
    """Snapshot from the first six days, then score days seven and eight online: same features
    as the mart built over all eight days."""
    with duckdb.connect(str(builds[0]), read_only=True) as con:
        tables = {name: pa.Table.from_pandas(con.execute(f"select {', '.join(schema.names)} from dim_{name}").df(),
                                             preserve_index=False).cast(schema)
                  for name, schema in SNAPSHOT_TABLES.items()}
    state = BehaviourState.from_tables(tables)
    mart = _mart(builds[1])
    new_mail = sorted((m for _, ms in days[6:] for m in ms), key=lambda m: (m.received_at, m.message_id))
    assert len(new_mail) > 100
    for message in new_mail:
        online = state.features(message)
        for name, expected in zip(BEHAVIOUR_FEATURES, mart[message.message_id], strict=True):
            assert _same(online[name], expected), (message.message_id, name, online[name], expected)
        state.observe(message)
