"""`liberry.widgets.Runs` answering its view, against a real server with real runs.

The view's half of the comm is played by `ViewClient` (conftest.py); everything behind the
widget (liberry.Api, HTTP, the server, SQLite) is the real thing.
"""

from __future__ import annotations

import base64
import gzip
import json
import time
from typing import Any

import pytest

import liberry
import liberry_widgets
from liberry.server import ServerHandle
from liberry_widgets import Runs
from liberry_widgets._base import STATIC
from liberry_widgets.query import parse_query
from tests.seed import RunSpec, Seeder
from tests.widgets.conftest import ViewClient


def make(seeded: dict[str, Any], api: liberry.Api, **kwargs: Any) -> tuple[Runs, ViewClient]:
    widget = Runs(seeded["path"], api=api, **kwargs)
    return widget, ViewClient(widget)


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


# -- pages ---------------------------------------------------------------------------------------


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


def test_filters_from_the_search_syntax(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    keys = view.result("keys")
    assert {"lr", "optimizer", "batch_size", "model.depth"} <= set(keys["config"])
    assert {"loss", "acc"} <= set(keys["summary"])
    assert not any(k.startswith(("_wandb", "_timestamp")) for k in keys["summary"])

    from liberry_widgets.query import KeyContext

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


# -- details and charts ----------------------------------------------------------------------------


def test_run_detail_and_history_chart(seeded: dict[str, Any], api: liberry.Api) -> None:
    _, view = make(seeded, api)
    detail = view.result("run", id="run00003")
    assert detail["name"] == "exp-3" and detail["state"] == "finished"
    assert detail["config"]["model.depth"] == 18 and detail["config"]["optimizer"] == "adam"
    assert detail["summary"]["loss"] == pytest.approx(0.25)
    assert detail["metrics"] == ["acc", "loss"]
    assert detail["tags"] == ["baseline"] and detail["group"] == "g1"

    chart = view.result("chart", id="run00003", metrics=["loss", "acc"], x="_step")
    assert chart["metrics"] == ["loss", "acc"] and chart["points"] == 22
    spec = chart["spec"]
    assert "vega-lite" in spec["$schema"]
    assert spec["mark"]["type"] == "line"
    values = spec["data"]["values"]
    assert {v["metric"] for v in values} == {"loss", "acc"}
    assert sorted(v["_step"] for v in values if v["metric"] == "loss") == list(range(11))

    default = view.result("chart", id="run00003")  # no metrics: the first numeric ones
    assert default["metrics"] == ["acc", "loss"]


def test_the_chart_offers_what_the_history_holds(
    server: ServerHandle, entity: str, api: liberry.Api
) -> None:
    """Metrics to plot are the history's numeric keys: not a summary-only value (nothing to
    draw), not a key logged only as text, not W&B's own `_` keys."""
    project = f"widgets-history-{time.time_ns()}"
    history = [{"_step": s, "loss": 1 / (s + 1), "phase": "warmup" if s < 3 else "main",
                "Acc": s / 5, "_custom": s} for s in range(6)]  # fmt: skip
    summary = {"loss": 0.17, "best_loss": 0.1, "phase": "main"}
    spec = RunSpec(project=project, run_id="hist1", history=history, summary=summary)
    Seeder(server.url, server.api_key, entity).write(spec)
    view = ViewClient(Runs(f"{entity}/{project}", api=api))
    detail = view.result("run", id="hist1")
    assert detail["metrics"] == ["Acc", "loss"]
    assert detail["summary"]["best_loss"] == 0.1  # still shown with the summary
    chart = view.result("chart", id="hist1")
    assert chart["metrics"] == ["Acc", "loss"] and chart["points"] == 12


def test_chart_assets_are_served_compressed(seeded: dict[str, Any], api: liberry.Api) -> None:
    assert (STATIC / "vega.js").is_file(), "the front end is not built: run `npm run build`"
    _, view = make(seeded, api)
    asset = view.result("asset", name="vega")
    assert asset["encoding"] == "gzip+base64"
    assert gzip.decompress(base64.b64decode(asset["data"])) == (STATIC / "vega.js").read_bytes()
    plain = view.result("asset", name="vega", gzip=False)
    assert base64.b64decode(plain["data"]) == (STATIC / "vega.js").read_bytes()
    assert view.request("asset", name="../../etc/passwd")["ok"] is False


# -- traits --------------------------------------------------------------------------------------


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


def test_view_snapshot_is_stored_after_a_pause(
    seeded: dict[str, Any], api: liberry.Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    import liberry_widgets.runs as runs_module

    monkeypatch.setattr(runs_module, "SNAPSHOT_DELAY_S", 0.05)
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


# -- static snapshot and secrets -------------------------------------------------------------------


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


# -- the channel ---------------------------------------------------------------------------------


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


def test_public_name() -> None:
    assert liberry.widgets is liberry_widgets
    assert liberry.widgets.Runs is Runs
