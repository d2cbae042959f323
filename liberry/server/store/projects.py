"""Projects (W&B calls them models in parts of its API)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, select

from . import tables as t
from .accounts import ensure_entity, validate_name
from .util import now_iso

_PROJECT_COLUMNS: list[Any] = [
    t.projects,
    t.entities.c.name.label("entity_name"),
]


def get_project(conn: Connection, entity: str, name: str) -> dict[str, Any] | None:
    row = (
        conn.execute(
            select(*_PROJECT_COLUMNS)
            .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
            .where(t.entities.c.name == entity, t.projects.c.name == name)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


# Built once: access checks look projects up by id on every storage request.
_PROJECT_BY_ID = (
    select(*_PROJECT_COLUMNS)
    .join(t.entities, t.entities.c.id == t.projects.c.entity_id)
    .where(t.projects.c.id == bindparam("project_id"))
)


def get_project_by_id(conn: Connection, project_id: int) -> dict[str, Any] | None:
    row = conn.execute(_PROJECT_BY_ID, {"project_id": project_id}).mappings().first()
    return dict(row) if row else None


def upsert_project(
    conn: Connection,
    entity: str,
    name: str,
    *,
    user_id: int | None,
    description: str | None = None,
) -> tuple[dict[str, Any], bool]:
    """The project, created if missing; returns (project, inserted)."""
    found = get_project(conn, entity, name)
    if found:
        if description is not None and description != found["description"]:
            conn.execute(
                t.projects.update()
                .where(t.projects.c.id == found["id"])
                .values(description=description)
            )
            found["description"] = description
        return found, False
    validate_name(name, "project")
    ent = ensure_entity(conn, entity, user_id)
    conn.execute(
        t.projects.insert().values(
            entity_id=ent["id"],
            name=name,
            description=description,
            user_id=user_id,
            created_at=now_iso(),
        )
    )
    created = get_project(conn, entity, name)
    assert created is not None
    return created, True


def list_projects(
    conn: Connection,
    entity: str | None,
    first: int,
    after_id: int | None,
    entity_ids: Collection[int] | None = None,
) -> list[dict[str, Any]]:
    """Projects of an entity (all entities when None), newest first, keyset-paged by id;
    only those of `entity_ids` when given (the entities the caller reaches)."""
    stmt = select(*_PROJECT_COLUMNS).join(t.entities, t.entities.c.id == t.projects.c.entity_id)
    if entity is not None:
        stmt = stmt.where(t.entities.c.name == entity)
    if entity_ids is not None:
        stmt = stmt.where(t.projects.c.entity_id.in_(sorted(entity_ids)))
    if after_id is not None:
        stmt = stmt.where(t.projects.c.id < after_id)
    stmt = stmt.order_by(t.projects.c.id.desc()).limit(first)
    return [dict(r) for r in conn.execute(stmt).mappings()]
