"""Run files: createRunFiles, signed PUT/GET, listing, tampering and path safety."""

from __future__ import annotations

import base64
import gzip
import hashlib
import socket
import time
from urllib.parse import urlsplit

import requests

from liberry.server import ServerHandle
from tests.stored_objects import object_keys, unfinished_uploads
from tests.wire import Wire

CREATE = """
mutation CreateRunFiles($entity: String!, $project: String!, $run: String!,
                        $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) {
    runID uploadHeaders files { name uploadUrl }
  }
}
"""
FILES = """
query RunFiles($p: String!, $n: String!, $names: [String], $first: Int, $after: String) {
  project(name: $p, entityName: "admin") { run(name: $n) {
    fileCount
    files(names: $names, first: $first, after: $after) {
      edges { node { id name url directUrl sizeBytes md5 mimetype } cursor }
      pageInfo { endCursor hasNextPage }
    }
  } }
}
"""


def test_upload_list_download_round_trip(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r")
    names = ["config.yaml", "media/images/a.png", "notes.txt"]
    created = w.gql(
        CREATE, {"entity": "admin", "project": project_name, "run": "r", "files": names}
    )
    assert created["createRunFiles"]["uploadHeaders"] == []
    for f in created["createRunFiles"]["files"]:
        # W&B's client sends no credentials with these PUTs.
        assert (
            requests.put(f["uploadUrl"], data=f["name"].encode() * 3, timeout=10).status_code == 200
        )
    run = w.gql(FILES, {"p": project_name, "n": "r", "first": 2})["project"]["run"]
    assert run["fileCount"] == 3
    assert run["files"]["pageInfo"]["hasNextPage"] is True
    rest = w.gql(
        FILES,
        {"p": project_name, "n": "r", "first": 2, "after": run["files"]["pageInfo"]["endCursor"]},
    )["project"]["run"]
    listed = run["files"]["edges"] + rest["files"]["edges"]
    assert sorted(e["node"]["name"] for e in listed) == sorted(names)
    for e in listed:
        node = e["node"]
        assert node["sizeBytes"] == len(node["name"]) * 3
        assert requests.get(node["url"], timeout=10).content == node["name"].encode() * 3
        assert requests.get(node["directUrl"], timeout=10).status_code == 200
    one = w.gql(FILES, {"p": project_name, "n": "r", "names": ["notes.txt"]})["project"]["run"]
    assert [e["node"]["name"] for e in one["files"]["edges"]] == ["notes.txt"]


def test_tampered_or_unsigned_urls_are_refused(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r")
    url = w.gql(
        CREATE, {"entity": "admin", "project": project_name, "run": "r", "files": ["a.txt"]}
    )["createRunFiles"]["files"][0]["uploadUrl"]
    assert requests.put(url.replace("a.txt", "b.txt"), data=b"x", timeout=10).status_code == 403
    # Neither a signature nor a key: unauthenticated (issue #17), before the body is read.
    assert requests.put(url.split("?")[0], data=b"x", timeout=10).status_code == 401
    assert requests.get(url, timeout=10).status_code == 403  # a PUT URL does not grant GET


def test_unsafe_file_names_are_rejected(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r")
    for bad in ("../escape.txt", "/abs.txt", "a//b", "a\\b"):
        msg = w.gql_error(
            CREATE, {"entity": "admin", "project": project_name, "run": "r", "files": [bad]}
        )
        assert "invalid file name" in msg


def test_create_run_files_for_unknown_run(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    msg = w.gql_error(
        CREATE, {"entity": "admin", "project": project_name, "run": "ghost", "files": ["a"]}
    )
    assert "not found" in msg


def _upload_url(w: Wire, project: str, name: str) -> str:
    w.upsert("admin", project, "r")
    created = w.gql(CREATE, {"entity": "admin", "project": project, "run": "r", "files": [name]})
    url: str = created["createRunFiles"]["files"][0]["uploadUrl"]
    return url


def _stored(w: Wire, project: str, name: str) -> dict | None:
    found = w.gql(FILES, {"p": project, "n": "r", "names": [name]})["project"]["run"]
    edges = found["files"]["edges"]
    return edges[0]["node"] if edges and edges[0]["node"]["sizeBytes"] else None


def test_a_large_file_streams_in_and_out_with_its_md5(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    payload = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(24 * 32768))
    url = _upload_url(w, project_name, "ckpt/model.bin")  # 24 MiB: a multipart upload on S3
    assert requests.put(url, data=payload, timeout=120).status_code == 200
    node = _stored(w, project_name, "ckpt/model.bin")
    assert node is not None and node["sizeBytes"] == len(payload)
    assert base64.b64decode(node["md5"]) == hashlib.md5(payload).digest()
    with requests.get(node["directUrl"], stream=True, timeout=120) as r:
        got = hashlib.md5()
        for chunk in r.iter_content(1 << 20):
            got.update(chunk)
    assert got.digest() == hashlib.md5(payload).digest()
    assert any(k.endswith("/ckpt/model.bin") for k in object_keys(server))


def test_gzip_uploads_are_stored_decompressed_and_bad_gzip_stores_nothing(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    text = b"line of output\n" * 50_000
    url = _upload_url(w, project_name, "output.log")
    r = requests.put(
        url, data=gzip.compress(text), headers={"Content-Encoding": "gzip"}, timeout=30
    )
    assert r.status_code == 200, r.text
    node = _stored(w, project_name, "output.log")
    assert node is not None and requests.get(node["directUrl"], timeout=30).content == text
    url = _upload_url(w, project_name, "broken.log")
    for body, reason in [(b"not gzip at all", "not valid gzip"), (gzip.compress(text)[:-9], "")]:
        r = requests.put(url, data=body, headers={"Content-Encoding": "gzip"}, timeout=30)
        assert r.status_code == 400 and reason in r.json()["error"], r.text
    assert _stored(w, project_name, "broken.log") is None
    assert not any(k.endswith("/broken.log") for k in object_keys(server))


def test_an_interrupted_upload_stores_nothing(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    url = _upload_url(w, project_name, "cut.bin")
    parts = urlsplit(url)
    before = set(unfinished_uploads(server))  # other tests' uploads share the session server
    size = 20 << 20
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        head = (
            f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            f"Content-Length: {size}\r\n\r\n"
        ).encode()
        sock.sendall(head + b"x" * (size // 2))  # half the body, then hang up
    deadline = time.monotonic() + 15
    while set(unfinished_uploads(server)) - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not set(unfinished_uploads(server)) - before
    assert not any(k.endswith("/cut.bin") for k in object_keys(server))
    assert _stored(w, project_name, "cut.bin") is None
