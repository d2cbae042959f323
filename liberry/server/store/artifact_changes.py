"""An artifact version's changes after it is created: `commit` (numbering, `latest`, the
file list from its manifest), aliases, description/metadata edits and deletion, and which
stored blobs are still in use. Creating and reading versions is `artifacts.py`'s.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, select, update

from . import tables as t
from .artifact_names import b64_md5_to_hex, is_version_alias, validate_alias
from .artifacts import (
    COMMITTED,
    aliases_of,
    list_versions,
    record_usage,
    require_artifact,
    set_aliases,
)
from .errors import StoreError
from .util import now_iso

__all__ = [
    "add_aliases",
    "blobs_in_use",
    "commit",
    "delete_aliases",
    "delete_artifact",
    "update_artifact",
]

_A, _C = t.artifacts, t.artifact_collections


def commit(
    conn: Connection,
    pk: int,
    read_manifest: Callable[[str], bytes],
    has_blob: Callable[[str], bool],
) -> dict[str, Any]:
    """`commitArtifact`: check the manifest and every stored file are uploaded, record the
    files, number the version and move its aliases. Fails (nothing changed) otherwise."""
    row = require_artifact(conn, pk)
    if row["state"] == COMMITTED:
        return row  # a retried commit
    if not row["manifest_md5"]:
        raise StoreError(
            f"cannot commit artifact {row['collection_name']!r}: its manifest was never "
            "uploaded (the upload was interrupted?); it stays PENDING"
        )
    entries = _manifest_entries(read_manifest(row["manifest_md5"]))
    files = []
    for name, entry in entries.items():
        ref = entry.get("ref")
        digest = str(entry.get("digest") or "")
        if not ref:
            md5_hex = b64_md5_to_hex(digest, f"manifest entry {name!r}")
            if not has_blob(md5_hex):
                raise StoreError(
                    f"cannot commit artifact {row['collection_name']!r}: file {name!r} "
                    f"(md5 {digest}) was never uploaded; it stays PENDING"
                )
        size = entry.get("size")
        files.append(
            {
                "artifact_id": pk,
                "name": name,
                "digest": digest,
                "size": int(size) if isinstance(size, int | float) else None,
                "ref": str(ref) if ref else None,
            }
        )
    if files:
        conn.execute(t.artifact_files.insert(), files)
    collection = conn.execute(
        select(_C.c.next_version).where(_C.c.id == row["collection_id"])
    ).scalar_one()
    now = now_iso()
    conn.execute(
        _C.update()
        .where(_C.c.id == row["collection_id"])
        .values(next_version=collection + 1, updated_at=now)
    )
    conn.execute(
        _A.update()
        .where(_A.c.id == pk)
        .values(
            state=COMMITTED,
            version_index=collection,
            size=sum(f["size"] or 0 for f in files),
            file_count=len(files),
            updated_at=now,
        )
    )
    aliases = ["latest", *json.loads(row["pending_aliases"] or "[]")]
    set_aliases(conn, row["collection_id"], pk, aliases)
    if row["run_id"] is not None:
        record_usage(conn, pk, row["run_id"], "output")
    return require_artifact(conn, pk)


def stored_file_md5s(raw_manifest: bytes) -> list[str]:
    """The md5 (hex) of every file a manifest says was uploaded (references aside), so the
    caller can ask storage about all of them at once before `commit`; an entry whose digest
    does not parse is left out, for `commit` to refuse by name."""
    found = []
    for name, entry in _manifest_entries(raw_manifest).items():
        if not entry.get("ref"):
            with contextlib.suppress(StoreError):
                found.append(b64_md5_to_hex(str(entry.get("digest") or ""), name))
    return found


def _manifest_entries(raw: bytes) -> dict[str, dict[str, Any]]:
    try:
        manifest = json.loads(raw)
    except ValueError:
        raise StoreError("the uploaded artifact manifest is not valid JSON") from None
    contents = manifest.get("contents") if isinstance(manifest, dict) else None
    if not isinstance(contents, dict) or not all(isinstance(v, dict) for v in contents.values()):
        raise StoreError('the uploaded artifact manifest has no "contents" object of entries')
    return contents


def add_aliases(conn: Connection, pk: int, aliases: Sequence[str]) -> None:
    row = _committed(conn, pk, "add aliases to")
    for alias in aliases:
        validate_alias(alias)
        if is_version_alias(alias):
            raise StoreError(f"alias {alias!r} is reserved: versions are numbered by the server")
    set_aliases(conn, row["collection_id"], pk, aliases)


def delete_aliases(conn: Connection, pk: int, aliases: Sequence[str]) -> None:
    row = _committed(conn, pk, "remove aliases from")
    table = t.artifact_aliases
    conn.execute(
        delete(table).where(
            table.c.collection_id == row["collection_id"],
            table.c.artifact_id == pk,
            table.c.alias.in_(list(aliases)),
        )
    )


def update_artifact(
    conn: Connection, pk: int, description: str | None, metadata: str | None
) -> dict[str, Any]:
    require_artifact(conn, pk)
    values: dict[str, Any] = {"updated_at": now_iso()}
    if description is not None:
        values["description"] = description
    if metadata is not None:
        try:
            if not isinstance(json.loads(metadata), dict):
                raise ValueError
        except ValueError:
            raise StoreError("artifact metadata must be a JSON object (as a string)") from None
        values["metadata"] = metadata
    conn.execute(update(_A).where(_A.c.id == pk).values(**values))
    return require_artifact(conn, pk)


def delete_artifact(conn: Connection, pk: int, delete_aliases: bool) -> list[str]:
    """Delete a version; returns the digests of its stored files (to free unshared blobs).
    Like W&B, a version that still has named aliases is kept unless `delete_aliases`."""
    row = require_artifact(conn, pk)
    named = aliases_of(conn, [pk])[pk]
    if named and not delete_aliases:
        raise StoreError(
            f"artifact {row['collection_name']}:v{row['version_index']} still has aliases "
            f"{named}: remove them first, or delete with delete_aliases=True"
        )
    digests = [
        r[0]
        for r in conn.execute(
            select(t.artifact_files.c.digest).where(
                t.artifact_files.c.artifact_id == pk, t.artifact_files.c.ref.is_(None)
            )
        )
    ]
    conn.execute(delete(_A).where(_A.c.id == pk))
    if row["manifest_md5"]:
        digests.append(row["manifest_md5"])
    # `latest` follows the newest remaining version.
    if "latest" in named:
        newest = list_versions(conn, row["collection_id"], 1, None)
        if newest:
            set_aliases(conn, row["collection_id"], newest[0]["id"], ["latest"])
    return digests


def blobs_in_use(conn: Connection, md5_hexes: Sequence[str]) -> set[str]:
    """Of these blobs (hex md5), the ones some artifact file row or manifest still names."""
    from .artifact_names import hex_to_b64_md5

    wanted = {h: hex_to_b64_md5(h) for h in md5_hexes if len(h) == 32}
    used = {
        r[0]
        for r in conn.execute(
            select(t.artifact_files.c.digest).where(
                t.artifact_files.c.digest.in_(list(wanted.values())),
                t.artifact_files.c.ref.is_(None),
            )
        )
    }
    manifests = {
        r[0]
        for r in conn.execute(select(_A.c.manifest_md5).where(_A.c.manifest_md5.in_(list(wanted))))
    }
    return {h for h, b64 in wanted.items() if b64 in used or h in manifests}


def _committed(conn: Connection, pk: int, action: str) -> dict[str, Any]:
    row = require_artifact(conn, pk)
    if row["state"] != COMMITTED:
        raise StoreError(f"cannot {action} artifact {row['collection_name']!r}: not committed yet")
    return row
