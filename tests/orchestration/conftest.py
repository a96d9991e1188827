"""Dagster instances for the orchestration tests: SQLite (Dagster's default) and, where the
engines group is installed, PostgreSQL started by pgserver (a real server on a Unix socket, one
fresh database per test), the storage a production deployment uses."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.system_deps import postgres_missing, require


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    require(postgres_missing())
    from pgserver import get_server  # pyright: ignore  (the engines group; not re-exported)

    server = get_server(Path(tmp_path_factory.mktemp("postgres")), cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


def postgres_storage(server: object) -> dict[str, object]:
    """Instance overrides for a new, empty database on ``server``."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    server.psql(f"create database {name};")  # type: ignore[attr-defined]
    # SQLAlchemy 2.1 defaults postgresql:// to psycopg 3; dagster-postgres is tested on psycopg2
    url = server.get_uri(name).replace("postgresql://", "postgresql+psycopg2://", 1)  # type: ignore[attr-defined]
    return {"storage": {"postgres": {"postgres_url": url}}}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.engines)])
def instance(request: pytest.FixtureRequest) -> Iterator[dg.DagsterInstance]:
    """A persistent test instance on each storage (parametrised: every test runs on both)."""
    overrides = None
    if request.param == "postgres":
        overrides = postgres_storage(request.getfixturevalue("postgres_server"))
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance
