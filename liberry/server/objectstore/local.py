"""Objects as files under a directory (`--data-dir`'s `files/`): the default storage.

An upload is written to a temporary file in `<root>/.incoming` while it is hashed, fsynced,
then renamed onto its key's path: the rename is atomic, so a reader sees the old file or the
new one whole, and an interrupted or refused upload leaves nothing but its temp file, which
is removed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from .base import (
    BATCH,
    KeyFor,
    ObjectStore,
    ObjectStream,
    StorageError,
    Stored,
    UploadTooLarge,
    check_digest,
)

__all__ = ["LocalObjectStore"]


class LocalObjectStore(ObjectStore):
    """Object `a/b/c` is the file `<root>/a/b/c`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._incoming = root / ".incoming"

    def describe(self) -> str:
        return str(self.root)

    def check(self) -> None:
        try:
            self._incoming.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self._incoming):
                pass
        except OSError as exc:
            raise StorageError(f"cannot write files under {self.root}: {exc}") from None

    def path(self, key: str) -> Path:
        parts = key.split("/")
        if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
            raise ValueError(f"not an object key: {key!r}")
        return self.root.joinpath(*parts)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    async def put_stream(
        self,
        key: KeyFor,
        chunks: AsyncIterable[bytes],
        *,
        limit: int,
        expected_md5: str | None = None,
    ) -> Stored:
        """The body is never held in memory whole: chunks are gathered up to `BATCH` bytes,
        then hashed and written in a worker thread, so the event loop keeps serving other
        uploads meanwhile."""
        self._incoming.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=self._incoming, prefix="up-")
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
                    if batched >= BATCH:
                        await anyio.to_thread.run_sync(absorb, fh, batch)
                        batch, batched = [], 0
                await anyio.to_thread.run_sync(absorb, fh, batch)
                # Durable before it is acknowledged: nothing acknowledged is ever lost.
                await anyio.to_thread.run_sync(os.fsync, fh.fileno())
            got = check_digest(md5, size, expected_md5)
            name = key if isinstance(key, str) else key(got)
            target = self.path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Same key, same content-addressed bytes: if another upload got there first,
            # either copy is it; for a run file the last upload wins, as on W&B.
            os.replace(tmp, target)
            return Stored(name, got, size)
        finally:
            tmp.unlink(missing_ok=True)

    async def open_stream(self, key: str) -> ObjectStream | None:
        path = self.path(key)
        try:
            fh = await anyio.to_thread.run_sync(path.open, "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        size = os.fstat(fh.fileno()).st_size

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while chunk := await anyio.to_thread.run_sync(fh.read, BATCH):
                    yield chunk
            finally:
                fh.close()

        return ObjectStream(size, chunks())

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def size(self, key: str) -> int | None:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            return None

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def delete(self, key: str) -> bool:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def delete_prefix(self, prefix: str) -> int:
        folder = self.path(prefix.rstrip("/"))
        if not folder.is_dir():
            return 0
        count = sum(1 for p in folder.rglob("*") if p.is_file())
        shutil.rmtree(folder, ignore_errors=True)
        return count
