"""Shared fixtures: a real liberry server on 127.0.0.1 with a real SQLite file, or a real
PostgreSQL database of its own with `LIBERRY_TEST_SERVER_DB=postgresql` (scripts/test.sh runs
tests/server and tests/api a second time that way); its files under its data dir, or in a
bucket of its own on a real S3 API (moto's server) with `LIBERRY_TEST_STORAGE=s3`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from liberry.server import ServerHandle, start
from tests.pg_databases import scratch_database, server_db_backend
from tests.s3_moto import moto_s3, new_bucket, server_storage_backend

SERVER_DB = server_db_backend()
SERVER_STORAGE = server_storage_backend()

# Never let a developer's own W&B / liberry settings leak into the tests.
for _var in (
    "WANDB_API_KEY",
    "WANDB_BASE_URL",
    "LIBERRY_API_KEY",
    "LIBERRY_BASE_URL",
    "LIBERRY_DATABASE_URL",
    "LIBERRY_STORAGE",
):
    os.environ.pop(_var, None)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, for the session (the AWS_* variables point at it)."""
    with moto_s3() as endpoint:
        yield endpoint


def _storage_url(request: pytest.FixtureRequest, label: str) -> str | None:
    if SERVER_STORAGE != "s3":
        return None
    return new_bucket(request.getfixturevalue("s3_endpoint"), label)


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServerHandle]:
    """One server for the whole session; tests isolate themselves by project name."""
    data_dir: Path = tmp_path_factory.mktemp("liberry-data")
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("session")) if SERVER_DB != "sqlite" else None
        storage = _storage_url(request, "session")
        yield stack.enter_context(
            start(data_dir=data_dir, port=0, database_url=url, storage_url=storage)
        )


@pytest.fixture
def fresh_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerHandle]:
    """A server of its own, for tests that need an empty database."""
    with ExitStack() as stack:
        url = stack.enter_context(scratch_database("fresh")) if SERVER_DB != "sqlite" else None
        storage = _storage_url(request, "fresh")
        yield stack.enter_context(
            start(data_dir=tmp_path / "data", port=0, database_url=url, storage_url=storage)
        )


@pytest.fixture
def project_name(request: pytest.FixtureRequest) -> str:
    """A project name unique to the test, so tests sharing `server` do not see each other."""
    import re
    import uuid

    base = re.sub(r"[^a-zA-Z0-9_-]+", "-", request.node.name)[:40]
    return f"{base}-{uuid.uuid4().hex[:6]}"
