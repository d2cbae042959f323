"""The demo's sweep: a bayes search over four hyperparameters, run by the server's controller.

It speaks W&B's sweep protocol as `wandb.sweep` and `wandb agent` do (upsertSweep,
createAgent, agentHeartbeat), and writes each run the agent is handed through upsertBucket
and file_stream, so the demo exercises the controller users rely on. Runs are simulated: their
validation accuracy is a smooth function of the parameters plus seeded noise.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from typing import Any

import orjson
import yaml
from tqdm.auto import tqdm

from .demo import ENTITY, UPSERT_RUN, _Client

PROJECT = "hparam-search"
EPOCHS = 30

CONFIG: dict[str, Any] = {
    "name": "cifar10-bayes",
    "description": "Bayesian search for a ResNet-18 on CIFAR-10 (simulated)",
    "method": "bayes",
    "metric": {"name": "val_accuracy", "goal": "maximize"},
    "parameters": {
        "learning_rate": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "batch_size": {"values": [32, 64, 128, 256]},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.6},
        "optimizer": {"values": ["sgd", "adam", "adamw"]},
        "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-2},
    },
}

UPSERT_SWEEP = """
mutation UpsertSweep($config: String, $entityName: String, $projectName: String) {
  upsertSweep(input: {config: $config, entityName: $entityName, projectName: $projectName}) {
    sweep { id name }
  }
}
"""
TOTAL_SWEEPS = """
query DemoSweeps($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) { totalSweeps }
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
  agentHeartbeat(input: {id: $id, metrics: $metrics, runState: $runState}) { commands }
}
"""


def accuracy(params: dict[str, Any], epoch: int, rng: random.Random) -> float:
    """A plausible learning curve: best near lr 3e-3, moderate dropout, adamw, batch 64-128."""
    lr_fit = math.exp(-((math.log10(params["learning_rate"]) + 2.5) ** 2) / 0.8)
    dropout_fit = 1 - (params["dropout"] - 0.25) ** 2 * 2
    wd_fit = 1 - abs(math.log10(params["weight_decay"]) + 4) * 0.02
    optimizer = {"sgd": 0.95, "adam": 0.98, "adamw": 1.0}[params["optimizer"]]
    batch = {32: 0.97, 64: 1.0, 128: 0.99, 256: 0.95}[params["batch_size"]]
    ceiling = 0.93 * lr_fit * dropout_fit * wd_fit * optimizer * batch
    curve = 1 - math.exp(-4 * (epoch + 1) / EPOCHS)
    return round(max(0.1, 0.1 + (ceiling - 0.1) * curve + rng.gauss(0, 0.004)), 5)


#: What a sweep's run logs: its summary (and history rows) from the params it was handed.
Outcome = Callable[[dict[str, Any], random.Random], tuple[dict[str, Any], list[dict[str, Any]]]]


def demo_outcome(
    params: dict[str, Any], rng: random.Random
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The demo's runs: a learning curve of `EPOCHS` epochs (`accuracy`)."""
    rows = []
    for epoch in range(EPOCHS):
        acc = accuracy(params, epoch, rng)
        rows.append({"_step": epoch, "epoch": epoch, "val_accuracy": acc, "val_loss": 1 - acc})
    summary = {**rows[-1], "best_val_accuracy": max(r["val_accuracy"] for r in rows)}
    return summary, rows


def _run(
    client: _Client,
    name: str,
    params: dict[str, Any],
    outcome: Outcome,
    seed: int,
    *,
    entity: str,
    project: str,
    finish: bool = True,
) -> None:
    """Start the run the agent was handed, log its history and summary, and (with `finish`)
    end it; without, it stays `running`, as a run still training."""
    rng = random.Random(seed)
    client.gql(UPSERT_RUN, {"name": name, "project": project, "entity": entity, "host": "demo"})
    summary, rows = outcome(params, rng)
    files: dict[str, Any] = {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}}
    if rows:
        content = [orjson.dumps(r).decode() for r in rows]
        files["wandb-history.jsonl"] = {"offset": 0, "content": content}
    payload: dict[str, Any] = {"files": files}
    if finish:
        payload.update(complete=True, exitcode=0)
    r = client.session.post(
        f"{client.base_url}/files/{entity}/{project}/{name}/file_stream", json=payload, timeout=120
    )
    r.raise_for_status()


def create_sweep(
    base_url: str, api_key: str, config: dict[str, Any], *, entity: str, project: str
) -> str:
    """A new sweep (`upsertSweep`, as `wandb.sweep` sends it); returns its id."""
    client = _Client(base_url, api_key)
    sweep = client.gql(
        UPSERT_SWEEP,
        {
            "config": yaml.safe_dump(config, sort_keys=False),
            "entityName": entity,
            "projectName": project,
        },
    )["upsertSweep"]["sweep"]
    return str(sweep["name"])


def play_agent(
    base_url: str,
    api_key: str,
    sweep_id: str,
    outcome: Outcome,
    *,
    entity: str,
    project: str,
    count: int | None = None,
    seed: int = 0,
    finish: bool = True,
    progress: bool = False,
) -> int:
    """Be an agent of the sweep, as `wandb agent` is: register, heartbeat for runs, run each
    (`outcome` makes what it logs from the params) until the controller says stop or `count`
    runs are done. Returns the runs made."""
    client = _Client(base_url, api_key)
    agent = client.gql(
        CREATE_AGENT,
        {"host": "demo", "entityName": entity, "projectName": project, "sweep": sweep_id},
    )["createAgent"]["agent"]["id"]
    made = 0
    with tqdm(total=count, desc="sweep agent", unit="run", disable=not progress) as bar:
        while count is None or made < count:
            data = client.gql(HEARTBEAT, {"id": agent, "metrics": "{}", "runState": "{}"})
            commands = json.loads(data["agentHeartbeat"]["commands"])
            runs_given = [c for c in commands if c["type"] == "run"]
            if not runs_given:  # `exit`: the run cap is reached, or the grid is done
                return made
            for command in runs_given:
                params = {k: v["value"] for k, v in command["args"].items()}
                _run(client, command["run_id"], params, outcome, seed + made,
                     entity=entity, project=project, finish=finish)  # fmt: skip
                made += 1
                bar.update()
    return made


def seed_sweep(base_url: str, api_key: str, *, runs: int = 40, progress: bool = False) -> int:
    """Run the demo sweep to `runs` runs unless the project has a sweep; returns runs made."""
    client = _Client(base_url, api_key)
    found = client.gql(TOTAL_SWEEPS, {"entity": ENTITY, "project": PROJECT}).get("project")
    if found and found["totalSweeps"]:
        return 0
    sweep_id = create_sweep(
        base_url, api_key, {**CONFIG, "run_cap": runs}, entity=ENTITY, project=PROJECT
    )
    return play_agent(base_url, api_key, sweep_id, demo_outcome, entity=ENTITY, project=PROJECT,
                      progress=progress)  # fmt: skip
