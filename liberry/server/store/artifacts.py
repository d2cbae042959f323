"""Artifact types, collections and versions: create, resolve, list, alias (committing,
editing and deleting a version is `artifact_changes.py`'s).

A version is created PENDING (`createArtifact`), its files and manifest are uploaded, and
`commitArtifact` makes it COMMITTED: it then gets its number (`v0`, `v1`, ... per
collection, never reused), `latest` and the requested aliases, and its file list (read from
the manifest it uploaded). Only committed versions are ever resolved by name.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select

from . import tables as t
from .artifact_names import (
    ArtifactRef,
    b64_md5_to_hex,
    is_version_alias,
    validate_alias,
    validate_collection_name,
)
from .errors import NotFound, StoreError
from .util import dumps, fetch_dicts, now_iso

PENDING = "PENDING"
COMMITTED = "COMMITTED"

_A, _C, _T = t.artifacts, t.artifact_collections, t.artifact_types

# An artifact row with what every view of it needs: its collection, type and project.
_ARTIFACT_COLUMNS: list[Any] = [
    _A,
    _C.c.name.label("collection_name"),
    _C.c.project_id,
    _C.c.type_id,
    _T.c.name.label("type_name"),
]


def _artifact_select() -> Any:
    return (
        select(*_ARTIFACT_COLUMNS)
        .join(_C, _C.c.id == _A.c.collection_id)
        .join(_T, _T.c.id == _C.c.type_id)
    )


# -- types and collections ----------------------------------------------------------------
def get_type(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    rows = fetch_dicts(conn, select(_T).where(_T.c.project_id == project_id, _T.c.name == name))
    return rows[0] if rows else None


def list_types(
    conn: Connection, project_id: int, first: int, after_id: int | None
) -> list[dict[str, Any]]:
    stmt = select(_T).where(_T.c.project_id == project_id)
    if after_id is not None:
        stmt = stmt.where(_T.c.id > after_id)
    return fetch_dicts(conn, stmt.order_by(_T.c.id).limit(first))


def _ensure_type(conn: Connection, project_id: int, name: str) -> dict[str, Any]:
    found = get_type(conn, project_id, name)
    if found:
        return found
    validate_collection_name(name)
    conn.execute(_T.insert().values(project_id=project_id, name=name, created_at=now_iso()))
    created = get_type(conn, project_id, name)
    assert created is not None
    return created


_COLLECTION_COLUMNS: list[Any] = [_C, _T.c.name.label("type_name")]


def get_collection(conn: Connection, project_id: int, name: str) -> dict[str, Any] | None:
    rows = fetch_dicts(
        conn,
        select(*_COLLECTION_COLUMNS)
        .join(_T, _T.c.id == _C.c.type_id)
        .where(_C.c.project_id == project_id, _C.c.name == name),
    )
    return rows[0] if rows else None


def get_collection_by_id(conn: Connection, pk: int) -> dict[str, Any] | None:
    rows = fetch_dicts(
        conn, select(*_COLLECTION_COLUMNS).join(_T, _T.c.id == _C.c.type_id).where(_C.c.id == pk)
    )
    return rows[0] if rows else None


def list_collections(
    conn: Connection, type_id: int, first: int, after_id: int | None
) -> list[dict[str, Any]]:
    stmt = (
        select(*_COLLECTION_COLUMNS)
        .join(_T, _T.c.id == _C.c.type_id)
        .where(_C.c.type_id == type_id)
    )
    if after_id is not None:
        stmt = stmt.where(_C.c.id > after_id)
    return fetch_dicts(conn, stmt.order_by(_C.c.id).limit(first))


def count_collections(conn: Connection, type_id: int) -> int:
    stmt = select(func.count()).select_from(_C).where(_C.c.type_id == type_id)
    return int(conn.execute(stmt).scalar_one())


def _ensure_collection(
    conn: Connection, project_id: int, type_name: str, name: str, description: str | None
) -> dict[str, Any]:
    validate_collection_name(name)
    found = get_collection(conn, project_id, name)
    if found:
        if found["type_name"] != type_name:
            raise StoreError(
                f"artifact {name!r} already exists with type {found['type_name']!r}; "
                f"log it as that type or choose another name (got type {type_name!r})"
            )
        return found
    kind = _ensure_type(conn, project_id, type_name)
    now = now_iso()
    conn.execute(
        _C.insert().values(
            project_id=project_id,
            type_id=kind["id"],
            name=name,
            description=description,
            next_version=0,
            created_at=now,
            updated_at=now,
        )
    )
    created = get_collection(conn, project_id, name)
    assert created is not None
    return created


# -- versions ----------------------------------------------------------------------------
def get_artifact(conn: Connection, pk: int) -> dict[str, Any] | None:
    rows = fetch_dicts(conn, _artifact_select().where(_A.c.id == pk))
    return rows[0] if rows else None


# Built once: an artifact file's PUT asks it every time, and building a statement (and its
# cache key) costs SQLAlchemy more than SQLite takes to answer it.
_PLACE = (
    select(_A.c.state, _C.c.project_id, t.projects.c.entity_id)
    .join(_C, _C.c.id == _A.c.collection_id)
    .join(t.projects, t.projects.c.id == _C.c.project_id)
    .where(_A.c.id == bindparam("pk"))
)


def artifact_place(conn: Connection, pk: int) -> tuple[str, int, int] | None:
    """(state, project id, entity id) of artifact `pk`, or None: what an upload's access
    check needs, without the whole row."""
    row = conn.execute(_PLACE, {"pk": pk}).first()
    return None if row is None else (str(row[0]), int(row[1]), int(row[2]))


def require_artifact(conn: Connection, pk: int) -> dict[str, Any]:
    row = get_artifact(conn, pk)
    if row is None:
        raise NotFound("no artifact with that id: it was never created, or it was deleted")
    return row


def resolve(conn: Connection, project_id: int, ref: ArtifactRef) -> dict[str, Any] | None:
    """The committed version `ref` names in the project, or None."""
    stmt = _artifact_select().where(
        _C.c.project_id == project_id, _C.c.name == ref.collection, _A.c.state == COMMITTED
    )
    index = ref.version_index
    if index is not None:
        stmt = stmt.where(_A.c.version_index == index)
    elif ref.digest is not None:
        stmt = stmt.where(_A.c.digest == ref.digest).order_by(_A.c.version_index.desc())
    else:
        alias = t.artifact_aliases
        stmt = stmt.join(
            alias,
            and_(alias.c.artifact_id == _A.c.id, alias.c.collection_id == _A.c.collection_id),
        ).where(alias.c.alias == ref.alias)
    rows = fetch_dicts(conn, stmt.limit(1))
    return rows[0] if rows else None


def latest_of(conn: Connection, collection_id: int) -> dict[str, Any] | None:
    alias = t.artifact_aliases
    rows = fetch_dicts(
        conn,
        _artifact_select()
        .join(alias, alias.c.artifact_id == _A.c.id)
        .where(alias.c.collection_id == collection_id, alias.c.alias == "latest"),
    )
    return rows[0] if rows else None


def list_versions(
    conn: Connection,
    collection_id: int,
    first: int,
    after_index: int | None,
    state: str | None = COMMITTED,
) -> list[dict[str, Any]]:
    """A page of a collection's versions, newest first, keyset-paged by version number."""
    stmt = _artifact_select().where(_A.c.collection_id == collection_id)
    if state is not None:
        stmt = stmt.where(_A.c.state == state)
    if after_index is not None:
        stmt = stmt.where(_A.c.version_index < after_index)
    return fetch_dicts(conn, stmt.order_by(_A.c.version_index.desc()).limit(first))


def count_versions(conn: Connection, collection_id: int, state: str | None = COMMITTED) -> int:
    stmt = select(func.count()).select_from(_A).where(_A.c.collection_id == collection_id)
    if state is not None:
        stmt = stmt.where(_A.c.state == state)
    return int(conn.execute(stmt).scalar_one())


def aliases_of(conn: Connection, artifact_ids: Sequence[int]) -> dict[int, list[str]]:
    """Named aliases per artifact, for a whole page in one query."""
    out: dict[int, list[str]] = {pk: [] for pk in artifact_ids}
    if not artifact_ids:
        return out
    rows = conn.execute(
        select(t.artifact_aliases.c.artifact_id, t.artifact_aliases.c.alias)
        .where(t.artifact_aliases.c.artifact_id.in_(list(artifact_ids)))
        .order_by(t.artifact_aliases.c.alias)
    )
    for pk, alias in rows:
        out[pk].append(alias)
    return out


def create_artifact(
    conn: Connection, project_id: int, run_id: int | None, spec: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """`createArtifact`: a PENDING version, or, when a committed version of the collection
    already has this digest, that version (with the requested aliases); -> (row, deduped)."""
    type_name = spec.get("artifactTypeName")
    name = spec.get("artifactCollectionName") or (spec.get("artifactCollectionNames") or [None])[0]
    digest = spec.get("digest")
    if not type_name or not name or not digest:
        raise StoreError("createArtifact needs artifactTypeName, artifactCollectionName and digest")
    metadata = spec.get("metadata") or "{}"
    try:
        if not isinstance(json.loads(metadata), dict):
            raise ValueError
    except ValueError:
        raise StoreError("artifact metadata must be a JSON object (as a string)") from None
    aliases = [_input_alias(a, name) for a in spec.get("aliases") or []]
    collection = _ensure_collection(conn, project_id, type_name, name, spec.get("description"))
    if spec.get("enableDigestDeduplication", True) is not False:
        same = fetch_dicts(
            conn,
            _artifact_select()
            .where(
                _A.c.collection_id == collection["id"],
                _A.c.digest == digest,
                _A.c.state == COMMITTED,
            )
            .order_by(_A.c.version_index.desc())
            .limit(1),
        )
        if same:
            set_aliases(conn, collection["id"], same[0]["id"], aliases)
            return same[0], True
    now = now_iso()
    inserted = conn.execute(
        _A.insert().values(
            collection_id=collection["id"],
            state=PENDING,
            digest=digest,
            description=spec.get("description"),
            metadata=metadata,
            run_id=run_id,
            pending_aliases=dumps(aliases),
            history_step=spec.get("historyStep"),
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key
    assert inserted is not None
    return require_artifact(conn, int(inserted[0])), False


def _input_alias(item: Any, collection: str) -> str:
    alias = item.get("alias") if isinstance(item, dict) else item
    if not isinstance(alias, str):
        raise StoreError(f"artifact aliases must be strings, got {alias!r}")
    other = item.get("artifactCollectionName") if isinstance(item, dict) else None
    if other and other != collection:
        raise StoreError(f"alias {alias!r} is for collection {other!r}, not {collection!r}")
    return validate_alias(alias)


def expect_manifest(conn: Connection, pk: int, digest_b64: str) -> str | None:
    """Record the md5 the client declared for the manifest; its hex, or None if not yet."""
    if not digest_b64:
        return None
    hex_digest = b64_md5_to_hex(digest_b64, "manifest digest")
    conn.execute(_A.update().where(_A.c.id == pk).values(manifest_expected=hex_digest))
    return hex_digest


def set_manifest(conn: Connection, pk: int, md5_hex: str) -> None:
    row = require_artifact(conn, pk)
    if row["state"] != PENDING:
        raise StoreError("this artifact is already committed; its manifest cannot change")
    conn.execute(_A.update().where(_A.c.id == pk).values(manifest_md5=md5_hex))


def set_aliases(conn: Connection, collection_id: int, pk: int, aliases: Sequence[str]) -> None:
    """Point each alias at this version, moving it off whichever version had it."""
    names = [a for a in dict.fromkeys(aliases) if not is_version_alias(a)]
    if not names:
        return
    table = t.artifact_aliases
    conn.execute(
        delete(table).where(table.c.collection_id == collection_id, table.c.alias.in_(names))
    )
    conn.execute(
        table.insert(),
        [{"collection_id": collection_id, "alias": a, "artifact_id": pk} for a in names],
    )


# -- files -------------------------------------------------------------------------------
def list_files(
    conn: Connection,
    pk: int,
    *,
    names: Sequence[str] | None,
    first: int,
    after_id: int | None,
    stored_only: bool = False,
) -> tuple[list[dict[str, Any]], bool]:
    table = t.artifact_files
    stmt = select(table).where(table.c.artifact_id == pk)
    if stored_only:
        stmt = stmt.where(table.c.ref.is_(None))
    if names:
        stmt = stmt.where(table.c.name.in_(list(names)))
    if after_id is not None:
        stmt = stmt.where(table.c.id > after_id)
    rows = fetch_dicts(conn, stmt.order_by(table.c.id).limit(first + 1))
    return rows[:first], len(rows) > first


def count_files(conn: Connection, pk: int) -> int:
    table = t.artifact_files
    stmt = select(func.count()).select_from(table).where(table.c.artifact_id == pk)
    return int(conn.execute(stmt).scalar_one())


# -- runs --------------------------------------------------------------------------------
def record_usage(conn: Connection, pk: int, run_id: int, kind: str) -> None:
    table = t.artifact_usage
    exists = conn.execute(
        select(table.c.kind).where(
            table.c.artifact_id == pk, table.c.run_id == run_id, table.c.kind == kind
        )
    ).first()
    if exists is None:
        conn.execute(
            table.insert().values(artifact_id=pk, run_id=run_id, kind=kind, created_at=now_iso())
        )


def run_artifacts(
    conn: Connection, run_id: int, kind: str, first: int, after_id: int | None
) -> list[dict[str, Any]]:
    """Committed versions a run logged (`output`) or used (`input`), in the order it did."""
    usage = t.artifact_usage
    stmt = (
        _artifact_select()
        .join(usage, usage.c.artifact_id == _A.c.id)
        .where(usage.c.run_id == run_id, usage.c.kind == kind, _A.c.state == COMMITTED)
    )
    if after_id is not None:
        stmt = stmt.where(_A.c.id > after_id)
    return fetch_dicts(conn, stmt.order_by(_A.c.id).limit(first))


def count_run_artifacts(conn: Connection, run_id: int, kind: str) -> int:
    usage = t.artifact_usage
    stmt = (
        select(func.count())
        .select_from(usage.join(_A, _A.c.id == usage.c.artifact_id))
        .where(usage.c.run_id == run_id, usage.c.kind == kind, _A.c.state == COMMITTED)
    )
    return int(conn.execute(stmt).scalar_one())


def runs_using(conn: Connection, pk: int, kind: str = "input") -> list[int]:
    usage = t.artifact_usage
    stmt = (
        select(usage.c.run_id)
        .where(usage.c.artifact_id == pk, usage.c.kind == kind)
        .order_by(usage.c.created_at)
    )
    return [r[0] for r in conn.execute(stmt)]
