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
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from pathlib import Path

import anyio.to_thread

from .base import (
    BATCH,
    KeyFor,
    ObjectStore,
    ObjectStream,
    StorageError,
    Stored,
    batches,
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
        uploads meanwhile. The last batch, the fsync, the digest check and the rename share
        one thread hop: a body smaller than `BATCH` (most artifact files) costs the event
        loop one hop and no file system call at all."""
        incoming = _Incoming(self._incoming)
        size = 0

        def finish(last: list[bytes]) -> Stored:
            incoming.absorb(last)
            # Durable before it is acknowledged (and before it is renamed into place): a
            # commit that follows may name this blob, and a crash must never leave a
            # committed artifact pointing at a partial file. Deferring the fsync to commit
            # would not do: a blob already at its key is not uploaded again, so a torn one
            # would be trusted by every later commit.
            incoming.seal()
            got = check_digest(incoming.md5, size, expected_md5)
            name = key if isinstance(key, str) else key(got)
            target = self.path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            # Same key, same content-addressed bytes: if another upload got there first,
            # either copy is it; for a run file the last upload wins, as on W&B.
            incoming.move_to(target)
            return Stored(name, got, size)

        try:
            held: list[bytes] = []  # the last batch waits: it goes with `finish`
            async for batch in batches(chunks, limit):
                if held:
                    await anyio.to_thread.run_sync(incoming.absorb, held)
                size += sum(len(chunk) for chunk in batch)
                held = batch
            return await anyio.to_thread.run_sync(finish, held)
        finally:
            incoming.discard()

    def make_durable(self, keys: Iterable[str]) -> None:
        # Each file was fsynced before its rename, but the rename is a change to its
        # directory: without this a crash could lose it after the commit naming it is
        # durable. One fsync per directory (content-addressed blobs share 256 of them).
        for folder in sorted({self.path(key).parent for key in keys}):
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

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


class _Incoming:
    """One upload's temporary file in `.incoming`, created at its first bytes, hashed as
    they are written; every method but `discard` runs in a worker thread."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.fd: int | None = None
        self.path: Path | None = None

    def _open(self) -> int:
        if self.fd is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            self.fd, name = tempfile.mkstemp(dir=self.folder, prefix="up-")
            self.path = Path(name)
        return self.fd

    def absorb(self, parts: list[bytes]) -> None:
        fd = self._open()
        for part in parts:  # hashlib releases the GIL on large buffers
            self.md5.update(part)
        # One system call for the batch (uvicorn hands the body over in ~64 KiB pieces).
        done = os.writev(fd, parts) if 0 < len(parts) <= _IOV_MAX else 0
        total = sum(len(p) for p in parts)
        if done < total:  # a short write, or too many pieces for one writev
            rest = memoryview(b"".join(parts))[done:]
            while rest:
                rest = rest[os.write(fd, rest) :]

    def seal(self) -> None:
        """Flush the bytes to disk and close the file (an empty body makes an empty file)."""
        fd = self._open()
        os.fsync(fd)
        self.fd = None
        os.close(fd)

    def move_to(self, target: Path) -> None:
        assert self.path is not None and self.fd is None
        os.replace(self.path, target)  # atomic: readers see no file or the whole one
        self.path = None

    def discard(self) -> None:
        """Whatever was not moved into place is removed (a refused or interrupted upload)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


# writev takes at most IOV_MAX pieces (1024 on Linux); more go through one joined buffer.
_IOV_MAX = min(os.sysconf("SC_IOV_MAX"), 1024) if hasattr(os, "sysconf") else 16
