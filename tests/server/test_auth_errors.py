"""401s (issue #17): no, wrong or malformed auth on every authenticated route, answered with
a JSON message before the request body is read; repeated bad keys from one address are
slowed (429) while a good key from the same address keeps working."""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from liberry.server import ServerHandle, start
from liberry.server.ratelimit import LoginLimiter
from liberry.server.store import accounts


def _basic(raw: bytes) -> str:
    return "Basic " + base64.b64encode(raw).decode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with start(data_dir=tmp_path_factory.mktemp("auth"), port=0) as s:
        yield s


def _deleted_users_key(srv: ServerHandle) -> str:
    store = srv.data.store
    with store.write() as conn:
        uid = accounts.create_user(conn, f"gone{time.monotonic_ns()}")
        key = accounts.create_api_key(conn, uid, store.key_secret)
    with store.write() as conn:
        accounts.delete_user(conn, str(accounts.search_users(conn, "gone")[-1]["username"]))
    return key


BAD_HEADERS = {
    "missing": None,
    "garbage basic": "Basic !!!not-base64!!!",
    "not base64 at all": "Basic a%b^c~d",
    "empty password": _basic(b"api:"),
    "no colon": _basic(b"just-a-key"),
    "not utf-8": _basic(b"api:\xff\xfe"),
    "wrong key": _basic(b"api:local-" + b"1" * 40),
    "unknown scheme": "Digest abc",
    "huge header": "Basic " + "A" * 10_000,
}


def _routes(srv: ServerHandle) -> list[tuple[str, str]]:
    return [
        ("POST", f"{srv.url}/graphql"),
        ("POST", f"{srv.url}/files/admin/p/r/file_stream"),
        ("GET", f"{srv.url}/storage/runs/1/a.txt"),
        ("PUT", f"{srv.url}/storage/runs/1/a.txt"),
        ("GET", f"{srv.url}/storage/artifact-blobs/{'0' * 32}/x.txt"),
    ]


@pytest.mark.parametrize("case", list(BAD_HEADERS))
def test_bad_auth_is_401_with_a_json_message_on_every_route(srv: ServerHandle, case: str) -> None:
    header = BAD_HEADERS[case]
    for method, url in _routes(srv):
        headers = {"Authorization": header} if header is not None else {}
        r = requests.request(method, url, headers=headers, data=b"{}", timeout=10)
        assert r.status_code == 401, (case, method, url, r.status_code, r.text)
        body = r.json()
        assert "API key" in body["error"] or "signature" in body["error"], body
        assert r.headers["WWW-Authenticate"].startswith("Basic")


def test_a_deleted_users_key_is_401(srv: ServerHandle) -> None:
    key = _deleted_users_key(srv)
    r = requests.post(f"{srv.url}/graphql", json={"query": "{ viewer { id } }"}, auth=("api", key))
    assert r.status_code == 401
    assert key[-4:] in r.json()["error"] and key not in r.json()["error"]


def test_auth_is_checked_before_the_body_is_read(srv: ServerHandle) -> None:
    """A request declaring a 1 GB body it never sends is answered at once."""
    for path in ("/graphql", "/files/admin/p/r/file_stream"):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(
                f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: 1000000000\r\nAuthorization: Basic Zm9v\r\n\r\n".encode()
            )
            started = time.monotonic()
            head = sock.recv(4096).decode(errors="replace")
        assert head.startswith("HTTP/1.1 401"), head
        assert time.monotonic() - started < 2


def test_signed_url_with_a_bad_key_is_401(srv: ServerHandle) -> None:
    """A key, when sent, must be valid, even with a signature that would admit alone."""
    r = requests.get(
        f"{srv.url}/storage/runs/1/a.txt?exp=9999999999&sig=x",
        auth=("api", "local-" + "2" * 40),
        timeout=10,
    )
    assert r.status_code == 401


def test_repeated_bad_keys_are_slowed_but_good_clients_are_not(tmp_path: Path) -> None:
    """A small budget so the loop is short; bounded, loopback only, stops by itself."""
    from liberry.server.app import create_app
    from liberry.server.datadir import DataDir

    data = DataDir.open(tmp_path / "d")
    limiter = LoginLimiter(burst=5, per_second=2.0)
    app = create_app(data.store, data.blobs, limiter=limiter)
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/graphql"
        query = {"query": "{ viewer { username } }"}
        good = requests.Session()
        good.auth = ("api", data.api_key)
        assert good.post(url, json=query, timeout=10).status_code == 200
        statuses = []
        for i in range(20):  # a brute force: every key different
            r = requests.post(url, json=query, auth=("api", f"local-{i:040d}"), timeout=10)
            statuses.append(r.status_code)
        assert statuses[:5] == [401] * 5
        assert statuses[-1] == 429
        limited = requests.post(url, json=query, auth=("api", "local-" + "9" * 40), timeout=10)
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "too many" in limited.json()["error"]
        # The good client on the same address is not locked out.
        for _ in range(5):
            assert good.post(url, json=query, timeout=10).status_code == 200
        # And the budget refills: after a pause a new key is checked again (401, not 429).
        time.sleep(1.1)
        r = requests.post(url, json=query, auth=("api", "local-" + "8" * 40), timeout=10)
        assert r.status_code == 401
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        data.store.close()
