"""`liberry.widgets.Sweep` answering its view, against a real server with real sweeps.

Sweeps are made through the sweep protocol (`demo_sweep.create_sweep` / `play_agent`: the
`upsertSweep`, `agentHeartbeat`, `upsertBucket` and `file_stream` requests `wandb.sweep` and
`wandb.agent` send); the server's controller hands out the parameters. The view's half of the
comm is `ViewClient` (conftest.py). The packed `_data` is decoded here independently of the
packer, from the format's description.
"""

from __future__ import annotations

import base64
import json
import math
import random
import struct
from typing import Any

import numpy as np
import pytest

import liberry
from liberry import demo_sweep
from liberry.server import ServerHandle
from liberry_widgets import Sweep
from liberry_widgets.importance import Feature, compute_importance
from liberry_widgets.sweep_data import axes_from_config
from tests.widgets.conftest import ViewClient

CONFIG: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "score", "goal": "maximize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
        "model": {"parameters": {"depth": {"values": [18, 34, 50]}}},
        "epochs": {"value": 10},
    },
}


def score_of_lr(params: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], list[Any]]:
    """Depends on lr only: best at lr = 10^-2.5."""
    return {"score": 1 - (math.log10(params["lr"]) + 2.5) ** 2 + rng.gauss(0, 0.01)}, []


def make_sweep(server: ServerHandle, entity: str, project: str, runs: int, **kw: Any) -> str:
    config = {**CONFIG, **kw.pop("config", {})}
    sweep_id = demo_sweep.create_sweep(
        server.url, server.api_key, config, entity=entity, project=project
    )
    if runs:
        made = demo_sweep.play_agent(server.url, server.api_key, sweep_id,
                                     kw.pop("outcome", score_of_lr), entity=entity,
                                     project=project, count=runs, **kw)  # fmt: skip
        assert made == runs
    return f"{entity}/{project}/{sweep_id}"


@pytest.fixture(scope="module")
def lr_sweep(server: ServerHandle, entity: str) -> str:
    return make_sweep(server, entity, "sweep-widget-lr", 80, seed=3)


def unpack(data: bytes) -> dict[str, Any]:
    """The `_data` buffer decoded from its documented layout (not with the packer's code)."""
    assert data[:4] == b"LBSW"
    (length,) = struct.unpack("<I", data[4:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    assert base % 8 == 0

    def f64(block: dict[str, int]) -> list[float]:
        start = base + block["offset"]
        assert start % 8 == 0
        return np.frombuffer(data[start : start + block["length"]], dtype="<f8").tolist()

    def text(block: dict[str, int]) -> list[str]:
        start = base + block["offset"]
        return data[start : start + block["length"]].decode().split("\x1f")

    return {
        "header": header,
        "ids": text(header["ids"]),
        "names": text(header["names"]),
        "metric": f64(header["metric"]),
        "axes": {a["key"]: (a, f64(a)) for a in header["axes"]},
    }


def test_data_is_every_run_as_columns(lr_sweep: str, api: liberry.Api) -> None:
    widget = Sweep(lr_sweep, api=api)
    assert widget.error == "" and widget.notice == ""
    records = api.sweep(lr_sweep).runs.to_records(progress=False)
    packed = unpack(widget._data)
    assert packed["header"]["n"] == len(records) == 80
    assert packed["ids"] == [r["id"] for r in records]  # the sweep's order: oldest first
    assert packed["metric"] == pytest.approx([r["summary.score"] for r in records])
    axes = packed["axes"]
    # Swept parameters in config order, nested as dotted keys; the constant `epochs` left out.
    assert list(axes) == ["lr", "optimizer", "dropout", "model.depth"]
    lr, lr_values = axes["lr"]
    assert lr["kind"] == "number" and lr["log"] is True
    assert lr["domain"][0] <= 1e-4 and lr["domain"][1] >= 1e-1  # the search space
    assert lr_values == pytest.approx([r["config.lr"] for r in records])
    opt, codes = axes["optimizer"]
    assert opt["kind"] == "category" and opt["categories"] == ["adam", "sgd", "rmsprop"]
    assert [opt["categories"][int(c)] for c in codes] == [r["config.optimizer"] for r in records]
    depth, depths = axes["model.depth"]
    assert depth["kind"] == "number" and depth["log"] is False
    assert depths == [r["config.model.depth"] for r in records]
    assert widget.info["metric"] == "score" and widget.info["goal"] == "maximize"
    assert widget.info["runs"] == 80 and widget.info["state"] == "RUNNING"
    # Compact: 8 bytes per value, no JSON per run.
    assert len(widget._data) < 80 * (8 * 7 + 40) + 2000


def test_importance_puts_the_only_relevant_parameter_first(lr_sweep: str, api: liberry.Api) -> None:
    widget = Sweep(lr_sweep, api=api)
    names = [i["name"] for i in widget.importance]
    assert names[0] == "lr", widget.importance
    shares = {i["name"]: i["importance"] for i in widget.importance}
    assert sum(shares.values()) == pytest.approx(1)
    assert shares["lr"] > 0.5 > max(v for k, v in shares.items() if k != "lr")
    # The categorical parameter's correlation is the correlation ratio: in [0, 1].
    opt = next(i for i in widget.importance if i["name"] == "optimizer")
    assert 0 <= opt["correlation"] <= 1


def mask_of(rows: list[bool]) -> str:
    bits = np.packbits(np.array(rows, dtype=bool), bitorder="little")
    return base64.b64encode(bits.tobytes()).decode()


def test_importance_for_a_brushed_selection(lr_sweep: str, api: liberry.Api) -> None:
    widget = Sweep(lr_sweep, api=api)
    view = ViewClient(widget)
    records = api.sweep(lr_sweep).runs.to_records(progress=False)
    # Runs with a small lr only: the score still depends on lr alone there.
    rows = [r["config.lr"] < 3e-3 for r in records]
    version = unpack(widget._data)["header"]["data_version"]
    result = view.result("importance", mask=mask_of(rows), version=version)
    assert result["count"] == sum(rows)
    assert result["importance"][0]["name"] == "lr"
    # The same as computing it over those runs directly.
    kept = [r for r, keep in zip(records, rows, strict=True) if keep]
    direct = compute_importance(
        [Feature("lr", np.array([r["config.lr"] for r in kept]), log=True)],
        np.array([r["summary.score"] for r in kept]),
    )
    assert result["importance"][0]["correlation"] == pytest.approx(direct[0].correlation)
    # A mask for an older version of the data, or a malformed one, is refused with a message.
    stale = view.request("importance", mask=mask_of(rows), version=version - 1)
    assert not stale["ok"] and "changed" in stale["error"]["message"]
    bad = view.request("importance", mask="!!", version=version)
    assert not bad["ok"] and "base64" in bad["error"]["message"]
    short = view.request("importance", mask=mask_of(rows[:8]), version=version)
    assert not short["ok"] and "bits" in short["error"]["message"]


def test_selection_from_the_view_reaches_python(lr_sweep: str, api: liberry.Api) -> None:
    widget = Sweep(lr_sweep, api=api)
    view = ViewClient(widget)
    records = api.sweep(lr_sweep).runs.to_records(progress=False)
    chosen = [r["id"] for r in records if r["config.optimizer"] == "sgd"]
    seen: list[Any] = []
    widget.observe(lambda change: seen.append(change["new"]), "selected")
    view.set_traits(brushes={"optimizer": ["sgd"]}, selected=chosen)
    assert widget.brushes == {"optimizer": ["sgd"]}
    assert seen == [chosen]
    runs = widget.selected_runs
    assert [r.id for r in runs] == chosen
    assert {r.config["optimizer"] for r in runs} == {"sgd"}  # real runs, fetched on use
    frame = widget.to_pandas()
    assert frame["selected"].sum() == len(chosen)
    assert set(frame.loc[frame["selected"], "optimizer"]) == {"sgd"}


def test_refresh_shows_new_runs(server: ServerHandle, entity: str, api: liberry.Api) -> None:
    path = make_sweep(server, entity, "sweep-widget-refresh", 5, seed=1)
    widget = Sweep(api.sweep(path))  # a Sweep object works too (its Api is used)
    view = ViewClient(widget)
    before = widget._data
    assert view.result("refresh") == {"changed": False, "runs": 5}
    assert widget._data is before or widget._data == before  # nothing new: nothing sent
    sent = len(view.sent)
    demo_sweep.play_agent(server.url, server.api_key, path.rsplit("/", 1)[1], score_of_lr,
                          entity=entity, project="sweep-widget-refresh", count=2, seed=9,
                          finish=False)  # fmt: skip
    assert view.result("refresh") == {"changed": True, "runs": 7}
    packed = unpack(widget._data)
    assert packed["header"]["n"] == 7
    assert widget.info["runs"] == 7
    # The new runs are still running; the whole update went to the view as one message.
    states = packed["header"]["states"]
    start = 8 + struct.unpack("<I", widget._data[4:8])[0] + packed["header"]["state"]["offset"]
    codes = widget._data[start : start + 7]
    assert [states[c] for c in codes[-2:]] == ["running", "running"]
    updates = [m for m in view.sent[sent:] if m.get("method") == "update"]
    assert len(updates) == 1
    assert ["_data"] in updates[0]["buffer_paths"]  # a binary buffer, not JSON
    assert {"info", "importance"} <= set(updates[0]["state"])


def test_open_a_run(lr_sweep: str, api: liberry.Api) -> None:
    widget = Sweep(lr_sweep, api=api)
    view = ViewClient(widget)
    opened: list[Any] = []
    widget.on_open(opened.append)
    run_id = unpack(widget._data)["ids"][3]
    result = view.result("open", id=run_id)
    assert result["path"] == f"{lr_sweep.rsplit('/', 1)[0]}/{run_id}"
    assert result["url"].endswith(f"/runs/{run_id}")
    assert widget.opened == run_id and [r.id for r in opened] == [run_id]
    assert widget.opened_run is not None and widget.opened_run.id == run_id
    bad = view.request("open", id="nope")
    assert not bad["ok"] and "no run 'nope'" in bad["error"]["message"]


# -- bad input ------------------------------------------------------------------------------------


def test_missing_sweep_is_a_message(api: liberry.Api, entity: str) -> None:
    widget = Sweep(f"{entity}/sweep-widget-lr/doesnotexist", api=api)
    assert "not found" in widget.error and "doesnotexist" in widget.error
    assert widget._data == b"" and widget.selected_runs == []
    view = ViewClient(widget)
    reply = view.request("refresh")
    assert not reply["ok"] and "not found" in reply["error"]["message"]
    assert "not found" in widget._repr_mimebundle_()[0]["text/html"]


def test_sweep_without_runs(server: ServerHandle, entity: str, api: liberry.Api) -> None:
    path = make_sweep(server, entity, "sweep-widget-empty", 0)
    widget = Sweep(path, api=api)
    assert widget.error == ""
    assert "has no runs yet" in widget.notice
    assert unpack(widget._data)["header"]["n"] == 0
    assert widget.importance == []


def test_metric_nobody_logged(server: ServerHandle, entity: str, api: liberry.Api) -> None:
    path = make_sweep(server, entity, "sweep-widget-nometric", 4,
                      outcome=lambda p, r: ({"other": 1.0}, []))  # fmt: skip
    widget = Sweep(path, api=api)
    assert "None of the 4 runs" in widget.notice and "'score'" in widget.notice
    assert widget.importance == []
    assert all(math.isnan(v) for v in unpack(widget._data)["metric"])
    # Another metric can be chosen instead.
    other = Sweep(path, api=api, metric="other", goal="maximize")
    assert other.notice == "" and other.info["metric"] == "other"
    assert unpack(other._data)["metric"] == [1.0] * 4


def test_no_secret_in_the_state(lr_sweep: str, api: liberry.Api, server: ServerHandle) -> None:
    widget = Sweep(lr_sweep, api=api)
    state = widget.get_state()
    text = json.dumps({k: v for k, v in state.items() if k != "_data"}, default=str)
    assert server.api_key not in text
    assert server.api_key.encode() not in widget._data


def test_axes_from_config_kinds() -> None:
    axes = axes_from_config({
        "parameters": {
            "a": {"distribution": "log_uniform", "min": -9.2, "max": -2.3},
            "b": {"values": [True, False]},
            "c": {"min": 1, "max": 4},
            "d": {"value": "fixed"},
            "e": {"distribution": "q_log_uniform_values", "min": 1, "max": 1000},
        }
    })  # fmt: skip
    kinds = {a.key: (a.kind, a.log) for a in axes}
    assert kinds == {"a": ("number", True), "b": ("category", False), "c": ("number", False),
                     "e": ("number", True)}  # fmt: skip
    a = axes[0]
    assert a.bounds == pytest.approx((math.exp(-9.2), math.exp(-2.3)))  # natural-log bounds
    assert axes[1].categories == ["true", "false"]
