"""`runs/paging.py` through the widget: pages in any order, cursors and counts kept."""

from __future__ import annotations

from typing import Any

import pytest

import liberry
from liberry.server import ServerHandle
from liberry_widgets import Runs
from tests.seed import RunSpec, Seeder
from tests.widgets.conftest import ViewClient
from tests.widgets.runs.conftest import make, names


def test_pages_follow_each_other_without_overlap(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    seen: list[str] = []
    for offset in (0, 5, 10):
        page = view.result("page", offset=offset, limit=5, order="+created_at",
                           columns=["name"])  # fmt: skip
        seen += [r["id"] for r in page["rows"]]
    assert seen == seeded["ids"]
    # A jump straight to a far page works too, and past the end is empty, not an error.
    _, other = make(seeded, api)
    assert names(other.result("page", offset=10, limit=5, order="+created_at")["rows"]) == [
        "exp-10", "exp-11",
    ]  # fmt: skip
    assert other.result("page", offset=50, limit=5)["rows"] == []


@pytest.mark.parametrize(
    ("order", "first"),
    [
        ("+summary_metrics.loss", "exp-11"),  # loss = 1 / (i + 1)
        ("-summary_metrics.loss", "exp-0"),
        ("-config.lr", "exp-11"),
        ("+config.lr", "exp-0"),
        ("+display_name", "exp-0"),
        ("-display_name", "exp-9"),
    ],
)
def test_sort_by_any_column(
    seeded: dict[str, Any], api: liberry.Api, order: str, first: str
) -> None:
    _, view = make(seeded, api)
    rows = view.result("page", order=order, offset=0, limit=12, columns=["name"])["rows"]
    assert rows[0]["name"] == first


def test_sort_by_state(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    rows = view.result("page", order="+state", offset=0, limit=12, columns=["state"])["rows"]
    states = [r["state"] for r in rows]
    assert states == sorted(states) and states[0] == "failed" and states[-1] == "running"


def test_a_new_order_reuses_the_recent_count(
    server: ServerHandle, entity: str, api: liberry.Api, project_name: str
) -> None:
    seeder = Seeder(server.url, server.api_key, entity)
    seeder.write(RunSpec(project=project_name, run_id="first000", config={"a": 1}))
    widget = Runs(f"{entity}/{project_name}", api=api)
    view = ViewClient(widget)
    page = view.result("page", offset=0, limit=10, order="-created_at")
    assert page["total"] == 1
    assert page["timing"]["kernel_ms"] >= page["timing"]["api_ms"] >= 0
    seeder.write(RunSpec(project=project_name, run_id="second00", config={"a": 2}))
    # The same runs in another order: the count of a moment ago answers (not asked again),
    # while the rows are fresh.
    page = view.result("page", offset=0, limit=10, order="+created_at")
    assert page["total"] == 1 and [r["id"] for r in page["rows"]] == ["first000", "second00"]
    # Other pages, other filters and a refresh count again.
    assert view.result("page", offset=1, limit=1, order="+created_at")["total"] == 2
    assert view.result("page", offset=0, limit=10, filters={"config.a": 2})["total"] == 1
    assert view.result("page", offset=0, limit=10, order="-config.a", fresh=True)["total"] == 2
