"""Artifact file downloads (`blob_response.BlobResponse`) from a real server: files that fit in
one read (answered in one worker-thread hop) and larger ones, plain GET, HEAD and Range."""

from __future__ import annotations

import hashlib
import os

import pytest
import requests

from liberry.server import ServerHandle
from liberry.server.blob_response import BlobResponse
from tests.artifact_wire import Upload
from tests.s3_moto import server_storage_backend
from tests.wire import Wire

# BlobResponse sends files from local disk; a bucket's objects are streamed (no ETag or Range).
pytestmark = pytest.mark.skipif(
    server_storage_backend() == "s3", reason="BlobResponse serves the local backend only"
)

FILES_QUERY = """
query ($id: ID!) { artifact(id: $id) { files { edges { node { name directUrl } } } } }"""


@pytest.fixture(scope="module")
def blob_urls(server: ServerHandle) -> dict[str, tuple[str, bytes]]:
    """name -> (signed download URL, bytes) for an empty, a small and two larger files."""
    wire = Wire(server.url, server.api_key)
    entity = wire.gql("{ viewer { entity } }")["viewer"]["entity"]
    run = wire.upsert(entity, "blob-downloads", "r1")["bucket"]["name"]
    files = {
        "empty.bin": b"",
        "small.bin": os.urandom(1000),
        "exact.bin": os.urandom(BlobResponse.chunk_size),
        "large.bin": os.urandom(BlobResponse.chunk_size * 2 + 17),
    }
    up = Upload(wire, entity, "blob-downloads", run, "blobs", "dataset", files).log()
    edges = wire.gql(FILES_QUERY, {"id": up.artifact_id})["artifact"]["files"]["edges"]
    return {e["node"]["name"]: (e["node"]["directUrl"], files[e["node"]["name"]]) for e in edges}


@pytest.mark.parametrize("name", ["empty.bin", "small.bin", "exact.bin", "large.bin"])
def test_get_sends_the_exact_bytes_with_stat_headers(
    blob_urls: dict[str, tuple[str, bytes]], name: str
) -> None:
    url, data = blob_urls[name]
    got = requests.get(url, timeout=30)
    assert got.status_code == 200, got.text
    assert hashlib.md5(got.content).digest() == hashlib.md5(data).digest()
    assert got.headers["content-length"] == str(len(data))
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["etag"] and got.headers["last-modified"]
    # Both ways of answering give the same validators for the same file.
    head = requests.head(url, timeout=30)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == got.headers["etag"]
    assert head.headers["content-length"] == str(len(data))


@pytest.mark.parametrize("name", ["small.bin", "large.bin"])
def test_range_requests_get_partial_content(
    blob_urls: dict[str, tuple[str, bytes]], name: str
) -> None:
    url, data = blob_urls[name]
    got = requests.get(url, headers={"Range": "bytes=10-99"}, timeout=30)
    assert got.status_code == 206
    assert got.content == data[10:100]
    assert got.headers["content-range"] == f"bytes 10-99/{len(data)}"


def test_unsigned_or_unknown_blobs_are_refused(
    server: ServerHandle, blob_urls: dict[str, tuple[str, bytes]]
) -> None:
    url, _ = blob_urls["small.bin"]
    assert requests.get(url.split("?")[0], timeout=30).status_code == 401
    assert requests.get(url.replace("sig=", "sig=00"), timeout=30).status_code == 403
