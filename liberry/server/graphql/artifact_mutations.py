"""Artifact mutations, mixed into the Mutation root: the upload protocol W&B's client drives
(createArtifact -> createArtifactManifest -> createArtifactFiles -> PUTs -> commitArtifact)
and the edits (useArtifact, aliases, updateArtifact, deleteArtifact).

Each mutation runs in the request's single write transaction (see executor.py), so a
failing one changes nothing. Blob deletions wait until that transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..store import artifact_changes as changes
from ..store import artifacts as store
from ..store import runs
from ..store.artifact_labels import apply_labels
from ..store.artifact_names import b64_md5_to_hex
from ..store.errors import NotFound, StoreError
from ..store.util import encode_id
from .artifacts import ArtifactObj, artifact_pk, metadata_text, storage_of
from .context import RequestContext

Info = Any


def _ctx(info: Info) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


def _project(ctx: RequestContext, entity: str | None, project: str | None) -> dict[str, Any]:
    entity = entity or ctx.user["username"]
    if not project:
        raise StoreError("projectName is required")
    return ctx.access.require_project(entity, project)


def _run(ctx: RequestContext, project: dict[str, Any], name: str | None) -> dict[str, Any]:
    run = runs.get_run(ctx.conn, project["id"], name) if name else None
    if run is None:
        raise NotFound(f"run {project['entity_name']}/{project['name']}/{name} not found")
    return run


def _artifact(ctx: RequestContext, opaque: str | None) -> dict[str, Any]:
    """The artifact named by an opaque id, when the caller reaches its project."""
    return ctx.access.artifact(artifact_pk(opaque))


def _manifest_payload(ctx: RequestContext, row: dict[str, Any], digest: str | None) -> Any:
    expected = store.expect_manifest(ctx.conn, row["id"], digest or "")
    url = ctx.absolute(storage_of(ctx).upload_manifest_path(row["id"], expected, ctx.user["id"]))
    return {
        "artifactManifest": {
            "id": encode_id("ArtifactManifest", row["id"]),
            "file": {
                "id": encode_id("ArtifactManifestFile", row["id"]),
                "name": "wandb_manifest.json",
                "displayName": "wandb_manifest.json",
                "uploadUrl": url,
                "uploadHeaders": [],
                "directUrl": url,
                "sizeBytes": 0,
            },
        }
    }


class ArtifactMutationFields:
    def createArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        project = _project(ctx, input.get("entityName"), input.get("projectName"))
        run = _run(ctx, project, input["runName"]) if input.get("runName") else None
        spec = {**input, "metadata": metadata_text(input.get("metadata"))}
        run_id = run["id"] if run else None
        row, deduped = store.create_artifact(ctx.conn, project["id"], run_id, spec)
        row = apply_labels(
            ctx.conn, row, ttl=input.get("ttlDurationSeconds"), add=input.get("tags")
        )
        if deduped and run is not None:
            store.record_usage(ctx.conn, row["id"], run["id"], "output")
        return {"artifact": ArtifactObj(row), "clientMutationId": input.get("clientMutationId")}

    def createArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = _artifact(ctx, input.get("artifactID"))
        return _manifest_payload(ctx, row, input.get("digest"))

    def updateArtifactManifest(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        opaque = input.get("artifactManifestID") or ""
        from ..store.util import decode_id

        key = decode_id("ArtifactManifest", opaque)
        if key is None or not key.isdigit():
            raise StoreError(f"malformed artifact manifest id {opaque!r}")
        row = ctx.access.artifact(int(key))
        return _manifest_payload(ctx, row, input.get("digest"))

    def createArtifactFiles(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        storage = storage_of(ctx)
        rows: dict[int, dict[str, Any]] = {}
        edges: list[dict[str, Any]] = []
        files = []
        for item in input.get("artifactFiles") or []:
            pk = artifact_pk(item.get("artifactID"))
            row = rows.get(pk) or rows.setdefault(pk, ctx.access.artifact(pk))
            if row["state"] != store.PENDING:
                raise StoreError("files can only be added to an artifact that is not committed")
            name = item.get("name") or ""
            files.append((pk, row, name, b64_md5_to_hex(item.get("md5") or "", f"file {name!r}")))
        # Stored already (by this or any artifact): no upload, as W&B signals it. Asked of
        # storage at once: on S3, one HEAD per file, concurrently.
        stored = storage.present(md5_hex for _, _, _, md5_hex in files)
        for pk, row, name, md5_hex in files:
            url = (
                None
                if md5_hex in stored
                else ctx.absolute(storage.upload_file_path(pk, md5_hex, name, ctx.user["id"]))
            )
            edges.append(
                {
                    "node": {
                        "id": encode_id("ArtifactFile", f"{pk}:{name}"),
                        "name": name,
                        "displayName": name,
                        "storagePath": f"artifact-blobs/{md5_hex}",
                        "uploadUrl": url,
                        "uploadHeaders": [],
                        "uploadMultipartUrls": None,
                        "artifact": ArtifactObj(row),
                        "sizeBytes": 0,
                        "directUrl": "",
                    },
                    "cursor": str(len(edges)),
                }
            )
        return {
            "files": {
                "edges": edges,
                "pageInfo": {"hasNextPage": False, "hasPreviousPage": False},
            }
        }

    def commitArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        storage = storage_of(ctx)
        row = _artifact(ctx, input.get("artifactID"))
        read_manifest: Callable[[str], bytes] = storage.read
        has_blob: Callable[[str], bool] = storage.has
        if row["state"] == store.PENDING and row.get("manifest_md5"):
            # Every file the manifest names, asked of storage at once (S3: concurrently).
            manifest = storage.read(row["manifest_md5"])
            stored = storage.present(changes.stored_file_md5s(manifest))
            storage.make_durable(stored | {row["manifest_md5"]})
            read_manifest, has_blob = (lambda _md5: manifest), stored.__contains__
        row = changes.commit(ctx.conn, row["id"], read_manifest, has_blob)
        return {"artifact": ArtifactObj(row), "clientMutationId": input.get("clientMutationId")}

    def useArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        project = _project(ctx, input.get("entityName"), input.get("projectName"))
        run = _run(ctx, project, input.get("runName"))
        row = _artifact(ctx, input.get("artifactID"))
        if row["state"] != store.COMMITTED:
            raise StoreError(
                f"artifact {row['collection_name']!r} is not committed yet: wait() for it"
            )
        store.record_usage(ctx.conn, row["id"], run["id"], "input")
        return {"artifact": ArtifactObj(row), "clientMutationId": input.get("clientMutationId")}

    def addAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = _artifact(ctx, input.get("artifactID"))["id"]
        changes.add_aliases(ctx.conn, pk, _alias_names(input))
        return {"success": True, "clientMutationId": input.get("clientMutationId")}

    def deleteAliases(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = _artifact(ctx, input.get("artifactID"))["id"]
        changes.delete_aliases(ctx.conn, pk, _alias_names(input))
        return {"success": True, "clientMutationId": input.get("clientMutationId")}

    def updateArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        pk = _artifact(ctx, input.get("artifactID"))["id"]
        row = changes.update_artifact(
            ctx.conn, pk, input.get("description"), metadata_text(input.get("metadata"))
        )
        row = apply_labels(
            ctx.conn,
            row,
            ttl=input.get("ttlDurationSeconds"),
            add=input.get("tagsToAdd"),
            remove=input.get("tagsToDelete"),
        )
        if input.get("aliases") is not None:
            changes.add_aliases(ctx.conn, pk, _alias_names(input))
        return {"artifact": ArtifactObj(row), "clientMutationId": input.get("clientMutationId")}

    def deleteArtifact(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = _ctx(info)
        row = _artifact(ctx, input.get("artifactID"))
        pk = row["id"]
        digests = changes.delete_artifact(ctx.conn, pk, bool(input.get("deleteAliases")))
        hexes = [d if len(d) == 32 else _hex_or_none(d) for d in digests]
        wanted = [h for h in hexes if h]
        in_use = changes.blobs_in_use(ctx.conn, wanted)
        storage = storage_of(ctx)
        ctx.memo.setdefault("after_commit", []).append(
            lambda: storage.remove_unreferenced(wanted, in_use)
        )
        return {"artifact": ArtifactObj(row), "clientMutationId": input.get("clientMutationId")}


def _alias_names(input: dict[str, Any]) -> list[str]:
    names = []
    for item in input.get("aliases") or []:
        alias = item.get("alias") if isinstance(item, dict) else item
        if not isinstance(alias, str):
            raise StoreError(f"artifact aliases must be strings, got {alias!r}")
        names.append(alias)
    return names


def _hex_or_none(digest: str) -> str | None:
    try:
        return b64_md5_to_hex(digest, "digest")
    except StoreError:
        return None
