"""Every error path: typed exceptions whose message says what to do; retry policy."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

import liberry
from liberry.queries import Operation
from liberry.server import ServerHandle

# -- against the real server ---------------------------------------------------------------------


def test_missing_run(api: liberry.Api, project_name: str) -> None:
    api.create_run(project=project_name, run_id="exists")
    with pytest.raises(liberry.NotFoundError) as info:
        api.run(f"admin/{project_name}/ghost")
    message = str(info.value)
    assert f"run admin/{project_name}/ghost not found" in message
    assert f"api.runs('admin/{project_name}')" in message
    assert isinstance(info.value, ValueError) and isinstance(info.value, liberry.CommError)


def test_missing_project(api: liberry.Api) -> None:
    with pytest.raises(liberry.NotFoundError, match=r"project admin/no-such-project not found"):
        len(api.runs("admin/no-such-project"))
    with pytest.raises(liberry.NotFoundError, match=r"api\.projects"):
        api.run("admin/no-such-project/x")
    with pytest.raises(liberry.NotFoundError):
        api.runs("admin/no-such-project").page(0)
    with pytest.raises(liberry.NotFoundError):
        api.run_keys("admin/no-such-project")


def test_deleting_twice(api: liberry.Api, project_name: str) -> None:
    run = api.create_run(project=project_name)
    run.delete()
    with pytest.raises(liberry.NotFoundError, match="no run with that id"):
        run.delete()


def test_bad_key(server: ServerHandle) -> None:
    api = liberry.Api(overrides={"base_url": server.url}, api_key="local-" + "x" * 40)
    with pytest.raises(liberry.AuthenticationError) as info:
        api.runs("admin/p").page(0)
    assert info.value.status == 401
    assert "LIBERRY_API_KEY" in str(info.value) and "rejected" in str(info.value)


def test_no_key(server: ServerHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    api = liberry.Api(overrides={"base_url": server.url})
    assert api.api_key is None
    with pytest.raises(liberry.AuthenticationError, match="No API key is configured") as info:
        api.viewer  # noqa: B018
    assert f"wandb login --host {server.url}" in str(info.value)


def test_bad_query(api: liberry.Api) -> None:
    with pytest.raises(liberry.BadQueryError, match="Broken was rejected by the server: Syntax"):
        api.client.execute(Operation("Broken", "query Broken { viewer { id "))
    with pytest.raises(liberry.UnknownFieldError) as info:
        api.client.execute(Operation("Nope", "query Nope { viewer { shoeSize } }"))
    assert (info.value.field, info.value.type_name) == ("shoeSize", "User")
    assert "User.shoeSize" in str(info.value)


def test_server_rejects_a_value(api: liberry.Api, project_name: str) -> None:
    with pytest.raises(liberry.BadQueryError, match="state"):
        api.create_run(project=project_name, state="sleeping")


def test_server_unavailable() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = liberry.Api(overrides={"base_url": f"http://127.0.0.1:{port}"}, max_retries=2)
    started = time.monotonic()
    with pytest.raises(liberry.ServerUnavailableError) as info:
        api.run("e/p/r")
    assert time.monotonic() - started < 10
    message = str(info.value)
    assert "after 3 attempts" in message and "ConnectionError" in message
    assert "Check that the server is running" in message and "LIBERRY_BASE_URL" in message


# -- retry policy, against a scripted stub -------------------------------------------------------


class Stub:
    """An HTTP server that answers from a script and records what it received."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, str], bytes, float]] = []
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                stub.requests.append(
                    {"method": self.command, "path": self.path, "headers": dict(self.headers),
                     "body": self.rfile.read(length)}
                )  # fmt: skip
                status, headers, body, delay = (
                    stub.script.pop(0) if stub.script else (200, {}, b'{"data": {}}', 0.0)
                )
                time.sleep(delay)
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # clients that timed out hang up: expected here

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, status: int, body: Any = None, delay: float = 0.0, **headers: str) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body or {}).encode()
        self.script.append((status, headers, raw, delay))


@pytest.fixture
def stub() -> Iterator[Stub]:
    server = Stub()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


VIEWER_OK = {"data": {"viewer": {"id": "u", "entity": "e"}}}


def test_retries_5xx_and_429_then_succeeds(stub: Stub) -> None:
    stub.answer(503)
    stub.answer(502)
    stub.answer(429, {"errors": [{"message": "slow down"}]}, **{"Retry-After": "0"})
    stub.answer(200, VIEWER_OK)
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k", max_retries=4)
    assert api.default_entity == "e"
    assert len(stub.requests) == 4


def test_gives_up_after_max_retries(stub: Stub) -> None:
    for _ in range(5):
        stub.answer(500, b"boom")
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k", max_retries=2)
    with pytest.raises(
        liberry.ServerUnavailableError, match=r"after 3 attempts \(last: HTTP 500\)"
    ):
        api.viewer  # noqa: B018
    assert len(stub.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_never_retries_4xx(stub: Stub, status: int) -> None:
    stub.answer(status, {"errors": [{"message": "nope"}]})
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k", max_retries=5)
    expected = {
        400: liberry.BadQueryError, 401: liberry.AuthenticationError,
        403: liberry.PermissionDeniedError, 404: liberry.ServerUnavailableError,
        422: liberry.BadQueryError,
    }[status]  # fmt: skip
    with pytest.raises(expected) as info:
        api.viewer  # noqa: B018
    assert len(stub.requests) == 1
    assert info.value.status == status
    if status == 404:
        assert "Check base_url" in str(info.value)
    if status == 403:
        assert "access" in str(info.value)


def test_timeout_is_retried_then_reported(stub: Stub) -> None:
    stub.answer(200, VIEWER_OK, delay=1.0)
    stub.answer(200, VIEWER_OK, delay=1.0)
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k", timeout=0.2, max_retries=1)
    with pytest.raises(liberry.ServerUnavailableError, match="Timeout"):
        api.viewer  # noqa: B018
    assert len(stub.requests) == 2


def test_graphql_errors_are_not_retried(stub: Stub) -> None:
    stub.answer(200, {"data": None, "errors": [{"message": "project not found"}]})
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k")
    with pytest.raises(liberry.NotFoundError, match="project not found"):
        api.viewer  # noqa: B018
    stub.answer(200, {"data": None, "errors": [{"message": "permission denied"}]})
    with pytest.raises(liberry.PermissionDeniedError):
        api.client.execute(liberry.Api.VIEWER_QUERY)
    stub.answer(200, {"errors": [{"message": 'Cannot query field "runKeys" on type "Project".'}]})
    with pytest.raises(liberry.UnknownFieldError):
        api.client.execute(liberry.Api.VIEWER_QUERY)
    assert len(stub.requests) == 3


def test_not_a_graphql_server(stub: Stub) -> None:
    stub.answer(200, b"<html>hello</html>", **{"Content-Type": "text/html"})
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k")
    with pytest.raises(liberry.ServerUnavailableError, match="did not answer with JSON"):
        api.viewer  # noqa: B018


def test_null_viewer(stub: Stub) -> None:
    stub.answer(200, {"data": {"viewer": None}})
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k")
    with pytest.raises(liberry.NotFoundError, match="LIBERRY_API_KEY"):
        api.default_entity  # noqa: B018


def test_upload_urls_get_no_credentials(stub: Stub, tmp_path: Any) -> None:
    """Pre-signed upload URLs must not receive the API key (as wandb does)."""
    upload_url = f"{stub.url}/upload/x"
    stub.answer(
        200,
        {
            "data": {
                "createRunFiles": {
                    "uploadHeaders": ["X-Extra:1"],
                    "files": [{"name": "a.txt", "uploadUrl": upload_url}],
                }
            }
        },
    )
    stub.answer(200, b"")
    stub.answer(200, {"data": {"project": {"run": {"fileCount": 1, "files": {
        "edges": [{"node": {"id": "f", "name": "a.txt", "sizeBytes": 2, "url": upload_url}}],
        "pageInfo": {"endCursor": None, "hasNextPage": False}}}}}})  # fmt: skip
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="secret")
    (tmp_path / "a.txt").write_bytes(b"hi")
    run = liberry.Run(api, "e", "p", "r", {"id": "x"})
    assert run.upload_file(tmp_path / "a.txt", root=tmp_path).name == "a.txt"
    put = stub.requests[1]
    assert put["method"] == "PUT" and put["body"] == b"hi"
    assert "Authorization" not in put["headers"] and put["headers"]["X-Extra"] == "1"
    assert stub.requests[0]["headers"]["Authorization"].startswith("Basic ")


def test_mutations_are_not_resent_after_a_timeout(stub: Stub) -> None:
    stub.answer(200, {"data": {"deleteRun": {"clientMutationId": None}}}, delay=1.0)
    api = liberry.Api(overrides={"base_url": stub.url}, api_key="k", timeout=0.2, max_retries=3)
    run = liberry.Run(api, "e", "p", "r", {"id": "UnVuOjE="})
    with pytest.raises(liberry.ServerUnavailableError, match="not re-sent"):
        run.delete()
    assert len(stub.requests) == 1
