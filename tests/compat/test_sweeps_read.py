"""Issue #13, item 3: `wandb.Api().sweep(path)` reads, from liberry's server, the same sweep
that `liberry.Api().sweep(path)` reads.

The sweep is made with the official client's own `upsertSweep` mutation and its runs as an
agent's runs are made (`upsertBucket` with `sweep`); both APIs then read it.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.api.test_sweeps import UPSERT_SWEEP
from tests.wire import Wire

from .conftest import WandbClient

pytestmark = pytest.mark.compat

CONFIG = {
    "name": "lr search",
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "bs": {"values": [16, 32]}},
}
LOSSES = [0.9, 0.4, 0.7, 0.2, 0.6]


@pytest.fixture(scope="module")
def sweep(wandb_client: WandbClient) -> dict[str, Any]:
    entity, project = wandb_client.entity, "sweeps-read"
    wire = Wire(wandb_client.url, wandb_client.api_key)
    variables = {"config": yaml.safe_dump(CONFIG), "entityName": entity, "projectName": project}
    sweep_id = wire.gql(UPSERT_SWEEP, variables)["upsertSweep"]["sweep"]["name"]
    lib = wandb_client.liberry_api()
    ids = []
    for i, loss in enumerate(LOSSES):
        run = lib.create_run(project=f"{entity}/{project}", sweep=sweep_id, state="finished",
                             config={"lr": [0.1, 0.01, 0.001][i % 3], "bs": 16},
                             summary={"val_loss": loss})  # fmt: skip
        ids.append(run.id)
    lib.create_run(project=f"{entity}/{project}", summary={"val_loss": 0.01})  # no sweep
    return {"id": sweep_id, "path": f"{entity}/{project}/{sweep_id}", "runs": ids}


def test_wandb_api_reads_the_same_sweep(wandb_client: WandbClient, sweep: dict[str, Any]) -> None:
    theirs = wandb_client.api().sweep(sweep["path"])
    ours = wandb_client.liberry_api().sweep(sweep["path"])
    assert theirs.id == ours.id == sweep["id"]
    assert theirs.path == ours.path
    assert theirs.name == ours.name == "lr search"
    assert theirs.config == ours.config == CONFIG
    assert theirs.state == ours.state == "RUNNING"
    assert theirs.expected_run_count == ours.expected_run_count == 6
    assert theirs.best_loss == ours.best_loss
    assert theirs.order == "+summary_metrics.val_loss"


def test_wandb_api_reads_the_same_runs(wandb_client: WandbClient, sweep: dict[str, Any]) -> None:
    theirs = wandb_client.api().sweep(sweep["path"])
    ours = wandb_client.liberry_api().sweep(sweep["path"])
    assert [r.id for r in theirs.runs] == [r.id for r in ours.runs] == sweep["runs"]
    assert len(theirs.runs) == len(ours.runs) == len(LOSSES)
    best = sweep["runs"][LOSSES.index(min(LOSSES))]
    their_best, our_best = theirs.best_run(), ours.best_run()
    assert their_best is not None and our_best is not None
    assert their_best.id == our_best.id == best
    assert their_best.summary["val_loss"] == our_best.summary["val_loss"] == min(LOSSES)
    their_worst = theirs.best_run(order="-val_loss")
    our_worst = ours.best_run(order="-val_loss")
    assert their_worst is not None and our_worst is not None
    assert their_worst.id == our_worst.id == sweep["runs"][LOSSES.index(max(LOSSES))]
    assert our_best.sweep == ours


def test_wandb_api_lists_the_same_sweeps(wandb_client: WandbClient, sweep: dict[str, Any]) -> None:
    entity, project = sweep["path"].split("/")[:2]
    theirs = wandb_client.api().project(project, entity).sweeps()
    ours = wandb_client.liberry_api().sweeps(f"{entity}/{project}")
    assert [s.id for s in theirs] == [s.id for s in ours] == [sweep["id"]]
    assert len(theirs) == len(ours) == 1
