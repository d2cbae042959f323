"""Shared fixtures: a real liberry server on 127.0.0.1 with a real SQLite file, or a real
PostgreSQL database of its own with `LIBERRY_TEST_SERVER_DB=postgresql` (scripts/test.sh runs
tests/server and tests/api a second time that way)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from liberry.server import ServerHandle, start
from tests.pg_databases import scratch_database, server_db_backend

SERVER_DB = server_db_backend()

# Never let a developer's own W&B / liberry settings leak into the tests.
for _var in (
    "WANDB_API_KEY",
    "WANDB_BASE_URL",
    "LIBERRY_API_KEY",
    "LIBERRY_BASE_URL",
    "LIBERRY_DATABASE_URL",
):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """One server for the whole session; tests isolate themselves by project name."""
    data_dir: Path = tmp_path_factory.mktemp("liberry-data")
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("session")) if SERVER_DB != "sqlite" else None
        yield stack.enter_context(start(data_dir=data_dir, port=0, database_url=url))


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[ServerHandle]:
    """A server of its own, for tests that need an empty database."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("fresh")) if SERVER_DB != "sqlite" else None
        yield stack.enter_context(start(data_dir=tmp_path / "data", port=0, database_url=url))


@pytest.fixture
def project_name(request: pytest.FixtureRequest) -> str:
    """A project name unique to the test, so tests sharing `server` do not see each other."""
    import re
    import uuid

    base = re.sub(r"[^a-zA-Z0-9_-]+", "-", request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"
