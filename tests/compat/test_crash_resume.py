"""Issue #4, items 2-3: crashed runs, resuming, and `wandb sync` of offline runs."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import WandbClient
from .readback import plain, read_run, user_summary

pytestmark = [pytest.mark.compat, pytest.mark.slow]

# Logs steadily (file_stream every second) until the test kills it.
LOG_FOREVER = """
import pathlib, sys, time, wandb
run = wandb.init(project=sys.argv[1], config={"lr": 0.5})
step = 0
while True:
    run.log({"loss": 1.0 / (step + 1)})
    step += 1
    if step == 20:
        pathlib.Path("ready").write_text(run.id)
    time.sleep(0.05)
"""

RESUME = """
import sys, wandb
run_id, mode, start, count = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
run = wandb.init(project=sys.argv[1], id=run_id, resume=mode)
emit({"resumed": bool(run.resumed), "starting_step": run.starting_step,
      "config": dict(run.config), "summary": {k: v for k, v in dict(run.summary).items()
                                              if not k.startswith("_")}})
for i in range(start, start + count):
    run.log({"loss": 1.0 / (i + 1), "phase": mode})
run.summary["last_mode"] = mode
run.finish()
"""


def _gql_run(client: WandbClient, project: str, run_id: str) -> dict[str, Any]:
    from .conftest import _gql

    query = (
        f'{{ project(name: "{project}", entityName: "{client.entity}") {{ run(name: "{run_id}") '
        "{ state historyLineCount heartbeatAt } } }"
    )
    run: dict[str, Any] = _gql(client.url, client.api_key, query)["data"]["project"]["run"]
    return run


def test_killed_process_ends_crashed_then_resumes(crash_client: WandbClient) -> None:
    """SIGKILL mid-run: running → crashed after the heartbeat timeout; `resume="must"`
    continues the history after the last stored row, without duplicates, → finished."""
    project = "crashy"
    env = crash_client.env(WANDB_X_FILE_STREAM_TRANSMIT_INTERVAL="1")
    proc, script = crash_client.popen(LOG_FOREVER, env=env, args=[project])
    ready = script.parent / "ready"
    try:
        crash_client.wait_for(ready.exists, timeout=60, what="the run to start logging")
        run_id = ready.read_text()
        stored = crash_client.wait_for(
            lambda: _gql_run(crash_client, project, run_id)["historyLineCount"] >= 20,
            timeout=20, what="history to reach the server",
        )
        assert stored
        path = f"{crash_client.entity}/{project}/{run_id}"
        # On a loaded machine a 3 s gap between chunks can mark the live run crashed for a
        # moment; its next chunk makes it running again, as on W&B.
        crash_client.wait_for(
            lambda: crash_client.api().run(path).state == "running", timeout=15,
            what="the live run to read as running",
        )
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=30)

    # wandb-core notices its parent is gone and exits without marking the run finished.
    crash_client.wait_for(
        lambda: _gql_run(crash_client, project, run_id)["state"] == "crashed",
        timeout=15, what="the run to be marked crashed",
    )
    time.sleep(1.5)  # late requests from the dying wandb-core must not revive it
    crashed = _gql_run(crash_client, project, run_id)
    assert crashed["state"] == "crashed"
    kept = crashed["historyLineCount"]
    assert kept >= 20

    api = crash_client.api()
    rows = list(api.run(path).scan_history())
    assert [r["_step"] for r in rows] == list(range(kept))

    res = crash_client.run(RESUME, args=[project, run_id, "must", str(kept), "5"])
    info = res.result
    assert info["resumed"] is True and info["starting_step"] == kept
    assert info["config"] == {"lr": 0.5}
    api.flush()
    run = api.run(path)
    assert run.state == "finished"
    steps = [r["_step"] for r in run.scan_history()]
    assert steps == list(range(kept + 5))
    lib = crash_client.liberry_api()
    if lib is not None:
        assert [r["_step"] for r in lib.run(path).scan_history()] == steps


RESUME_SEQUENCE = """
import sys, wandb
project = sys.argv[1]
out = {}

def session(run_id, mode, start, count):
    run = wandb.init(project=project, id=run_id, resume=mode)
    info = {"resumed": bool(run.resumed), "starting_step": run.starting_step,
            "summary": {k: v for k, v in dict(run.summary).items() if not k.startswith("_")}}
    for i in range(start, start + count):
        run.log({"loss": 1.0 / (i + 1), "phase": mode})
    run.summary["last_mode"] = mode
    run.finish()
    return info

out["first"] = session("resume01", "allow", 0, 10)
out["second"] = session("resume01", "must", 10, 10)
out["third"] = session("resume01", "allow", 20, 5)
session("existing1", "allow", 0, 1)
for key, (run_id, mode) in {"must_missing": ("nosuchrun", "must"),
                            "never_existing": ("existing1", "never")}.items():
    try:
        wandb.init(project=project, id=run_id, resume=mode).finish()
        out[key] = None
    except Exception as exc:
        out[key] = f"{type(exc).__name__}: {exc}"
emit(out)
"""


def test_resume_allow_and_must(wandb_client: WandbClient) -> None:
    """`resume="allow"` creates or continues; `"must"` continues; no step is duplicated.
    `"must"` on an unknown id and `"never"` on an existing one fail in `wandb.init`."""
    project = "resuming"
    out = wandb_client.run(RESUME_SEQUENCE, args=[project]).result
    assert out["first"]["resumed"] is False and out["first"]["starting_step"] == 0
    assert out["second"]["resumed"] is True and out["second"]["starting_step"] == 10
    assert out["second"]["summary"] == {"loss": 0.1, "phase": "allow", "last_mode": "allow"}
    assert out["third"]["resumed"] is True and out["third"]["starting_step"] == 20
    assert out["must_missing"] and "does not exist" in out["must_missing"]
    assert out["never_existing"] and "already exists" in out["never_existing"]

    path = f"{wandb_client.entity}/{project}/resume01"
    want = [{"_step": i, "loss": 1.0 / (i + 1),
             "phase": "allow" if i < 10 or i >= 20 else "must"} for i in range(25)]
    apis = [wandb_client.api()]
    lib = wandb_client.liberry_api()
    apis.append(lib)
    for api in apis:
        run = api.run(path)
        assert run.state == "finished"
        rows = [{k: v for k, v in plain(r).items() if k in ("_step", "loss", "phase")}
                for r in run.scan_history()]
        assert rows == want
        summary = user_summary(plain(run.summary))
        assert summary == {"_step": 24, "last_mode": "allow", "loss": 1.0 / 25, "phase": "allow"}
        runtimes = [r["_runtime"] for r in run.scan_history()]
        assert runtimes == sorted(runtimes)  # resumed runs continue the run's clock


OFFLINE = """
import sys, wandb
run = wandb.init(project=sys.argv[1], config={"mode": "offline", "depth": 3}, tags=["off"],
                 notes="synced later")
for i in range(200):
    run.log({"loss": 1.0 / (i + 1), "i": i})
run.summary["best"] = 1.0
with open("model.txt", "w") as fh:
    fh.write("offline weights")
wandb.save("model.txt", policy="end")
run.finish()
emit({"id": run.id, "dir": run.dir})
"""


def test_wandb_sync_uploads_offline_run(wandb_client: WandbClient, tmp_path: Path) -> None:
    project = "offline"
    wandb_dir = wandb_client.new_dir("offline")
    env = wandb_client.env(wandb_dir, WANDB_MODE="offline")
    res = wandb_client.run(OFFLINE, env=env, args=[project])
    run_id = res.result["id"]
    run_dirs = list((wandb_dir / "wandb").glob(f"offline-run-*-{run_id}"))
    assert len(run_dirs) == 1, list((wandb_dir / "wandb").iterdir())

    sync_env = wandb_client.env(wandb_dir, WANDB_PROJECT=project)
    done = wandb_client.run_cli(["sync", str(run_dirs[0])], env=sync_env)
    assert done.returncode == 0, done.stdout + done.stderr

    path = f"{wandb_client.entity}/{project}/{run_id}"
    apis = [("wandb", wandb_client.api())]
    lib = wandb_client.liberry_api()
    apis.append(("liberry", lib))
    for name, api in apis:
        got = read_run(api, path, download_to=tmp_path / name)
        assert got["state"] == "finished"
        assert got["config"] == {"mode": "offline", "depth": 3}
        assert got["tags"] == ["off"] and got["notes"] == "synced later"
        assert [(r["_step"], r["loss"], r["i"]) for r in got["history"]] == [
            (i, 1.0 / (i + 1), i) for i in range(200)
        ]
        summary = user_summary(got["summary"])
        assert summary == {"loss": 1.0 / 200, "i": 199, "best": 1.0, "_step": 199}
        assert got["file_bytes"]["model.txt"] == b"offline weights"
        assert {"config.yaml", "wandb-summary.json", "model.txt"} <= set(got["files"])
