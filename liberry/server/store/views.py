"""Views (W&B's reports and their drafts): upsert, lookup, keyset pages, delete.

A report's `spec` is stored as the JSON text the client sent and returned unchanged: W&B's
report tools parse it with their own models, and re-saving what they read must be a no-op.
It is checked to be a JSON object, so a malformed spec never lands.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from . import tables as t
from .errors import StoreError
from .util import now_iso

#: The type of a report (W&B's `viewType`); a draft of one is `runs/draft`.
REPORT_TYPE = "runs"
#: The largest spec accepted: a report with hundreds of panels is well under 1 MB.
MAX_SPEC_BYTES = 16 * 1024 * 1024
_NAME_ALPHABET = string.ascii_lowercase + string.digits

VIEW_COLUMNS: list[Any] = [t.views, t.users.c.username.label("username")]


def _select() -> Any:
    return select(*VIEW_COLUMNS).outerjoin(t.users, t.users.c.id == t.views.c.user_id)


def new_view_name() -> str:
    """A random slug, as W&B's app and report tools make (`internal._generate_name`)."""
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(12))


def check_spec(spec: Any) -> str:
    """`spec` when it is the JSON text of an object; else a StoreError naming the problem."""
    if not isinstance(spec, str):
        raise StoreError("report `spec` must be a JSON string (the report's spec object)")
    if len(spec) > MAX_SPEC_BYTES:
        raise StoreError(f"report `spec` is {len(spec):,} characters; the limit is "
                         f"{MAX_SPEC_BYTES:,}")  # fmt: skip
    try:
        value = json.loads(spec)
    except json.JSONDecodeError as exc:
        raise StoreError(
            f"report `spec` is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    if not isinstance(value, dict):
        raise StoreError(
            f"report `spec` must be a JSON object, got {type(value).__name__} "
            '(a report\'s spec looks like {"version": 5, "blocks": [...]})'
        )
    return spec


def get_view(conn: Connection, pk: int) -> dict[str, Any] | None:
    row = conn.execute(_select().where(t.views.c.id == pk)).mappings().first()
    return dict(row) if row else None


def get_view_by_name(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    stmt = _select().where(t.views.c.project_id == project_id, t.views.c.name == name)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def list_views(
    conn: Connection,
    project_id: int,
    *,
    view_type: str | None,
    name: str | None,
    first: int,
    after_id: int | None,
) -> list[dict[str, Any]]:
    """A project's views of `view_type` (all types when None), newest first, keyset-paged
    by id; only the one called `name` when given (none: an empty list, as W&B answers)."""
    stmt = _select().where(t.views.c.project_id == project_id)
    if view_type is not None:
        stmt = stmt.where(t.views.c.type == view_type)
    if name is not None:
        stmt = stmt.where(t.views.c.name == name)
    if after_id is not None:
        stmt = stmt.where(t.views.c.id < after_id)
    stmt = stmt.order_by(t.views.c.id.desc()).limit(first)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def count_views(conn: Connection, project_id: int, view_type: str | None, name: str | None) -> int:
    stmt = select(func.count()).select_from(t.views).where(t.views.c.project_id == project_id)
    if view_type is not None:
        stmt = stmt.where(t.views.c.type == view_type)
    if name is not None:
        stmt = stmt.where(t.views.c.name == name)
    return int(conn.execute(stmt).scalar_one())


# The fields upsertView may set (W&B input name -> column).
_FIELDS = {
    "displayName": "display_name",
    "description": "description",
    "type": "type",
    "spec": "spec",
}


def upsert_view(
    conn: Connection,
    project: Mapping[str, Any],
    *,
    existing: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
    user_id: int | None,
    parent_id: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create a view in `project`, or update `existing`; returns (view, inserted).

    Only the fields the client sent change. An update keeps the view's `name`: the report
    tools send a fresh random name with every save, and the name is what
    `Api.reports(path, name=...)` looks reports up by, so it must stay stable.
    """
    values: dict[str, Any] = {
        col: fields[key] for key, col in _FIELDS.items() if fields.get(key) is not None
    }
    if "spec" in values:
        check_spec(values["spec"])
    elif existing is None:
        raise StoreError("upsertView needs a `spec` to create a report")
    if "type" in values and (not isinstance(values["type"], str) or len(values["type"]) > 64):
        raise StoreError("upsertView `type` must be a short string such as 'runs'")
    now = now_iso()
    if existing is not None:
        values["updated_at"] = now
        conn.execute(t.views.update().where(t.views.c.id == existing["id"]).values(**values))
        row = get_view(conn, int(existing["id"]))
        assert row is not None
        return row, False
    name = fields.get("name") or new_view_name()
    if not isinstance(name, str) or len(name) > 128:
        raise StoreError("upsertView `name` must be a string of at most 128 characters")
    values.setdefault("type", REPORT_TYPE)
    key = conn.execute(
        t.views.insert().values(
            project_id=project["id"],
            name=name,
            user_id=user_id,
            parent_id=parent_id,
            created_at=now,
            updated_at=now,
            **values,
        )
    ).inserted_primary_key
    assert key is not None
    row = get_view(conn, int(key[0]))
    assert row is not None
    return row, True


def delete_view(conn: Connection, pk: int, *, delete_drafts: bool) -> int:
    """Delete a view (and its drafts when asked); returns the drafts left behind."""
    drafts = t.views.c.parent_id == pk
    if delete_drafts:
        conn.execute(t.views.delete().where(drafts))
    conn.execute(t.views.delete().where(t.views.c.id == pk))
    left = conn.execute(select(func.count()).select_from(t.views).where(drafts)).scalar_one()
    return int(left)
