"""Objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, R2): `--storage s3://bucket/prefix`.

Client: obstore (Rust's `object_store`), because it streams an async iterator of chunks
straight into a multipart upload, and aborts that upload when the iterator raises.

Endpoint, region and credentials come from the standard AWS environment variables
(`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`, `AWS_REGION` or `AWS_DEFAULT_REGION`,
`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`).

No object is ever visible with wrong content: an upload is a multipart upload whose parts
are sent while the bytes are hashed, and the md5 is checked when the body ends, *before*
the upload is completed; a mismatch, a client that hangs up, or a body over the limit
raises inside the chunk iterator, and obstore aborts the multipart upload instead of
completing it (S3 shows a multipart object only once completed). Nothing is copied, so
there is no 5 GB CopyObject limit and no second pass over the bytes. Only an upload whose
key depends on its md5 (a manifest PUT without a declared digest, always small) goes to a
temporary key and is copied into place.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

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

if TYPE_CHECKING:
    from obstore.store import ClientConfig, S3Config

__all__ = ["S3ObjectStore", "parse_s3_url"]

# Parts of 8 MiB, at most 4 in flight: an upload holds at most ~32 MiB, whatever its size.
PART_SIZE = 8 << 20
PART_CONCURRENCY = 4
_INCOMING = ".incoming/"


def parse_s3_url(url: str) -> tuple[str, str]:
    """(bucket, prefix) of `s3://bucket/prefix`; StorageError naming what is wrong."""
    parts = urlsplit(url)
    bucket = parts.netloc
    if parts.scheme != "s3" or not bucket or parts.query or parts.fragment:
        raise StorageError(f"not an S3 storage URL: {url!r} (expected s3://bucket/optional/prefix)")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise StorageError(
            f"not a valid S3 bucket name: {bucket!r} (3-63 characters: a-z, 0-9, '.', '-')"
        )
    return bucket, parts.path.strip("/")


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _first_line(exc: BaseException) -> str:
    """An S3 error's code when the response names one (NoSuchBucket, AccessDenied,
    InvalidAccessKeyId, SignatureDoesNotMatch), else the first line of obstore's message."""
    text = str(exc)
    code = re.search(r"<Code>([^<]+)</Code>", text)
    if code:
        status = re.search(r"status code: (\d{3})", text)
        return code.group(1) + (f" (HTTP {status.group(1)})" if status else "")
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


class S3ObjectStore(ObjectStore):
    """Object `a/b` is `s3://<bucket>/<prefix>/a/b`."""

    def __init__(self, url: str) -> None:
        try:
            from obstore.store import S3Store
        except ImportError:
            raise StorageError(
                "--storage s3:// needs the S3 client: pip install 'liberry-widgets[s3]'"
            ) from None
        self.url = url
        self.bucket, self.prefix = parse_s3_url(url)
        config: S3Config = {}
        endpoint = _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        if endpoint:
            config["endpoint"] = endpoint
        region = _env("AWS_REGION", "AWS_DEFAULT_REGION")
        config["region"] = region or "us-east-1"
        options: ClientConfig = {"allow_http": bool(endpoint and endpoint.startswith("http:"))}
        self.endpoint = endpoint
        self._store = S3Store(
            self.bucket, prefix=self.prefix or None, config=config, client_options=options
        )
        # The start-up check gives up fast: a wrong endpoint should not hang the CLI.
        self._probe = S3Store(
            self.bucket,
            prefix=self.prefix or None,
            config=config,
            client_options={**options, "connect_timeout": "5s", "timeout": "15s"},
            retry_config={"max_retries": 1, "retry_timeout": timedelta(seconds=10)},
        )

    def describe(self) -> str:
        return self.url + (f" at {self.endpoint}" if self.endpoint else "")

    def check(self) -> None:
        import obstore

        where = f"bucket {self.bucket!r}" + (f" at {self.endpoint}" if self.endpoint else "")
        try:
            next(iter(obstore.list(self._probe, chunk_size=1)), None)
        except Exception as exc:
            reason = _first_line(exc)
            hint = ""
            if "NoSuchBucket" in reason:
                hint = ": create it first"
            elif any(c in reason for c in ("AccessDenied", "InvalidAccessKeyId", "Signature")):
                hint = ": check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            elif not self.endpoint:
                hint = " (set AWS_ENDPOINT_URL for MinIO, Ceph or R2)"
            raise StorageError(f"cannot use S3 {where}: {reason}{hint}") from None

    async def put_stream(
        self,
        key: KeyFor,
        chunks: AsyncIterable[bytes],
        *,
        limit: int,
        expected_md5: str | None = None,
    ) -> Stored:
        import obstore

        md5 = hashlib.md5()
        size = 0

        def absorb(parts: list[bytes]) -> bytes:
            joined = b"".join(parts)
            md5.update(joined)  # releases the GIL: other requests go on meanwhile
            return joined

        async def hashed() -> AsyncIterator[bytes]:
            nonlocal size
            async for batch in batches(chunks, limit):
                if batch:
                    size += sum(len(chunk) for chunk in batch)
                    yield await anyio.to_thread.run_sync(absorb, batch)
            # Raising here, before the iterator ends, makes obstore abort the upload.
            check_digest(md5, size, expected_md5)

        target = key if isinstance(key, str) else f"{_INCOMING}{uuid.uuid4().hex}"
        await obstore.put_async(
            self._store,
            target,
            hashed(),
            chunk_size=PART_SIZE,
            max_concurrency=PART_CONCURRENCY,
        )
        got = md5.hexdigest()
        if isinstance(key, str):
            return Stored(key, got, size)
        # Content-addressed with no declared digest: the name is known only now.
        name = key(got)
        try:
            await obstore.copy_async(self._store, target, name)
        finally:
            await obstore.delete_async(self._store, target)
        return Stored(name, got, size)

    async def open_stream(self, key: str) -> ObjectStream | None:
        import obstore

        try:
            got = await obstore.get_async(self._store, key)
        except FileNotFoundError:
            return None

        async def chunks() -> AsyncIterator[memoryview]:
            # obstore's Bytes shares its buffer: a memoryview hands it on without a copy.
            async for chunk in got.stream(min_chunk_size=BATCH):
                yield memoryview(chunk)

        return ObjectStream(int(got.meta["size"]), chunks())

    def _head(self, key: str) -> dict[str, Any] | None:
        import obstore

        try:
            return dict(obstore.head(self._store, key))
        except FileNotFoundError:
            return None

    def exists(self, key: str) -> bool:
        return self._head(key) is not None

    def existing(self, keys: Iterable[str]) -> set[str]:
        # One HEAD per key, 16 at a time: 1,000 files cost ~60 round trips, not 1,000.
        wanted = list(dict.fromkeys(keys))
        if len(wanted) < 2:
            return {key for key in wanted if self.exists(key)}
        with ThreadPoolExecutor(max_workers=min(16, len(wanted))) as pool:
            found = pool.map(self.exists, wanted)
            return {key for key, there in zip(wanted, found, strict=True) if there}

    def size(self, key: str) -> int | None:
        meta = self._head(key)
        return None if meta is None else int(meta["size"])

    def read(self, key: str) -> bytes:
        import obstore

        return bytes(obstore.get(self._store, key).bytes())

    def delete(self, key: str) -> bool:
        import obstore

        if not self.exists(key):
            return False
        obstore.delete(self._store, key)
        return True

    def delete_prefix(self, prefix: str) -> int:
        import obstore

        count = 0
        # object_store matches prefixes by whole segments: `runs/5` never lists `runs/50/`.
        for batch in obstore.list(self._store, prefix.rstrip("/"), chunk_size=1000):
            paths = [meta["path"] for meta in batch]
            if paths:
                obstore.delete(self._store, paths)
                count += len(paths)
        return count
