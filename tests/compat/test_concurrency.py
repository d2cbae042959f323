"""Issue #4, item 5: 20 `wandb` processes x 5,000 steps at once lose no row and leave no run
in a wrong state."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import WandbClient, _gql

pytestmark = [pytest.mark.compat, pytest.mark.slow]

PROCESSES = 20
STEPS = 5000

WORKER = """
import sys, wandb
project, worker, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
run = wandb.init(project=project, config={"worker": worker}, tags=[f"w{worker}"])
for i in range(steps):
    run.log({"loss": 1.0 / (i + 1), "w": worker, "i": i})
run.finish()
emit(run.id)
"""

HISTORY = """
query H($p: String!, $e: String!, $n: String!, $s: Int!) {
  project(name: $p, entityName: $e) { run(name: $n) {
    state historyLineCount summaryMetrics history(samples: $s) } }
}"""


def _history(client: WandbClient, project: str, run_id: str) -> dict[str, Any]:
    variables = {"p": project, "e": client.entity, "n": run_id, "s": STEPS * 2}
    run: dict[str, Any] = _gql(client.url, client.api_key, HISTORY, variables)["data"][
        "project"]["run"]
    return run


@pytest.mark.timeout(900)  # ~1-2 min on an idle 2-core machine; generous for busy CI hosts
def test_twenty_concurrent_processes(wandb_client: WandbClient) -> None:
    project = "concurrent"
    started = time.monotonic()
    procs = [
        wandb_client.popen(WORKER, args=[project, str(w), str(STEPS)])[0]
        for w in range(PROCESSES)
    ]
    ids: dict[int, str] = {}
    try:
        for w, proc in enumerate(procs):
            ids[w] = wandb_client.wait(proc, timeout=800).result
    finally:
        wandb_client.kill_leftovers()  # the others, when one failed
    elapsed = time.monotonic() - started
    assert len(set(ids.values())) == PROCESSES

    for w, run_id in ids.items():
        run = _history(wandb_client, project, run_id)
        assert run["state"] == "finished", (w, run["state"])
        assert run["historyLineCount"] == STEPS
        rows = [json.loads(r) for r in run["history"]]
        assert [r["_step"] for r in rows] == list(range(STEPS)), w
        assert all(r["i"] == r["_step"] and r["w"] == w for r in rows), w
        assert all(r["loss"] == 1.0 / (r["_step"] + 1) for r in rows), w
        summary = json.loads(run["summaryMetrics"])
        assert summary["_step"] == STEPS - 1 and summary["i"] == STEPS - 1

    # The official client sees the same: every run, finished, in one listing.
    api = wandb_client.api()
    runs = list(api.runs(f"{wandb_client.entity}/{project}", per_page=7))
    assert sorted(r.id for r in runs) == sorted(ids.values())
    assert {r.state for r in runs} == {"finished"}
    assert {r.id: r.config["worker"] for r in runs} == {v: k for k, v in ids.items()}
    one = api.run(f"{wandb_client.entity}/{project}/{ids[7]}")
    assert [r["_step"] for r in one.scan_history(keys=["loss"])] == list(range(STEPS))
    print(f"\n{PROCESSES} wandb processes x {STEPS} steps ingested in {elapsed:.1f} s")
