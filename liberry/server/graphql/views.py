"""Reports: W&B's view protocol (`upsertView`, `view`, `deleteView`, `project { allViews }`).

What `wandb_workspaces.reports.v2.Report.save()` / `.from_url()` / `.delete()` and
`wandb.Api().reports(path)` send. The spec is stored and returned as the client wrote it.
Every project these resolvers touch is found through `_project`, the one place a per-user
access check goes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..store import projects
from ..store import tables as t
from ..store import views as store
from ..store.errors import NotFound, StoreError
from ..store.util import decode_id, encode_id, iso_to_wandb
from .connections import by_id, connection, keyset_page
from .context import RequestContext

Info = Any  # GraphQLResolveInfo; kept loose so objects.py can mix these fields in


def _ctx(info: Info) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def _project(
    info: Info,
    entity: str | None = None,
    name: str | None = None,
    *,
    project_id: int | None = None,
    write: bool = False,
) -> dict[str, Any] | None:
    """The project a report lives in, by `entity`/`name` or by `project_id`; None when
    missing. `write`: the caller is about to change it (a missing project is created).
    The single project lookup of this module: route it through the access check."""
    ctx = _ctx(info)
    if project_id is not None:
        return ctx.access.project_by_id(project_id)
    entity = ctx.entity_or_default(entity)
    if not name:
        raise StoreError("a report needs a project: pass projectName (and entityName)")
    if write:
        existing = ctx.access.project(entity, name)
        if existing is not None:
            return existing
        ctx.access.writable_entity(entity)  # another's entity: "not found", nothing created
        row, _ = projects.upsert_project(ctx.conn, entity, name, user_id=ctx.user["id"])
        return row
    return ctx.access.project(entity, name)


def view_pk(opaque: str | None) -> int:
    """The row id inside a View id (`base64("View:12")`, padding optional: report URLs
    drop it)."""
    text = (opaque or "").strip()
    key = decode_id("View", text + "=" * (-len(text) % 4))
    if key is None or not key.isdigit():
        raise StoreError(
            f"malformed report id {opaque!r}: pass the `id` of a report (the part after the "
            "last `--` in its URL)"
        )
    return int(key)


def _view(info: Info, opaque: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(view, project) for a View id, or NotFound."""
    row = store.get_view(_ctx(info).conn, view_pk(opaque))
    project = _project(info, project_id=row["project_id"]) if row else None
    if row is None or project is None:
        raise NotFound(f"report {opaque!r} not found: it may have been deleted")
    return row, project


class ViewObj:
    """W&B's `View`: a report (`type` runs) or a draft of one (`runs/draft`)."""

    def __init__(self, row: dict[str, Any], project: dict[str, Any]) -> None:
        self.row = row
        self.project_row = project
        self.id = encode_id("View", row["id"])
        self.name = row["name"]
        self.displayName = row.get("display_name")
        self.description = row.get("description")
        self.type = row["type"]
        self.spec = row["spec"]  # the text as sent: byte-for-byte
        self.createdAt = iso_to_wandb(row["created_at"])
        self.updatedAt = iso_to_wandb(row["updated_at"])
        self.entityName = project["entity_name"]
        self.projectName = project["name"]
        self.parentId = encode_id("View", row["parent_id"]) if row.get("parent_id") else None
        self.accessTokens: list[Any] = []  # share links are not served: none exist

    def project(self, info: Info) -> Any:
        from .objects import ProjectObj

        return ProjectObj(self.project_row)

    def user(self, info: Info) -> Any:
        from .objects import UserObj

        if self.row.get("user_id") is None:
            return None
        memo = _ctx(info).memo.setdefault("users_by_id", {})
        uid = self.row["user_id"]
        if uid not in memo:
            found = _ctx(info).conn.execute(select(t.users).where(t.users.c.id == uid)).first()
            memo[uid] = dict(found._mapping) if found else None
        return UserObj(memo[uid]) if memo[uid] else None


class ProjectViewFields:
    """`Project.allViews`, mixed into ProjectObj."""

    row: dict[str, Any]

    def allViews(
        self,
        info: Info,
        viewType: str | None = None,
        viewName: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        conn = _ctx(info).conn
        project = self.row
        page, more = keyset_page(
            first,
            after,
            lambda n, after_id: store.list_views(
                conn, project["id"], view_type=viewType, name=viewName, first=n, after_id=after_id
            ),
        )
        return connection(
            page,
            more,
            by_id,
            lambda r: ViewObj(r, project),
            total=lambda: store.count_views(conn, project["id"], viewType, viewName),
        )


class ViewQueryFields:
    """`Query.view(id)`, mixed into Query."""

    def view(self, info: Info, id: str) -> ViewObj:
        row, project = _view(info, id)
        return ViewObj(row, project)


class ViewMutations:
    """`upsertView` and `deleteView`, mixed into Mutation."""

    def upsertView(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        existing: dict[str, Any] | None = None
        parent_id = view_pk(input["parentId"]) if input.get("parentId") else None
        if input.get("id"):
            existing, project = _view(info, input["id"])
        else:
            found = _project(info, input.get("entityName"), input.get("projectName"), write=True)
            assert found is not None
            project = found
            if input.get("name"):
                existing = store.get_view_by_name(ctx.conn, project["id"], input["name"])
        if existing is not None:
            # Writing to a report is writing to its project: same check as a new one.
            _project(info, project["entity_name"], project["name"], write=True)
        row, inserted = store.upsert_view(ctx.conn, project, existing=existing, fields=input,
                                          user_id=ctx.user["id"], parent_id=parent_id)  # fmt: skip
        return {
            "view": ViewObj(row, project),
            "inserted": inserted,
            "clientMutationId": input.get("clientMutationId"),
        }

    def deleteView(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        row, project = _view(info, input["id"])
        _project(info, project["entity_name"], project["name"], write=True)
        left = store.delete_view(_ctx(info).conn, row["id"],
                                 delete_drafts=bool(input.get("deleteDrafts")))  # fmt: skip
        return {
            "success": True,
            "pendingDrafts": left > 0,
            "clientMutationId": input.get("clientMutationId"),
        }
