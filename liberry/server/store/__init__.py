"""The server's storage: one `Store` over a SQLAlchemy engine (SQLite by default)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine

from . import accounts
from .db import create_store_engine, migrate
from .errors import NotFound, StoreError

__all__ = ["NotFound", "Store", "StoreError"]


class Store:
    """Owns the engine; hands out read and write transactions.

    Writes use `BEGIN IMMEDIATE` on SQLite so concurrent writers queue instead of failing.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_store_engine(url)
        migrate(self.engine)
        self._key_cache: dict[str, dict[str, Any]] = {}
        self._key_lock = threading.Lock()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect().execution_options(liberry_write=True) as conn, conn.begin():
            yield conn

    def bootstrap(self, username: str = "admin") -> str | None:
        """Create the first user, its entity and an API key; the key when created, else None."""
        with self.write() as conn:
            if accounts.user_count(conn):
                return None
            user_id = accounts.create_user(conn, username, admin=True)
            return accounts.create_api_key(conn, user_id)

    def create_api_key(self, username: str, name: str = "default") -> str:
        with self.write() as conn:
            user = accounts.user_by_name(conn, username)
            if user is None:
                raise NotFound(f"no user called {username!r}")
            return accounts.create_api_key(conn, user["id"], name)

    def user_for_key(self, key: str) -> dict[str, Any] | None:
        """The key's user; cached, since every request authenticates."""
        hashed = accounts.hash_key(key)
        with self._key_lock:
            hit = self._key_cache.get(hashed)
        if hit is not None:
            return hit
        with self.read() as conn:
            user = accounts.user_for_key(conn, key)
        if user is not None:
            with self._key_lock:
                self._key_cache[hashed] = user
        return user

    def close(self) -> None:
        self.engine.dispose()
