"""Migrations and the first-run bootstrap run once when many processes start together.

`liberry server --workers N` (or servers on several hosts) against one new PostgreSQL
database: without the advisory lock the processes race in `CREATE TABLE` and the first
admin. Real processes, a real PostgreSQL (the scratch cluster, one fresh database).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from liberry.server.store.db import SCHEMA_VERSION
from tests.pg_databases import scratch_database

PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")

# Each process opens the store (migrate) and bootstraps; it prints the key if it made one.
# They all wait for one moment after their imports, so they really do start together.
_OPEN = """
import sys, time
from liberry.server.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
store = Store(sys.argv[1], key_secret=b"s" * 32)
print(store.bootstrap() or "")
store.close()
"""


@pytest.mark.skipif(not PG_URL, reason="set LIBERRY_TEST_POSTGRES_URL to run on PostgreSQL")
def test_processes_starting_together_migrate_and_bootstrap_once() -> None:
    with scratch_database("migrate") as url:
        at = str(time.time() + 6)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPEN, url, at],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        assert all(code == 0 for code, _, _ in results), [err for _, _, err in results]
        keys = [out.strip() for _, out, _ in results if out.strip()]
        assert len(keys) == 1  # one admin, one key, printed by one process
        engine = create_engine(url)
        with engine.connect() as conn:
            version = conn.execute(
                text("SELECT value FROM meta WHERE key = 'schema_version'")
            ).scalar_one()
            users = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
        engine.dispose()
        assert int(version) == SCHEMA_VERSION and users == 1
