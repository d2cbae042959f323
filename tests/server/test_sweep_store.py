"""The sweep store and controller in-process, on SQLite and on PostgreSQL: the SQL of trials,
best metrics and run counts, and heartbeats racing on one sweep row (FOR UPDATE / BEGIN
IMMEDIATE) never hand out one grid point twice."""

from __future__ import annotations

import json
import threading
from typing import Any

import yaml

from liberry.server.store import Store, projects, runs
from liberry.server.store import sweeps as sweep_store
from liberry.server.sweeps import controller


def _sweep(store: Store, config: dict[str, Any]) -> dict[str, Any]:
    with store.write() as conn:
        project = projects.get_project(conn, "admin", "p")
        assert project is not None
        sweep, _ = controller.create_sweep(conn, project, None, {"config": yaml.safe_dump(config)})
        return sweep


def _agent(store: Store, sweep: dict[str, Any]) -> int:
    with store.write() as conn:
        return int(controller.register_agent(conn, sweep, "admin/p/s", "host", None)["id"])


def _beat(store: Store, agent: int, *running: str) -> list[dict[str, Any]]:
    with store.write() as conn:
        return controller.heartbeat(conn, agent, dict.fromkeys(running, True))


def _finish(store: Store, run_name: str, summary: dict[str, Any]) -> None:
    with store.write() as conn:
        project = projects.get_project(conn, "admin", "p")
        assert project is not None
        fields = {"state": "finished", "summaryMetrics": json.dumps(summary)}
        runs.upsert_run(conn, project["id"], pk=None, name=run_name, user_id=None, fields=fields)


def test_trials_best_metric_and_counts(store: Store) -> None:
    config = {
        "method": "grid",
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"x": {"values": [1, 2, 3]}},
    }
    sweep = _sweep(store, config)
    agent = _agent(store, sweep)
    for _ in range(3):
        (command,) = _beat(store, agent)
        x = command["args"]["x"]["value"]
        _finish(store, command["run_id"], {"acc": x / 10} if x != 2 else {"acc": "n/a"})
    assert _beat(store, agent) == [{"type": "exit"}]
    with store.read() as conn:
        row = sweep_store.get_sweep_by_pk(conn, sweep["id"])
        assert row is not None and row["state"] == "FINISHED"
        trials = sweep_store.trials(conn, row)
        assert [tr.params for tr in trials] == [{"x": 1}, {"x": 2}, {"x": 3}]
        # A string is no metric value: that run has none.
        assert [tr.metric for tr in trials] == [0.1, None, 0.3]
        assert sweep_store.best_metrics(conn, row["project_id"], [row]) == {row["name"]: 0.3}
        assert sweep_store.run_counts(conn, row["project_id"], [row["name"], "other"]) == {
            row["name"]: 3
        }


def test_bayes_suggests_from_stored_trials(store: Store) -> None:
    config = {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "k": {"values": ["a", "b"]}},
    }
    sweep = _sweep(store, config)
    agent = _agent(store, sweep)
    for _ in range(5):
        (command,) = _beat(store, agent)
        x, k = command["args"]["x"]["value"], command["args"]["k"]["value"]
        assert 0.0 <= x <= 1.0 and k in ("a", "b")
        _finish(store, command["run_id"], {"loss": (x - 0.5) ** 2})


def test_racing_heartbeats_hand_out_each_grid_point_once(store: Store) -> None:
    config = {"method": "grid", "parameters": {"a": {"values": list(range(10))}}}
    sweep = _sweep(store, config)
    agents = [_agent(store, sweep) for _ in range(4)]
    handed: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(agent: int) -> None:
        try:
            while True:
                commands = _beat(store, agent)
                if commands == [{"type": "exit"}]:
                    return
                for command in commands:
                    with lock:
                        handed.append(command["args"]["a"]["value"])
                    _finish(store, command["run_id"], {})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert sorted(handed) == list(range(10))
