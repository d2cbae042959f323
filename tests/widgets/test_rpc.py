"""`_rpc.py`: the channel every widget answers its view through (driven by a `Runs`)."""

from __future__ import annotations

import time
from typing import Any

import liberry
from tests.widgets.runs.conftest import make


def test_threaded_handlers_answer_concurrently_and_drop_cancelled(
    seeded: dict[str, Any], api: liberry.Api
) -> None:
    widget, view = make(seeded, api)
    widget._rpc._threaded = True  # as inside ipykernel
    ids = [view.post("page", offset=o, limit=2, columns=["name"]) for o in (0, 2, 4, 6, 8)]
    pages = [view.reply(i) for i in ids]
    assert all(p["ok"] for p in pages)
    assert [r["name"] for p in pages for r in p["result"]["rows"]] == [
        f"exp-{i}" for i in range(11, 1, -1)
    ]
    # A request cancelled while still queued is never answered.
    import threading

    gate = threading.Event()
    widget._rpc.register("slow", lambda _params: gate.wait(10))
    blockers = [view.post("slow") for _ in range(2)]  # both workers busy
    queued = view.post("page", offset=0, limit=1)
    view.cancel(queued)
    gate.set()
    for blocker in blockers:
        assert view.reply(blocker)["ok"]
    after = view.request("keys")
    assert after["ok"]
    time.sleep(0.2)
    assert not any(
        m.get("content", {}).get("id") == queued for m in view.sent if m.get("method") == "custom"
    )
    widget.close()


def test_replies_are_json_safe(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(seeded, api)
    widget._rpc.register("odd", lambda _params: {"v": [float("nan"), float("-inf"), 1.5]})
    assert view.result("odd") == {"v": ["NaN", "-Infinity", 1.5]}
    # A plain page skips the walk (the C encoder checks it) and arrives as it was.
    page = view.result("page", offset=0, limit=2, columns=["name", "config.lr"])
    assert [r["name"] for r in page["rows"]] == ["exp-11", "exp-10"]
    widget.close()
