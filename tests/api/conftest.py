"""Fixtures for `liberry.Api` tests: a client for the session server, and a seeder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import liberry
from liberry.server import ServerHandle
from tests.seed import Seeder


@pytest.fixture(scope="session")
def entity(server: ServerHandle) -> str:
    """The admin user's entity (the default entity of the server's API key)."""
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    entity = api.default_entity
    assert entity
    return entity


@pytest.fixture(scope="session")
def seeder(server: ServerHandle, entity: str) -> Seeder:
    return Seeder(server.url, server.api_key, entity)


@pytest.fixture
def api(server: ServerHandle) -> Iterator[liberry.Api]:
    """A fresh client (empty caches) for the session server."""
    with liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key) as client:
        yield client


def unique(prefix: str) -> str:
    """A project name no other test uses (for module-scoped seeded projects)."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
