"""The demo's sweep: made by the server's own controller through the sweep protocol."""

from __future__ import annotations

from liberry import Api, demo_sweep
from liberry.server import ServerHandle


def test_demo_sweep_runs_to_its_cap_once(fresh_server: ServerHandle) -> None:
    url, key = fresh_server.url, fresh_server.api_key
    assert demo_sweep.seed_sweep(url, key, runs=12) == 12
    assert demo_sweep.seed_sweep(url, key, runs=12) == 0  # already there: nothing added
    api = Api(overrides={"base_url": url}, api_key=key)
    (sweep,) = list(api.sweeps(f"demo/{demo_sweep.PROJECT}"))
    assert sweep.state == "FINISHED"  # the controller ended it at run_cap
    assert sweep.name == "cifar10-bayes" and sweep.config["method"] == "bayes"
    runs = list(sweep.runs)
    assert len(runs) == 12 and {r.state for r in runs} == {"finished"}
    space = demo_sweep.CONFIG["parameters"]
    for run in runs:
        assert 1e-4 <= run.config["learning_rate"] <= 1e-1
        assert run.config["optimizer"] in space["optimizer"]["values"]
        assert run.history_line_count == demo_sweep.EPOCHS
    best = sweep.best_run()
    assert best is not None
    assert best.summary["val_accuracy"] == max(r.summary["val_accuracy"] for r in runs)
    assert sweep.best_loss == best.summary["val_accuracy"]
