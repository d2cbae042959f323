"""The first page kept for saved notebooks (`_snapshot`, `runs/snapshot.py`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

import liberry
from tests.widgets.runs.conftest import make


def test_view_snapshot_is_stored_after_a_pause(
    seeded: dict[str, Any], api: liberry.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import liberry_widgets._base as base_module

    monkeypatch.setattr(base_module, "SNAPSHOT_DELAY_S", 0.05)
    widget, view = make(seeded, api, per_page=3)
    view.set_traits(order="+created_at", offset=0)
    view.result("page", offset=0, limit=3, order="+created_at")
    # Not at once (the trait sync would reach the browser while it paints the page)...
    assert widget._snapshot == {}
    deadline = time.monotonic() + 5
    while not widget._snapshot and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [r["name"] for r in widget._snapshot["rows"]] == ["exp-0", "exp-1", "exp-2"]
    # A first page the traits moved away from before the pause ended is not kept.
    view.result("page", offset=0, limit=3, order="-config.lr")
    view.set_traits(order="+config.lr", offset=0)
    time.sleep(0.3)
    assert widget._snapshot["order"] == "+created_at"
    widget.close()


def test_snapshot_for_saved_notebooks(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(seeded, api, per_page=3)
    data, _metadata = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in data
    html = data["text/html"]
    assert "showing 1\u20133 of 12" in html and "exp-11" in html and "exp-9" in html
    snapshot = widget._snapshot
    assert [r["name"] for r in snapshot["rows"]] == ["exp-11", "exp-10", "exp-9"]
    assert snapshot["total"] == 12 and snapshot["order"] == "-created_at"
    # Pages other than the first do not replace it.
    view.result("page", offset=3, limit=3)
    assert widget._snapshot["rows"][0]["name"] == "exp-11"
