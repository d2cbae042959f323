"""W&B's artifact upload protocol spoken over raw HTTP, step by step, with the operation
texts wandb-core 0.31 sends (see ../shared/reference/wandb-protocol/OPERATIONS.md).

Tests use it to stop half-way (interrupted uploads, corrupt bytes) and to seed many
versions fast; `tests/compat/` drives the official client itself.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from liberry.queries import artifact_writes as ops
from tests.wire import Wire

CREATE, FILES = ops.CREATE_ARTIFACT, ops.CREATE_ARTIFACT_FILES
MANIFEST = ops.CREATE_ARTIFACT_MANIFEST
COMMIT, USE = ops.COMMIT_ARTIFACT, ops.USE_ARTIFACT


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


@dataclass
class Upload:
    """One artifact version on its way in; each step can be run (or skipped) by a test."""

    wire: Wire
    entity: str
    project: str
    run: str
    name: str
    type: str
    files: dict[str, bytes]
    refs: dict[str, str] = field(default_factory=dict)
    aliases: list[str] = field(default_factory=list)
    artifact_id: str = ""
    state: str = ""
    upload_urls: dict[str, str | None] = field(default_factory=dict)

    @property
    def manifest(self) -> bytes:
        contents: dict[str, Any] = {
            n: {"digest": b64md5(d), "size": len(d)} for n, d in self.files.items()
        }
        contents.update({n: {"digest": uri, "ref": uri} for n, uri in self.refs.items()})
        return json.dumps(
            {
                "version": 1,
                "storagePolicy": "wandb-storage-policy-v1",
                "storagePolicyConfig": {"storageLayout": "V2"},
                "contents": contents,
            }
        ).encode()

    @property
    def digest(self) -> str:
        lines = sorted(f"{n}:{e}" for n, e in _digests(self).items())
        return hashlib.md5("\n".join(lines).encode()).hexdigest()

    def create(self) -> dict[str, Any]:
        names = ["latest", *self.aliases]
        aliases = [{"alias": a, "artifactCollectionName": self.name} for a in names]
        data = self.wire.gql(
            CREATE,
            {
                "input": {
                    "artifactTypeName": self.type,
                    "artifactCollectionName": self.name,
                    "entityName": self.entity,
                    "projectName": self.project,
                    "runName": self.run,
                    "digest": self.digest,
                    "digestAlgorithm": "MANIFEST_MD5",
                    "metadata": "{}",
                    "aliases": aliases,
                    "enableDigestDeduplication": True,
                }
            },
        )["createArtifact"]["artifact"]
        self.artifact_id, self.state = data["id"], data["state"]
        return dict(data)

    def _manifest_call(self, digest: str, include_upload: bool) -> dict[str, Any]:
        return dict(
            self.wire.gql(
                MANIFEST,
                {
                    "artifactID": self.artifact_id,
                    "baseArtifactID": None,
                    "name": "wandb_manifest.json",
                    "digest": digest,
                    "entityName": self.entity,
                    "projectName": self.project,
                    "runName": self.run,
                    "manifestType": "FULL",
                    "includeUpload": include_upload,
                },
            )["createArtifactManifest"]["artifactManifest"]
        )

    def declare_files(self) -> dict[str, str | None]:
        manifest_id = self._manifest_call("", False)["id"]
        specs = [
            {
                "artifactID": self.artifact_id,
                "artifactManifestID": manifest_id,
                "name": n,
                "md5": b64md5(d),
                "mimetype": None,
                "uploadPartsInput": None,
            }
            for n, d in self.files.items()
        ]
        edges = self.wire.gql(FILES, {"input": {"artifactFiles": specs, "storageLayout": "V2"}})
        nodes = [e["node"] for e in edges["createArtifactFiles"]["files"]["edges"]]
        self.upload_urls = {n: node["uploadUrl"] for n, node in zip(self.files, nodes, strict=True)}
        return self.upload_urls

    def put_files(self) -> None:
        for name, url in self.upload_urls.items():
            if url is not None:
                r = self.wire.http.put(url, data=self.files[name], auth=None)
                assert r.status_code == 200, r.text

    def put_manifest(self) -> None:
        url = self._manifest_call(b64md5(self.manifest), True)["file"]["uploadUrl"]
        r = self.wire.http.put(url, data=self.manifest, auth=None)
        assert r.status_code == 200, r.text

    def commit(self) -> dict[str, Any]:
        return dict(self.wire.gql(COMMIT, {"artifactID": self.artifact_id})["commitArtifact"])

    def log(self) -> Upload:
        """The whole flow, as the client runs it (skipping uploads on dedup)."""
        self.create()
        if self.state == "COMMITTED":
            return self
        self.declare_files()
        self.put_files()
        self.put_manifest()
        self.commit()
        return self


def _digests(upload: Upload) -> dict[str, str]:
    out = {n: b64md5(d) for n, d in upload.files.items()}
    out.update(upload.refs)
    return out


def use(wire: Wire, entity: str, project: str, run: str, artifact_id: str) -> None:
    wire.gql(
        USE,
        {"entityName": entity, "projectName": project, "runName": run, "artifactID": artifact_id},
    )
