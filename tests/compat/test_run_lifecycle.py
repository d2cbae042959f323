"""Issue #4, items 1-2: `wandb.init/log/summary/config/save/finish` against liberry.

Everything a training script logs must come back identical through both `wandb.Api` and
`liberry.Api`: run attributes, config, summary, every history row, console output and files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import WandbClient
from .readback import plain, read_run, same, user_summary

pytestmark = [pytest.mark.compat, pytest.mark.slow]

TRAIN = """
import math, sys, wandb

project = sys.argv[1]
config = {"lr": 0.001, "layers": [64, 32], "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
          "seed": 7, "use_bn": True, "note": "héllo ✓"}
run = wandb.init(entity=sys.argv[2], project=project, config=config, tags=["baseline", "cnn"],
                 group="sweep-a", job_type="train", name="nice-name", notes="first try")
logged = []

def log(row, **kw):
    run.log(row, **kw)
    logged.append({"row": row, "step": kw.get("step"), "commit": kw.get("commit", True)})

# Without explicit step: steps 0..29, with values of every JSON type.
for i in range(30):
    log({"loss": 1.0 / (i + 1), "acc": i / 30, "epoch": i // 10,
         "phase": "warm" if i < 5 else "main", "flag": i % 2 == 0, "big": 2**53 + i,
         "tiny": 1e-300 * (i + 1), "third": (i + 1) / 3,
         "nested": {"a": i, "b": [i, i + 0.5]}})
# With explicit steps (gaps allowed), and two calls at one step merged with commit=False.
for step in (40, 41, 45):
    log({"val_loss": step / 100}, step=step)
log({"merged_a": 1}, step=50, commit=False)
log({"merged_b": 2}, step=50)
# Explicit summary values override the last logged value.
run.summary["best_acc"] = 0.97
run.summary["loss"] = 0.001
run.summary.update({"final": {"k": [1, 2, 3]}})
run.config.update({"batch_size": 128, "schedule": {"warmup": 5}})
run.config["dropout"] = 0.25
for i in range(5):
    print(f"console line {i}")
print("stderr line", file=sys.stderr)
with open("weights.txt", "w") as fh:
    fh.write("w" * 1000)
wandb.save("weights.txt", policy="now")
run.finish()
emit({"id": run.id, "logged": logged})
"""


def expected_history(logged: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows W&B stores: one per step, `commit=False` calls merged into the next."""
    rows: dict[int, dict[str, Any]] = {}
    step = 0
    for entry in logged:
        if entry["step"] is not None:
            step = entry["step"]
        rows.setdefault(step, {"_step": step}).update(entry["row"])
        if entry["commit"]:
            step += 1
    return [rows[s] for s in sorted(rows)]


FAIL_EXIT = """
import sys, wandb
run = wandb.init(project=sys.argv[1])
run.log({"x": 1})
wandb.finish(exit_code=1)
failed = run.id
# Plain `wandb.finish()` after logging, summary and config writes → finished.
run = wandb.init(project=sys.argv[1], config={"a": 1})
for step in range(3):
    wandb.log({"m": step})
wandb.summary["m"] = 42
wandb.config.update({"b": 2})
wandb.finish()
finished = run.id
# Non-finite metrics (a diverging loss) are stored and read back, not rejected.
run = wandb.init(project=sys.argv[1])
for v in (1.0, float("nan"), float("inf"), float("-inf"), 2.0):
    run.log({"loss": v, "ok": 1})
run.log({"loss": float("nan")})
run.finish()
emit({"failed": failed, "finished": finished, "non_finite": run.id})
"""

FAIL_EXCEPTION = """
import sys, wandb
run = wandb.init(project=sys.argv[1])
emit(run.id)
run.log({"x": 1})
raise RuntimeError("training diverged")
"""


@pytest.fixture(scope="module")
def runs(wandb_client: WandbClient) -> dict[str, Any]:
    """The module's training scripts, run at once: one full run with console capture and
    system metadata on, one `finish(exit_code=1)` + one plain finish, one uncaught error."""
    env = wandb_client.env(WANDB_CONSOLE="wrap")
    # Metadata on: wandb-metadata.json and requirements.txt are uploaded.
    env.pop("WANDB_X_DISABLE_META")
    env.pop("WANDB_X_DISABLE_MACHINE_INFO")
    full, exits, crash = wandb_client.run_many([
        {"code": TRAIN, "env": env, "args": ["lifecycle", wandb_client.entity]},
        {"code": FAIL_EXIT, "args": ["failures"]},
        {"code": FAIL_EXCEPTION, "args": ["failures"], "check": False},
    ])
    assert crash.returncode == 1 and "training diverged" in crash.stderr, crash.stderr
    out = full.result
    out["path"] = f"{wandb_client.entity}/lifecycle/{out['id']}"
    out["project"] = "lifecycle"
    return {"full": out, "failed_exit": exits.result["failed"],
            "finished": exits.result["finished"], "non_finite": exits.result["non_finite"],
            "failed_exception": crash.result}


@pytest.fixture(scope="module")
def logged_run(runs: dict[str, Any]) -> dict[str, Any]:
    full: dict[str, Any] = runs["full"]
    return full


def _apis(client: WandbClient) -> list[tuple[str, Any]]:
    return [("wandb", client.api()), ("liberry", client.liberry_api())]


@pytest.mark.parametrize("which", ["wandb", "liberry"])
def test_everything_logged_reads_back_identical(
    wandb_client: WandbClient, logged_run: dict[str, Any], which: str, tmp_path: Path
) -> None:
    api = dict(_apis(wandb_client))[which]
    got = read_run(api, logged_run["path"], download_to=tmp_path)

    assert got["id"] == logged_run["id"]
    assert got["name"] == "nice-name"
    assert got["state"] == "finished"
    assert got["tags"] == ["baseline", "cnn"]
    assert got["group"] == "sweep-a"
    assert got["job_type"] == "train"
    assert got["notes"] == "first try"
    assert got["config"] == {
        "lr": 0.001, "layers": [64, 32], "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "seed": 7, "use_bn": True, "note": "héllo ✓", "batch_size": 128,
        "schedule": {"warmup": 5}, "dropout": 0.25,
    }

    # History: every row, in order, values identical (internal _runtime/_timestamp aside).
    want = expected_history(logged_run["logged"])
    rows = got["history"]
    assert [r["_step"] for r in rows] == [w["_step"] for w in want]
    for row, expect in zip(rows, want, strict=True):
        assert isinstance(row["_runtime"], int | float) and isinstance(row["_timestamp"], float)
        stripped = {k: v for k, v in row.items() if k not in ("_runtime", "_timestamp")}
        # wandb.Api's scan_history fills keys a row lacks with None; liberry leaves them out.
        stripped = {k: v for k, v in stripped.items() if v is not None or k in expect}
        assert same(stripped, expect), (stripped, expect)

    # Summary: last logged value per key, overridden by explicit summary writes.
    summary_want: dict[str, Any] = {}
    for w in want:
        summary_want.update(w)
    summary_want.update({"best_acc": 0.97, "loss": 0.001, "final": {"k": [1, 2, 3]}})
    assert same(user_summary(got["summary"]), summary_want), got["summary"]

    # Files: the client's own files and the one from wandb.save, with identical bytes.
    assert {"wandb-metadata.json", "requirements.txt", "config.yaml", "output.log",
            "wandb-summary.json", "weights.txt"} <= set(got["files"])
    data = got["file_bytes"]
    assert data["weights.txt"] == b"w" * 1000
    console = data["output.log"].decode()
    for i in range(5):
        assert f"console line {i}" in console
    assert "stderr line" in console
    config_yaml = yaml.safe_load(data["config.yaml"])
    assert config_yaml["lr"] == {"value": 0.001}
    assert config_yaml["dropout"] == {"value": 0.25}
    metadata = json.loads(data["wandb-metadata.json"])
    assert metadata["python"].startswith("CPython 3.")
    assert b"wandb==" in data["requirements.txt"]
    assert same(user_summary(json.loads(data["wandb-summary.json"])), summary_want)


def test_history_sampling_and_keys(wandb_client: WandbClient, logged_run: dict[str, Any]) -> None:
    """`history(samples=)`, `history(keys=)` and `scan_history(keys=)` through wandb.Api."""
    want = expected_history(logged_run["logged"])
    run = wandb_client.api().run(logged_run["path"])

    full = run.history(samples=1000, pandas=False)
    assert [r["_step"] for r in full] == [w["_step"] for w in want]
    sampled = run.history(samples=8, pandas=False)
    assert 2 <= len(sampled) <= 8
    steps = [r["_step"] for r in sampled]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == 50
    df = run.history(samples=5)
    assert len(df) <= 5 and "loss" in df.columns

    by_key = run.history(keys=["loss"], pandas=False)
    assert [r["_step"] for r in by_key] == list(range(30))
    assert [r["loss"] for r in by_key] == [w["loss"] for w in want if "loss" in w]
    scanned = list(run.scan_history(keys=["val_loss"]))
    assert [(r["_step"], r["val_loss"]) for r in scanned] == [(40, 0.4), (41, 0.41), (45, 0.45)]
    paged = list(run.scan_history(page_size=7))
    assert [r["_step"] for r in paged] == [w["_step"] for w in want]


def test_run_attributes_via_wandb_api(
    wandb_client: WandbClient, logged_run: dict[str, Any]
) -> None:
    api = wandb_client.api()
    run = api.run(logged_run["path"])
    assert run.entity == wandb_client.entity and run.project == logged_run["project"]
    assert run.path == [wandb_client.entity, logged_run["project"], logged_run["id"]]
    assert run.lastHistoryStep == 50
    keys = run.history_keys["keys"]
    assert {"loss", "acc", "val_loss", "merged_a", "_step"} <= set(keys)
    assert run.created_at and run.heartbeat_at
    assert run.url.endswith(f"/{logged_run['project']}/runs/{logged_run['id']}")
    assert run.metadata is None or isinstance(run.metadata, dict)
    names = [f.name for f in run.files()]
    assert [f.name for f in run.files(per_page=2)] == names
    assert [f.name for f in run.files(names=["weights.txt", "config.yaml"])] == [
        n for n in names if n in ("weights.txt", "config.yaml")]
    weights = run.file("weights.txt")
    assert weights.size == 1000 and weights.md5
    assert weights.url.startswith(wandb_client.url)


@pytest.mark.parametrize("key", ["failed_exit", "failed_exception"])
def test_failed_runs(wandb_client: WandbClient, runs: dict[str, Any], key: str) -> None:
    """`finish(exit_code=1)` and an uncaught exception both leave the run `failed`."""
    path = f"{wandb_client.entity}/failures/{runs[key]}"
    for _, api in _apis(wandb_client):
        run = api.run(path)
        assert run.state == "failed"
        assert [plain(r) for r in run.scan_history(keys=["x"])] == [{"_step": 0, "x": 1}]


def test_finished_run_state_and_summary_update(
    wandb_client: WandbClient, runs: dict[str, Any]
) -> None:
    """Plain `wandb.finish()` → finished; values written after logging land in summary."""
    path = f"{wandb_client.entity}/failures/{runs['finished']}"
    for _, api in _apis(wandb_client):
        run = api.run(path)
        assert run.state == "finished"
        assert plain(run.config) == {"a": 1, "b": 2}
        assert user_summary(plain(run.summary)) == {"m": 42, "_step": 2}


def test_non_finite_values(wandb_client: WandbClient, runs: dict[str, Any]) -> None:
    """NaN and ±Infinity, as W&B's client writes them, survive the round trip."""
    path = f"{wandb_client.entity}/failures/{runs['non_finite']}"
    want = [1.0, math.nan, math.inf, -math.inf, 2.0, math.nan]
    for _, api in _apis(wandb_client):
        run = api.run(path)
        assert run.state == "finished"
        rows = [plain(r) for r in run.scan_history()]
        assert [r["_step"] for r in rows] == list(range(6))
        assert same([float(r["loss"]) for r in rows], want)
        assert math.isnan(float(plain(run.summary)["loss"]))
    # Keyed reads get JSON objects: W&B spells non-finite numbers "NaN"/"Infinity" there.
    keyed = wandb_client.api().run(path).history(keys=["loss"], pandas=False)
    assert same([float(r["loss"]) for r in keyed], want)
