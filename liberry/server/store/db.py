"""Engine creation and schema migrations.

SQLite (one file, WAL) is the default; the URL form keeps PostgreSQL a drop-in later.
Migrations are a small versioned list: each step runs once, in order, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.pool import QueuePool

from . import counts, history_blocks, tables, values
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


def _legacy_history_rows(conn: Connection, run_id: int) -> Iterator[tuple[int, int | None, str]]:
    """A run's rows of v2's `history` table (one per line), in line order, a page at a time."""
    after = -1
    while True:
        page = conn.execute(
            text(
                "SELECT line, step, data FROM history WHERE run_id = :run AND line > :after "
                "ORDER BY line LIMIT 20000"
            ),
            {"run": run_id, "after": after},
        ).all()
        if not page:
            return
        yield from ((r[0], r[1], r[2]) for r in page)
        after = page[-1][0]


def _v3_history_blocks(conn: Connection) -> None:
    """History in blocks of consecutive lines (`history_blocks`) instead of a row per line;
    v2's `history` rows are converted, then the table (and its index) dropped."""
    tables.history_blocks.create(conn, checkfirst=True)
    if not inspect(conn).has_table("history"):
        return  # a store created at v3: v1's create_all made the blocks table only
    run_ids = [r[0] for r in conn.execute(text("SELECT DISTINCT run_id FROM history"))]
    count = sum(
        history_blocks.import_line_rows(conn, run_id, _legacy_history_rows(conn, run_id))
        for run_id in run_ids
    )
    conn.execute(text("DROP TABLE history"))  # drops ix_history_run_step with it
    if count:
        log.info("converted %d history rows of %d runs into blocks", count, len(run_ids))


def _v4_sweeps(conn: Connection) -> None:
    """Sweeps, their agents and the runs their controller handed out; runs by sweep."""
    for table in (tables.sweeps, tables.sweep_agents, tables.sweep_runs):
        table.create(conn, checkfirst=True)
    if "ix_runs_project_sweep" not in {ix["name"] for ix in inspect(conn).get_indexes("runs")}:
        next(ix for ix in tables.runs.indexes if ix.name == "ix_runs_project_sweep").create(conn)


def _v5_artifacts(conn: Connection) -> None:
    """Artifact types, collections, versions, aliases, files and run usage (issue #14)."""
    for table in (
        tables.artifact_types,
        tables.artifact_collections,
        tables.artifacts,
        tables.artifact_aliases,
        tables.artifact_files,
        tables.artifact_usage,
    ):
        table.create(conn, checkfirst=True)


def _v6_reports(conn: Connection) -> None:
    """Reports (W&B's views: `upsertView`, `view`, `project.allViews`; issue #18)."""
    tables.views.create(conn, checkfirst=True)


def _v7_teams_and_key_hashes(conn: Connection) -> None:
    """Multi-user (issue #17): `team_members`, and `api_keys.hashed` saying how a key is
    hashed (0: the bare sha256 of older stores; Store converts those rows to 1, the keyed
    HMAC, when it opens with the data dir's key secret). Each existing team's creator becomes
    its first member, so whoever logged to a team entity before keeps reaching it."""
    tables.team_members.create(conn, checkfirst=True)
    if "hashed" not in {c["name"] for c in inspect(conn).get_columns("api_keys")}:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN hashed SMALLINT NOT NULL DEFAULT 0"))
    conn.execute(
        text(
            "INSERT INTO team_members (entity_id, user_id, created_at) "
            "SELECT e.id, e.user_id, e.created_at FROM entities e "
            "WHERE e.is_team AND e.user_id IS NOT NULL AND NOT EXISTS ("
            "SELECT 1 FROM team_members m WHERE m.entity_id = e.id AND m.user_id = e.user_id)"
        )
    )


def _v8_run_counts(conn: Connection) -> None:
    """Per-project run counts kept by triggers on `runs` (issue #19, 1M-run projects)."""
    counts.install_triggers(conn)


def _v9_artifact_ttl_and_tags(conn: Connection) -> None:
    """An artifact version's TTL and tags (`ttlDurationSeconds`, `tagsToAdd`): stored, where
    before they were accepted and dropped."""
    have = {c["name"] for c in inspect(conn).get_columns("artifacts")}
    if "ttl_seconds" not in have:
        conn.execute(text("ALTER TABLE artifacts ADD COLUMN ttl_seconds BIGINT"))
    if "tags" not in have:
        conn.execute(text("ALTER TABLE artifacts ADD COLUMN tags TEXT NOT NULL DEFAULT '[]'"))


# Append new steps; never edit a released one.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_initial,
    _v2_run_values,
    _v3_history_blocks,
    _v4_sweeps,
    _v5_artifacts,
    _v6_reports,
    _v7_teams_and_key_hashes,
    _v8_run_counts,
    _v9_artifact_ttl_and_tags,
]
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

        @event.listens_for(engine, "begin")
        def _on_pg_begin(conn: Connection) -> None:
            # The store's write paths read, decide, then insert (a new project, entity, run,
            # artifact type...), relying on SQLite's one writer at a time. PostgreSQL's READ
            # COMMITTED lets two such transactions (two threads, or two --workers) both insert
            # and one fail on a unique key; this lock gives writes the same one-at-a-time
            # order, across every process on the database. Reads stay concurrent. Run writes
            # (file_stream) hold it shared: they run side by side, never beside another write.
            mode = conn.get_execution_options().get("liberry_write", False)
            if mode == RUN_WRITE:
                share_with_run_writers(conn)
            elif mode:
                serialize_on(conn)

    return engine


# Any constant both sides agree on: the key of the advisory lock migrations and the first-run
# bootstrap hold on PostgreSQL ("liberry" in ASCII, as a bigint).
PG_LOCK_KEY = 0x6C69626572727900


def serialize_on(conn: Connection) -> None:
    """Hold the store-wide lock until this transaction ends, so N processes starting together
    (`liberry server --workers N`, or servers on several hosts) migrate and bootstrap once.

    SQLite needs nothing: the write transaction is `BEGIN IMMEDIATE`, which already queues
    other writers. PostgreSQL gets a transaction-scoped advisory lock, released on commit or
    rollback (a crashed process cannot leave it held), and taken before `meta` is created:
    a row lock on `meta` could not cover the very first start, when the table is missing.
    Every write transaction takes it too (see `create_store_engine`); it is re-entrant."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})


#: The `liberry_write` execution option of `Store.run_write` transactions.
RUN_WRITE = "run"


def share_with_run_writers(conn: Connection) -> None:
    """Hold the store-wide lock in shared mode until this transaction ends (PostgreSQL).

    For transactions that change rows of one existing run only, after locking that run's row
    (`runs.get_run(..., for_update=True)`): history blocks, stream lines and value rows keyed
    by the run, and the run's own row. Two of them on different runs touch no common row or
    unique key, and two on one run queue on its row lock; so they need no order among
    themselves, only against every other write (which holds the lock exclusively: a write that
    reads a run, then updates it, still sees no file_stream in between). Such a transaction
    must never take the exclusive lock itself: two of them upgrading would deadlock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": PG_LOCK_KEY})


def migrate(engine: Engine) -> int:
    """Bring the schema to SCHEMA_VERSION; returns the version found before migrating.

    Safe to call from many processes at once: the first migrates under `serialize_on`'s lock,
    the others wait for it, then find the schema current and do nothing."""
    with engine.connect().execution_options(liberry_write=True) as conn, conn.begin():
        serialize_on(conn)
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
