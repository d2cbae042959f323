"""A real S3 API on 127.0.0.1 for the tests: moto's S3 server in a subprocess.

`LIBERRY_TEST_STORAGE=s3` makes the `server`/`fresh_server` fixtures keep their files in a
bucket of their own there (scripts/test.sh runs the storage-heavy tests that way); the
direct S3 backend tests use it whatever that setting is.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# moto accepts any key; the server and boto3 read these like any AWS deployment would.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "liberry-test",
    "AWS_SECRET_ACCESS_KEY": "liberry-test-secret",
    "AWS_REGION": "us-east-1",
}


def server_storage_backend() -> str:
    """`local` (the default) or `s3`: where the `server` fixtures keep file bytes."""
    backend = os.environ.get("LIBERRY_TEST_STORAGE", "local").strip().lower() or "local"
    if backend not in ("local", "s3"):
        raise RuntimeError(f"LIBERRY_TEST_STORAGE must be local or s3, not {backend!r}")
    return backend


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def moto_s3() -> Iterator[str]:
    """Start moto's server (`python -m moto.server`) on a free local port; its endpoint URL.
    The AWS_* variables of this process point at it meanwhile (the in-process server, boto3
    and obstore read them)."""
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto's S3 server did not start on {endpoint}") from None
                time.sleep(0.1)
        os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def s3_client(endpoint: str) -> Any:
    """A boto3 client on `endpoint`: the tests' own view of the bucket, not the server's."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_REGION"],
    )


def new_bucket(endpoint: str, label: str) -> str:
    """Create an empty bucket; its storage URL, with a prefix (`s3://bucket/liberry`)."""
    name = f"{label}-{uuid.uuid4().hex[:10]}".lower()
    s3_client(endpoint).create_bucket(Bucket=name)
    return f"s3://{name}/liberry"
