"""Artifact file bytes in the object store, content-addressed, and the signed URLs that move them.

Every artifact file (and every manifest) is stored once, as object `artifacts/<md5[:2]>/<md5>`
(on local disk `<files>/artifacts/<md5[:2]>/<md5>`, as before), so an identical file in two
artifacts, or in two versions of one, takes the space of one. A blob's md5 is computed while
it streams in, and the object appears only if the md5 is the one the client declared (see
`ObjectStore.put_stream`): a blob's name is always its content, and an interrupted or
corrupt upload never becomes a blob. Commit checks every blob a manifest names exists, so
no committed artifact points at bytes that are not there.

W&B's client sends no credentials with these PUTs and GETs, hence the signed URLs.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from urllib.parse import quote

from .blobs import Blobs
from .objectstore import DigestMismatch, ObjectStore, UploadTooLarge

__all__ = ["ArtifactStorage", "DigestMismatch", "UploadTooLarge", "storage_for"]

_HEX = re.compile(r"^[0-9a-f]{32}$")


class ArtifactStorage:
    def __init__(self, objects: ObjectStore, blobs: Blobs) -> None:
        self.objects = objects
        self._blobs = blobs

    # -- blobs --------------------------------------------------------------------------
    @staticmethod
    def blob_key(md5_hex: str) -> str:
        if not _HEX.match(md5_hex):
            raise ValueError(f"not a hex md5: {md5_hex!r}")
        return f"artifacts/{md5_hex[:2]}/{md5_hex}"

    def has(self, md5_hex: str) -> bool:
        return self.objects.exists(self.blob_key(md5_hex))

    def present(self, md5_hexes: Iterable[str]) -> set[str]:
        """Which of these blobs are stored, asked of the store at once (S3: concurrently)."""
        keys = {self.blob_key(h): h for h in md5_hexes}
        return {keys[k] for k in self.objects.existing(keys)}

    def make_durable(self, md5_hexes: Iterable[str]) -> None:
        """Before a commit names these blobs: they must survive a crash (see ObjectStore)."""
        self.objects.make_durable(self.blob_key(h) for h in md5_hexes)

    def read(self, md5_hex: str) -> bytes:
        """A (small) blob's bytes whole: a manifest, read at commit."""
        return self.objects.read(self.blob_key(md5_hex))

    async def receive(
        self, chunks: AsyncIterator[bytes], expected_hex: str | None, limit: int
    ) -> tuple[str, int]:
        """Stream a body into a blob; returns (md5 hex, size). The body is never held in
        memory whole, and becomes a blob only if it hashes to `expected_hex` (when given)."""
        key = self.blob_key(expected_hex) if expected_hex is not None else self.blob_key
        stored = await self.objects.put_stream(key, chunks, limit=limit, expected_md5=expected_hex)
        return stored.md5_hex, stored.size

    def remove_unreferenced(self, md5_hexes: Iterable[str], still_used: set[str]) -> int:
        """Delete the blobs in `md5_hexes` that no artifact row still names."""
        count = 0
        for md5_hex in set(md5_hexes) - still_used:
            with contextlib.suppress(ValueError):  # not an md5: never stored
                count += self.objects.delete(self.blob_key(md5_hex))
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


def storage_for(blobs: Blobs) -> ArtifactStorage:
    """Artifact blobs beside a server's run files, in the same object store (stateless:
    cheap to make per request)."""
    return ArtifactStorage(blobs.objects, blobs)
