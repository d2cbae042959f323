"""GraphQL object types as thin Python views over store rows.

graphql-core's default resolver reads an attribute named like the field and calls it with
`(info, **args)` when it is a method, so each class below mirrors one SDL type.
"""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)
from sqlalchemy import Connection

from ..store import accounts, files, history, projects, runs, streams
from ..store.errors import StoreError
from ..store.util import encode_id, iso_to_wandb
from .artifacts import ProjectArtifactFields, RunArtifactFields
from .connections import (
    MAX_PAGE,
    MAX_SKIP,
    by_id,
    connection,
    id_cursor,
    keyset_page,
    page_size,
    parse_id_cursor,
)
from .context import RequestContext
from .sweep_objects import ProjectSweepFields, RunSweepFields
from .views import ProjectViewFields

Info = GraphQLResolveInfo


def selects(info: Info, name: str, *, deep: bool = False) -> bool:
    """Whether the query asks for field `name` directly under the field being resolved
    (through fragments too; with `deep`, at any depth below it), so a resolver can skip
    reading what nobody asked for."""

    def walk(selection_set: SelectionSetNode | None) -> bool:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                if node.name.value == name or (deep and walk(node.selection_set)):
                    return True
            elif isinstance(node, InlineFragmentNode):
                if walk(node.selection_set):
                    return True
            elif isinstance(node, FragmentSpreadNode):
                fragment = info.fragments.get(node.name.value)
                if fragment is not None and walk(fragment.selection_set):
                    return True
        return False

    return any(walk(node.selection_set) for node in info.field_nodes)


def ctx_of(info: Info) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


class UserObj:
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = encode_id("User", row["id"])
        self.name = row.get("name") or row["username"]
        self.username = row["username"]
        self.email = row.get("email")
        self.admin = bool(row.get("admin"))
        self.flags = "{}"
        self.entity = row["username"]
        self.deletedAt = None
        self.photoUrl = None

    def apiKeys(self, info: Info) -> dict[str, Any]:
        keys = accounts.api_keys_of(ctx_of(info).conn, self.row["id"])
        return {
            "edges": [
                {
                    "node": {
                        "id": encode_id("ApiKey", k["id"]),
                        "name": k["name"],
                        "description": k["description"],
                    }
                }
                for k in keys
            ]
        }

    def teams(self, info: Info, first: int | None = None) -> dict[str, Any]:
        rows = accounts.teams_of(ctx_of(info).conn, self.row["id"])
        return {"edges": [{"node": EntityObj(r)} for r in rows]}


def user_obj(conn: Connection, user_id: int | None) -> UserObj | None:
    """The `User` a project's or sweep's `user_id` names (None when it has none, or the user
    is gone). A run's user comes with the run's own row (the page query joins users)."""
    row = accounts.user_by_id(conn, user_id) if user_id is not None else None
    return UserObj(row) if row else None


class EntityObj:
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = encode_id("Entity", row["id"])
        self.name = row["name"]
        self.isTeam = bool(row.get("is_team"))
        self.organization = None

    def projects(self, info: Info, first: int | None = None, after: str | None = None) -> Any:
        return project_connection(info, self.name, first, after)


def project_connection(info: Info, entity: str | None, first: int | None, after: str | None) -> Any:
    ctx = ctx_of(info)
    if entity is not None and ctx.access.entity(entity) is None:
        page_size(first)  # a bad `first` is refused even then
        return connection([], False, str, ProjectObj)  # someone else's entity: nothing
    page, more = keyset_page(
        first,
        after,
        lambda n, after_id: projects.list_projects(
            ctx.conn, entity, n, after_id, ctx.access.entity_ids
        ),
        default=100,
    )
    return connection(page, more, by_id, ProjectObj)


class ProjectObj(ProjectArtifactFields, ProjectViewFields, ProjectSweepFields):
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = encode_id("Project", row["id"])
        self.internalId = str(row["id"])
        self.name = row["name"]
        self.entityName = row["entity_name"]
        self.description = row.get("description")
        self.access = "PRIVATE"
        self.views = "{}"
        self.readOnly = False
        self.isBenchmark = False
        self.createdAt = iso_to_wandb(row["created_at"])
        self.updatedAt = self.createdAt

    def entity(self, info: Info) -> EntityObj:
        ent = accounts.entity_by_name(ctx_of(info).conn, self.entityName)
        assert ent is not None
        return EntityObj(ent)

    def user(self, info: Info) -> UserObj | None:
        return user_obj(ctx_of(info).conn, self.row.get("user_id"))

    def runCount(self, info: Info, filters: str | None = None) -> int:
        return runs.count_runs(ctx_of(info).conn, self.row["id"], runs.parse_filters(filters))

    def runs(
        self,
        info: Info,
        filters: str | None = None,
        order: str | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> dict[str, Any]:
        if last is not None or before is not None:
            raise StoreError("backward pagination (last/before) is not supported; use first/after")
        conn = ctx_of(info).conn
        parsed = runs.parse_filters(filters)
        keys_only = not selects(info, "edges")
        # A cursor jump (pageInfo { endCursor hasNextPage }) needs only the last run, and
        # sends no rows back: it may skip any distance in one request.
        last_only = keys_only and not selects(info, "startCursor", deep=True)
        page, cursor_for, has_next = runs.list_runs(
            conn,
            self.row["id"],
            filters=parsed,
            order=order,
            first=page_size(first, 50, MAX_SKIP if last_only else MAX_PAGE),
            after=after,
            keys_only=keys_only,
            last_only=last_only,
        )
        project = self.row
        return connection(
            page,
            has_next,
            cursor_for,
            lambda row: RunObj(row, project),
            total=lambda: runs.count_runs(conn, project["id"], parsed),
        )

    def run(self, info: Info, name: str) -> RunObj | None:
        row = runs.get_run(ctx_of(info).conn, self.row["id"], name)
        return RunObj(row, self.row) if row else None

    def bucket(self, info: Info, name: str, missingOk: bool | None = None) -> RunObj | None:
        return self.run(info, name)

    def runKeys(self, info: Info) -> dict[str, list[str]]:
        config_keys, summary_keys = runs.run_keys(ctx_of(info).conn, self.row["id"])
        return {"config": config_keys, "summary": summary_keys}


def _wandb_internal(config_text: str) -> dict[str, Any]:
    wrapped = json.loads(config_text or "{}").get("_wandb")
    value = wrapped.get("value") if isinstance(wrapped, dict) else None
    return value if isinstance(value, dict) else {}


# Run fields read straight from a store column (W&B field name -> column).
_RUN_COLUMNS = {
    "name": "name",
    "state": "state",
    "config": "config",
    "summaryMetrics": "summary",
    "systemMetrics": "system_metrics",
    "group": "group_name",
    "groupName": "group_name",
    "jobType": "job_type",
    "notes": "notes",
    "description": "description",
    "commit": "commit_hash",
    "host": "host",
    "program": "program",
    "sweepName": "sweep_name",
    "exitcode": "exitcode",
    "historyLineCount": "history_line_count",
    "logLineCount": "log_line_count",
    "eventsLineCount": "events_line_count",
}


class RunObj(RunArtifactFields, RunSweepFields):
    """A run row as W&B's `Run` type. Nothing is converted up front: a page of 1,000 runs
    that selects only `name config summaryMetrics` reads just those three columns."""

    __typename = "Run"  # resolves the `ArtifactCreator` union (graphql-core reads it)
    readOnly = False
    stopped = False
    agent = None

    def __init__(self, row: dict[str, Any], project: dict[str, Any]) -> None:
        self.row = row
        self.project_row = project

    def __getattr__(self, field: str) -> Any:
        # Only called for names not found on the class: the plain column fields.
        column = _RUN_COLUMNS.get(field)
        if column is None:
            raise AttributeError(field)
        return self.row.get(column)

    @property
    def displayName(self) -> str:
        name: str = self.row.get("display_name") or self.row["name"]
        return name

    @property
    def id(self) -> str:
        return encode_id("Run", self.row["id"])

    @property
    def projectId(self) -> str:
        return str(self.row["project_id"])

    @property
    def tags(self) -> list[str]:
        tags: list[str] = json.loads(self.row["tags"] or "[]")
        return tags

    @property
    def createdAt(self) -> str | None:
        return iso_to_wandb(self.row["created_at"])

    @property
    def updatedAt(self) -> str | None:
        return iso_to_wandb(self.row["updated_at"])

    @property
    def heartbeatAt(self) -> str | None:
        return iso_to_wandb(self.row["heartbeat_at"])

    def project(self, info: Info) -> ProjectObj:
        return ProjectObj(self.project_row)

    def user(self, info: Info) -> dict[str, Any] | None:
        if self.row.get("username") is None:
            return None
        return {
            "id": encode_id("User", self.row["user_id"]),
            "name": self.row.get("user_name") or self.row["username"],
            "username": self.row["username"],
            "email": None,
            "admin": False,
            "flags": "{}",
            "entity": self.row["username"],
        }

    def wandbConfig(self, info: Info, keys: list[str] | None = None) -> str:
        internal = _wandb_internal(self.config)
        if keys is not None:
            internal = {k: internal[k] for k in keys if k in internal}
        return json.dumps(internal)

    def historyKeys(self, info: Info, format: str | None = None) -> Any:
        return json.loads(self.row["history_keys"])

    def historyTail(self, info: Info) -> str:
        return json.dumps(history.history_tail(ctx_of(info).conn, self.row["id"]))

    def eventsTail(self, info: Info) -> str:
        lines = streams.stream_lines(ctx_of(info).conn, self.row["id"], streams.EVENTS_FILE)
        return json.dumps(lines[-1:])

    def history(
        self,
        info: Info,
        samples: int | None = None,
        minStep: int | None = None,
        maxStep: int | None = None,
    ) -> list[str]:
        size = 500 if samples is None else samples
        if size < 0:
            raise StoreError(f"samples must be >= 0, got {size}")
        return history.sample_history(
            ctx_of(info).conn, self.row, min(size, 1_000_000), _opt_int(minStep), _opt_int(maxStep)
        )

    def sampledHistory(
        self, info: Info, specs: list[str], packVersion: int | None = None
    ) -> list[list[dict[str, Any]]]:
        out: list[list[dict[str, Any]]] = []
        for index, text in enumerate(specs):
            try:
                spec = json.loads(text) if isinstance(text, str) else text
            except json.JSONDecodeError as exc:
                raise StoreError(
                    f"sampledHistory spec {index} is not valid JSON: {exc.msg}"
                ) from None
            if spec == {}:  # W&B's sweep agent asks with specs "{}": no keys, no rows
                out.append([])
                continue
            if not isinstance(spec, dict) or not isinstance(spec.get("keys"), list):
                raise StoreError(
                    f'sampledHistory spec {index} must be an object like {{"keys": ["loss"], '
                    f'"samples": 500}}'
                )
            keys = spec["keys"]
            if not all(isinstance(k, str) for k in keys):
                raise StoreError(f"sampledHistory spec {index}: keys must be strings")
            samples = spec.get("samples", 500)
            if not isinstance(samples, int) or samples < 0:
                raise StoreError(
                    f"sampledHistory spec {index}: samples must be a non-negative integer"
                )
            # A spec's maxStep is inclusive, unlike `history(maxStep:)`: wandb-core 0.31 pages
            # `scan_history(keys=...)` as [0, n-1], [n, 2n-1], ... with `samples: n`.
            max_step = _opt_int(spec.get("maxStep"))
            out.append(
                history.sampled_history(
                    ctx_of(info).conn,
                    self.row,
                    keys,
                    samples,
                    _opt_int(spec.get("minStep")),
                    None if max_step is None else max_step + 1,
                )
            )
        return out

    def parquetHistory(self, info: Info, liveKeys: list[str]) -> dict[str, Any]:
        return {
            "parquetUrls": [],
            "liveData": history.live_data(ctx_of(info).conn, self.row["id"], liveKeys),
        }

    def events(self, info: Info, samples: int | None = None) -> list[str]:
        lines = streams.stream_lines(ctx_of(info).conn, self.row["id"], streams.EVENTS_FILE)
        if samples is not None:
            lines = [lines[i] for i in history.even_positions(len(lines), samples)]
        return lines

    def fileCount(self, info: Info) -> int:
        return files.file_count(ctx_of(info).conn, self.row["id"])

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        after: str | None = None,
        first: int | None = None,
        pattern: str | None = None,
    ) -> dict[str, Any]:
        ctx = ctx_of(info)
        size = page_size(first, 50)
        rows, has_next = files.list_files(
            ctx.conn,
            self.row["id"],
            names=[n for n in (names or []) if n],
            pattern=pattern,
            first=size,
            after_id=parse_id_cursor(after),
        )
        run_pk = self.row["id"]
        return connection(
            rows,
            has_next,
            lambda r: id_cursor(r["id"]),
            lambda r: FileObj(r, run_pk, ctx),
            total=lambda: files.file_count(ctx.conn, run_pk),
        )


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise StoreError(f"expected an integer step, got {value!r}")
    try:
        step = int(value)
    except (ValueError, OverflowError):  # "abc", NaN, Infinity
        raise StoreError(f"expected an integer step, got {str(value)[:40]!r}") from None
    # Steps are 64-bit in the database; a bound past that range bounds nothing. (One below
    # the maximum: sampledHistory turns an inclusive maxStep into an exclusive one with +1.)
    return max(-(2**63), min(step, 2**63 - 2))


class FileObj:
    def __init__(self, row: dict[str, Any], run_pk: int, ctx: RequestContext) -> None:
        self.row = row
        self.id = encode_id("File", row["id"])
        self.name = row["name"]
        self.sizeBytes = row.get("size") or 0
        self.mimetype = row.get("mimetype") or "application/octet-stream"
        self.updatedAt = iso_to_wandb(row["updated_at"])
        self.md5 = row.get("md5")
        self.digest = row.get("md5")
        self.directUrl = ctx.absolute(
            ctx.blobs.signed_path("GET", run_pk, row["name"], ctx.user["id"])
        )
        self._run_pk = run_pk
        self._ctx = ctx

    def url(self, info: Info, upload: bool | None = None) -> str:
        method = "PUT" if upload else "GET"
        ctx = self._ctx
        return ctx.absolute(ctx.blobs.signed_path(method, self._run_pk, self.name, ctx.user["id"]))
