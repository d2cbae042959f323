"""Deterministic, realistic demo data, written through the server's own HTTP endpoints.

The demo goes through `upsertBucket` and `file_stream` exactly as W&B's client does, so it
also exercises the write path users hit. The demo sweep is `demo_sweep.py`'s.
"""

from __future__ import annotations

import json
import math
import random
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson
import requests
from tqdm.auto import tqdm

ENTITY = "demo"
PROJECT = "image-classification"

UPSERT_RUN = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString,
  $tags: [String!], $groupName: String, $jobType: String, $displayName: String, $notes: String,
  $state: String, $host: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config,
    tags: $tags, groupName: $groupName, jobType: $jobType, displayName: $displayName,
    notes: $notes, state: $state, host: $host}) {
    bucket { id name }
    inserted
  }
}
"""

RUN_COUNT = """
query DemoRunCount($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) { runCount }
}
"""

ARCHITECTURES = {"resnet18": 0.86, "resnet50": 0.91, "vit-small": 0.89, "convnext-tiny": 0.92}
OPTIMIZERS = {"adam": 1.0, "adamw": 1.02, "sgd": 0.94}
CHUNK_ROWS = 5000


@dataclass
class DemoRun:
    """One run's plan: everything is derived from its index, so the data set is reproducible."""

    index: int
    name: str
    config: dict[str, Any]
    tags: list[str]
    group: str
    final_state: str
    steps: int
    quality: float
    noise_seed: int
    display_name: str = field(default="")

    def rows(self, start: int, stop: int) -> Iterator[dict[str, Any]]:
        rng = random.Random(self.noise_seed * 7919 + start)
        lr = self.config["learning_rate"]
        for step in range(start, stop):
            progress = (step + 1) / self.steps
            speed = 4.0 * min(1.0, lr / 0.003) ** 0.5 + 0.5
            acc = self.quality * (1 - math.exp(-speed * progress * 3)) + rng.gauss(0, 0.01)
            loss = (
                2.3 * math.exp(-speed * progress * 2.5)
                + (1 - self.quality)
                + abs(rng.gauss(0, 0.02))
            )
            if self.final_state in ("failed", "crashed") and progress > 0.6:
                loss *= 1 + (progress - 0.6) * 8  # diverging before it dies
            row: dict[str, Any] = {
                "_step": step,
                "_runtime": round(step * 0.35, 3),
                "_timestamp": 1_790_000_000 + self.index * 3600 + step * 0.35,
                "loss": round(loss, 5),
                "accuracy": round(max(0.0, min(1.0, acc)), 5),
                "lr": round(lr * 0.5 * (1 + math.cos(math.pi * progress)), 8),
            }
            if step % 100 == 99 or step == self.steps - 1:  # validation is sparser than training
                row["val_loss"] = round(loss * 1.08 + abs(rng.gauss(0, 0.02)), 5)
                row["val_accuracy"] = round(max(0.0, min(1.0, acc - 0.015 + rng.gauss(0, 0.01))), 5)
            yield row

    def summary(self, upto: int) -> dict[str, Any]:
        last = list(self.rows(upto - 1, upto))[-1]
        vals = [r for r in self.rows(max(0, upto - 400), upto) if "val_accuracy" in r]
        out = {k: v for k, v in last.items() if not k.startswith("val_")}
        if vals:
            out["val_loss"] = vals[-1]["val_loss"]
            out["val_accuracy"] = vals[-1]["val_accuracy"]
            out["best_val_accuracy"] = max(v["val_accuracy"] for v in vals)
        return out


def plan(runs: int = 240, steps: tuple[int, int] = (1000, 5000)) -> list[DemoRun]:
    """The demo runs, deterministic for a given (runs, steps)."""
    rng = random.Random(20261126)
    out = []
    for i in range(runs):
        arch = rng.choice(list(ARCHITECTURES))
        opt = rng.choice(list(OPTIMIZERS))
        lr = round(10 ** rng.uniform(-4, -1), 6)
        batch = rng.choice([32, 64, 128, 256])
        dropout = rng.choice([0.0, 0.1, 0.3, 0.5])
        augment = rng.random() < 0.5
        config = {
            "learning_rate": lr,
            "batch_size": batch,
            "optimizer": opt,
            "dropout": dropout,
            "architecture": arch,
            "augmentation": augment,
            "weight_decay": rng.choice([0.0, 1e-4, 5e-4]),
            "epochs": rng.choice([10, 20, 30]),
            "dataset": {"name": "cifar10", "val_split": 0.1},
        }
        penalty = abs(math.log10(lr) + 2.5) * 0.03 + dropout * 0.02 * (arch == "resnet18")
        quality = ARCHITECTURES[arch] * OPTIMIZERS[opt] - penalty + 0.01 * augment
        roll = rng.random()
        state = (
            "finished"
            if roll < 0.72
            else "failed"
            if roll < 0.82
            else "crashed"
            if roll < 0.92
            else "running"
        )
        tags = sorted(
            {
                t
                for t in (
                    "baseline" if i % 10 == 0 else "",
                    "augment" if augment else "",
                    "lr-sweep" if rng.random() < 0.4 else "",
                )
                if t
            }
        )
        out.append(
            DemoRun(
                index=i,
                name=f"demo{i:04d}",
                config=config,
                tags=tags,
                group=f"{arch}-{opt}",
                final_state=state,
                steps=rng.randint(*steps),
                quality=min(0.97, quality),
                noise_seed=rng.randrange(1 << 30),
                display_name=f"{arch}-{opt}-lr{lr:g}",
            )
        )
    return out


class _Client:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.local = threading.local()
        self.api_key = api_key

    @property
    def session(self) -> requests.Session:
        s = getattr(self.local, "s", None)
        if s is None:
            s = self.local.s = requests.Session()
            s.auth = ("api", self.api_key)
        return s

    def gql(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        r = self.session.post(
            f"{self.base_url}/graphql", json={"query": query, "variables": variables}, timeout=60
        )
        r.raise_for_status()
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(f"demo seeding failed: {body['errors'][0]['message']}")
        return body["data"]

    def put(self, url: str, data: bytes) -> None:
        """PUT to a signed upload URL the server handed out (no credentials, as W&B's)."""
        r = requests.put(url, data=data, timeout=120)
        r.raise_for_status()

    def stream(self, run: str, payload: dict[str, Any], project: str = PROJECT) -> None:
        r = self.session.post(
            f"{self.base_url}/files/{ENTITY}/{project}/{run}/file_stream", json=payload, timeout=120
        )
        r.raise_for_status()


def _wrap(config: dict[str, Any]) -> str:
    return json.dumps({k: {"value": v} for k, v in config.items()})


def _write_run(client: _Client, run: DemoRun) -> None:
    client.gql(
        UPSERT_RUN,
        {
            "name": run.name,
            "project": PROJECT,
            "entity": ENTITY,
            "config": _wrap(run.config),
            "tags": run.tags,
            "groupName": run.group,
            "jobType": "train",
            "displayName": run.display_name,
            "host": "demo-gpu-01",
            "notes": f"{run.config['architecture']} with {run.config['optimizer']}",
        },
    )
    upto = run.steps if run.final_state == "finished" else int(run.steps * 0.75)
    for start in range(0, upto, CHUNK_ROWS):
        stop = min(upto, start + CHUNK_ROWS)
        lines = [orjson.dumps(r).decode() for r in run.rows(start, stop)]
        payload: dict[str, Any] = {
            "files": {
                "wandb-history.jsonl": {"offset": start, "content": lines},
                "output.log": {
                    "offset": start // CHUNK_ROWS,
                    "content": [f"step {stop}: loss {json.loads(lines[-1])['loss']}"],
                },
            }
        }
        if stop == upto:
            payload["files"]["wandb-summary.json"] = {
                "offset": 0,
                "content": [json.dumps(run.summary(upto))],
            }
            if run.final_state in ("finished", "failed"):
                payload["complete"] = True
                payload["exitcode"] = 0 if run.final_state == "finished" else 1
        client.stream(run.name, payload)
    if run.final_state == "crashed":
        client.gql(
            UPSERT_RUN, {"name": run.name, "project": PROJECT, "entity": ENTITY, "state": "crashed"}
        )


def seed(
    base_url: str,
    api_key: str,
    *,
    runs: int = 240,
    steps: tuple[int, int] = (1000, 5000),
    progress: bool = False,
    workers: int = 4,
) -> int:
    """Fill `demo/image-classification` unless it already has runs; returns runs written."""
    client = _Client(base_url, api_key)
    existing = client.gql(RUN_COUNT, {"entity": ENTITY, "project": PROJECT}).get("project")
    if existing and existing["runCount"]:
        return 0
    planned = plan(runs, steps)
    with (
        ThreadPoolExecutor(max_workers=workers) as pool,
        tqdm(total=len(planned), desc="seeding demo runs", unit="run", disable=not progress) as bar,
    ):
        for _ in pool.map(lambda r: _write_run(client, r), planned):
            bar.update()
    return len(planned)


def keep_running(
    base_url: str,
    api_key: str,
    stop: threading.Event,
    *,
    runs: int = 240,
    steps: tuple[int, int] = (1000, 5000),
    interval_s: float = 5.0,
    steps_per_tick: int = 10,
) -> None:
    """Keep the demo's `running` runs alive: log a few steps to each every `interval_s`.

    Without it they would turn `crashed` after the server's heartbeat timeout, and the run
    table's auto-refresh would have nothing to show. Runs finish when their plan is done.
    """
    client = _Client(base_url, api_key)
    live = [r for r in plan(runs, steps) if r.final_state == "running"]
    position = {r.name: int(r.steps * 0.75) for r in live}
    while live and not stop.wait(interval_s):
        for run in list(live):
            start = position[run.name]
            stop_at = min(run.steps, start + steps_per_tick)
            lines = [orjson.dumps(r).decode() for r in run.rows(start, stop_at)]
            payload: dict[str, Any] = {
                "files": {
                    "wandb-history.jsonl": {"offset": start, "content": lines},
                    "wandb-summary.json": {
                        "offset": 0,
                        "content": [json.dumps(run.summary(stop_at))],
                    },
                }
            }
            if stop_at >= run.steps:
                payload.update(complete=True, exitcode=0)
                live.remove(run)
            try:
                client.stream(run.name, payload)
            except requests.RequestException:
                return  # the server is going away
            position[run.name] = stop_at
