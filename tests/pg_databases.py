"""Fresh PostgreSQL databases for the server fixtures (`LIBERRY_TEST_SERVER_DB=postgresql`).

Each is created on the scratch cluster named by `LIBERRY_TEST_POSTGRES_URL` (see
scripts/scratch_postgres.sh) and dropped afterwards, so `fresh_server` starts truly empty and
the store tests that empty `liberry_test` itself never meet the server's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url


def server_db_backend() -> str:
    """`sqlite` (the default) or `postgresql`: where the `server` fixtures keep their data."""
    backend = os.environ.get("LIBERRY_TEST_SERVER_DB", "sqlite").strip().lower() or "sqlite"
    if backend not in ("sqlite", "postgresql"):
        raise RuntimeError(f"LIBERRY_TEST_SERVER_DB must be sqlite or postgresql, not {backend!r}")
    if backend == "postgresql" and not os.environ.get("LIBERRY_TEST_POSTGRES_URL"):
        raise RuntimeError(
            "LIBERRY_TEST_SERVER_DB=postgresql needs LIBERRY_TEST_POSTGRES_URL "
            '(eval "$(bash scripts/scratch_postgres.sh start)")'
        )
    return backend


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the scratch cluster (its SQLAlchemy URL), dropped on exit."""
    base = make_url(os.environ["LIBERRY_TEST_POSTGRES_URL"])
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    # CREATE/DROP DATABASE cannot run inside a transaction.
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            # FORCE: a test may leave a pooled connection behind (PostgreSQL 13+).
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
