"""Users, entities, teams and API keys.

Keys are never stored: a row holds HMAC-SHA256(server key secret, sha256(key)) (`hash_key`).
Hashing the sha256 lets rows of older stores, which kept the bare sha256, be converted in
place (`convert_legacy_hashes`); the secret lives in the data dir, so a stolen database alone
cannot be used to test guessed keys offline.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, union

from . import tables as t
from .errors import NotFound, StoreError
from .util import now_iso

KEY_PREFIX = "local-"


def legacy_hash(key: str) -> str:
    """The sha256 hex stores before schema v6 kept (and the input of `hash_key`)."""
    return hashlib.sha256(key.encode()).hexdigest()


def _mac(secret: bytes, sha256_hex: str) -> str:
    return hmac.new(secret, sha256_hex.encode(), hashlib.sha256).hexdigest()


def hash_key(key: str, secret: bytes) -> str:
    """What `api_keys.key_hash` holds for `key`."""
    return _mac(secret, legacy_hash(key))


def new_key() -> str:
    """`local-` + 40 url-safe characters: the form W&B's client accepts (40+ after the dash)."""
    return KEY_PREFIX + secrets.token_hex(20)


def mask_key(key: str) -> str:
    """A key as it may appear in a message: its last 4 characters only."""
    return f"...{key[-4:]}" if len(key) > 8 else "..."


def convert_legacy_hashes(conn: Connection, secret: bytes) -> int:
    """Rewrite sha256-only rows (`hashed` 0) as keyed HMACs; returns how many."""
    rows = conn.execute(
        select(t.api_keys.c.id, t.api_keys.c.key_hash).where(t.api_keys.c.hashed == 0)
    ).all()
    for pk, sha in rows:
        conn.execute(
            t.api_keys.update()
            .where(t.api_keys.c.id == pk)
            .values(key_hash=_mac(secret, sha), hashed=1)
        )
    return len(rows)


# -- users -------------------------------------------------------------------------------
def user_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(t.users)).scalar_one())


def create_user(conn: Connection, username: str, *, admin: bool = False) -> int:
    validate_name(username, "user")
    if user_by_name(conn, username) is not None:
        raise StoreError(f"a user called {username!r} already exists")
    if entity_by_name(conn, username) is not None:
        # Its projects would become the new user's: refuse rather than hand them over.
        raise StoreError(f"an entity called {username!r} already exists: pick another name")
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


def require_user(conn: Connection, username: str) -> dict[str, Any]:
    user = user_by_name(conn, username)
    if user is None:
        raise NotFound(f"no user called {username!r}")
    return user


def delete_user(conn: Connection, username: str) -> None:
    """Delete the user, their keys and team memberships. Their entity and its projects stay
    (only admins reach them), so nothing logged is lost by removing a person."""
    user = require_user(conn, username)
    conn.execute(delete(t.api_keys).where(t.api_keys.c.user_id == user["id"]))
    conn.execute(delete(t.team_members).where(t.team_members.c.user_id == user["id"]))
    conn.execute(delete(t.users).where(t.users.c.id == user["id"]))


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user with `teams` (names) and `keys` (count), by id."""
    users = [dict(r) for r in conn.execute(select(t.users).order_by(t.users.c.id)).mappings()]
    teams: dict[int, list[str]] = {}
    for user_id, name in conn.execute(
        select(t.team_members.c.user_id, t.entities.c.name)
        .join(t.entities, t.entities.c.id == t.team_members.c.entity_id)
        .order_by(t.entities.c.name)
    ):
        teams.setdefault(user_id, []).append(name)
    keys: dict[int, int] = {
        int(user_id): int(count)
        for user_id, count in conn.execute(
            select(t.api_keys.c.user_id, func.count()).group_by(t.api_keys.c.user_id)
        )
    }
    for user in users:
        user["teams"] = teams.get(user["id"], [])
        user["keys"] = int(keys.get(user["id"], 0))
    return users


# -- keys --------------------------------------------------------------------------------
def create_api_key(conn: Connection, user_id: int, secret: bytes, name: str = "default") -> str:
    key = new_key()
    conn.execute(
        t.api_keys.insert().values(
            user_id=user_id,
            name=name,
            key_hash=hash_key(key, secret),
            hashed=1,
            created_at=now_iso(),
        )
    )
    return key


def rotate_keys(conn: Connection, user_id: int, secret: bytes) -> str:
    """Revoke every key of the user and issue one new one."""
    conn.execute(delete(t.api_keys).where(t.api_keys.c.user_id == user_id))
    return create_api_key(conn, user_id, secret, "rotated")


def user_for_key(conn: Connection, key: str, secret: bytes) -> dict[str, Any] | None:
    wanted = hash_key(key, secret)
    row = (
        conn.execute(
            select(t.users, t.api_keys.c.key_hash)
            .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
            .where(t.api_keys.c.key_hash == wanted, t.api_keys.c.hashed == 1)
        )
        .mappings()
        .first()
    )
    # The index lookup finds the row; the comparison that decides is constant-time.
    if row is None or not hmac.compare_digest(row["key_hash"], wanted):
        return None
    user = dict(row)
    del user["key_hash"]
    return user


def user_by_id(conn: Connection, user_id: int) -> dict[str, Any] | None:
    row = conn.execute(select(t.users).where(t.users.c.id == user_id)).mappings().first()
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


# -- entities and teams --------------------------------------------------------------------
def entity_by_name(conn: Connection, name: str) -> dict[str, Any] | None:
    row = conn.execute(select(t.entities).where(t.entities.c.name == name)).mappings().first()
    return dict(row) if row else None


# Built once: every access check of every request asks it.
_ENTITY_IDS = union(
    select(t.entities.c.id).where(
        t.entities.c.user_id == bindparam("user_id"), t.entities.c.is_team.is_(False)
    ),
    select(t.team_members.c.entity_id).where(t.team_members.c.user_id == bindparam("user_id")),
)


def entity_ids_of(conn: Connection, user_id: int) -> set[int]:
    """The entities a user reads and writes: their own, and the teams they belong to."""
    return {int(r[0]) for r in conn.execute(_ENTITY_IDS, {"user_id": user_id})}


def teams_of(conn: Connection, user_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(t.entities)
        .join(t.team_members, t.team_members.c.entity_id == t.entities.c.id)
        .where(t.team_members.c.user_id == user_id)
        .order_by(t.entities.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def ensure_entity(conn: Connection, name: str, user_id: int | None) -> dict[str, Any]:
    """The entity called `name`, created on first use as a team whose first member is
    `user_id`. (A local server has no sign-up flow, so logging to a new entity creates it.)
    Callers check access to an existing entity before writing to it (see server/access.py)."""
    found = entity_by_name(conn, name)
    if found:
        return found
    created = create_team(conn, name, [])
    if user_id is not None:
        conn.execute(
            t.entities.update().where(t.entities.c.id == created["id"]).values(user_id=user_id)
        )
        _add_member(conn, created["id"], user_id)
        created["user_id"] = user_id
    return created


def create_team(conn: Connection, name: str, members: list[str]) -> dict[str, Any]:
    validate_name(name, "team")
    if entity_by_name(conn, name) is not None:
        raise StoreError(f"an entity (user or team) called {name!r} already exists")
    users = [require_user(conn, m) for m in members]
    conn.execute(t.entities.insert().values(name=name, is_team=True, created_at=now_iso()))
    team = entity_by_name(conn, name)
    assert team is not None
    for user in users:
        _add_member(conn, team["id"], user["id"])
    return team


def _require_team(conn: Connection, name: str) -> dict[str, Any]:
    team = entity_by_name(conn, name)
    if team is None or not team["is_team"]:
        raise NotFound(f"no team called {name!r}")
    return team


def _add_member(conn: Connection, entity_id: int, user_id: int) -> None:
    exists = conn.execute(
        select(t.team_members.c.user_id).where(
            t.team_members.c.entity_id == entity_id, t.team_members.c.user_id == user_id
        )
    ).first()
    if exists is None:
        conn.execute(
            t.team_members.insert().values(
                entity_id=entity_id, user_id=user_id, created_at=now_iso()
            )
        )


def add_member(conn: Connection, team: str, username: str) -> None:
    _add_member(conn, _require_team(conn, team)["id"], require_user(conn, username)["id"])


def remove_member(conn: Connection, team: str, username: str) -> bool:
    """Remove a member; False when they were not one."""
    team_row = _require_team(conn, team)
    user = require_user(conn, username)
    result = conn.execute(
        delete(t.team_members).where(
            t.team_members.c.entity_id == team_row["id"], t.team_members.c.user_id == user["id"]
        )
    )
    return bool(result.rowcount)


def validate_name(name: str, what: str) -> None:
    if not name or len(name) > 128 or "/" in name or name.strip() != name:
        raise StoreError(
            f"invalid {what} name {name!r}: use 1-128 characters without '/' or surrounding spaces"
        )
