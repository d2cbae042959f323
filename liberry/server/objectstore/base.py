"""What the server asks of the place file bytes live, whichever it is (a directory or a bucket).

Run files and artifact blobs both go through an `ObjectStore`: keys are `/`-separated paths
(`runs/<run pk>/<name>`, `artifacts/<md5[:2]>/<md5>`), bytes move as async streams of chunks,
and no backend ever holds a whole file in memory or lets a half-written or wrong object
become visible at its key.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BATCH",
    "DigestMismatch",
    "KeyFor",
    "ObjectStore",
    "ObjectStream",
    "StorageError",
    "Stored",
    "UploadTooLarge",
    "batches",
    "check_digest",
]

# Bytes gathered before they are hashed (and written) in one go: few thread hops per file.
BATCH = 1 << 20

#: Where an upload lands: a key, or a function from the bytes' md5 hex to the key (content-
#: addressed objects, whose name is known only once every byte has been hashed).
KeyFor = str | Callable[[str], str]


class StorageError(Exception):
    """The storage cannot be used (bad URL, missing bucket, refused credentials); one line."""


class DigestMismatch(ValueError):
    """The uploaded bytes do not hash to the md5 the client declared."""


class UploadTooLarge(ValueError):
    """The body went past the server's upload limit."""


async def batches(chunks: AsyncIterable[bytes], limit: int) -> AsyncIterator[list[bytes]]:
    """A body's chunks gathered into batches of at least BATCH bytes (the last may be shorter
    or empty), for a worker thread to hash and write a batch per hop; UploadTooLarge as soon
    as the body passes `limit` bytes."""
    size = 0
    batch: list[bytes] = []
    batched = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(f"upload larger than the limit of {limit} bytes")
        batch.append(chunk)
        batched += len(chunk)
        if batched >= BATCH:
            yield batch
            batch, batched = [], 0
    yield batch


@dataclass(frozen=True)
class Stored:
    """An object just written: its key, md5 (hex) and size in bytes."""

    key: str
    md5_hex: str
    size: int


@dataclass
class ObjectStream:
    """An object opened for reading: its size, then its bytes in chunks of about 1 MiB."""

    size: int
    chunks: AsyncIterator[bytes | memoryview]


def check_digest(md5: hashlib._Hash, size: int, expected_hex: str | None) -> str:
    """The md5 hex of an upload, or DigestMismatch when it is not the declared one."""
    got = md5.hexdigest()
    if expected_hex is not None and got != expected_hex:
        raise DigestMismatch(
            f"digest mismatch: the upload URL was issued for md5 {expected_hex} but "
            f"the {size} bytes received hash to {got}; nothing was stored"
        )
    return got


class ObjectStore(ABC):
    """Bytes by key. Writes are all-or-nothing; reads and writes stream."""

    @abstractmethod
    def describe(self) -> str:
        """Where the bytes live, for the server's start line (`files: /data/files`)."""

    @abstractmethod
    def check(self) -> None:
        """Raise StorageError (one line) unless the storage is reachable and writable by us:
        the server checks at start instead of failing on the first upload."""

    @abstractmethod
    async def put_stream(
        self,
        key: KeyFor,
        chunks: AsyncIterable[bytes],
        *,
        limit: int,
        expected_md5: str | None = None,
    ) -> Stored:
        """Store `chunks` at `key`, hashing them (md5) on the way. The object appears only
        whole, and only if the md5 is `expected_md5` (when given): on DigestMismatch,
        UploadTooLarge (past `limit` bytes), a client that hangs up or any other error,
        nothing new is visible at the key."""

    @abstractmethod
    async def open_stream(self, key: str) -> ObjectStream | None:
        """The object at `key` opened for streaming, or None when there is none."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at `key`."""

    def existing(self, keys: Iterable[str]) -> set[str]:
        """The keys among `keys` that name a stored object (a backend with slow lookups
        asks for them concurrently: an artifact names thousands of files)."""
        return {key for key in keys if self.exists(key)}

    @abstractmethod
    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none."""

    @abstractmethod
    def read(self, key: str) -> bytes:
        """A small object's bytes whole (a manifest); FileNotFoundError when missing."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Delete the object at `key`; False when there was none."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (ending in `/`); how many."""

    def make_durable(self, keys: Iterable[str]) -> None:
        """Make sure these stored objects survive a crash before something that names them
        is recorded (an artifact's commit). Objects are durable once `put_stream` returns on
        S3; the local backend fsyncs the directories their renames changed."""
        return None

    def local_path(self, key: str) -> Path | None:
        """A file holding the object, which the server may send as is (a local backend),
        or None: then it is streamed with `open_stream`."""
        return None
