"""The storage interface (liberry/server/objectstore/) on both backends: files in a temporary
directory, and a bucket on moto's real S3 API on 127.0.0.1 (checked behind the backend's
back with boto3). Streaming, all-or-nothing writes, deletes, and the start-up check."""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest
from starlette.requests import ClientDisconnect

from liberry.server.objectstore import (
    DigestMismatch,
    LocalObjectStore,
    ObjectStore,
    StorageError,
    UploadTooLarge,
    open_object_store,
)
from liberry.server.objectstore.s3 import S3ObjectStore
from tests.s3_moto import new_bucket, s3_client

MiB = 1 << 20
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` in a thread of its own: the browser tests' Playwright keeps an event loop
    running in the main thread for the whole session, where `asyncio.run` refuses to start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return open_object_store(None, tmp_path / "files")
    return open_object_store(new_bucket(request.getfixturevalue("s3_endpoint"), "os"), tmp_path)


def _pending(objects: ObjectStore) -> list[str]:
    """Uploads still open: temp files, or S3 multipart uploads and temp objects."""
    if isinstance(objects, LocalObjectStore):
        incoming = objects.root / ".incoming"
        return sorted(os.listdir(incoming)) if incoming.is_dir() else []
    assert isinstance(objects, S3ObjectStore)
    client = s3_client(os.environ["AWS_ENDPOINT_URL"])
    uploads = client.list_multipart_uploads(Bucket=objects.bucket).get("Uploads", [])
    temp = client.list_objects_v2(Bucket=objects.bucket, Prefix=f"{objects.prefix}/.incoming/")
    return sorted([u["Key"] for u in uploads] + [o["Key"] for o in temp.get("Contents", [])])


def _bucket_keys(objects: ObjectStore) -> set[str]:
    """The keys really in the bucket (boto3's listing, not the backend's)."""
    assert isinstance(objects, S3ObjectStore)
    listed = s3_client(os.environ["AWS_ENDPOINT_URL"]).list_objects_v2(Bucket=objects.bucket)
    return {o["Key"] for o in listed.get("Contents", [])}


def _block(i: int) -> bytes:
    return hashlib.sha256(str(i).encode()).digest() * (64 * 1024 // 32)  # 64 KiB, varied


async def _body(total: int, then: BaseException | None = None) -> AsyncIterator[bytes]:
    """`total` bytes in 64 KiB chunks, as Starlette hands a request body over."""
    for i in range(total // len(_block(0))):
        yield _block(i)
    if then is not None:
        raise then


def _md5_of(total: int) -> str:
    md5 = hashlib.md5()
    for i in range(total // len(_block(0))):
        md5.update(_block(i))
    return md5.hexdigest()


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def rss_peak() -> Iterator[list[int]]:
    """Samples this process's resident memory every 5 ms while the test runs."""
    samples = [_rss()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            samples.append(_rss())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    yield samples
    stop.set()
    thread.join()


def test_a_large_upload_streams_through_with_flat_memory(
    objects: ObjectStore, rss_peak: list[int]
) -> None:
    total = 96 * MiB
    key = "runs/1/model.bin"
    sent_before_end: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        async for chunk in _body(total):
            yield chunk
        # Before the body ends, the bytes must already be on their way to storage.
        sent_before_end.append(_bytes_out(objects, key))

    async def go() -> tuple[Any, int, int]:
        stored = await objects.put_stream(key, body(), limit=total)
        found = await objects.open_stream(key)
        assert found is not None
        md5, sizes = hashlib.md5(), []
        async for chunk in found.chunks:
            md5.update(chunk)
            sizes.append(len(chunk))
        assert md5.hexdigest() == stored.md5_hex
        return stored, found.size, max(sizes)

    baseline = _rss()
    stored, size, largest_chunk = _run(go())
    assert (stored.size, size, stored.md5_hex) == (total, total, _md5_of(total))
    assert objects.size(key) == total and objects.exists(key)
    assert largest_chunk <= 8 * MiB  # read back in chunks, not whole
    assert sent_before_end[0] >= total // 2
    # 96 MiB went through; the process never held more than a bounded window of it.
    assert max(rss_peak) - baseline < 64 * MiB, (max(rss_peak) - baseline) / MiB
    if isinstance(objects, S3ObjectStore):
        assert f"{objects.prefix}/{key}" in _bucket_keys(objects)


def _bytes_out(objects: ObjectStore, key: str) -> int:
    """How much of the upload in progress storage has received so far."""
    if isinstance(objects, LocalObjectStore):
        return sum(p.stat().st_size for p in (objects.root / ".incoming").iterdir())
    assert isinstance(objects, S3ObjectStore)
    client = s3_client(os.environ["AWS_ENDPOINT_URL"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # parts are sent in the background: wait for them
        for upload in client.list_multipart_uploads(Bucket=objects.bucket).get("Uploads", []):
            parts = client.list_parts(
                Bucket=objects.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            done = sum(p["Size"] for p in parts.get("Parts", []))
            if done:
                return done
        time.sleep(0.05)
    return 0


def test_digest_mismatch_stores_nothing(objects: ObjectStore) -> None:
    wrong = hashlib.md5(b"something else").hexdigest()
    key = f"artifacts/{wrong[:2]}/{wrong}"
    for total in (64 * 1024, 24 * MiB):  # a single PUT, and a multipart upload
        with pytest.raises(DigestMismatch, match="nothing was stored"):
            _run(objects.put_stream(key, _body(total), limit=total, expected_md5=wrong))
        assert not objects.exists(key)
        assert _pending(objects) == []


def test_a_client_that_hangs_up_leaves_nothing(objects: ObjectStore) -> None:
    key = "runs/7/checkpoint.pt"
    body = _body(24 * MiB, then=ClientDisconnect())
    with pytest.raises(ClientDisconnect):
        _run(objects.put_stream(key, body, limit=1 << 30))
    assert not objects.exists(key)
    assert _pending(objects) == []


def test_an_upload_over_the_limit_leaves_nothing_and_keeps_the_old_object(
    objects: ObjectStore,
) -> None:
    key = "runs/8/out.log"
    _run(objects.put_stream(key, _body(MiB), limit=MiB))
    with pytest.raises(UploadTooLarge, match="limit"):
        _run(objects.put_stream(key, _body(20 * MiB), limit=16 * MiB))
    assert objects.size(key) == MiB  # the previous upload, untouched
    assert _pending(objects) == []


def test_content_addressed_upload_without_a_declared_digest(objects: ObjectStore) -> None:
    def key_for(md5_hex: str) -> str:
        return f"artifacts/{md5_hex[:2]}/{md5_hex}"

    stored = _run(objects.put_stream(key_for, _body(MiB), limit=MiB))
    assert stored.key == key_for(_md5_of(MiB))
    assert objects.read(stored.key) == b"".join(_block(i) for i in range(16))
    assert _pending(objects) == []  # the temporary object (S3) is gone


def test_tiny_chunks_an_empty_body_and_an_early_hang_up(objects: ObjectStore) -> None:
    """A batch of thousands of pieces (more than one writev takes) is stored byte for
    byte; an empty body is an empty object; a hang-up before the first batch is full
    leaves nothing, as one after it does."""
    data = os.urandom(5000 * 7)

    async def tiny(then: BaseException | None = None) -> AsyncIterator[bytes]:
        for i in range(0, len(data), 7):
            yield data[i : i + 7]
        if then is not None:
            raise then

    async def nothing() -> AsyncIterator[bytes]:
        return
        yield b""

    md5 = hashlib.md5(data).hexdigest()
    stored = _run(objects.put_stream("runs/9/tiny", tiny(), limit=MiB, expected_md5=md5))
    assert (stored.md5_hex, stored.size) == (md5, len(data))
    assert objects.read("runs/9/tiny") == data
    empty = _run(objects.put_stream("runs/9/empty", nothing(), limit=MiB))
    assert (empty.size, objects.read("runs/9/empty")) == (0, b"")
    assert empty.md5_hex == hashlib.md5(b"").hexdigest()
    with pytest.raises(ClientDisconnect):
        _run(objects.put_stream("runs/9/cut", tiny(ClientDisconnect()), limit=MiB))
    assert not objects.exists("runs/9/cut")
    assert _pending(objects) == []


def test_make_durable_fsyncs_each_directory_a_rename_changed(
    objects: ObjectStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = ["artifacts/ab/one", "artifacts/ab/two", "artifacts/cd/three"]
    for key in keys:
        _run(objects.put_stream(key, _body(64 * 1024), limit=MiB))
    synced: list[str] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    objects.make_durable(keys)
    if isinstance(objects, LocalObjectStore):  # one fsync per directory, each really done
        assert sorted(synced) == [str(objects.root / "artifacts" / d) for d in ("ab", "cd")]
    else:  # a completed S3 upload is durable already
        assert synced == []


def test_delete_and_delete_prefix_by_whole_segments(objects: ObjectStore) -> None:
    for key in ("runs/5/a.txt", "runs/5/media/b.png", "runs/50/c.txt"):
        _run(objects.put_stream(key, _body(64 * 1024), limit=MiB))
    assert objects.delete_prefix("runs/5/") == 2
    assert not objects.exists("runs/5/a.txt") and not objects.exists("runs/5/media/b.png")
    assert objects.exists("runs/50/c.txt")  # `runs/5/` is not a prefix of `runs/50/`
    assert objects.delete("runs/50/c.txt") is True
    assert objects.delete("runs/50/c.txt") is False
    assert _run(objects.open_stream("runs/50/c.txt")) is None
    assert objects.size("runs/50/c.txt") is None
    with pytest.raises(FileNotFoundError):
        objects.read("runs/50/c.txt")


def test_bad_storage_urls_and_a_missing_bucket_fail_at_start(
    s3_endpoint: str, tmp_path: Path
) -> None:
    for url, reason in [
        ("gs://bucket", "unsupported storage URL"),
        ("s3://", "not an S3 storage URL"),
        ("s3://Bad_Bucket", "not a valid S3 bucket name"),
        ("s3://no-such-bucket-here/x", "NoSuchBucket"),
    ]:
        with pytest.raises(StorageError, match=reason) as caught:
            open_object_store(url, tmp_path)
        assert "\n" not in str(caught.value)


def test_an_unreachable_endpoint_fails_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with pytest.raises(StorageError, match=r"cannot use S3 bucket 'b-1' at http://127.0.0.1:9"):
        open_object_store("s3://b-1/p", tmp_path)


def test_without_obstore_installed_the_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "obstore.store", None)  # import fails as if absent
    with pytest.raises(StorageError, match=r"pip install 'liberry-widgets\[s3\]'"):
        open_object_store("s3://bucket/p", tmp_path)


def test_a_directory_url_keeps_files_there(tmp_path: Path) -> None:
    for url in (str(tmp_path / "elsewhere"), f"file://{tmp_path / 'other'}"):
        objects = open_object_store(url, tmp_path / "unused")
        _run(objects.put_stream("runs/1/a.txt", _body(64 * 1024), limit=MiB))
        assert (Path(url.removeprefix("file://")) / "runs" / "1" / "a.txt").stat().st_size == 65536
    assert not (tmp_path / "unused").exists()


def test_existing_answers_for_many_keys_at_once(objects: ObjectStore) -> None:
    there = [f"artifacts/{i:02x}/{i:032x}" for i in range(3)]
    for key in there:
        _run(objects.put_stream(key, _body(64 * 1024), limit=MiB))
    asked = there + [f"artifacts/{i:02x}/{i:032x}" for i in range(100, 140)]
    assert objects.existing(asked) == set(there)
    assert objects.existing([]) == set()


def test_the_s3_specific_endpoint_variable_wins(
    s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_bucket(s3_endpoint, "endpoint")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # would be refused
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    objects = open_object_store(url, tmp_path)
    assert isinstance(objects, S3ObjectStore) and objects.endpoint == s3_endpoint
