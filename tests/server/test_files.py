"""Run files: createRunFiles, signed PUT/GET, listing, tampering and path safety."""

from __future__ import annotations

import requests

from liberry.server import ServerHandle
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
