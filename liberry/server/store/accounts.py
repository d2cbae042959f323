"""Users, entities and API keys. Keys are stored as sha256 hashes only."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import Connection, func, select

from . import tables as t
from .util import now_iso

KEY_PREFIX = "local-"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """`local-` + 40 url-safe characters: the form W&B's client accepts (40+ after the dash)."""
    return KEY_PREFIX + secrets.token_hex(20)


def user_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.users)).scalar_one())


def create_user(conn: Connection, username: str, *, admin: bool = False) -> int:
    now = now_iso()
    inserted = conn.execute(
        t.users.insert().values(
            username=username,
            name=username,
            email=f"{username}@localhost",
            admin=admin,
            created_at=now,
        )
    ).inserted_primary_key
    assert inserted is not None
    user_id = inserted[0]
    conn.execute(t.entities.insert().values(name=username, user_id=user_id, created_at=now))
    return int(user_id)


def create_api_key(conn: Connection, user_id: int, name: str = "default") -> str:
    key = new_key()
    conn.execute(
        t.api_keys.insert().values(
            user_id=user_id, name=name, key_hash=hash_key(key), created_at=now_iso()
        )
    )
    return key


def user_for_key(conn: Connection, key: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(t.users)
            .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
            .where(t.api_keys.c.key_hash == hash_key(key))
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def user_by_name(conn: Connection, username: str) -> dict[str, Any] | None:
    row = conn.execute(select(t.users).where(t.users.c.username == username)).mappings().first()
    return dict(row) if row else None


def search_users(conn: Connection, query: str | None, limit: int = 50) -> list[dict[str, Any]]:
    stmt = select(t.users).order_by(t.users.c.id).limit(limit)
    if query:
        like = f"%{query}%"
        stmt = stmt.where(t.users.c.username.like(like) | t.users.c.email.like(like))
    return [dict(r) for r in conn.execute(stmt).mappings()]


def api_keys_of(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.api_keys.c.id, t.api_keys.c.name, t.api_keys.c.description)
        .where(t.api_keys.c.user_id == user_id)
        .order_by(t.api_keys.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def entity_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(t.entities).where(t.entities.c.name == name)).mappings().first()
    return dict(row) if row else None


def ensure_entity(conn: Connection, name: str, user_id: int | None) -> dict[str, Any]:
    """The entity called `name`, created (owned by `user_id`) on first use.

    A local server has no sign-up flow, so logging to a new entity creates it, as a team.
    """
    found = entity_by_name(conn, name)
    if found:
        return found
    validate_name(name, "entity")
    conn.execute(
        t.entities.insert().values(name=name, user_id=user_id, is_team=True, created_at=now_iso())
    )
    created = entity_by_name(conn, name)
    assert created is not None
    return created


def validate_name(name: str, what: str) -> None:
    from .errors import StoreError

    if not name or len(name) > 128 or "/" in name or name.strip() != name:
        raise StoreError(
            f"invalid {what} name {name!r}: use 1-128 characters without '/' or surrounding spaces"
        )
