"""Where `Api` takes its base URL, key and defaults from; what it sends on the wire."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
import requests

import liberry
from liberry.server import ServerHandle

ENV = (
    "LIBERRY_BASE_URL", "LIBERRY_API_KEY", "WANDB_BASE_URL", "WANDB_API_KEY", "LIBERRY_ENTITY",
    "WANDB_ENTITY", "LIBERRY_PROJECT", "WANDB_PROJECT", "NETRC",
)  # fmt: skip


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no real ~/.netrc


def test_defaults_point_at_wandb_cloud() -> None:
    api = liberry.Api()
    assert api.settings["base_url"] == "https://api.wandb.ai"
    assert api.app_url == "https://wandb.ai"
    assert api.api_key is None
    assert api.settings["entity"] is None and api.settings["project"] is None


def test_overrides_win_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBERRY_BASE_URL", "http://liberry.example:1")
    monkeypatch.setenv("LIBERRY_API_KEY", "from-liberry-env")
    monkeypatch.setenv("WANDB_BASE_URL", "http://wandb.example:2")
    monkeypatch.setenv("WANDB_API_KEY", "from-wandb-env")
    api = liberry.Api(
        overrides={"base_url": "http://override.example:3/", "api_key": "from-overrides",
                   "entity": "e", "project": "p", "run": "r"}
    )  # fmt: skip
    assert api.settings == {
        "base_url": "http://override.example:3", "entity": "e", "project": "p", "run": "r",
    }  # fmt: skip
    assert api.api_key == "from-overrides"
    assert liberry.Api(overrides={"base_url": "http://x:1"}, api_key="explicit").api_key == (
        "explicit"
    )


def test_liberry_environment_wins_over_wandb(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WANDB_BASE_URL", "http://wandb.example:2")
    monkeypatch.setenv("WANDB_API_KEY", "from-wandb-env")
    monkeypatch.setenv("WANDB_ENTITY", "wandb-entity")
    monkeypatch.setenv("WANDB_PROJECT", "wandb-project")
    api = liberry.Api()
    assert (api.settings["base_url"], api.api_key) == ("http://wandb.example:2", "from-wandb-env")
    assert (api.settings["entity"], api.settings["project"]) == ("wandb-entity", "wandb-project")
    monkeypatch.setenv("LIBERRY_BASE_URL", "http://liberry.example:1")
    monkeypatch.setenv("LIBERRY_API_KEY", "from-liberry-env")
    monkeypatch.setenv("LIBERRY_ENTITY", "liberry-entity")
    api = liberry.Api()
    assert (api.settings["base_url"], api.api_key) == (
        "http://liberry.example:1", "from-liberry-env"
    )  # fmt: skip
    assert api.settings["entity"] == "liberry-entity"


def test_netrc_is_the_last_resort(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    # As `wandb login --host` writes it: the machine is host:port.
    netrc.write_text(
        "machine 127.0.0.1:9999\n  login user\n  password key-with-port\n"
        "machine other.example\n  login user\n  password key-by-hostname\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    assert liberry.Api(overrides={"base_url": "http://127.0.0.1:9999"}).api_key == "key-with-port"
    assert liberry.Api(overrides={"base_url": "https://other.example:8443"}).api_key == (
        "key-by-hostname"
    )
    assert liberry.Api(overrides={"base_url": "http://127.0.0.1:1"}).api_key is None
    monkeypatch.setenv("WANDB_API_KEY", "env-wins")
    assert liberry.Api(overrides={"base_url": "http://127.0.0.1:9999"}).api_key == "env-wins"


def test_home_netrc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine api.wandb.ai\n  login user\n  password cloud-key\n")
    netrc.chmod(0o600)
    assert liberry.Api().api_key == "cloud-key"


def test_invalid_base_url_is_a_usage_error() -> None:
    with pytest.raises(liberry.UsageError, match="http:// or https://"):
        liberry.Api(overrides={"base_url": "127.0.0.1:8080"})


def test_attributes_and_class_variable() -> None:
    api = liberry.Api(overrides={"base_url": "http://127.0.0.1:1"}, api_key="k", timeout=3)
    assert api.client.timeout == 3
    assert isinstance(api.client, liberry.api.Transport)
    assert api.user_agent.startswith("W&B Public Client ")
    assert liberry.__version__ in api.user_agent
    assert liberry.Api.VIEWER_QUERY.name == "Viewer"
    assert "viewer" in liberry.Api.VIEWER_QUERY.document
    assert "127.0.0.1:1" in repr(api)


def test_default_entity_comes_from_the_viewer(server: ServerHandle) -> None:
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    assert api.default_entity == api.viewer["entity"] == "admin"
    assert api.client.operation_counts["Viewer"] == 1
    api.default_entity  # noqa: B018 - cached: no second request
    assert api.client.operation_counts["Viewer"] == 1


def test_environment_reaches_the_server(
    monkeypatch: pytest.MonkeyPatch, server: ServerHandle
) -> None:
    monkeypatch.setenv("LIBERRY_BASE_URL", server.url)
    monkeypatch.setenv("LIBERRY_API_KEY", server.api_key)
    assert liberry.Api().default_entity == "admin"


def test_wire_conventions(server: ServerHandle) -> None:
    """Basic auth `api:<key>`, the W&B User-Agent, gzip, keep-alive, named operations."""
    seen: list[requests.PreparedRequest] = []
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    api.client.session.hooks["response"].append(lambda r, *a, **k: seen.append(r.request))
    api.viewer  # noqa: B018
    api.client.execute(liberry.Api.VIEWER_QUERY)
    request = seen[0]
    expected = base64.b64encode(f"api:{server.api_key}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert request.headers["User-Agent"] == api.user_agent
    assert request.headers["Accept-Encoding"] == "gzip"
    assert isinstance(request.body, bytes) and b'"operationName":"Viewer"' in request.body
    # One pooled connection served both requests.
    pool = api.client.session.get_adapter(server.url).poolmanager
    assert sum(p.num_connections for p in pool.pools._container.values()) == 1


def _run_python(code: str) -> None:
    import subprocess

    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)


def test_client_never_imports_the_server_or_widgets() -> None:
    _run_python(
        "import sys, liberry; api = liberry.Api(overrides={'base_url': 'http://127.0.0.1:1'}); "
        "assert not [m for m in sys.modules if m.startswith('liberry.server')], 'server imported'; "
        "assert 'liberry_widgets' not in sys.modules, 'widgets imported'"
    )


def test_widgets_resolve_lazily_and_server_stays_importable() -> None:
    _run_python(
        "import sys, liberry; assert 'liberry_widgets' not in sys.modules; "
        "w = liberry.widgets; assert w is sys.modules['liberry_widgets']; "
        "import liberry.server; assert callable(liberry.server.start)"
    )
    _run_python(
        "import sys; from liberry.widgets import Runs; import liberry.widgets as w; "
        "import liberry_widgets; assert w is liberry_widgets and Runs is liberry_widgets.Runs"
    )
