"""`liberry.transport`: what the HTTP layer takes from the environment."""

from __future__ import annotations

import socket

import pytest

import liberry
from liberry.server import ServerHandle


def _dead_port() -> int:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def proxy_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """HTTP(S)_PROXY pointing at a dead port, and no NO_PROXY."""
    proxy = f"http://127.0.0.1:{_dead_port()}"
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, proxy)
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    return proxy


def test_requests_go_through_the_environments_proxy(
    server: ServerHandle, proxy_env: str
) -> None:
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key, max_retries=0)
    with pytest.raises(liberry.ServerUnavailableError, match="ProxyError"):
        api.run("admin/p/r")


def test_no_proxy_skips_it(
    server: ServerHandle, proxy_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key, max_retries=0)
    with pytest.raises(liberry.NotFoundError):  # the server answered: no such run
        api.run("admin/p/r")
