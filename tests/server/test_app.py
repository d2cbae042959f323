"""HTTP-level behaviour of the server: auth, health, malformed input on every endpoint."""

from __future__ import annotations

import gzip
import json

import requests

from liberry.server import ServerHandle
from tests.wire import Wire


def test_healthz_needs_no_key(server: ServerHandle) -> None:
    r = requests.get(f"{server.url}/healthz", timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_missing_key_is_401_with_help(server: ServerHandle) -> None:
    r = Wire(server.url, None).post_graphql("{ viewer { id } }")
    assert r.status_code == 401
    assert "no API key" in r.json()["errors"][0]["message"]
    assert r.headers["www-authenticate"].startswith("Basic")


def test_wrong_key_is_401(server: ServerHandle) -> None:
    r = Wire(server.url, "local-" + "0" * 40).post_graphql("{ viewer { id } }")
    assert r.status_code == 401
    assert "invalid API key" in r.json()["errors"][0]["message"]


def test_malformed_authorization_header(server: ServerHandle) -> None:
    for header in ("Basic !!!notbase64", "Digest abc", "Basic " + "YXBp"):  # "api" without ':'
        r = requests.post(
            f"{server.url}/graphql",
            json={"query": "{viewer{id}}"},
            headers={"Authorization": header},
            timeout=10,
        )
        assert r.status_code == 401, header
        assert r.json()["errors"][0]["message"]


def test_file_stream_requires_key(server: ServerHandle) -> None:
    r = Wire(server.url, None).file_stream("e", "p", "r", {"files": {}})
    assert r.status_code == 401


def test_viewer(server: ServerHandle) -> None:
    data = Wire(server.url, server.api_key).gql(
        "{ viewer { id entity username email flags teams { edges { node { name } } } } }"
    )
    assert data["viewer"]["entity"] == "admin"
    assert data["viewer"]["username"] == "admin"


def test_malformed_graphql_bodies(server: ServerHandle) -> None:
    w = Wire(server.url, server.api_key)
    r = w.http.post(f"{server.url}/graphql", data=b"{not json", timeout=10)
    assert r.status_code == 400
    assert "not valid JSON" in r.json()["errors"][0]["message"]
    r = w.http.post(f"{server.url}/graphql", json=["query"], timeout=10)
    assert r.status_code == 400
    assert '"query"' in r.json()["errors"][0]["message"]
    r = w.http.post(
        f"{server.url}/graphql", json={"query": "{viewer{id}}", "variables": [1]}, timeout=10
    )
    assert r.status_code == 400
    r = w.http.post(
        f"{server.url}/graphql", data=b"xx", headers={"Content-Encoding": "gzip"}, timeout=10
    )
    assert r.status_code == 400
    assert "gzip" in r.json()["errors"][0]["message"]


def test_graphql_syntax_and_unknown_fields_are_200_errors(server: ServerHandle) -> None:
    w = Wire(server.url, server.api_key)
    assert "Syntax Error" in w.gql_error("{ viewer { id ")
    assert "Cannot query field 'nope'" in w.gql_error("{ nope }")
    assert "operationName" in w.gql_error("query A { viewer { id } } query B { viewer { id } }")


def test_gzip_request_body_is_accepted(server: ServerHandle) -> None:
    w = Wire(server.url, server.api_key)
    body = gzip.compress(json.dumps({"query": "{ viewer { username } }"}).encode())
    r = w.http.post(
        f"{server.url}/graphql",
        data=body,
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        timeout=10,
    )
    assert r.status_code == 200
    assert r.json()["data"]["viewer"]["username"] == "admin"


def test_undeclared_variables_and_trailing_commas_are_accepted(server: ServerHandle) -> None:
    # W&B's DeleteRun sends `deleteArtifacts`, which its operation does not declare.
    w = Wire(server.url, server.api_key)
    r = w.post_graphql("query Q($x: String, ) { viewer { id } }", {"x": "1", "extra": True})
    assert r.status_code == 200 and not r.json().get("errors")


def test_server_features_and_unknown_project(server: ServerHandle) -> None:
    w = Wire(server.url, server.api_key)
    assert isinstance(
        w.gql("{ serverInfo { features { name isEnabled } } }")["serverInfo"]["features"], list
    )
    assert w.gql('{ project(name: "nope", entityName: "admin") { id } }')["project"] is None
