"""Issue #14: the artifact upload protocol against a real server over HTTP, including the
ways it goes wrong (corrupt bytes, an upload cut off, a client that never commits)."""

from __future__ import annotations

import hashlib
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from liberry.server import ServerHandle
from tests.artifact_wire import Upload
from tests.stored_objects import blob_digests, unfinished_uploads
from tests.wire import Wire

LOOKUP = """
query ($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) { id state versionIndex fileCount aliases { alias } }
  }
}"""


@pytest.fixture
def wire(server: ServerHandle) -> Wire:
    return Wire(server.url, server.api_key)


def _upload(wire: Wire, project: str, files: dict[str, bytes], name: str = "ds") -> Upload:
    entity = wire.gql("{ viewer { entity } }")["viewer"]["entity"]
    run = wire.upsert(entity, project, "r1")["bucket"]["name"]
    return Upload(wire, entity, project, run, name, "dataset", files)


def _lookup(up: Upload, name: str) -> dict | None:
    found = up.wire.gql(LOOKUP, {"entity": up.entity, "project": up.project, "name": name})
    return found["project"]["artifact"]


def test_full_upload_commits_v0_and_a_second_commit_is_harmless(
    wire: Wire, project_name: str
) -> None:
    up = _upload(wire, project_name, {"a.txt": b"alpha", "b/c.txt": b"gamma"}).log()
    assert up.commit()["artifact"]["id"] == up.artifact_id  # retried commit: same version
    found = _lookup(up, "ds:latest")
    assert found is not None
    assert (found["state"], found["versionIndex"], found["fileCount"]) == ("COMMITTED", 0, 2)
    assert [a["alias"] for a in found["aliases"]] == ["v0", "latest"]


def test_digest_mismatch_is_refused_and_nothing_is_stored(
    server: ServerHandle, wire: Wire, project_name: str
) -> None:
    payload = f"{project_name} real bytes".encode()
    up = _upload(wire, project_name, {"x.bin": payload})
    up.create()
    url = up.declare_files()["x.bin"]
    assert url is not None
    r = wire.http.put(url, data=b"not the declared bytes", auth=None)
    assert r.status_code == 400
    assert "digest mismatch" in r.json()["error"]
    assert hashlib.md5(b"not the declared bytes").hexdigest() not in blob_digests(server)
    up.put_manifest()
    message = wire.gql_error(
        "mutation ($id: ID!) { commitArtifact(input: {artifactID: $id}) { artifact { id } } }",
        {"id": up.artifact_id},
    )
    assert "'x.bin'" in message and "never uploaded" in message
    assert _lookup(up, "ds:latest") is None  # still PENDING: invisible


def test_interrupted_upload_leaves_no_blob_and_no_committed_artifact(
    server: ServerHandle, wire: Wire, project_name: str
) -> None:
    payload = (project_name * 50_000).encode()
    up = _upload(wire, project_name, {"big.bin": payload})
    up.create()
    url = up.declare_files()["big.bin"]
    assert url is not None
    parts = urlsplit(url)
    before = set(unfinished_uploads(server))  # other tests' uploads share the session server
    # Announce the whole body, send a tenth of it, and hang up (a client killed mid-upload).
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n"
        ).encode()
        sock.sendall(head + payload[: len(payload) // 10])
    md5 = hashlib.md5(payload).hexdigest()
    deadline = time.monotonic() + 15
    while set(unfinished_uploads(server)) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    # The partial temp file (or, on S3, the open multipart upload) is gone.
    assert not set(unfinished_uploads(server)) - before
    assert md5 not in blob_digests(server)
    up.put_manifest()
    message = wire.gql_error(
        "mutation ($id: ID!) { commitArtifact(input: {artifactID: $id}) { artifact { id } } }",
        {"id": up.artifact_id},
    )
    assert "never uploaded" in message
    assert _lookup(up, "ds:latest") is None
    # The client retries (the URL is still valid) and then commits fine.
    up.put_files()
    up.commit()
    found = _lookup(up, "ds:latest")
    assert found is not None and found["state"] == "COMMITTED"


def test_commit_without_manifest_is_refused(wire: Wire, project_name: str) -> None:
    up = _upload(wire, project_name, {"a.txt": b"a"})
    up.create()
    up.declare_files()
    up.put_files()
    message = wire.gql_error(
        "mutation ($id: ID!) { commitArtifact(input: {artifactID: $id}) { artifact { id } } }",
        {"id": up.artifact_id},
    )
    assert "manifest was never uploaded" in message


def test_storage_urls_must_be_signed(server: ServerHandle, wire: Wire, project_name: str) -> None:
    up = _upload(wire, project_name, {"a.txt": b"signed?"})
    up.create()
    url = up.declare_files()["a.txt"]
    assert url is not None
    unsigned = url.split("?")[0]
    # `auth=None` on a session still sends the session's key; a bare request sends none.
    # Neither a signature nor a key: 401 (issue #17). A valid key alone admits the PUT.
    r = requests.put(unsigned, data=b"signed?", timeout=10)
    assert r.status_code == 401
    tampered = url.replace("/files/", "/files/").replace(
        hashlib.md5(b"signed?").hexdigest(), hashlib.md5(b"other").hexdigest()
    )
    assert wire.http.put(tampered, data=b"other", auth=None).status_code == 403


def test_upload_to_a_committed_artifact_is_refused(wire: Wire, project_name: str) -> None:
    up = _upload(wire, project_name, {"a.txt": f"{project_name}-late".encode()})
    up.create()
    urls = up.declare_files()
    up.put_files()
    up.put_manifest()
    up.commit()
    url = urls["a.txt"]
    assert url is not None
    r = wire.http.put(url, data=f"{project_name}-late".encode(), auth=None)
    assert r.status_code == 409 and "already committed" in r.json()["error"]


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("a:b:c", "malformed artifact name 'a:b:c'"),
        ("bad name:v0", "invalid artifact name 'bad name'"),
        ("ds:", "invalid artifact alias ''"),
    ],
)
def test_malformed_names_are_named_in_the_error(
    wire: Wire, project_name: str, name: str, needle: str
) -> None:
    up = _upload(wire, project_name, {"a.txt": b"a"}).log()
    message = wire.gql_error(LOOKUP, {"entity": up.entity, "project": up.project, "name": name})
    assert needle in message


def test_unknown_names_resolve_to_null(wire: Wire, project_name: str) -> None:
    up = _upload(wire, project_name, {"a.txt": b"a"}).log()
    for name in ("nope", "nope:v0", "ds:v7", "ds:no-alias"):
        assert _lookup(up, name) is None
