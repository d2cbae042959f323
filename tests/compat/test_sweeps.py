"""A W&B user's whole sweep workflow, with the official client, unchanged, against liberry.

`wandb.sweep` + `wandb.agent(function=...)`, the `wandb sweep` / `wandb agent` command line,
grid / random / bayes, nested parameters and distributions, `run_cap`, hyperband early
termination, pause / resume / stop / cancel, four agent processes on one grid, bad configs.
The official agent polls every 5 s, so each run costs a few seconds: scenarios that do not
depend on each other run side by side.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from liberry.errors import NotFoundError

from .conftest import WandbClient

pytestmark = pytest.mark.slow

# One script: create the sweep (or take its id), run an agent on it, report what happened.
AGENT_SCRIPT = """
import wandb
config = {config!r}
sweep_id = {sweep_id!r} or wandb.sweep(config, project={project!r})
emit({{"sweep_id": sweep_id}})

def train():
    run = wandb.init()
    cfg = dict(run.config)
{train}
    run.finish()

wandb.agent(sweep_id, function=train, count={count}, project={project!r})
emit({{"sweep_id": sweep_id, "done": True}})
"""

QUADRATIC = """\
    for step in range(3):
        run.log({"loss": (cfg["x"] - 0.3) ** 2 + 0.01 * step})
"""


def agent_job(
    project: str, config: dict[str, Any] | None, train: str, *, count: int, sweep_id: str = ""
) -> dict[str, Any]:
    code = AGENT_SCRIPT.format(
        config=config, sweep_id=sweep_id, project=project, train=train, count=count
    )
    return {"code": code}


def sweep_runs(wandb_client: WandbClient, project: str, sweep_id: str) -> list[Any]:
    api = wandb_client.liberry_api()
    sweep = api.sweep(f"{wandb_client.entity}/{project}/{sweep_id}")
    return list(sweep.runs)


def test_grid_random_and_bayes_sweeps_run_to_their_end(
    wandb_client: WandbClient, project_name: str
) -> None:
    grid = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {
            "x": {"values": [0.2, 0.5]},
            "optimizer": {
                "parameters": {"name": {"values": ["sgd", "adam"]}, "momentum": {"value": 0.9}}
            },
        },
    }
    random = {
        "method": "random",
        "metric": {"name": "loss", "goal": "minimize"},
        "run_cap": 3,
        "parameters": {
            "x": {"distribution": "uniform", "min": 0.0, "max": 1.0},
            "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
            "layers": {"distribution": "int_uniform", "min": 1, "max": 4},
            "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.5, "q": 0.1},
            "act": {"values": ["relu", "gelu"]},
            "init": {"distribution": "normal", "mu": 0.0, "sigma": 1.0},
        },
    }
    bayes = {
        "method": "bayes",
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"x": {"min": 0.0, "max": 1.0}, "width": {"values": [32, 64]}},
    }
    projects = [f"{project_name}-{kind}" for kind in ("grid", "random", "bayes")]
    jobs = [
        # count 10: the grid agent must stop by itself after its 4 points, random after run_cap.
        agent_job(projects[0], grid, QUADRATIC, count=10),
        agent_job(projects[1], random, QUADRATIC, count=10),
        agent_job(projects[2], bayes, QUADRATIC, count=3),
    ]
    results = wandb_client.run_many(jobs, timeout=240)
    ids = [r.result["sweep_id"] for r in results]
    assert all(r.result.get("done") for r in results)

    api = wandb_client.liberry_api()
    grid_sweep = api.sweep(f"{wandb_client.entity}/{projects[0]}/{ids[0]}")
    assert grid_sweep.state == "FINISHED"
    assert grid_sweep.expected_run_count == 4
    points = sorted((r.config["x"], r.config["optimizer"]["name"]) for r in grid_sweep.runs)
    assert points == [(0.2, "adam"), (0.2, "sgd"), (0.5, "adam"), (0.5, "sgd")]
    assert {r.config["optimizer"]["momentum"] for r in grid_sweep.runs} == {0.9}
    assert {r.state for r in grid_sweep.runs} == {"finished"}
    best = grid_sweep.best_run()
    assert best is not None and best.config["x"] == 0.2  # (0.2 - 0.3)^2 < (0.5 - 0.3)^2
    # best_loss is the best final loss: the metric's summary value.
    assert grid_sweep.best_loss == pytest.approx(min(r.summary["loss"] for r in grid_sweep.runs))

    random_runs = sweep_runs(wandb_client, projects[1], ids[1])
    assert len(random_runs) == 3  # run_cap, though the agent's count was 10
    for run in random_runs:
        c = run.config
        assert 0.0 <= c["x"] <= 1.0 and 1e-4 <= c["lr"] <= 1e-1
        assert isinstance(c["layers"], int) and 1 <= c["layers"] <= 4
        assert round(c["dropout"] * 10, 6) == round(c["dropout"] * 10) and 0 <= c["dropout"] <= 0.5
        assert c["act"] in ("relu", "gelu") and isinstance(c["init"], float)

    bayes_runs = sweep_runs(wandb_client, projects[2], ids[2])
    assert len(bayes_runs) == 3
    assert all(0.0 <= r.config["x"] <= 1.0 and r.config["width"] in (32, 64) for r in bayes_runs)
    assert api.sweep(f"{wandb_client.entity}/{projects[2]}/{ids[2]}").state == "RUNNING"


def test_four_agent_processes_share_one_grid_without_duplicates_or_losses(
    wandb_client: WandbClient, project_name: str
) -> None:
    grid = {
        "method": "grid",
        "parameters": {"a": {"values": [1, 2, 3, 4]}, "b": {"values": [1, 2]}},
    }
    train = """\
    run.log({"loss": cfg["a"] * cfg["b"]})
"""
    first = wandb_client.run(
        f"import wandb\nemit(wandb.sweep({grid!r}, project={project_name!r}))\n"
    )
    sweep_id = first.result
    jobs = [agent_job(project_name, None, train, count=100, sweep_id=sweep_id) for _ in range(4)]
    results = wandb_client.run_many(jobs, timeout=240)
    assert all(r.result.get("done") for r in results)  # each agent stopped by itself
    runs = sweep_runs(wandb_client, project_name, sweep_id)
    points = sorted((r.config["a"], r.config["b"]) for r in runs)
    assert points == [(a, b) for a in (1, 2, 3, 4) for b in (1, 2)]
    assert {r.state for r in runs} == {"finished"}
    sweep = wandb_client.liberry_api().sweep(f"{wandb_client.entity}/{project_name}/{sweep_id}")
    assert sweep.state == "FINISHED"


def test_hyperband_stops_the_runs_its_rule_condemns(
    wandb_client: WandbClient, project_name: str
) -> None:
    # The good run goes first and logs 60 steps; the next is far worse at the first band (3
    # iterations), so hyperband (eta 2: only the best half go on) stops it at the agent's first
    # heartbeat after its history reached the server. wandb-core streams history every 15 s
    # (x_file_stream_transmit_interval; shorter settings send no more often), so runs take 30 s.
    config = {
        "method": "grid",
        "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 2},
        "parameters": {"quality": {"values": [1, 10]}},
    }
    train = """\
    import time
    for step in range(60):
        run.log({"loss": cfg["quality"] + 1.0 / (step + 1)})
        time.sleep(0.5)
"""
    result = wandb_client.run_many([agent_job(project_name, config, train, count=2)], timeout=240)
    runs = sweep_runs(wandb_client, project_name, result[0].result["sweep_id"])
    lines = {r.config["quality"]: r.history_line_count for r in runs}
    assert lines[1] == 60, lines  # the best run is never stopped
    assert 3 <= lines[10] < 60, lines  # judged at a band, then stopped well before its end


CLI_TRAIN = """\
import argparse, wandb
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
run = wandb.init()
assert run.config.lr == args.lr, (run.config.lr, args.lr)
run.log({"val_loss": args.lr * args.epochs})
run.finish()
"""


def test_command_line_sweep_agent_and_state_flags(
    wandb_client: WandbClient, project_name: str, tmp_path: Path
) -> None:
    work = tmp_path / "cli"
    work.mkdir()
    (work / "train.py").write_text(CLI_TRAIN)
    (work / "sweep.yaml").write_text(
        yaml.safe_dump(
            {
                "program": "train.py",
                "method": "grid",
                "metric": {"name": "val_loss", "goal": "minimize"},
                "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "epochs": {"value": 2}},
            }
        )
    )
    (work / "wandb-dir").mkdir()
    env = wandb_client.env(work / "wandb-dir")
    del env["WANDB_SILENT"]  # `wandb sweep` prints the agent command only when not silent
    # The agent starts `python train.py --lr=...`: this environment's python, as in a venv.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    created = wandb_client.run_cli(["sweep", "--project", project_name, "sweep.yaml"], env=env,
                                   cwd=work)  # fmt: skip
    assert created.returncode == 0, created.stderr
    match = re.search(r"wandb agent (\S+)", created.stdout + created.stderr)
    assert match, created.stdout + created.stderr
    path = match.group(1)
    assert path.startswith(f"{wandb_client.entity}/{project_name}/")

    agent = wandb_client.run_cli(["agent", "--count", "2", path], env=env, cwd=work, timeout=180)
    assert agent.returncode == 0, agent.stderr
    api = wandb_client.liberry_api()
    sweep = api.sweep(path)
    runs = list(sweep.runs)
    assert sorted(r.config["lr"] for r in runs) == [0.01, 0.1]  # grid order, two of three
    assert {r.state for r in runs} == {"finished"}, agent.stdout + agent.stderr
    assert sweep.best_run().config["lr"] == 0.01

    def state_after(flag: str) -> str:
        done = wandb_client.run_cli(["sweep", flag, path], env=env, cwd=work)
        assert done.returncode == 0, done.stderr
        api.flush()
        return str(api.sweep(path).state)

    assert state_after("--pause") == "PAUSED"
    assert state_after("--resume") == "RUNNING"
    assert state_after("--stop") == "FINISHED"
    refused = wandb_client.run_cli(["agent", "--count", "1", path], env=env, cwd=work)
    assert "is finished: it hands out no more runs" in refused.stdout + refused.stderr
    assert state_after("--resume") == "RUNNING"
    assert state_after("--cancel") == "CANCELED"
    # The official reader agrees.
    official = wandb_client.api().sweep(path)
    assert official.state == "CANCELED" and len(official.runs) == 2


def test_bad_configs_are_refused_by_wandb_sweep_naming_the_field(
    wandb_client: WandbClient, project_name: str
) -> None:
    bad = [
        ({"method": "foo", "parameters": {"a": {"values": [1]}}}, "method: unknown search method"),
        (
            {"method": "random", "parameters": {"a": {"distribution": "gauss", "mu": 0}}},
            "parameters.a.distribution: unknown distribution 'gauss'",
        ),
        (
            {"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}},
            "metric: bayes search needs a metric",
        ),
        (
            {"method": "random", "parameters": {"a": {"min": 1.0, "max": 0.1}}},
            "parameters.a: min (1.0) is greater than max (0.1)",
        ),
    ]
    code = f"""
import wandb
out = []
for config in {[c for c, _ in bad]!r}:
    try:
        wandb.sweep(config, project={project_name!r})
        out.append(None)
    except Exception as exc:
        out.append(str(exc))
emit(out)
try:
    wandb.agent("nosuchsweep", function=lambda: None, count=1, project={project_name!r})
    emit("no error")
except Exception as exc:
    emit(str(exc))
"""
    result = wandb_client.run(code)
    messages, missing = result.results
    for message, (_, expected) in zip(messages, bad, strict=True):
        assert message is not None and expected in message, message
    assert "nosuchsweep" in missing and "not found" in missing, missing
    # Nothing was stored: not even the project the sweeps would have created.
    with pytest.raises(NotFoundError, match="not found"):
        len(wandb_client.liberry_api().sweeps(f"{wandb_client.entity}/{project_name}"))


def test_wandb_api_reads_what_liberry_reads(wandb_client: WandbClient, project_name: str) -> None:
    config = {
        "method": "grid",
        "metric": {"name": "acc", "goal": "maximize"},
        "parameters": {"x": {"values": [1, 2]}},
    }
    train = """\
    run.log({"acc": cfg["x"] / 10})
"""
    result = wandb_client.run_many([agent_job(project_name, config, train, count=5)])[0]
    path = f"{wandb_client.entity}/{project_name}/{result.result['sweep_id']}"
    official = wandb_client.api().sweep(path)
    ours = wandb_client.liberry_api().sweep(path)
    assert official.state == ours.state == "FINISHED"
    assert official.config == ours.config
    assert official.best_run().id == ours.best_run().id
    assert ours.best_run().config["x"] == 2  # maximize
    assert official.expected_run_count == ours.expected_run_count == 2
    assert sorted(r.id for r in official.runs) == sorted(r.id for r in ours.runs)
    assert json.loads(json.dumps(ours.config)) == config
