"""Engine creation and schema migrations.

SQLite (one file, WAL) is the default; the URL form keeps PostgreSQL a drop-in later.
Migrations are a small versioned list: each step runs once, in order, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.pool import QueuePool

from . import tables, values
from .filters import install_sqlite_functions

log = logging.getLogger(__name__)


def _v1_initial(conn: Connection) -> None:
    tables.metadata.create_all(conn)


def _v2_run_values(conn: Connection) -> None:
    """`run_values`, the config/summary key index that filters and orders read; filled from
    every run's stored config and summary. (A new store already has the table from v1's
    `create_all` and no runs, so both steps are no-ops there.)"""
    tables.run_values.create(conn, checkfirst=True)
    count = values.reindex_runs(conn)
    if count:
        log.info("indexed the config and summary keys of %d runs", count)


# Append new steps; never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_run_values]
SCHEMA_VERSION = len(MIGRATIONS)


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def create_store_engine(url: str) -> Engine:
    """An engine tuned for the server: WAL + busy timeout on SQLite, a modest pool."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            poolclass=QueuePool,
            pool_size=8,
            max_overflow=8,
            connect_args={"check_same_thread": False, "timeout": 30},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy own transactions: pysqlite's implicit BEGIN misses some statements.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-16384")  # 16 MiB per connection: RSS stays bounded
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()
            install_sqlite_functions(dbapi_conn)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            # IMMEDIATE takes the write lock up front, so concurrent writers queue on
            # busy_timeout instead of failing with "database is locked" mid-transaction.
            write = conn.get_execution_options().get("liberry_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    else:
        engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
    return engine


def migrate(engine: Engine) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before migrating."""
    with engine.connect().execution_options(liberry_write=True) as conn, conn.begin():
        tables.meta.create(conn, checkfirst=True)
        row = conn.execute(
            select(tables.meta.c.value).where(tables.meta.c.key == "schema_version")
        ).first()
        found = int(row[0]) if row else 0
        if found > SCHEMA_VERSION:
            raise RuntimeError(
                f"the database schema is version {found}, newer than this liberry "
                f"({SCHEMA_VERSION}); upgrade liberry to open it"
            )
        for version in range(found, SCHEMA_VERSION):
            log.info("migrating store to schema version %d", version + 1)
            MIGRATIONS[version](conn)
        if found != SCHEMA_VERSION:
            conn.execute(text("DELETE FROM meta WHERE key = 'schema_version'"))
            conn.execute(
                tables.meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION))
            )
    return found
