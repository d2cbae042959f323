"""The server's storage: one `Store` over a SQLAlchemy engine (SQLite by default)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from . import accounts
from .db import RUN_WRITE, create_store_engine, migrate, serialize_on
from .errors import NotFound, StoreError

__all__ = ["NotFound", "Store", "StoreError"]

log = logging.getLogger(__name__)


class Store:
    """Owns the engine; hands out read and write transactions.

    Writes use `BEGIN IMMEDIATE` on SQLite so concurrent writers queue instead of failing.
    """

    def __init__(self, url: str, key_secret: bytes | None = None) -> None:
        """`key_secret` keys the API-key hashes (the data dir's `key_secret` file). Without
        one, a random secret lives as long as this object: keys it issues work only through
        it, and sha256 rows of older stores are left unconverted (and unusable)."""
        self.url = url
        self.engine: Engine = create_store_engine(url)
        migrate(self.engine)
        self.key_secret = key_secret or secrets.token_bytes(32)
        if key_secret is not None:
            with self.write() as conn:
                converted = accounts.convert_legacy_hashes(conn, key_secret)
            if converted:
                log.info("re-hashed %d API key(s) with the server's key secret", converted)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(liberry_write=True) as conn, conn.begin():
            yield conn

    @contextmanager
    def run_write(self) -> Iterator[Connection]:
        """A write transaction that changes one existing run's rows only, and locks that
        run's row (`runs.get_run(..., for_update=True)`) before writing: file_stream. On
        PostgreSQL such transactions run concurrently with each other (see
        `db.share_with_run_writers`); on SQLite it is `write()`."""
        options = {"liberry_write": RUN_WRITE}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield conn

    def bootstrap(self, username: str = "admin") -> str | None:
        """Create the first user, its entity and an API key; the key when created, else None."""
        with self.write() as conn:
            serialize_on(conn)  # two servers starting on one empty database: one admin
            if accounts.user_count(conn):
                return None
            user_id = accounts.create_user(conn, username, admin=True)
            return accounts.create_api_key(conn, user_id, self.key_secret)

    def create_api_key(self, username: str, name: str = "default") -> str:
        with self.write() as conn:
            user = accounts.require_user(conn, username)
            return accounts.create_api_key(conn, user["id"], self.key_secret, name)

    def user_for_key(self, key: str) -> dict[str, Any] | None:
        """The key's user, read from the database on every call: no cache, so a rotated key
        or a deleted user (possibly by `liberry user` in another process) stops at once.
        It is one indexed lookup; the HMAC costs ~1 us."""
        with self.read() as conn:
            return accounts.user_for_key(conn, key, self.key_secret)

    def close(self) -> None:
        self.engine.dispose()
