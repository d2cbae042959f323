"""What a test server really has in its object store, read behind the server's back: the
files under its data dir, or the objects in its bucket (listed with boto3, not through the
server's own S3 code), so a test sees bytes that truly reached storage."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from liberry.server import ServerHandle
from liberry.server.objectstore import LocalObjectStore

INCOMING = ".incoming"


def _bucket(server: ServerHandle) -> tuple[Any, str, str]:
    from liberry.server.objectstore.s3 import S3ObjectStore
    from tests.s3_moto import s3_client

    objects = server.data.blobs.objects
    assert isinstance(objects, S3ObjectStore)
    endpoint = objects.endpoint or os.environ["AWS_ENDPOINT_URL"]
    prefix = f"{objects.prefix}/" if objects.prefix else ""
    return s3_client(endpoint), objects.bucket, prefix


def _local_root(server: ServerHandle) -> Path | None:
    objects = server.data.blobs.objects
    return objects.root if isinstance(objects, LocalObjectStore) else None


def object_keys(server: ServerHandle) -> set[str]:
    """Every stored object's key (`runs/1/a.txt`, `artifacts/ab/ab...`), in-flight ones aside."""
    root = _local_root(server)
    if root is not None:
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p.relative_to(root).parts[0] != INCOMING
        }
    client, bucket, prefix = _bucket(server)
    keys = set()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        keys.update(item["Key"][len(prefix) :] for item in page.get("Contents", []))
    return {k for k in keys if not k.startswith(INCOMING + "/")}


def read_object(server: ServerHandle, key: str) -> bytes:
    root = _local_root(server)
    if root is not None:
        return (root / key).read_bytes()
    client, bucket, prefix = _bucket(server)
    body: bytes = client.get_object(Bucket=bucket, Key=prefix + key)["Body"].read()
    return body


def blob_digests(server: ServerHandle) -> set[str]:
    """The md5s of the artifact blobs stored (each blob's key ends in its md5)."""
    return {k.rsplit("/", 1)[1] for k in object_keys(server) if k.startswith("artifacts/")}


def unfinished_uploads(server: ServerHandle) -> list[str]:
    """Uploads begun but neither finished nor cleaned up: temp files on disk; on S3, temp
    objects and multipart uploads still open (each would hold parts nobody can see)."""
    root = _local_root(server)
    if root is not None:
        incoming = root / INCOMING
        return sorted(p.name for p in incoming.iterdir()) if incoming.is_dir() else []
    client, bucket, prefix = _bucket(server)
    open_parts = client.list_multipart_uploads(Bucket=bucket, Prefix=prefix)
    temp = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}{INCOMING}/")
    return sorted(
        [u["Key"] for u in open_parts.get("Uploads", [])]
        + [o["Key"] for o in temp.get("Contents", [])]
    )
