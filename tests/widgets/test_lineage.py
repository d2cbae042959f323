"""`liberry.widgets.Lineage`, kernel side: real server, artifacts logged by the official client.

The view's half of the comm is played by `ViewClient` (conftest.py).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest

import liberry
from liberry.artifacts import Artifact
from liberry.server import ServerHandle
from liberry_widgets import Lineage
from tests.lineage_seed import FANOUT, seed_lineage
from tests.widgets.conftest import ViewClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lineage(
    server: ServerHandle, entity: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    project = f"lineage-{uuid.uuid4().hex[:6]}"
    return seed_lineage(server, tmp_path_factory.mktemp("wandb"), entity, project)


def labels(nodes: list[dict[str, Any]]) -> set[str]:
    return {n["label"] for n in nodes}


def make(root: Any, api: liberry.Api, **kwargs: Any) -> tuple[Lineage, ViewClient]:
    widget = Lineage(root, api=api, **kwargs)
    return widget, ViewClient(widget)


def test_chain_and_fanout_as_the_view_gets_them(lineage: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(f"{lineage['path']}/mnist:latest", api, depth=2)
    graph = view.result("graph", depth=2, direction="both")
    names = labels(graph["nodes"])
    ft = {f"ft-model:v{i}" for i in range(FANOUT)}
    runs = {"make-data", "trainer", "evaluator", *(f"ft-{i}" for i in range(FANOUT))}
    assert names == {"mnist:v0", "clf:v0"} | ft | runs
    root = next(n for n in graph["nodes"] if n["id"] == graph["root"])
    assert (root["label"], root["type"], root["aliases"]) == (
        "mnist:v0",
        "dataset",
        ["best", "latest"],
    )
    assert root["size"] == len("digits " * 100)
    # mnist was logged by make-data and used by trainer and every fine-tune run.
    assert root["degree"] == 2 + FANOUT
    trainer = next(n for n in graph["nodes"] if n["label"] == "trainer")
    assert (trainer["kind"], trainer["type"], trainer["state"]) == ("run", "train", "finished")
    by_id = {n["id"]: n["label"] for n in graph["nodes"]}
    edges = {(by_id[e["source"]], by_id[e["target"]], e["kind"]) for e in graph["edges"]}
    assert {("make-data", "mnist:v0", "output"), ("mnist:v0", "trainer", "input"),
            ("trainer", "clf:v0", "output"), ("clf:v0", "evaluator", "input")} <= edges  # fmt: skip
    assert {("ft-3", "ft-model:v3", "output"), ("mnist:v0", "ft-3", "input")} <= edges
    assert graph["title"] == "mnist:v0 (dataset)" and "note" not in graph and "error" not in graph


def test_depth_limits_the_walk_and_the_trait_follows(
    lineage: dict[str, Any], api: liberry.Api
) -> None:
    widget, view = make(f"{lineage['path']}/clf:v0", api, depth=1)
    near = view.result("graph", depth=1, direction="both")
    assert labels(near["nodes"]) == {"clf:v0", "trainer", "evaluator", "mnist:v0"}
    up = view.result("graph", depth=1, direction="upstream")
    assert labels(up["nodes"]) == {"clf:v0", "trainer", "mnist:v0"}
    view.set_traits(direction="upstream")  # the view syncs what it drew: no second walk
    assert widget.direction == "upstream" and widget._current["serial"] == up["serial"]
    # Set from Python: the kernel walks again and every view gets it through `_graph`.
    widget.depth = 2
    assert (widget._graph["depth"], widget._graph["direction"]) == (2, "upstream")
    assert labels(widget._graph["nodes"]) == {"clf:v0", "trainer", "mnist:v0", "make-data"}
    widget.direction = "both"
    # Downstream adds the evaluator; mnist's other users are siblings, not up or down
    # of clf: the view loads them when mnist is expanded (`neighbours`).
    assert "evaluator" in labels(widget._graph["nodes"])
    assert "ft-0" not in labels(widget._graph["nodes"])


def test_neighbours_expand_a_node_lazily(lineage: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(f"{lineage['path']}/clf:v0", api, depth=1)
    graph = view.result("graph", depth=1, direction="both")
    mnist = next(n for n in graph["nodes"] if n["label"] == "mnist:v0")
    loaded = sum(mnist["id"] in (e["source"], e["target"]) for e in graph["edges"])
    assert mnist["degree"] - loaded == 1 + FANOUT  # make-data and the fine-tune runs
    more = view.result("neighbours", id=mnist["id"])
    assert {f"ft-{i}" for i in range(FANOUT)} | {"make-data"} <= labels(more["nodes"])
    assert more["serial"] > graph["serial"]
    # The kernel's graph grew too (what a saved notebook keeps).
    assert "ft-5" in labels(widget.nodes)
    bad = view.request("neighbours", id="nope")
    assert not bad["ok"] and "no node 'nope'" in bad["error"]["message"]


def test_click_gives_details_and_selected_objects(
    lineage: dict[str, Any], api: liberry.Api
) -> None:
    widget, view = make(f"{lineage['path']}/mnist:best", api, depth=1)
    graph = view.result("graph", depth=1, direction="both")
    ids = {n["label"]: n["id"] for n in graph["nodes"]}
    art = view.result("details", id=ids["mnist:v0"])
    facts = dict(art["facts"])
    assert (art["kind"], art["title"], facts["type"], facts["files"]) == (
        "artifact",
        "mnist:v0",
        "dataset",
        "1",
    )
    assert art["aliases"] == ["best", "latest"]
    assert dict(art["entries"]) == {"rows": "70000", "source": "yann"}
    run = view.result("details", id=ids["trainer"])
    assert dict(run["entries"]) == {"epochs": "3", "lr": "0.01", "optimizer.name": "adam"}
    assert dict(run["facts"])["state"] == "finished"

    seen: list[Any] = []
    widget.observe(lambda change: seen.append(change["new"]), names="selected")
    view.set_traits(selected_id=ids["trainer"])  # the view syncs the click after painting
    assert isinstance(widget.selected, liberry.Run) and widget.selected.name == "trainer"
    assert seen == [widget.selected]
    view.set_traits(selected_id=ids["mnist:v0"])
    assert isinstance(widget.selected, Artifact)
    assert widget.selected.name == "mnist:v0" and widget.selected.aliases == ["best", "latest"]
    widget.selected_id = ""  # from Python too
    assert widget.selected is None and seen[-1] is None


def test_root_may_be_an_artifact_or_a_run(lineage: dict[str, Any], api: liberry.Api) -> None:
    art = api.artifact(f"{lineage['path']}/clf:latest")
    widget, view = make(art, api, depth=1)
    assert widget.root == art.path and widget.start is art
    assert view.result("graph", depth=1, direction="both")["root"] == art.id
    run = api.run(f"{lineage['path']}/{lineage['trainer']}")
    widget, view = make(run, api, depth=1)
    graph = view.result("graph", depth=1, direction="both")
    assert labels(graph["nodes"]) == {"trainer", "mnist:v0", "clf:v0"}
    assert graph["title"] == "run trainer"
    with pytest.raises(TypeError, match="Artifact or a Run"):
        Lineage(42, api=api)  # type: ignore[arg-type]


def test_unknown_artifact_is_a_message_not_an_exception(
    lineage: dict[str, Any], api: liberry.Api
) -> None:
    widget, view = make(f"{lineage['path']}/nope:latest", api)
    graph = view.result("graph", depth=2, direction="both")
    assert graph["nodes"] == [] and "nope" in graph["error"] and "not found" in graph["error"]
    # Displaying it puts the message in the state and in the HTML fallback.
    data, _ = widget._repr_mimebundle_()
    assert "not found" in widget._graph["error"] and "not found" in data["text/html"]


def test_artifact_without_lineage_is_one_node_with_a_note(
    lineage: dict[str, Any], api: liberry.Api
) -> None:
    _, view = make(f"{lineage['path']}/lonely:v0", api)
    graph = view.result("graph", depth=2, direction="both")
    assert labels(graph["nodes"]) == {"lonely:v0"} and graph["edges"] == []
    assert graph["note"] == "No lineage: no run logged or used this artifact."


def test_display_snapshots_the_graph_and_no_secret_is_synced(
    lineage: dict[str, Any], api: liberry.Api, server: ServerHandle
) -> None:
    widget = Lineage(f"{lineage['path']}/clf:v0", api=api, depth=1)
    data, _ = widget._repr_mimebundle_()
    assert labels(widget._graph["nodes"]) == {"clf:v0", "trainer", "evaluator", "mnist:v0"}
    assert "trainer → clf:v0 (output)" in data["text/html"]
    view = ViewClient(widget)
    view.result("neighbours", id=widget._graph["root"])
    view.result("details", id=widget._graph["root"])
    # After a view's request the snapshot follows a moment later (the view drew the reply).
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and widget._graph["serial"] != widget._current["serial"]:
        time.sleep(0.05)
    assert widget._graph["serial"] == widget._current["serial"]
    state = json.dumps(widget.get_state(), default=str) + view.wire_text()
    assert server.api_key not in state
    assert "api_key" not in widget.keys


def test_bad_requests_are_errors_the_view_can_show(
    lineage: dict[str, Any], api: liberry.Api
) -> None:
    widget, view = make(f"{lineage['path']}/clf:v0", api)
    bad = view.request("graph", depth=1, direction="sideways")
    assert not bad["ok"] and "direction must be one of" in bad["error"]["message"]
    with pytest.raises(Exception, match="depth must be >= 0"):
        widget.depth = -1
    assert not view.request("details")["ok"]
