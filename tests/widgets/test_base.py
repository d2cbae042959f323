"""`_base.LiberryWidget`: what every widget gets from the base (refresh, the snapshot a saved
notebook keeps, the HTML fallback, no secret in its state), against a real server."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import traitlets

import liberry
import liberry_widgets._base as base_module
from liberry.server import ServerHandle
from liberry_widgets import Lineage, Runs, Sweep
from liberry_widgets._base import LiberryWidget, int_param
from liberry_widgets._rpc import Handler
from tests.widgets.conftest import ViewClient


class Probe(LiberryWidget):
    """A widget that asks the server for a project's run count and keeps it as its snapshot."""

    count = traitlets.Dict().tag(sync=True)

    def __init__(self, path: str, api: liberry.Api) -> None:
        self.reloads = 0
        self.stored: list[int] = []
        self._last = -1
        super().__init__(api=api, path=path)

    def _handlers(self) -> dict[str, Handler]:
        return {"count": self._handle_count}

    def _handle_count(self, _params: dict[str, Any]) -> dict[str, Any]:
        self._last = len(self.api.runs(self.path))
        self._snapshot_later()
        return {"total": self._last}

    def _reload(self) -> None:
        self.reloads += 1

    def _store_snapshot(self) -> None:
        self.stored.append(self._last)
        self.count = {"total": self._last}

    def _fallback_html(self) -> str:
        return f"<p>{self._last} runs</p>"


def test_refresh_reloads_and_tells_the_views(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget = Probe(seeded["path"], api)
    view = ViewClient(widget)
    widget.refresh()
    widget.refresh()
    assert widget.reloads == 2 and widget._refresh == 2
    assert {"_refresh": 2} in [u for u in view.state_updates() if "_refresh" in u]
    widget.close()


def test_snapshot_waits_for_the_views_last_request(
    seeded: dict[str, Any], api: liberry.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base_module, "SNAPSHOT_DELAY_S", 0.2)
    widget = Probe(seeded["path"], api)
    view = ViewClient(widget)
    for _ in range(3):
        assert view.result("count") == {"total": 12}
    assert widget.stored == []  # not while the view draws the reply
    deadline = time.monotonic() + 5
    while not widget.stored and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    assert widget.stored == [12]  # once, after the last of the three
    assert widget.count == {"total": 12}
    # Outside a request (Python, display) it is stored at once.
    widget._snapshot_later()
    assert widget.stored == [12, 12]
    widget.close()


def test_close_drops_a_pending_snapshot(
    seeded: dict[str, Any], api: liberry.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(base_module, "SNAPSHOT_DELAY_S", 0.1)
    widget = Probe(seeded["path"], api)
    ViewClient(widget).result("count")
    widget.close()
    time.sleep(0.3)
    assert widget.stored == []


def test_display_adds_the_fallback_html(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget = Probe(seeded["path"], api)
    ViewClient(widget).result("count")
    data, _ = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    assert data["text/html"] == "<p>12 runs</p>"
    widget.close()


def test_no_widget_syncs_a_secret(
    seeded: dict[str, Any], api: liberry.Api, server: ServerHandle, entity: str
) -> None:
    widgets = [
        Runs(seeded["path"], api=api),
        Sweep(f"{entity}/nowhere/nosweep", api=api),  # an error is state too
        Lineage(f"{entity}/nowhere/nothing:latest", api=api),
    ]
    for widget in widgets:
        view = ViewClient(widget)
        widget._repr_mimebundle_()
        widget.refresh()
        state = json.dumps(widget.get_state(), default=str) + view.wire_text()
        assert server.api_key not in state, type(widget).__name__
        assert not {"api", "api_key", "_api"} & set(widget.keys)
        widget.close()


def test_int_param() -> None:
    assert int_param("12", 3) == 12
    assert int_param(None, 3) == 3
    assert int_param("x", 3) == 3
