"""The server's data directory: database, file bytes, signing secret and the admin key.

Layout: `liberry.db` (SQLite, unless a database URL names PostgreSQL), `files/` (run files
and artifact blobs, unless a storage URL names an S3 bucket), and, mode 0600: `secret` (signs
storage URLs), `key_secret` (keys the API-key hashes) and `api_key` (the first admin's key).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from .blobs import Blobs
from .objectstore import StorageError, open_object_store
from .store import Store
from .store.db import sqlite_url
from .store.urls import DatabaseUrlError, normalize_database_url


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


def _url(path: Path, database_url: str | None) -> str:
    return normalize_database_url(database_url) if database_url else sqlite_url(path / "liberry.db")


@dataclass
class DataDir:
    path: Path
    store: Store
    blobs: Blobs
    api_key: str
    created_key: bool  # True when the key was made now, so the caller prints it once

    @classmethod
    def open(
        cls, path: Path, database_url: str | None = None, storage_url: str | None = None
    ) -> DataDir:
        """Open (creating on first use) the data dir; `storage_url` (`s3://bucket/prefix`)
        keeps file bytes in a bucket instead of `files/`. The storage is checked first."""
        path = path.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        objects = open_object_store(storage_url, path / "files")
        secret = _private_secret(path / "secret")
        # Separate from the URL-signing secret: either can be replaced without the other.
        key_secret = _private_secret(path / "key_secret")
        store = Store(_url(path, database_url), key_secret=key_secret)
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
        return cls(path, store, Blobs(path / "files", secret, objects), key, created)

    @classmethod
    def attach(
        cls, path: Path, database_url: str | None = None, storage_url: str | None = None
    ) -> DataDir:
        """The data dir another process already opened: what a `--workers` process uses.

        No bootstrap and no key file written: the parent did both before starting workers
        (and printed the key once). Migration still runs, as a no-op under its lock."""
        path = path.expanduser().resolve()
        objects = open_object_store(storage_url, path / "files")
        secret = _private_secret(path / "secret")
        store = Store(_url(path, database_url), key_secret=_private_secret(path / "key_secret"))
        key_file = path / "api_key"
        key = key_file.read_text().strip() if key_file.exists() else ""
        return cls(path, store, Blobs(path / "files", secret, objects), key, False)


class DataDirError(Exception):
    """The data dir or its database cannot be opened; the message is one line, for a CLI."""


def open_data_dir(
    path: Path, database_url: str | None = None, storage_url: str | None = None
) -> DataDir:
    """`DataDir.open`, with what a person can fix (bad URL, database down, no permission,
    missing bucket, refused credentials) turned into a one-line `DataDirError` instead of a
    traceback."""
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError

    try:
        return DataDir.open(path, database_url, storage_url)
    except StorageError as exc:
        raise DataDirError(f"storage: {exc}") from None
    except DatabaseUrlError as exc:
        raise DataDirError(str(exc)) from None
    except NoSuchModuleError as exc:
        raise DataDirError(f"no driver for this database URL: {exc}") from None
    except DBAPIError as exc:
        # psycopg's message runs over several lines (host, port, hint): the first says it.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DataDirError(f"cannot open the database: {reason}") from None
    except (OSError, RuntimeError) as exc:  # an unwritable data dir; a schema newer than us
        raise DataDirError(str(exc)) from None
