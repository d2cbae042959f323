"""Artifact file bytes on disk, content-addressed, and the signed URLs that move them.

Every artifact file (and every manifest) is stored once, as `<root>/<md5[:2]>/<md5>`, so
an identical file in two artifacts, or in two versions of one, takes the space of one.
A blob is written to a temporary file while its md5 is computed, then renamed into place
only if the md5 is the one the client declared: a blob's name is always its content, and
an interrupted or corrupt upload never becomes a blob. Commit checks every blob a manifest
names exists, so no committed artifact points at bytes that are not there.

W&B's client sends no credentials with these PUTs and GETs, hence the signed URLs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import anyio.to_thread

from .blobs import Blobs

_HEX = re.compile(r"^[0-9a-f]{32}$")
# Bytes gathered before a worker thread hashes and writes them: few thread hops per file.
_BATCH = 1 << 20


class DigestMismatch(ValueError):
    """The uploaded bytes do not hash to the md5 the client declared."""


class UploadTooLarge(ValueError):
    """The body went past the server's upload limit."""


class ArtifactStorage:
    def __init__(self, root: Path, blobs: Blobs) -> None:
        self.root = root
        self._blobs = blobs
        self._tmp = root / ".incoming"
        self._tmp.mkdir(parents=True, exist_ok=True)

    # -- blobs --------------------------------------------------------------------------
    def blob_path(self, md5_hex: str) -> Path:
        if not _HEX.match(md5_hex):
            raise ValueError(f"not a hex md5: {md5_hex!r}")
        return self.root / md5_hex[:2] / md5_hex

    def has(self, md5_hex: str) -> bool:
        return self.blob_path(md5_hex).is_file()

    async def receive(
        self, chunks: AsyncIterator[bytes], expected_hex: str | None, limit: int
    ) -> tuple[str, int]:
        """Stream a body into a blob; returns (md5 hex, size). The body is never held in
        memory whole: chunks are gathered up to `_BATCH` bytes, then hashed and written in a
        worker thread, so the event loop keeps serving other uploads meanwhile."""
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="up-")
        tmp = Path(tmp_name)
        md5 = hashlib.md5()
        size = 0

        def absorb(fh: BinaryIO, parts: list[bytes]) -> None:
            for part in parts:  # hashlib releases the GIL on large buffers
                md5.update(part)
                fh.write(part)

        try:
            with os.fdopen(fd, "wb", buffering=0) as fh:
                batch: list[bytes] = []
                batched = 0
                async for chunk in chunks:
                    size += len(chunk)
                    if size > limit:
                        raise UploadTooLarge(f"upload larger than the limit of {limit} bytes")
                    batch.append(chunk)
                    batched += len(chunk)
                    if batched >= _BATCH:
                        await anyio.to_thread.run_sync(absorb, fh, batch)
                        batch, batched = [], 0
                await anyio.to_thread.run_sync(absorb, fh, batch)
                # Durable before it is acknowledged: nothing acknowledged is ever lost.
                await anyio.to_thread.run_sync(os.fsync, fh.fileno())
            got = md5.hexdigest()
            if expected_hex is not None and got != expected_hex:
                raise DigestMismatch(
                    f"digest mismatch: the upload URL was issued for md5 {expected_hex} but "
                    f"the {size} bytes received hash to {got}; nothing was stored"
                )
            target = self.blob_path(got)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Same name, same bytes: if another upload got there first, either copy is it.
            os.replace(tmp, target)
            return got, size
        finally:
            tmp.unlink(missing_ok=True)

    def remove_unreferenced(self, md5_hexes: Iterable[str], still_used: set[str]) -> int:
        """Delete the blobs in `md5_hexes` that no artifact row still names."""
        count = 0
        for md5_hex in set(md5_hexes) - still_used:
            try:
                self.blob_path(md5_hex).unlink()
                count += 1
            except (FileNotFoundError, ValueError):
                pass
        return count

    # -- signed URLs --------------------------------------------------------------------
    def _url(self, method: str, key: str, path: str, user_id: int | None) -> str:
        return f"{path}?{self._blobs.signed_query(method, key, user_id)}"

    def upload_file_path(
        self, artifact_pk: int, md5_hex: str, name: str, user_id: int | None = None
    ) -> str:
        key = upload_key(artifact_pk, md5_hex)
        return self._url("PUT", key, f"/storage/{key}/{quote(name)}", user_id)

    def upload_manifest_path(
        self, artifact_pk: int, md5_hex: str | None, user_id: int | None = None
    ) -> str:
        key = manifest_key(artifact_pk, md5_hex)
        return self._url("PUT", key, f"/storage/{key}", user_id)

    def download_path(self, md5_hex: str, name: str, user_id: int | None = None) -> str:
        key = download_key(md5_hex)
        return self._url("GET", key, f"/storage/{key}/{quote(name)}", user_id)

    def verify(
        self, method: str, key: str, exp: str | None, sig: str | None, user_id: str | None
    ) -> str | None:
        return self._blobs.verify(method, key, exp, sig, user_id)


# The signed part of each URL: what it may touch, not its cosmetic file name (names reach
# the server percent-decoded, so signing them would make odd names fail).
def upload_key(artifact_pk: int, md5_hex: str) -> str:
    return f"artifacts/{artifact_pk}/files/{md5_hex}"


def manifest_key(artifact_pk: int, md5_hex: str | None) -> str:
    return f"artifacts/{artifact_pk}/manifest/{md5_hex or 'any'}"


def download_key(md5_hex: str) -> str:
    return f"artifact-blobs/{md5_hex}"


_BY_ROOT: dict[Path, ArtifactStorage] = {}


def storage_for(blobs: Blobs) -> ArtifactStorage:
    """The one ArtifactStorage beside a server's run files (`<files>/artifacts`)."""
    root = blobs.root / "artifacts"
    found = _BY_ROOT.get(root)
    if found is None or found._blobs is not blobs:
        found = _BY_ROOT[root] = ArtifactStorage(root, blobs)
    return found
