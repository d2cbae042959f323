"""Artifact object views (W&B's `Artifact`, `ArtifactType`, `ArtifactSequence`, ...) and the
artifact fields of `Project`, `Run` and `Query`, mixed into those classes in objects.py/root.py.
"""

from __future__ import annotations

import json
from typing import Any

from ..artifact_storage import ArtifactStorage, storage_for
from ..store import artifacts as store
from ..store import lineage as lineage_store
from ..store.artifact_labels import tag_names, ttl_answer
from ..store.artifact_names import b64_md5_to_hex, parse_artifact_name
from ..store.errors import NotFound, StoreError
from ..store.util import decode_id, encode_id, iso_to_wandb, loads_object
from .connections import by_id, connection, id_cursor, keyset_page, page_size, parse_id_cursor
from .context import RequestContext

Info = Any  # GraphQLResolveInfo; kept loose to avoid importing objects.py here

DIGEST_ALGORITHM = "MANIFEST_MD5"


def _ctx(info: Info) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def storage_of(ctx: RequestContext) -> ArtifactStorage:
    return storage_for(ctx.blobs)


def artifact_pk(opaque: str | None) -> int:
    key = decode_id("Artifact", opaque or "")
    if key is None or not key.isdigit():
        raise StoreError(f"malformed artifact id {opaque!r}: pass the `id` of an Artifact")
    return int(key)


def _project_obj(ctx: RequestContext, project_id: int) -> Any:
    from .objects import ProjectObj

    row = ctx.access.project_by_id(project_id)
    if row is None:  # reached only through a checked object, so its project is visible
        raise NotFound("project not found")
    return ProjectObj(row)


class ArtifactTypeObj:
    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = encode_id("ArtifactType", row["id"])
        self.name = row["name"]
        self.description = row.get("description")
        self.createdAt = iso_to_wandb(row["created_at"])

    def project(self, info: Info) -> Any:
        return _project_obj(_ctx(info), self.row["project_id"])

    def artifactCollections(
        self,
        info: Info,
        after: str | None = None,
        first: int | None = None,
        filters: str | None = None,
        order: str | None = None,
    ) -> dict[str, Any]:
        conn = _ctx(info).conn
        type_id = self.row["id"]
        page, more = keyset_page(
            first, after, lambda n, after_id: store.list_collections(conn, type_id, n, after_id)
        )
        return connection(
            page,
            more,
            by_id,
            CollectionObj,
            total=lambda: store.count_collections(conn, self.row["id"]),
        )

    artifactSequences = artifactCollections

    def artifactCollection(self, info: Info, name: str) -> CollectionObj | None:
        row = store.get_collection(_ctx(info).conn, self.row["project_id"], name)
        return CollectionObj(row) if row and row["type_id"] == self.row["id"] else None

    artifactSequence = artifactCollection


class CollectionObj:
    """W&B's `ArtifactSequence` (the `ArtifactCollection` interface)."""

    __typename = "ArtifactSequence"  # graphql-core reads it to resolve the interface
    digestAlgorithm = DIGEST_ALGORITHM

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.id = encode_id("ArtifactCollection", row["id"])
        self.name = row["name"]
        self.description = row.get("description")
        self.createdAt = iso_to_wandb(row["created_at"])
        self.updatedAt = iso_to_wandb(row["updated_at"])
        self.tags: dict[str, Any] = {"edges": []}  # no collection tags yet

    def project(self, info: Info) -> Any:
        return _project_obj(_ctx(info), self.row["project_id"])

    def defaultArtifactType(self, info: Info) -> dict[str, Any]:
        return {
            "id": encode_id("ArtifactType", self.row["type_id"]),
            "name": self.row["type_name"],
        }

    def latestArtifact(self, info: Info) -> ArtifactObj | None:
        row = store.latest_of(_ctx(info).conn, self.row["id"])
        return ArtifactObj(row) if row else None

    def artifacts(
        self,
        info: Info,
        after: str | None = None,
        first: int | None = None,
        order: str | None = None,
        filters: str | None = None,
    ) -> dict[str, Any]:
        conn = _ctx(info).conn
        wanted = loads_object(filters, "filters").get("state", store.COMMITTED)
        state = wanted if isinstance(wanted, str) else store.COMMITTED
        collection_id = self.row["id"]
        page, more = keyset_page(
            first,
            after,
            lambda n, after_id: store.list_versions(conn, collection_id, n, after_id, state),
        )
        aliases = store.aliases_of(conn, [r["id"] for r in page])
        out = connection(
            page,
            more,
            lambda r: id_cursor(r["version_index"]),
            lambda r: ArtifactObj(r, aliases[r["id"]]),
            total=lambda: store.count_versions(conn, self.row["id"], state),
        )
        edges = out["edges"]
        out["edges"] = lambda i: [
            {**e, "version": f"v{e['node'].row['version_index']}"} for e in edges(i)
        ]
        return out

    def artifactMembership(self, info: Info, aliasName: str) -> MembershipObj | None:
        ref = parse_artifact_name(f"{self.name}:{aliasName}")
        row = store.resolve(_ctx(info).conn, self.row["project_id"], ref)
        return MembershipObj(ArtifactObj(row)) if row else None

    def aliases(self, info: Info, after: str | None = None, first: int | None = None) -> Any:
        return connection([], False, str, lambda x: x, total=lambda: 0)


class AliasObj:
    def __init__(self, alias: str, collection: dict[str, Any]) -> None:
        self.alias = alias
        self.id = encode_id("ArtifactAlias", f"{collection['id']}:{alias}")
        self._collection = collection

    def artifactCollection(self, info: Info) -> CollectionObj:
        return CollectionObj(self._collection)


class ArtifactObj:
    digestAlgorithm = DIGEST_ALGORITHM

    def __init__(self, row: dict[str, Any], aliases: list[str] | None = None) -> None:
        self.row = row
        self._aliases = aliases
        self.id = encode_id("Artifact", row["id"])
        self.versionIndex = row["version_index"]
        self.description = row.get("description")
        self.metadata = row.get("metadata") or "{}"
        self.historyStep = row.get("history_step")
        self.state = row["state"]
        self.size = row.get("size") or 0
        self.digest = row["digest"]
        self.commitHash = row["digest"][:20]
        self.fileCount = row.get("file_count") or 0
        self.createdAt = iso_to_wandb(row["created_at"])
        self.updatedAt = iso_to_wandb(row["updated_at"])
        self.ttlDurationSeconds, self.ttlIsInherited = ttl_answer(row)
        self.tags = [{"id": encode_id("Tag", n), "name": n} for n in tag_names(row)]

    def _collection_row(self) -> dict[str, Any]:
        return {
            "id": self.row["collection_id"],
            "name": self.row["collection_name"],
            "project_id": self.row["project_id"],
            "type_id": self.row["type_id"],
            "type_name": self.row["type_name"],
            "description": None,
            "created_at": self.row["created_at"],
            "updated_at": self.row["updated_at"],
        }

    def artifactSequence(self, info: Info) -> CollectionObj:
        return CollectionObj(self._collection_row())

    artifactCollection = artifactSequence

    def artifactType(self, info: Info) -> dict[str, Any]:
        return {
            "id": encode_id("ArtifactType", self.row["type_id"]),
            "name": self.row["type_name"],
            "description": None,
            "createdAt": self.createdAt,
        }

    def aliases(self, info: Info) -> list[AliasObj]:
        names = self._aliases
        if names is None:
            names = store.aliases_of(_ctx(info).conn, [self.row["id"]])[self.row["id"]]
        collection = self._collection_row()
        found = [AliasObj(a, collection) for a in names]
        if self.versionIndex is not None:
            found.insert(0, AliasObj(f"v{self.versionIndex}", collection))
        return found

    def currentManifest(self, info: Info) -> dict[str, Any] | None:
        ctx = _ctx(info)
        md5 = self.row.get("manifest_md5")
        if not md5:
            return None
        url = ctx.absolute(
            storage_of(ctx).download_path(md5, "wandb_manifest.json", ctx.user["id"])
        )
        return {
            "id": encode_id("ArtifactManifest", self.row["id"]),
            "file": {
                "id": encode_id("ArtifactManifestFile", self.row["id"]),
                "name": "wandb_manifest.json",
                "displayName": "wandb_manifest.json",
                "directUrl": url,
                "url": url,
                "sizeBytes": 0,
            },
        }

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        after: str | None = None,
        first: int | None = None,
    ) -> dict[str, Any]:
        ctx = _ctx(info)
        size = page_size(first, 50)
        rows, has_next = store.list_files(
            ctx.conn,
            self.row["id"],
            names=[n for n in names or [] if n],
            first=size,
            after_id=parse_id_cursor(after),
        )
        return connection(
            rows,
            has_next,
            lambda r: id_cursor(r["id"]),
            lambda r: ArtifactFileObj(r, self, ctx),
            total=lambda: store.count_files(ctx.conn, self.row["id"]),
        )

    def createdBy(self, info: Info) -> Any:
        from ..store import runs
        from .objects import RunObj

        ctx = _ctx(info)
        if self.row.get("run_id") is None:
            return None
        run = runs.get_run_by_pk(ctx.conn, self.row["run_id"])
        # A run of an entity the caller does not reach is left out, as if deleted.
        project = ctx.access.project_by_id(run["project_id"]) if run else None
        if run is None or project is None:
            return None
        return RunObj(run, project)

    def usedBy(self, info: Info, after: str | None = None, first: int | None = None) -> Any:
        from ..store import runs
        from .objects import RunObj

        ctx = _ctx(info)
        found = []
        for run_id in store.runs_using(ctx.conn, self.row["id"]):
            run = runs.get_run_by_pk(ctx.conn, run_id)
            project = ctx.access.project_by_id(run["project_id"]) if run else None
            if run is not None and project is not None:
                found.append(RunObj(run, project))
        return connection(found, False, lambda r: id_cursor(r.row["id"]), lambda r: r)

    def lineage(
        self, info: Info, depth: int | None = None, direction: str | None = None
    ) -> dict[str, Any]:
        return lineage_graph(info, "artifact", self.row["id"], depth, direction)


def lineage_graph(
    info: Info, start: str, pk: int, depth: int | None, direction: str | None
) -> dict[str, Any]:
    """`ArtifactLineage` around an artifact or a run: store keys become global ids."""
    ctx = _ctx(info)
    graph = lineage_store.lineage(ctx.conn, pk, depth, direction or "both", start)
    # Nodes in entities the caller does not reach are dropped, with their edges.
    visible = ctx.access.visible_project_ids(n["project_id"] for n in graph.nodes)
    shown = {(n["kind"], n["pk"]) for n in graph.nodes if n["project_id"] in visible}
    graph.nodes = [n for n in graph.nodes if (n["kind"], n["pk"]) in shown]
    graph.edges = [
        e
        for e in graph.edges
        if ("artifact", e["artifact"]) in shown and ("run", e["run"]) in shown
    ]

    def key(kind: str, pk: int) -> str:
        return encode_id("Artifact" if kind == "artifact" else "Run", pk)

    return {
        "nodes": [{**n, "id": key(n["kind"], n["pk"])} for n in graph.nodes],
        "edges": [
            {
                "source": key("run", e["run"])
                if e["kind"] == "output"
                else key("artifact", e["artifact"]),
                "target": key("artifact", e["artifact"])
                if e["kind"] == "output"
                else key("run", e["run"]),
                "kind": e["kind"],
            }
            for e in graph.edges
        ],
    }


class MembershipObj:
    """W&B's `ArtifactCollectionMembership`: one version as seen from its collection."""

    def __init__(self, artifact: ArtifactObj) -> None:
        self._artifact = artifact
        self.id = encode_id("ArtifactCollectionMembership", artifact.row["id"])
        self.versionIndex = artifact.versionIndex
        self.createdAt = artifact.createdAt
        self.artifact = artifact

    def aliases(self, info: Info) -> list[AliasObj]:
        return self._artifact.aliases(info)

    def artifactCollection(self, info: Info) -> CollectionObj:
        return self._artifact.artifactSequence(info)

    def files(
        self,
        info: Info,
        names: list[str] | None = None,
        after: str | None = None,
        first: int | None = None,
    ) -> dict[str, Any]:
        return self._artifact.files(info, names, after, first)


class ArtifactFileObj:
    """An artifact's stored file as W&B's `File`."""

    mimetype = None
    uploadHeaders: list[str] = []
    uploadMultipartUrls = None

    def __init__(self, row: dict[str, Any], artifact: ArtifactObj, ctx: RequestContext) -> None:
        self.row = row
        self.id = encode_id("ArtifactFile", row["id"])
        self.name = self.displayName = row["name"]
        self.sizeBytes = row.get("size") or 0
        self.digest = self.md5 = row["digest"]
        self.updatedAt = artifact.updatedAt
        if row.get("ref"):
            # A reference (file://, s3://): no bytes here; the client reads the ref itself.
            self.storagePath = None
            self.directUrl = self.url = row["ref"]
        else:
            md5_hex = b64_md5_to_hex(row["digest"], f"file {row['name']!r}")
            self.storagePath = f"artifact-blobs/{md5_hex}"
            self.directUrl = self.url = ctx.absolute(
                storage_of(ctx).download_path(md5_hex, row["name"], ctx.user["id"])
            )
        self.uploadUrl = None
        self.artifact = artifact


# -- fields on Project, Run and Query --------------------------------------------------------
class ProjectArtifactFields:
    """Mixed into ProjectObj: `project { artifactType(s) artifact artifactCollection ... }`."""

    row: dict[str, Any]

    def artifactType(self, info: Info, name: str) -> ArtifactTypeObj | None:
        row = store.get_type(_ctx(info).conn, self.row["id"], name)
        return ArtifactTypeObj(row) if row else None

    def artifactTypes(
        self, info: Info, after: str | None = None, first: int | None = None
    ) -> dict[str, Any]:
        conn, project_id = _ctx(info).conn, self.row["id"]
        page, more = keyset_page(
            first, after, lambda n, after_id: store.list_types(conn, project_id, n, after_id)
        )
        return connection(page, more, by_id, ArtifactTypeObj)

    def artifact(self, info: Info, name: str) -> ArtifactObj | None:
        row = store.resolve(_ctx(info).conn, self.row["id"], parse_artifact_name(name))
        return ArtifactObj(row) if row else None

    def artifactCollectionMembership(self, info: Info, name: str) -> MembershipObj | None:
        artifact = self.artifact(info, name)
        return MembershipObj(artifact) if artifact else None

    def artifactCollection(self, info: Info, name: str) -> CollectionObj | None:
        row = store.get_collection(_ctx(info).conn, self.row["id"], name)
        return CollectionObj(row) if row else None

    artifactSequence = artifactCollection


class RunArtifactFields:
    """Mixed into RunObj: `run { inputArtifacts outputArtifacts }`."""

    row: dict[str, Any]

    def _artifacts(self, info: Info, kind: str, after: str | None, first: int | None) -> Any:
        ctx = _ctx(info)
        conn = ctx.conn
        run_id = self.row["id"]
        rows, more = keyset_page(
            first, after, lambda n, after_id: store.run_artifacts(conn, run_id, kind, n, after_id)
        )
        # A run may have used an artifact of an entity the caller does not reach (its user
        # left that team since): such versions are left out, as if deleted.
        page = [r for r in rows if ctx.access.project_by_id(r["project_id"]) is not None]
        aliases = store.aliases_of(conn, [r["id"] for r in page])
        return connection(
            page,
            more,
            by_id,
            lambda r: ArtifactObj(r, aliases[r["id"]]),
            total=lambda: store.count_run_artifacts(conn, run_id, kind),
        )

    def inputArtifacts(self, info: Info, after: str | None = None, first: int | None = None) -> Any:
        return self._artifacts(info, "input", after, first)

    def outputArtifacts(
        self, info: Info, after: str | None = None, first: int | None = None
    ) -> Any:
        return self._artifacts(info, "output", after, first)

    def lineage(
        self, info: Info, depth: int | None = None, direction: str | None = None
    ) -> dict[str, Any]:
        return lineage_graph(info, "run", self.row["id"], depth, direction)


class ArtifactQueryFields:
    """Mixed into the Query root: `artifact(id:)`."""

    def artifact(self, info: Info, id: str) -> ArtifactObj | None:
        key = decode_id("Artifact", id)
        if key is None or not key.isdigit():
            return None
        try:
            return ArtifactObj(_ctx(info).access.artifact(int(key)))
        except NotFound:
            return None


def metadata_text(value: Any) -> str | None:
    """`metadata` arrives as a JSON string; tolerate an object too."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)
