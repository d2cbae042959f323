"""The sweep protocol over real GraphQL: upsertSweep, createAgent, agentHeartbeat's commands
in every sweep state, grid bookkeeping, early termination and orphaned runs.

These speak the wire protocol directly (as `wandb.sweep` / `wandb agent` do), so each command
can be checked without waiting for the official agent's 5-second poll; tests/compat drives the
official client end to end.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import yaml
from sqlalchemy import update

from liberry.server import ServerHandle
from liberry.server.store import tables as t
from liberry.server.sweeps import controller
from tests.wire import Wire

UPSERT_SWEEP = """
mutation UpsertSweep($id: ID, $config: String, $entityName: String, $projectName: String,
                     $state: String, $priorRunsFilters: JSONString) {
  upsertSweep(input: {id: $id, config: $config, entityName: $entityName,
                      projectName: $projectName, state: $state,
                      priorRunsFilters: $priorRunsFilters}) {
    sweep { id name state method runCountExpected project { name entity { name } } }
    configValidationWarnings
  }
}
"""
CREATE_AGENT = """
mutation CreateAgent($host: String!, $projectName: String, $entityName: String, $sweep: String!) {
  createAgent(input: {host: $host, projectName: $projectName, entityName: $entityName,
                      sweep: $sweep}) { agent { id } }
}
"""
HEARTBEAT = """
mutation Heartbeat($id: ID!, $metrics: JSONString, $runState: JSONString) {
  agentHeartbeat(input: {id: $id, metrics: $metrics, runState: $runState}) {
    agent { id } commands
  }
}
"""
SWEEP = """
query Sweep($entity: String, $project: String, $name: String!) {
  project(name: $project, entityName: $entity) {
    totalSweeps
    sweep(sweepName: $name) {
      id name state method bestLoss runCount runCountExpected config
      runs(order: "+created_at") { edges { node { name state config shouldStop sweepName } } }
      agents { edges { node { id host totalRuns } } }
    }
  }
}
"""


class Sweeps:
    """The wire calls of `wandb.sweep` and `wandb agent`, for one project."""

    def __init__(self, server: ServerHandle, project: str) -> None:
        self.wire = Wire(server.url, server.api_key)
        self.entity = self.wire.gql("{ viewer { entity } }")["viewer"]["entity"]
        self.project = project

    def create(self, config: dict[str, Any], **variables: Any) -> dict[str, Any]:
        data = self.wire.gql(
            UPSERT_SWEEP,
            {
                "config": yaml.safe_dump(config),
                "entityName": self.entity,
                "projectName": self.project,
                **variables,
            },
        )
        sweep: dict[str, Any] = data["upsertSweep"]["sweep"]
        return sweep

    def set_state(self, sweep: dict[str, Any], state: str) -> str:
        data = self.wire.gql(UPSERT_SWEEP, {"id": sweep["id"], "state": state})
        return str(data["upsertSweep"]["sweep"]["state"])

    def agent(self, sweep: dict[str, Any], host: str = "box") -> str:
        variables = {
            "host": host,
            "entityName": self.entity,
            "projectName": self.project,
            "sweep": sweep["name"],
        }
        return str(self.wire.gql(CREATE_AGENT, variables)["createAgent"]["agent"]["id"])

    def heartbeat(self, agent: str, *running: str) -> list[dict[str, Any]]:
        variables = {
            "id": agent,
            "metrics": "{}",
            "runState": json.dumps(dict.fromkeys(running, True)),
        }
        data = self.wire.gql(HEARTBEAT, variables)
        commands: list[dict[str, Any]] = json.loads(data["agentHeartbeat"]["commands"])
        return commands

    def read(self, sweep: dict[str, Any]) -> dict[str, Any]:
        variables = {"entity": self.entity, "project": self.project, "name": sweep["name"]}
        found: dict[str, Any] = self.wire.gql(SWEEP, variables)["project"]["sweep"]
        return found

    def start(self, run: str) -> None:
        """What the agent's process does: wandb.init's upsertBucket."""
        self.wire.upsert(self.entity, self.project, run)

    def finish(self, run: str, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
        self.log(run, rows)
        body = {
            "files": {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}},
            "complete": True,
            "exitcode": 0,
        }
        assert self.wire.file_stream(self.entity, self.project, run, body).status_code == 200

    def log(self, run: str, rows: list[dict[str, Any]], offset: int = 0) -> None:
        self.wire.log_history(self.entity, self.project, run, rows, offset=offset)


@pytest.fixture
def sweeps(server: ServerHandle, project_name: str) -> Sweeps:
    return Sweeps(server, project_name)


GRID = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {
        "lr": {"values": [0.1, 0.01]},
        "optimizer": {
            "parameters": {"name": {"values": ["sgd", "adam"]}, "momentum": {"value": 0.9}}
        },
    },
}


def test_grid_hands_out_each_point_once_then_exits(sweeps: Sweeps) -> None:
    sweep = sweeps.create(GRID)
    assert sweep["state"] == "RUNNING" and sweep["method"] == "grid"
    assert sweep["runCountExpected"] == 4
    agent = sweeps.agent(sweep)
    seen = []
    for _ in range(4):
        (command,) = sweeps.heartbeat(agent)
        assert command["type"] == "run"
        args = command["args"]
        # Nested parameters arrive as one nested value, as W&B's agent expects.
        assert args["optimizer"]["value"]["momentum"] == 0.9
        seen.append((args["lr"]["value"], args["optimizer"]["value"]["name"]))
        sweeps.start(command["run_id"])
        assert sweeps.heartbeat(agent, command["run_id"]) == []  # busy: nothing new
        sweeps.finish(command["run_id"], [{"loss": args["lr"]["value"]}], {"loss": 1.0})
    assert sorted(seen) == sorted((lr, o) for lr in (0.1, 0.01) for o in ("sgd", "adam"))
    assert sweeps.heartbeat(agent) == [{"type": "exit"}]
    found = sweeps.read(sweep)
    assert found["state"] == "FINISHED"
    assert found["runCount"] == 4
    assert {e["node"]["state"] for e in found["runs"]["edges"]} == {"finished"}
    # The run's config is the point it was handed (W&B-wrapped).
    first = found["runs"]["edges"][0]["node"]
    assert json.loads(first["config"])["lr"]["value"] == seen[0][0]
    assert found["agents"]["edges"][0]["node"]["totalRuns"] == 4


def test_concurrent_agents_never_share_a_grid_point(sweeps: Sweeps) -> None:
    config = {
        "method": "grid",
        "parameters": {"a": {"values": list(range(6))}, "b": {"values": list(range(5))}},
    }
    sweep = sweeps.create(config)
    agents = [sweeps.agent(sweep, host=f"h{i}") for i in range(6)]
    handed: list[tuple[int, int]] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(agent: str) -> None:
        local = Sweeps.__new__(Sweeps)  # its own HTTP session, as a separate process has
        local.__dict__.update(sweeps.__dict__, wire=Wire(sweeps.wire.url, None))
        local.wire.http.auth = sweeps.wire.http.auth
        try:
            while True:
                commands = local.heartbeat(agent)
                if commands == [{"type": "exit"}]:
                    return
                for command in commands:
                    args = command["args"]
                    with lock:
                        handed.append((args["a"]["value"], args["b"]["value"]))
                    local.start(command["run_id"])
                    local.finish(command["run_id"], [], {})
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert sorted(handed) == [(a, b) for a in range(6) for b in range(5)]


def test_states_pause_resume_stop_cancel(sweeps: Sweeps) -> None:
    sweep = sweeps.create({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    agent = sweeps.agent(sweep)
    assert sweeps.set_state(sweep, "PAUSED") == "PAUSED"
    assert sweeps.heartbeat(agent) == []  # paused: the agent waits
    assert sweeps.set_state(sweep, "RUNNING") == "RUNNING"
    (command,) = sweeps.heartbeat(agent)
    run = command["run_id"]
    assert 0.0 <= command["args"]["x"]["value"] <= 1.0
    sweeps.start(run)
    assert sweeps.set_state(sweep, "FINISHED") == "FINISHED"  # `wandb sweep --stop`
    assert sweeps.heartbeat(agent, run) == []  # the running run may finish
    assert sweeps.heartbeat(agent) == [{"type": "exit"}]

    other = sweeps.create({"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}})
    agent = sweeps.agent(other)
    (command,) = sweeps.heartbeat(agent)
    assert sweeps.set_state(other, "CANCELED") == "CANCELED"  # `wandb sweep --cancel`
    assert sweeps.heartbeat(agent, command["run_id"]) == [
        {"type": "stop", "run_id": command["run_id"]}
    ]
    assert sweeps.heartbeat(agent) == [{"type": "exit"}]
    message = sweeps.wire.gql_error(
        CREATE_AGENT,
        {"host": "h", "entityName": sweeps.entity, "projectName": sweeps.project,
         "sweep": other["name"]},
    )  # fmt: skip
    assert "canceled" in message and "--resume" in message
    assert "cannot become paused" in sweeps.wire.gql_error(
        UPSERT_SWEEP, {"id": other["id"], "state": "PAUSED"}
    )
    assert "unknown sweep state 'DONE'" in sweeps.wire.gql_error(
        UPSERT_SWEEP, {"id": other["id"], "state": "DONE"}
    )


def test_run_cap_ends_a_random_sweep(sweeps: Sweeps) -> None:
    sweep = sweeps.create(
        {"method": "random", "run_cap": 2, "parameters": {"x": {"values": [1, 2, 3]}}}
    )
    assert sweep["runCountExpected"] == 2
    agent = sweeps.agent(sweep)
    for _ in range(2):
        (command,) = sweeps.heartbeat(agent)
        sweeps.start(command["run_id"])
        sweeps.finish(command["run_id"], [], {})
    assert sweeps.heartbeat(agent) == [{"type": "exit"}]
    assert sweeps.read(sweep)["state"] == "FINISHED"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"method": "foo", "parameters": {"a": {"values": [1]}}}, "method"),
        (
            {"method": "random", "parameters": {"a": {"distribution": "gauss", "mu": 0}}},
            "parameters.a.distribution",
        ),
        ({"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "metric"),
        ({"method": "random", "parameters": {"a": {"min": 1.0, "max": 0.1}}}, "parameters.a"),
        ({"method": "grid", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "parameters.a"),
        ({"method": "random"}, "parameters"),
    ],
)
def test_bad_configs_are_refused_and_nothing_is_stored(
    sweeps: Sweeps, config: dict[str, Any], field: str
) -> None:
    message = sweeps.wire.gql_error(
        UPSERT_SWEEP,
        {"config": yaml.safe_dump(config), "entityName": sweeps.entity,
         "projectName": sweeps.project},
    )  # fmt: skip
    assert message.startswith(f"invalid sweep config: {field}:"), message
    data = sweeps.wire.gql(
        "query($e: String, $p: String) { project(name: $p, entityName: $e) { totalSweeps } }",
        {"e": sweeps.entity, "p": sweeps.project},
    )
    assert data["project"] is None or data["project"]["totalSweeps"] == 0


def test_unknown_top_level_keys_are_warnings(sweeps: Sweeps) -> None:
    data = sweeps.wire.gql(
        UPSERT_SWEEP,
        {
            "config": yaml.safe_dump(
                {"method": "random", "paramters": {}, "parameters": {"x": {"value": 1}}}
            ),
            "entityName": sweeps.entity,
            "projectName": sweeps.project,
        },
    )
    assert any("paramters" in w for w in data["upsertSweep"]["configValidationWarnings"])


def test_agent_for_a_missing_sweep_is_told_so(sweeps: Sweeps) -> None:
    sweeps.create(GRID)  # the project exists; the sweep does not
    message = sweeps.wire.gql_error(
        CREATE_AGENT,
        {"host": "h", "entityName": sweeps.entity, "projectName": sweeps.project,
         "sweep": "nosuch"},
    )  # fmt: skip
    assert f"sweep {sweeps.entity}/{sweeps.project}/nosuch not found" in message


def test_hyperband_stops_a_run_worse_than_the_others_at_a_band(sweeps: Sweeps) -> None:
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2},
        "parameters": {"q": {"values": [1, 2, 3]}},
    }
    sweep = sweeps.create(config)
    agent = sweeps.agent(sweep)
    # Two good runs finish first.
    for value in (0.1, 0.2):
        (command,) = sweeps.heartbeat(agent)
        sweeps.start(command["run_id"])
        sweeps.finish(command["run_id"], [{"loss": value}] * 10, {"loss": value})
    (command,) = sweeps.heartbeat(agent)
    run = command["run_id"]
    sweeps.start(run)
    sweeps.log(run, [{"loss": 5.0}, {"loss": 5.0}])  # below the first band (3): judged later
    assert sweeps.heartbeat(agent, run) == []
    sweeps.log(run, [{"loss": 5.0}], offset=2)  # reached the band, far worse than the others
    assert sweeps.heartbeat(agent, run) == [{"type": "stop", "run_id": run}]
    # Asked again until it is gone (the agent escalates to a kill); W&B's shouldStop says so.
    assert sweeps.heartbeat(agent, run) == [{"type": "stop", "run_id": run}]
    nodes = {e["node"]["name"]: e["node"] for e in sweeps.read(sweep)["runs"]["edges"]}
    assert nodes[run]["shouldStop"] is True
    assert sum(n["shouldStop"] for n in nodes.values()) == 1


def test_an_orphaned_run_goes_to_the_next_idle_agent(server: ServerHandle, sweeps: Sweeps) -> None:
    sweep = sweeps.create({"method": "grid", "parameters": {"a": {"values": [1, 2]}}})
    lost, other = sweeps.agent(sweep, "lost"), sweeps.agent(sweep, "other")
    (first,) = sweeps.heartbeat(lost)  # then its process dies before starting the run
    (second,) = sweeps.heartbeat(other)
    sweeps.start(second["run_id"])
    sweeps.finish(second["run_id"], [], {})
    assert sweeps.heartbeat(other) == []  # the grid is handed out; one run may still come back
    old = "2000-01-01T00:00:00.000000"
    with server.data.store.write() as conn:  # the lost agent was last seen long ago
        conn.execute(update(t.sweep_agents).values(heartbeat_at=old).where(
            t.sweep_agents.c.host == "lost"))  # fmt: skip
    (again,) = sweeps.heartbeat(other)
    assert again["run_id"] == first["run_id"] and again["args"] == first["args"]
    sweeps.start(again["run_id"])
    sweeps.finish(again["run_id"], [], {})
    assert sweeps.heartbeat(other) == [{"type": "exit"}]
    assert sweeps.read(sweep)["runCount"] == 2


def test_a_run_its_idle_agent_never_started_is_failed(sweeps: Sweeps) -> None:
    sweep = sweeps.create({"method": "grid", "parameters": {"a": {"values": [1, 2]}}})
    agent = sweeps.agent(sweep)
    (first,) = sweeps.heartbeat(agent)  # the process crashes before wandb.init
    (second,) = sweeps.heartbeat(agent)  # idle again: the first run is dead
    assert second["args"] != first["args"]
    states = {e["node"]["name"]: e["node"]["state"] for e in sweeps.read(sweep)["runs"]["edges"]}
    assert states == {first["run_id"]: "failed", second["run_id"]: "pending"}


def test_prior_runs_join_the_sweep(sweeps: Sweeps) -> None:
    sweeps.wire.upsert(sweeps.entity, sweeps.project, "old1", config={"x": 1})
    sweeps.wire.upsert(sweeps.entity, sweeps.project, "old2", config={"x": 2})
    sweep = sweeps.create(
        {"method": "grid", "parameters": {"x": {"values": [1, 2, 3]}}},
        priorRunsFilters=json.dumps({"$or": [{"name": "old1"}, {"name": "old2"}]}),
    )
    agent = sweeps.agent(sweep)
    (command,) = sweeps.heartbeat(agent)
    assert command["args"] == {"x": {"value": 3}}  # 1 and 2 were run already


def test_sweep_config_cache_is_keyed_by_text() -> None:
    text = yaml.safe_dump({"method": "random", "parameters": {"x": {"value": 1}}})
    assert controller.config_of(text) is controller.config_of(text)
