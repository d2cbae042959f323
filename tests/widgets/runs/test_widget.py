"""`runs/widget.py`: `liberry.widgets.Runs` answering its view, against a real server with
real runs.

The view's half of the comm is played by `ViewClient` (conftest.py); everything behind the
widget (liberry.Api, HTTP, the server, SQLite) is the real thing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import liberry
import liberry_widgets
from liberry.server import ServerHandle
from liberry_widgets import Runs
from liberry_widgets.runs.query import KeyContext, parse_query
from tests.seed import RunSpec, Seeder
from tests.widgets.conftest import ViewClient
from tests.widgets.runs.conftest import make, names


def test_first_page_count_and_default_columns(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(seeded, api, per_page=5)
    page = view.result("page", offset=0, limit=5)
    assert page["total"] == 12
    assert page["offset"] == 0 and page["limit"] == 5
    # Newest first by default: run 11 was created last.
    assert names(page["rows"]) == ["exp-11", "exp-10", "exp-9", "exp-8", "exp-7"]
    row = page["rows"][0]
    assert row["id"] == "run00011"
    assert row["state"] == "running"
    assert row["tags"] == ["sweep"] and row["group"] == "g2" and row["job_type"] == "train"
    # Defaults: identity columns, tags and group (used), config keys that vary, metrics.
    columns = page["columns"]
    assert columns[:5] == ["name", "state", "created_at", "tags", "group"]
    assert {"config.lr", "config.optimizer", "config.model.depth"} <= set(columns)
    assert "config.batch_size" not in columns  # the same in every run: not worth a column
    assert {"summary.loss", "summary.acc"} <= set(columns)
    assert not any(c.startswith("summary._") for c in columns)
    assert row["values"]["config.model.depth"] == 18
    assert row["values"]["config.lr"] == pytest.approx(0.012)
    # The kernel adopts the defaults it chose, so Python sees the same view.
    assert widget.columns == columns


def test_filters_from_the_search_syntax(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    keys = view.result("keys")
    assert {"lr", "optimizer", "batch_size", "model.depth"} <= set(keys["config"])
    assert {"loss", "acc"} <= set(keys["summary"])
    assert not any(k.startswith(("_wandb", "_timestamp")) for k in keys["summary"])

    context = KeyContext(config=keys["config"], summary=keys["summary"])
    cases = {
        "lr>=0.0055 optimizer:adam state:finished": ["exp-6"],
        "tag:baseline (optimizer:sgd OR optimizer:adamw)": ["exp-2", "exp-1"],
        "NOT state:finished": ["exp-11", "exp-10", "exp-9"],
        "loss<0.1 -tag:sweep": [],
        "loss<0.1": ["exp-11", "exp-10"],
        "exp-1": ["exp-11", "exp-10", "exp-1"],  # bare words search the name
        "model.depth:50 group:g1": ["exp-4", "exp-2", "exp-0"],
    }
    for text, expected in cases.items():
        filters = parse_query(text, context)
        page = view.result("page", filters=filters, offset=0, limit=50, columns=["name"])
        assert names(page["rows"]) == expected, text
        assert page["total"] == len(expected)
        assert view.result("count", filters=filters) == {"total": len(expected)}


def test_errors_become_messages(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    bad = view.request("page", filters={"config.lr": {"$gtt": 1}})
    assert bad["ok"] is False
    assert "$gtt" in bad["error"]["message"] and "Traceback" not in bad["error"]["message"]
    missing = view.request("run", id="nope")
    assert missing["ok"] is False and "not found" in missing["error"]["message"]
    unknown = view.request("frobnicate")
    assert unknown["ok"] is False and "unknown request" in unknown["error"]["message"]
    assert view.request("run")["ok"] is False  # no id
    assert view.request("page", filters=[1])["ok"] is False


def test_an_unreachable_server_is_an_error_reply(seeded: dict[str, Any]) -> None:
    dead = liberry.Api(overrides={"base_url": "http://127.0.0.1:9"}, api_key="x" * 40,
                       max_retries=0)  # fmt: skip
    widget = Runs(f"{seeded['path']}", api=dead)
    view = ViewClient(widget)
    reply = view.request("page", offset=0, limit=5)
    assert reply["ok"] is False and reply["error"]["message"]


def test_python_sets_query_and_filters(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(seeded, api, filters={"state": "failed"})
    assert widget.query == "state:failed"
    assert len(widget.runs) == 2

    widget.offset = 5
    widget.query = "loss<0.1"  # resolved with the project's keys: a summary metric
    assert widget.filters == {"summary_metrics.loss": {"$lt": 0.1}}
    assert widget.offset == 0
    assert [r.id for r in widget.runs] == ["run00011", "run00010"]

    widget.filters = {"config.optimizer": "sgd"}
    assert widget.query == "optimizer:sgd"
    assert len(widget.runs) == 4

    with pytest.raises(Exception, match="Unclosed"):
        widget.query = "(state:finished"
    with pytest.raises(Exception, match="unknown operator"):
        widget.filters = {"config.lr": {"$gtt": 1}}
    assert widget.filters == {"config.optimizer": "sgd"}
    # Each change reached the view.
    assert any(u.get("query") == "optimizer:sgd" for u in view.state_updates())


def test_view_changes_are_trusted_and_not_echoed(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, view = make(seeded, api)
    # The view sends the text and the filter it compiled (it knows the keys) together.
    view.set_traits(query="loss<0.1", filters={"summary_metrics.loss": {"$lt": 0.1}}, offset=0)
    assert widget.query == "loss<0.1"
    assert widget.filters == {"summary_metrics.loss": {"$lt": 0.1}}
    view.set_traits(order="+config.lr", offset=5)
    assert widget.offset == 5  # a sort from the view keeps the offset it sent
    view.set_traits(selected=["run00001", "run00004"])
    assert [r.name for r in widget.selected_runs] == ["exp-1", "exp-4"]
    widget.page = 2
    assert widget.offset == 100 and widget.page == 2


def test_to_pandas_is_the_current_view(seeded: dict[str, Any], api: liberry.Api) -> None:
    widget, _ = make(seeded, api, per_page=4, order="+created_at",
                     columns=["name", "config.lr", "summary.loss"])  # fmt: skip
    widget.offset = 4
    frame = widget.to_pandas()
    assert list(frame.index) == seeded["ids"][4:8]
    assert list(frame.columns) == ["name", "config.lr", "summary.loss"]
    assert frame.loc["run00004", "config.lr"] == pytest.approx(0.005)


def test_refresh_keeps_position_and_selection(seeded: dict[str, Any], api: liberry.Api,
                                              server: ServerHandle) -> None:  # fmt: skip
    widget, view = make(seeded, api, per_page=5)
    widget.offset = 5
    widget.selected = ["run00002"]
    before = widget._refresh
    widget.refresh()
    assert widget._refresh == before + 1
    assert widget.offset == 5 and widget.selected == ["run00002"]
    assert {"_refresh": before + 1} in view.state_updates()


def test_new_runs_show_up_after_refresh(server: ServerHandle, entity: str,
                                        api: liberry.Api, project_name: str) -> None:  # fmt: skip
    seeder = Seeder(server.url, server.api_key, entity)
    seeder.write(RunSpec(project=project_name, run_id="first000", config={"a": 1}))
    widget = Runs(f"{entity}/{project_name}", api=api)
    view = ViewClient(widget)
    assert view.result("page", offset=0, limit=10)["total"] == 1
    seeder.write(RunSpec(project=project_name, run_id="second00", config={"a": 2}))
    widget.refresh()
    page = view.result("page", offset=0, limit=10)
    assert page["total"] == 2 and page["rows"][0]["id"] == "second00"


def test_no_secret_in_traits_or_messages(seeded: dict[str, Any], api: liberry.Api,
                                         server: ServerHandle) -> None:  # fmt: skip
    widget, view = make(seeded, api)
    widget._repr_mimebundle_()
    view.result("page", offset=0, limit=5)
    view.result("run", id="run00001")
    state = json.dumps(widget.get_state(), default=str)
    assert server.api_key not in state
    assert server.api_key not in view.wire_text()
    assert "api_key" not in state


def test_public_name() -> None:
    assert liberry.widgets is liberry_widgets
    assert liberry.widgets.Runs is Runs
