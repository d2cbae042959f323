"""Artifacts: one version (`Artifact`), its files, the runs around it, and the paged lists
of types, collections and versions."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ._repr import human_size
from .errors import NotFoundError, UsageError
from .files import File
from .lineage import Lineage, artifact_lineage
from .paging import Page, Paginator
from .paths import RunPath
from .queries import artifacts as q
from .session import Session, SessionOwner, session_of

if TYPE_CHECKING:
    from .run import Run

__all__ = [
    "Artifact",
    "ArtifactCollection",
    "ArtifactCollections",
    "ArtifactFiles",
    "ArtifactType",
    "ArtifactTypes",
    "ArtifactVersions",
    "RunArtifacts",
    "parse_artifact_name",
]

#: Downloads of more than this many bytes in all show a progress bar.
_PROGRESS_BYTES = 10 * 1000 * 1000
_DOWNLOAD_THREADS = 8


def parse_artifact_name(name: str) -> tuple[str, str]:
    """`name[:alias]` -> (collection, alias); `latest` when no alias is given."""
    parts = name.split(":")
    if len(parts) > 2 or not all(parts[:1]) or (len(parts) == 2 and not parts[1]):
        raise UsageError(
            f"malformed artifact name {name!r}: use 'name', 'name:alias' or 'name:vN' "
            "(e.g. 'entity/project/dataset:v3')"
        )
    return parts[0], parts[1] if len(parts) == 2 else "latest"


class Artifact:
    """One committed version of an artifact: `name` (`ds:v3`), `type`, `version`, `aliases`,
    `tags`, `ttl`, `digest`, `size`, `metadata`; `files()`, `download()`, `logged_by()`,
    `used_by()`, `lineage()`."""

    def __init__(self, session: Session | SessionOwner, attrs: dict[str, Any]) -> None:
        self._session = session_of(session)
        self._attrs = attrs
        sequence = attrs.get("artifactSequence") or {}
        project = sequence.get("project") or {}
        self.id: str = attrs["id"]
        self.entity: str = project.get("entityName", "")
        self.project: str = project.get("name", "")
        self.collection: str = sequence.get("name", "")
        self.version_index: int | None = attrs.get("versionIndex")
        self.type: str = (attrs.get("artifactType") or {}).get("name", "")
        self.state: str = attrs.get("state", "")
        self.digest: str = attrs.get("digest", "")
        self.size: int = int(attrs.get("size") or 0)
        self.file_count: int = int(attrs.get("fileCount") or 0)
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")
        self.updated_at: str | None = attrs.get("updatedAt")
        self.metadata: dict[str, Any] = json.loads(attrs.get("metadata") or "{}")
        self.tags: list[str] = [t["name"] for t in attrs.get("tags") or []]
        ttl = attrs.get("ttlDurationSeconds")
        # W&B answers -2 (disabled) or -1 (inherited) when there is no TTL of its own.
        self.ttl: timedelta | None = timedelta(seconds=ttl) if ttl and ttl > 0 else None

    @property
    def version(self) -> str:
        return f"v{self.version_index}"

    @property
    def name(self) -> str:
        """`collection:vN`, as W&B names a version."""
        return f"{self.collection}:{self.version}"

    @property
    def aliases(self) -> list[str]:
        """Named aliases (`latest`, `best`, ...); the `vN` version is `version`."""
        return [a["alias"] for a in self._attrs.get("aliases") or [] if a["alias"] != self.version]

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    # -- files ----------------------------------------------------------------------------
    def files(self, names: list[str] | None = None, per_page: int = 500) -> ArtifactFiles:
        """The version's files (lazily paged), references included (`ref` set)."""
        return ArtifactFiles(self._session, self, names, per_page)

    def download(self, root: str | Path | None = None, *, progress: bool | None = None) -> Path:
        """Download every file under `root` (default `./artifacts/<name>`) and return it.

        Files are fetched in parallel, each streamed to a temporary file, checked against
        its md5 and moved into place. `file://` references are copied from their path; other
        references (`s3://`, ...) are left to their own tools and reported in a warning.
        `progress` shows one bar for the whole download (default: when over 10 MB).
        """
        from tqdm.auto import tqdm

        target = Path(root) if root is not None else Path("artifacts") / self.name.replace(":", "-")
        target.mkdir(parents=True, exist_ok=True)
        files = list(self.files())
        show = self.size > _PROGRESS_BYTES if progress is None else progress
        skipped: list[str] = []
        with tqdm(
            total=sum(f.size or 0 for f in files),
            unit="B",
            unit_scale=True,
            desc=self.name,
            disable=not show,
        ) as bar:

            def fetch(f: ArtifactFile) -> None:
                if f.ref is None:
                    f.download(target, replace=True, progress=False)
                elif f.ref.startswith("file://"):
                    _copy_reference(f, target)
                else:
                    skipped.append(f"{f.name} ({f.ref})")
                bar.update(f.size or 0)

            with ThreadPoolExecutor(_DOWNLOAD_THREADS) as pool:
                for done in [pool.submit(fetch, f) for f in files]:
                    done.result()
        if skipped:
            warnings.warn(
                f"{self.name}: {len(skipped)} reference(s) not downloaded (fetch them from "
                f"their storage): {', '.join(skipped[:5])}",
                stacklevel=2,
            )
        return target

    # -- runs -----------------------------------------------------------------------------
    def logged_by(self) -> Run | None:
        """The run that logged this version (None if that run was deleted)."""
        data = self._session.client.execute(q.ARTIFACT_CREATED_BY, {"id": self.id})
        creator = (data.get("artifact") or {}).get("createdBy")
        return self._run(creator) if creator else None

    def used_by(self) -> list[Run]:
        """The runs that used this version as an input."""
        data = self._session.client.execute(q.ARTIFACT_USED_BY, {"id": self.id})
        edges = ((data.get("artifact") or {}).get("usedBy") or {}).get("edges") or []
        return [self._run(e["node"]) for e in edges if e.get("node")]

    def _run(self, node: dict[str, Any]) -> Run:
        project = node["project"]
        path = RunPath(project["entityName"], project["name"], node["name"])
        return self._session.links.run(self._session, path, node)

    def lineage(self, depth: int | None = None, direction: str = "both") -> Lineage:
        """The runs and versions upstream (`direction="upstream"`: what it was made from),
        downstream (what was made from it) or both, `depth` artifact hops out (all when
        None), in one request. See `liberry.lineage.Lineage`."""
        return artifact_lineage(self._session, self.id, self.path, depth, direction)

    # -- display --------------------------------------------------------------------------
    def __repr__(self) -> str:
        aliases = f" [{', '.join(self.aliases)}]" if self.aliases else ""
        return (
            f"<Artifact {self.entity}/{self.project}/{self.name} ({self.type}, "
            f"{self.file_count} file{'' if self.file_count == 1 else 's'}, "
            f"{human_size(self.size)}){aliases}>"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Artifact) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)


def _copy_reference(f: ArtifactFile, root: Path) -> None:
    assert f.ref is not None
    source = Path(unquote(urlsplit(f.ref).path))
    if not source.is_file():
        raise NotFoundError(f"reference {f.name!r} points at {source}, which does not exist")
    dest = f._target(root)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.copy")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


class ArtifactFile(File):
    """A file of an artifact version; `ref` is set for references (no bytes on the server)."""

    def __init__(
        self, session: Session | SessionOwner, artifact: Artifact, attrs: dict[str, Any]
    ) -> None:
        url = attrs.get("directUrl") or ""
        self.ref: str | None = None if url.startswith(("http://", "https://")) else url
        super().__init__(session, RunPath(artifact.entity, artifact.project, artifact.name), attrs)
        self.artifact = artifact

    def __repr__(self) -> str:
        target = f" -> {self.ref}" if self.ref else ""
        return f"<ArtifactFile {self.name} ({human_size(self.size)}){target}>"


class ArtifactFiles(Paginator[ArtifactFile]):
    def __init__(
        self,
        session: Session | SessionOwner,
        artifact: Artifact,
        names: list[str] | None,
        per_page: int,
    ) -> None:
        super().__init__(per_page)
        self._session, self.artifact, self.names = session_of(session), artifact, names

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[ArtifactFile]:
        data = self._session.client.execute(
            q.ARTIFACT_FILES,
            {"id": self.artifact.id, "names": self.names, "cursor": cursor, "perPage": first},
        )
        conn = (data.get("artifact") or {}).get("files") or {}
        return Page.of(conn, lambda n: ArtifactFile(self._session, self.artifact, n))

    def __repr__(self) -> str:
        return f"<ArtifactFiles of {self.artifact.path}>"


class ArtifactType:
    """An artifact type of a project (`dataset`, `model`, ...); `collections()` lists its
    artifacts."""

    def __init__(
        self, session: Session | SessionOwner, entity: str, project: str, attrs: dict[str, Any]
    ) -> None:
        self._session, self.entity, self.project = session_of(session), entity, project
        self.id: str = attrs["id"]
        self.name: str = attrs["name"]
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")

    def collections(self, per_page: int = 50) -> ArtifactCollections:
        return ArtifactCollections(self._session, self.entity, self.project, self.name, per_page)

    def __repr__(self) -> str:
        return f"<ArtifactType {self.entity}/{self.project}/{self.name}>"


class ArtifactTypes(Paginator[ArtifactType]):
    def __init__(
        self, session: Session | SessionOwner, entity: str, project: str, per_page: int = 50
    ) -> None:
        super().__init__(per_page)
        self._session, self.entity, self.project = session_of(session), entity, project

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[ArtifactType]:
        data = self._session.client.execute(
            q.ARTIFACT_TYPES,
            {"entity": self.entity, "project": self.project, "cursor": cursor, "perPage": first},
        )
        conn = _project(data, self.entity, self.project).get("artifactTypes") or {}
        return Page.of(conn, lambda n: ArtifactType(self._session, self.entity, self.project, n))

    def __repr__(self) -> str:
        return f"<ArtifactTypes of {self.entity}/{self.project}>"


class ArtifactCollection:
    """All versions of one artifact name; `versions()` lists them, newest first."""

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        type: str,
        attrs: dict[str, Any],
    ) -> None:
        self._session, self.entity, self.project, self.type = (
            session_of(session),
            entity,
            project,
            type,
        )
        self.id: str = attrs["id"]
        self.name: str = attrs["name"]
        self.description: str | None = attrs.get("description")
        self.created_at: str | None = attrs.get("createdAt")

    def versions(self, per_page: int = 50) -> ArtifactVersions:
        return ArtifactVersions(
            self._session, self.entity, self.project, self.type, self.name, per_page
        )

    def __repr__(self) -> str:
        return f"<ArtifactCollection {self.entity}/{self.project}/{self.name} ({self.type})>"


class ArtifactCollections(Paginator[ArtifactCollection]):
    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        type: str,
        per_page: int = 50,
    ) -> None:
        super().__init__(per_page)
        self._session, self.entity, self.project, self.type = (
            session_of(session),
            entity,
            project,
            type,
        )

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[ArtifactCollection]:
        data = self._session.client.execute(
            q.ARTIFACT_COLLECTIONS,
            {
                "entity": self.entity,
                "project": self.project,
                "type": self.type,
                "cursor": cursor,
                "perPage": first,
            },
        )
        kind = _project(data, self.entity, self.project).get("artifactType")
        if kind is None:
            raise NotFoundError(f"no artifact type {self.type!r} in {self.entity}/{self.project}")
        return Page.of(
            kind.get("artifactCollections") or {},
            lambda n: ArtifactCollection(self._session, self.entity, self.project, self.type, n),
        )

    def __repr__(self) -> str:
        return f"<ArtifactCollections {self.entity}/{self.project} ({self.type})>"


class ArtifactVersions(Paginator[Artifact]):
    """The committed versions of one collection, newest first."""

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        type: str,
        name: str,
        per_page: int = 50,
    ) -> None:
        super().__init__(per_page)
        self._session, self.entity, self.project, self.type, self.name = (
            session_of(session),
            entity,
            project,
            type,
            name,
        )

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Artifact]:
        data = self._session.client.execute(
            q.ARTIFACT_VERSIONS,
            {
                "entity": self.entity,
                "project": self.project,
                "type": self.type,
                "collection": self.name,
                "cursor": cursor,
                "perPage": first,
            },
        )
        kind = _project(data, self.entity, self.project).get("artifactType")
        if kind is None:
            raise NotFoundError(f"no artifact type {self.type!r} in {self.entity}/{self.project}")
        collection = kind.get("artifactCollection")
        if collection is None:
            raise NotFoundError(
                f"no artifact {self.name!r} of type {self.type!r} in {self.entity}/{self.project}"
            )
        return Page.of(collection.get("artifacts") or {}, lambda n: Artifact(self._session, n))

    def __repr__(self) -> str:
        return f"<ArtifactVersions {self.entity}/{self.project}/{self.name}>"


class RunArtifacts(Paginator[Artifact]):
    """The versions a run logged (`output`) or used (`input`)."""

    def __init__(
        self, session: Session | SessionOwner, run: RunPath, kind: str, per_page: int = 50
    ) -> None:
        super().__init__(per_page)
        self._session, self.run_path, self.kind = session_of(session), run, kind

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Artifact]:
        op = q.RUN_OUTPUT_ARTIFACTS if self.kind == "output" else q.RUN_INPUT_ARTIFACTS
        entity, project, run = self.run_path
        data = self._session.client.execute(
            op,
            {"entity": entity, "project": project, "run": run, "cursor": cursor, "perPage": first},
        )
        node = _project(data, entity, project).get("run")
        if node is None:
            raise NotFoundError(f"run {entity}/{project}/{run} not found")
        return Page.of(node.get("artifacts") or {}, lambda n: Artifact(self._session, n))

    def __repr__(self) -> str:
        return f"<RunArtifacts {self.kind} of {'/'.join(self.run_path)}>"


def get_artifact(
    session: Session, entity: str, project: str, name: str, type: str | None
) -> Artifact:
    """One version by `name:alias` (or `name:vN`); `type`, when given, must match."""
    collection, alias = parse_artifact_name(name)
    data = session.client.execute(
        q.ARTIFACT_BY_NAME,
        {"entity": entity, "project": project, "name": f"{collection}:{alias}"},
    )
    node = _project(data, entity, project).get("artifact")
    if node is None:
        raise NotFoundError(
            f"artifact {entity}/{project}/{collection}:{alias} not found: no artifact "
            f"{collection!r}, or it has no version or alias {alias!r}"
        )
    artifact = Artifact(session, node)
    if type is not None and artifact.type != type:
        raise UsageError(f"artifact {artifact.path} is of type {artifact.type!r}, not {type!r}")
    return artifact


def _project(data: dict[str, Any], entity: str, project: str) -> dict[str, Any]:
    found = data.get("project")
    if found is None:
        raise NotFoundError(f"project {entity}/{project} not found")
    return dict(found)
