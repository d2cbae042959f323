"""`runs/detail.py`: one run's details and its history chart, through the widget."""

from __future__ import annotations

import base64
import gzip
import time
from typing import Any

import pytest

import liberry
from liberry.server import ServerHandle
from liberry_widgets import Runs
from liberry_widgets._base import STATIC
from tests.seed import RunSpec, Seeder
from tests.widgets.conftest import ViewClient
from tests.widgets.runs.conftest import make


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
