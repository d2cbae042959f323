"""Fixtures of the store's tests: one `Store` per test on SQLite and on the scratch
PostgreSQL (skipped without LIBERRY_TEST_POSTGRES_URL), with `admin/p` created."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from liberry.server.store import Store, projects
from liberry.server.store import tables as t
from liberry.server.store.db import sqlite_url

PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")  # a scratch database, emptied first


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "db.sqlite")
    elif PG_URL:
        url = PG_URL
        engine = create_engine(url)
        t.metadata.drop_all(engine)
        engine.dispose()
    else:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to run against PostgreSQL")
    s = Store(url)
    s.bootstrap()
    with s.write() as conn:
        projects.upsert_project(conn, "admin", "p", user_id=None)
    yield s
    s.close()
