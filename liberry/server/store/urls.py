"""Database URLs the server accepts, and the one-line errors for the ones it does not."""

from __future__ import annotations

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

__all__ = ["DatabaseUrlError", "normalize_database_url"]

# The drivers liberry is tested with; anything else would fail later, in a worse place.
_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


class DatabaseUrlError(ValueError):
    """A database URL liberry cannot use (the message is one line, for the CLI)."""


def normalize_database_url(url: str) -> str:
    """`url` with the driver liberry uses: `postgresql://` and `postgres://` (Heroku-style)
    become `postgresql+psycopg://`, the psycopg 3 driver liberry installs; SQLAlchemy would
    otherwise pick psycopg2, which is not a dependency."""
    text = url.strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text[len("postgres://") :]
    try:
        parsed = make_url(text)
    except ArgumentError:
        raise DatabaseUrlError(
            f"not a database URL: {url!r} (expected postgresql://user:pass@host:5432/db "
            "or sqlite:///path/to/liberry.db)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in _DRIVERS:
        raise DatabaseUrlError(
            f"unsupported database {backend!r} in {url!r}: liberry runs on postgresql or sqlite"
        )
    if backend == "postgresql" and driver not in ("", "psycopg"):
        raise DatabaseUrlError(
            f"unsupported PostgreSQL driver {driver!r} in {url!r}: use postgresql:// "
            "(liberry uses psycopg 3)"
        )
    if backend == "postgresql" and not parsed.database:
        raise DatabaseUrlError(f"no database name in {url!r} (postgresql://host/DBNAME)")
    return parsed.set(drivername=_DRIVERS[backend]).render_as_string(hide_password=False)
