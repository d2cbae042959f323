"""Who may see and change what: the one access check every resolver and route goes through.

Rules (issue #17): an entity is a user or a team. A user reads and writes their own entity
and the teams they belong to; projects are private to their entity; admins reach every
entity. Anything the caller may not reach is reported exactly as if it did not exist
(`NotFound`, same message), so a key never learns what another entity holds.

Membership is read from the database once per request and never cached across requests:
removing someone from a team is effective on their next request.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, bindparam, select

from .store import accounts, projects, runs
from .store import artifacts as artifact_store
from .store import sweeps as sweep_store
from .store import tables as t
from .store.errors import NotFound

#: Messages shared by "does not exist" and "not yours": the two must be indistinguishable.
NO_RUN = "no run with that id: it may have been deleted"
NO_SWEEP = "no sweep with that id: it may have been deleted"
NO_AGENT = "no sweep agent with that id"
NO_ARTIFACT = "no artifact with that id: it was never created, or it was deleted"
NO_FILE = "no file with that id: it may have been deleted"


class Access:
    """The caller's reach within one request (one DB transaction)."""

    def __init__(self, conn: Connection, user: dict[str, Any]) -> None:
        self.conn = conn
        self.user = user
        self.admin = bool(user.get("admin"))
        self._entity_ids: frozenset[int] | None = None
        self._projects: dict[int, dict[str, Any] | None] = {}  # visible project rows by id

    # -- entities ---------------------------------------------------------------------------
    @property
    def entity_ids(self) -> frozenset[int] | None:
        """Ids of the entities the caller reaches; None for an admin (all of them)."""
        if self.admin:
            return None
        if self._entity_ids is None:
            self._entity_ids = frozenset(accounts.entity_ids_of(self.conn, int(self.user["id"])))
        return self._entity_ids

    def allows(self, entity_id: int) -> bool:
        ids = self.entity_ids
        return ids is None or entity_id in ids

    def entity(self, name: str) -> dict[str, Any] | None:
        """The entity row when the caller reaches it, else None (as if it did not exist)."""
        row = accounts.entity_by_name(self.conn, name)
        return row if row is not None and self.allows(row["id"]) else None

    def writable_entity(self, name: str) -> None:
        """Before creating a project (or a sweep's project) under `name`: an entity the caller
        does not reach is "not found"; a new name is fine (it becomes the caller's team)."""
        row = accounts.entity_by_name(self.conn, name)
        if row is not None and not self.allows(row["id"]):
            raise NotFound(f"entity {name!r} not found")

    # -- projects ---------------------------------------------------------------------------
    def visible_project(self, row: dict[str, Any] | None) -> dict[str, Any] | None:
        return row if row is not None and self.allows(row["entity_id"]) else None

    def project(self, entity: str, name: str) -> dict[str, Any] | None:
        return self.visible_project(projects.get_project(self.conn, entity, name))

    def require_project(self, entity: str, name: str) -> dict[str, Any]:
        row = self.project(entity, name)
        if row is None:
            raise NotFound(f"project {entity}/{name} not found")
        return row

    def project_by_id(self, project_id: int) -> dict[str, Any] | None:
        memo = self._projects
        if project_id not in memo:
            memo[project_id] = self.visible_project(
                projects.get_project_by_id(self.conn, project_id)
            )
        return memo[project_id]

    def visible_project_ids(self, project_ids: Iterable[int]) -> set[int]:
        return {pk for pk in set(project_ids) if self.project_by_id(pk) is not None}

    # -- things found by id ---------------------------------------------------------------
    def run(self, pk: int) -> tuple[dict[str, Any], dict[str, Any]]:
        """(run, project) of run `pk`, or NotFound."""
        run = runs.get_run_by_pk(self.conn, pk)
        project = self.project_by_id(run["project_id"]) if run else None
        if run is None or project is None:
            raise NotFound(NO_RUN)
        return run, project

    def sweep(self, pk: int, *, for_update: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        sweep = sweep_store.get_sweep_by_pk(self.conn, pk, for_update=for_update)
        project = self.project_by_id(sweep["project_id"]) if sweep else None
        if sweep is None or project is None:
            raise NotFound(NO_SWEEP)
        return sweep, project

    def agent(self, pk: int) -> dict[str, Any]:
        agent = sweep_store.get_agent(self.conn, pk)
        sweep = sweep_store.get_sweep_by_pk(self.conn, agent["sweep_id"]) if agent else None
        if agent is None or sweep is None or self.project_by_id(sweep["project_id"]) is None:
            raise NotFound(NO_AGENT)
        return agent

    def artifact(self, pk: int) -> dict[str, Any]:
        row = artifact_store.get_artifact(self.conn, pk)
        if row is None or self.project_by_id(row["project_id"]) is None:
            raise NotFound(NO_ARTIFACT)
        return row

    def artifact_state(self, pk: int) -> str:
        """The state (PENDING, COMMITTED) of artifact `pk`, or NotFound as `artifact` says
        it: the same rule in one statement, for the check every file PUT makes."""
        place = artifact_store.artifact_place(self.conn, pk)
        if place is None or not self.allows(place[2]):
            raise NotFound(NO_ARTIFACT)
        return place[0]

    def run_files(self, file_ids: list[int]) -> None:
        """NotFound unless every run file id exists in a run the caller reaches."""
        found = dict(
            self.conn.execute(
                select(t.run_files.c.id, t.runs.c.project_id)
                .join(t.runs, t.runs.c.id == t.run_files.c.run_id)
                .where(t.run_files.c.id.in_(file_ids))
            ).all()
        )
        for pk in file_ids:
            if pk not in found or self.project_by_id(found[pk]) is None:
                raise NotFound(NO_FILE)

    def artifact_blob(self, md5_hex: str) -> bool:
        """Whether some artifact the caller reaches holds this content (a file, or its
        manifest): artifact bytes are stored once by md5, whichever artifacts share them."""
        try:
            md5_b64 = base64.b64encode(bytes.fromhex(md5_hex)).decode()
        except ValueError:
            return False
        found = self.conn.execute(_BLOB_PROJECTS, {"md5_b64": md5_b64, "md5_hex": md5_hex})
        return any(self.project_by_id(r[0]) is not None for r in found.all())


def _blob_projects() -> Any:
    """The projects holding an md5 (as a file, or as a manifest): a statement built once,
    since every artifact file download asks it."""
    a, c, f = t.artifacts, t.artifact_collections, t.artifact_files
    by_file = (
        select(c.c.project_id)
        .select_from(f)
        .join(a, a.c.id == f.c.artifact_id)
        .join(c, c.c.id == a.c.collection_id)
        .where(f.c.digest == bindparam("md5_b64"))
    )
    by_manifest = (
        select(c.c.project_id)
        .select_from(a)
        .join(c, c.c.id == a.c.collection_id)
        .where(a.c.manifest_md5 == bindparam("md5_hex"))
    )
    return by_file.union(by_manifest).limit(1000)


_BLOB_PROJECTS = _blob_projects()
