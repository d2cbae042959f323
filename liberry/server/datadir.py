"""The server's data directory: database, file bytes, signing secret and the admin key.

Layout: `liberry.db` (SQLite), `files/` (run files), and, mode 0600: `secret` (signs storage
URLs), `key_secret` (keys the API-key hashes) and `api_key` (the first admin's key).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .blobs import Blobs
from .store import Store
from .store.db import sqlite_url


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _private_secret(path: Path) -> bytes:
    """The random secret in `path`, created (mode 0600) on first use."""
    if not path.exists():
        _write_private(path, secrets.token_hex(32))
    return path.read_text().strip().encode()


@dataclass
class DataDir:
    path: Path
    store: Store
    blobs: Blobs
    api_key: str
    created_key: bool  # True when the key was made now, so the caller prints it once

    @classmethod
    def open(cls, path: Path, database_url: str | None = None) -> DataDir:
        path = path.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        secret = _private_secret(path / "secret")
        # Separate from the URL-signing secret: either can be replaced without the other.
        key_secret = _private_secret(path / "key_secret")
        store = Store(database_url or sqlite_url(path / "liberry.db"), key_secret=key_secret)
        key = store.bootstrap()
        key_file = path / "api_key"
        created = key is not None
        if key is None:
            if key_file.exists():
                key = key_file.read_text().strip()
            else:
                # The database predates the key file (or it was deleted): issue a new key.
                key = store.create_api_key("admin", "recovered")
                created = True
        if created:
            _write_private(key_file, key + "\n")
        return cls(path, store, Blobs(path / "files", secret), key, created)
