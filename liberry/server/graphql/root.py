"""Query and Mutation root resolvers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ..export_routes import ARROW_EXPORT_FEATURE
from ..store import accounts, files, projects, runs
from ..store.errors import NeedsPlainWrite, NotFound, StoreError
from ..store.util import decode_id
from .artifact_mutations import ArtifactMutationFields
from .artifacts import ArtifactQueryFields
from .connections import DEEP_SKIP_FEATURE, page_size
from .context import DEFAULT_PROJECT
from .objects import (
    EntityObj,
    Info,
    ProjectObj,
    RunObj,
    UserObj,
    ctx_of,
    project_connection,
)
from .sweeps import SweepMutations
from .views import ViewMutations, ViewQueryFields

# Feature flags W&B clients ask about. All of W&B's are off: clients then use their plain code
# paths, which are the ones this server implements. liberry's own tell `liberry.Api` about
# routes W&B lacks (W&B's clients ignore names they do not know).
SERVER_FEATURES: list[str] = [ARROW_EXPORT_FEATURE, DEEP_SKIP_FEATURE]


def _entity_or_default(info: Info, entity: str | None) -> str:
    return ctx_of(info).entity_or_default(entity)


class Query(ArtifactQueryFields, ViewQueryFields):
    def viewer(self, info: Info) -> UserObj:
        return UserObj(ctx_of(info).user)

    def serverInfo(self, info: Info) -> dict[str, Any]:
        return {
            "features": [{"name": n, "isEnabled": True} for n in SERVER_FEATURES],
            "latestLocalVersionInfo": None,
            "cliVersionInfo": None,
        }

    def models(
        self,
        info: Info,
        entityName: str | None = None,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
    ) -> Any:
        return project_connection(info, _entity_or_default(info, entityName), first, after)

    projects = models

    def project(self, info: Info, name: str | None = None, entityName: str | None = None) -> Any:
        if not name:
            return None
        row = ctx_of(info).access.project(_entity_or_default(info, entityName), name)
        return ProjectObj(row) if row else None

    model = project

    def entity(self, info: Info, name: str) -> EntityObj | None:
        row = ctx_of(info).access.entity(name)
        return EntityObj(row) if row else None

    def users(
        self,
        info: Info,
        query: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        ctx = ctx_of(info)
        rows = accounts.search_users(ctx.conn, query, page_size(first, 50))
        if not ctx.access.admin:  # a user sees only themself: no directory of accounts
            rows = [r for r in rows if r["id"] == ctx.user["id"]]
        return {
            "edges": [{"node": UserObj(r), "cursor": str(r["id"])} for r in rows],
            "pageInfo": {"endCursor": None, "hasNextPage": False, "hasPreviousPage": False},
        }

    def user(self, info: Info, userName: str | None = None, id: str | None = None) -> Any:
        if userName is None:
            return None
        ctx = ctx_of(info)
        row = accounts.user_by_name(ctx.conn, userName)
        if row is None or not (ctx.access.admin or row["id"] == ctx.user["id"]):
            return None
        return UserObj(row)


def _run_pk(opaque: str) -> int:
    key = decode_id("Run", opaque)
    if key is None or not key.isdigit():
        raise StoreError(f"malformed run id {opaque!r}: pass the `id` field of a Run")
    return int(key)


def _find_run(info: Info, entity: str, project: str, name: str) -> tuple[dict, dict]:
    ctx = ctx_of(info)
    proj = ctx.access.require_project(entity, project)
    run = runs.get_run(ctx.conn, proj["id"], name, for_update=ctx.run_write)
    if run is None:
        raise NotFound(f"run {entity}/{project}/{name} not found")
    return proj, run


def _lock_updated_run(
    conn: Connection, project_id: int, pk: int | None, input: dict[str, Any]
) -> None:
    """In a run write, lock the existing run upsertBucket updates; NeedsPlainWrite when it
    would create one, or touch a sweep (link a run, or start one its controller handed out)."""
    name = input.get("name")
    if pk is not None:
        run = runs.get_run_by_pk(conn, pk, for_update=True)
    else:
        run = runs.get_run(conn, project_id, name, for_update=True) if name else None
    if run is None or input.get("sweep") is not None or run["state"] == "pending":
        raise NeedsPlainWrite("upsertBucket creates a run or changes a sweep's")


class Mutation(SweepMutations, ArtifactMutationFields, ViewMutations):
    def upsertBucket(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        user_id = ctx.user["id"]
        pk = _run_pk(input["id"]) if input.get("id") else None
        if pk is not None:
            _, project = ctx.access.run(pk)
        else:
            entity = _entity_or_default(info, input.get("entityName"))
            ctx.access.writable_entity(entity)
            name = input.get("modelName") or DEFAULT_PROJECT
            found = projects.get_project(ctx.conn, entity, name) if ctx.run_write else None
            if ctx.run_write and found is None:
                raise NeedsPlainWrite("upsertBucket creates a project")
            project = found or projects.upsert_project(ctx.conn, entity, name, user_id=user_id)[0]
        if ctx.run_write:
            _lock_updated_run(ctx.conn, project["id"], pk, input)
        run, inserted = runs.upsert_run(
            ctx.conn, project["id"], pk=pk, name=input.get("name"), user_id=user_id, fields=input
        )
        return {"bucket": RunObj(run, project), "inserted": inserted, "updateAvailable": False}

    def upsertModel(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        name = input.get("name")
        if not name:
            raise StoreError("upsertModel needs a project `name`")
        entity = _entity_or_default(info, input.get("entityName"))
        ctx.access.writable_entity(entity)
        row, inserted = projects.upsert_project(
            ctx.conn,
            entity,
            name,
            user_id=ctx.user["id"],
            description=input.get("description"),
        )
        obj = ProjectObj(row)
        return {"project": obj, "model": obj, "inserted": inserted}

    def createRunFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        _, run = _find_run(info, input["entityName"], input["projectName"], input["runName"])
        names = input["files"]
        files.declare_files(ctx.conn, run["id"], names)
        return {
            "runID": _opaque_run(run["id"]),
            "uploadHeaders": [],
            "files": [
                {
                    "name": n,
                    "uploadUrl": ctx.absolute(
                        ctx.blobs.signed_path("PUT", run["id"], n, ctx.user["id"])
                    ),
                }
                for n in names
            ],
        }

    def markRunFilesUploaded(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        # Uploads are recorded when their PUT lands; this only checks the run exists.
        _find_run(info, input["entityName"], input["projectName"], input["runName"])
        return {"success": True}

    def deleteRun(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        pk = _run_pk(input["id"])
        ctx.access.run(pk)
        runs.delete_run(ctx.conn, pk)
        ctx.memo.setdefault("after_commit", []).append(lambda: ctx.blobs.delete_run(pk))
        return {"clientMutationId": input.get("clientMutationId")}

    def deleteFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        from sqlalchemy import delete

        from ..store import tables as t

        ids = []
        for opaque in input["files"]:
            key = decode_id("File", opaque)
            if key is None or not key.isdigit():
                raise StoreError(f"malformed file id {opaque!r}")
            ids.append(int(key))
        ctx_of(info).access.run_files(ids)
        ctx_of(info).conn.execute(delete(t.run_files).where(t.run_files.c.id.in_(ids)))
        return {"success": True}

    def generateApiKey(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        key = accounts.create_api_key(
            ctx.conn, ctx.user["id"], ctx.store.key_secret, input.get("description") or "api"
        )
        keys = accounts.api_keys_of(ctx.conn, ctx.user["id"])
        from ..store.util import encode_id

        last = keys[-1]
        return {
            "apiKey": {
                "id": encode_id("ApiKey", last["id"]),
                "name": key,
                "description": last["description"],
            },
            "key": key,
        }


def _opaque_run(pk: int) -> str:
    from ..store.util import encode_id

    return encode_id("Run", pk)
