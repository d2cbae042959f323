"""Fixtures for widget tests: a real server with seeded runs, and a stand-in for the view.

`ViewClient` plays the browser side of anywidget: it delivers custom messages and trait
updates to the widget exactly as the comm does (`Widget._handle_msg`), and records what the
widget sends back. The server, the Api and the widget are all real.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import liberry
from liberry.server import ServerHandle
from tests.seed import RunSpec, Seeder


class ViewClient:
    """The front end's half of the comm, for one widget."""

    def __init__(self, widget: Any) -> None:
        self.widget = widget
        self.sent: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._cond = threading.Condition()
        comm = widget.comm
        assert comm is not None

        def send(data: Any = None, metadata: Any = None, buffers: Any = None) -> None:
            with self._cond:
                self.sent.append(data)
                self._cond.notify_all()

        comm.send = send  # what the widget would put on the wire

    def _deliver(self, data: dict[str, Any]) -> None:
        self.widget._handle_msg({"content": {"data": data}, "buffers": []})

    def post(self, kind: str, **params: Any) -> str:
        """Send a request without waiting; returns its id."""
        request_id = f"t-{next(self._ids)}"
        request = {"type": "request", "id": request_id, "kind": kind, "params": params}
        self._deliver({"method": "custom", "content": request})
        return request_id

    def cancel(self, request_id: str) -> None:
        self._deliver({"method": "custom", "content": {"type": "cancel", "id": request_id}})

    def reply(self, request_id: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.sent:
                    content = msg.get("content") if msg.get("method") == "custom" else None
                    if isinstance(content, dict) and content.get("id") == request_id:
                        return content
                left = deadline - time.monotonic()
                assert left > 0, f"no reply to {request_id}"
                self._cond.wait(left)

    def request(self, kind: str, **params: Any) -> dict[str, Any]:
        """Send a request and return its reply (`{"type", "id", "ok", ...}`)."""
        return self.reply(self.post(kind, **params))

    def result(self, kind: str, **params: Any) -> Any:
        reply = self.request(kind, **params)
        assert reply["ok"], reply
        return reply["result"]

    def set_traits(self, **state: Any) -> None:
        """A trait change made in the view (the user typing, clicking, paging)."""
        self._deliver({"method": "update", "state": state, "buffer_paths": []})

    def state_updates(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.sent if m.get("method") == "update"]

    def wire_text(self) -> str:
        return json.dumps(self.sent, default=str)


@pytest.fixture(scope="session")
def entity(server: ServerHandle) -> str:
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    name = api.default_entity
    assert name
    return name


@pytest.fixture
def api(server: ServerHandle) -> Iterator[liberry.Api]:
    with liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key) as client:
        yield client


OPTIMIZERS = ("adam", "sgd", "adamw")


@pytest.fixture(scope="session")
def seeded(server: ServerHandle, entity: str) -> dict[str, Any]:
    """12 runs in one project: varied config, summaries, states, tags, groups and history.

    Run i has lr = 0.001 * (i + 1), loss = 1 / (i + 1); runs 0-8 finished, 9 and 10
    failed, 11 is still running. Runs are created in index order.
    """
    project = f"widgets-{uuid.uuid4().hex[:8]}"
    seeder = Seeder(server.url, server.api_key, entity)
    specs = []
    for i in range(12):
        history = [{"_step": s, "loss": (1 / (i + 1)) * (1 + (10 - s) / 10), "acc": s / 10}
                   for s in range(11)]  # fmt: skip
        specs.append(
            RunSpec(
                project=project,
                run_id=f"run{i:05d}",
                display_name=f"exp-{i}",
                config={
                    "lr": 0.001 * (i + 1),
                    "optimizer": OPTIMIZERS[i % 3],
                    "batch_size": 32,
                    "model": {"depth": 18 if i % 2 else 50},
                },
                history=history,
                tags=["baseline"] if i < 4 else ["sweep"],
                group="g1" if i < 6 else "g2",
                job_type="train",
                exitcode=None if i == 11 else (1 if i in (9, 10) else 0),
            )
        )
    for spec in specs:  # one at a time, so creation order is index order
        seeder.write(spec)
    return {"entity": entity, "project": project, "path": f"{entity}/{project}",
            "ids": [s.run_id for s in specs]}  # fmt: skip
