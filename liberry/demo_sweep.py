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


def _run(client: _Client, name: str, params: dict[str, Any], seed: int) -> None:
    rng = random.Random(seed)
    client.gql(UPSERT_RUN, {"name": name, "project": PROJECT, "entity": ENTITY, "host": "demo"})
    rows = []
    for epoch in range(EPOCHS):
        acc = accuracy(params, epoch, rng)
        rows.append({"_step": epoch, "epoch": epoch, "val_accuracy": acc, "val_loss": 1 - acc})
    summary = {**rows[-1], "best_val_accuracy": max(r["val_accuracy"] for r in rows)}
    payload = {
        "files": {
            "wandb-history.jsonl": {
                "offset": 0,
                "content": [orjson.dumps(r).decode() for r in rows],
            },
            "wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]},
        },
        "complete": True,
        "exitcode": 0,
    }
    client.stream(name, payload, project=PROJECT)


def seed_sweep(base_url: str, api_key: str, *, runs: int = 40, progress: bool = False) -> int:
    """Run the demo sweep to `runs` runs unless the project has a sweep; returns runs made."""
    client = _Client(base_url, api_key)
    found = client.gql(TOTAL_SWEEPS, {"entity": ENTITY, "project": PROJECT}).get("project")
    if found and found["totalSweeps"]:
        return 0
    config = {**CONFIG, "run_cap": runs}
    sweep = client.gql(
        UPSERT_SWEEP,
        {"config": yaml.safe_dump(config), "entityName": ENTITY, "projectName": PROJECT},
    )["upsertSweep"]["sweep"]
    agent = client.gql(
        CREATE_AGENT,
        {"host": "demo", "entityName": ENTITY, "projectName": PROJECT, "sweep": sweep["name"]},
    )["createAgent"]["agent"]["id"]
    made = 0
    with tqdm(total=runs, desc="seeding demo sweep", unit="run", disable=not progress) as bar:
        while True:
            data = client.gql(HEARTBEAT, {"id": agent, "metrics": "{}", "runState": "{}"})
            commands = json.loads(data["agentHeartbeat"]["commands"])
            runs_given = [c for c in commands if c["type"] == "run"]
            if not runs_given:  # `exit`: the run cap is reached
                return made
            for command in runs_given:
                params = {k: v["value"] for k, v in command["args"].items()}
                _run(client, command["run_id"], params, seed=made)
                made += 1
                bar.update()
