"""Sweep benchmarks (issue #13, "Speed and scale"): the controller's suggestions, and reading a
big sweep with `liberry.Api` beside the official `wandb.Api` on one server.

Part 1, suggestion latency at the agent heartbeat. For each method (bayes, grid, random) a sweep
is created over HTTP, an agent registers (`CreateAgent`, the official client's text), and the
loop an agent runs is played over the wire: `agentHeartbeat` (the official `Heartbeat` text,
`runState: "{}"`: an idle agent asking for its next run) hands out a run; the run is started
(`upsertBucket` with its name, the sweep and its config, as wandb-core sends it) and finished
(`file_stream` with `wandb-summary.json` holding the metric, `complete: true, exitcode: 0`).
Once 200 runs are finished (`--finished`), the next `--timed` heartbeats are timed, each one
that hands out a run (the run is finished before the next). Targets: bayes p50 <= 50 ms, grid
and random p50 <= 10 ms. The server's CPU per heartbeat is printed beside (from /proc, summed
over the timed calls): unlike wall time it hardly moves when other work competes for the CPU.

Part 2, a sweep with 10,000 runs (`--runs`; plus 2,000 runs of the project outside the sweep),
bulk-inserted into the server's SQLite file before it starts (the sweep through the server's
own controller, `create_sweep`; runs by SQLAlchemy executemany into `runs` with `sweep_name`
set, then the store's `values.reindex_runs`). Timed, each call from a fresh `api.sweep(path)`
after `api.flush()` / a new `wandb.Api` object so nothing is cached:
  * `api.sweep(path).best_run()` and the best run's metric (target <= 50 ms);
  * the first page of `sweep.runs`, each run's id and metric (target <= 50 ms). Each client
    pages its own way: liberry 50 runs a page, wandb 10 (and lazily: its summaries cost more
    requests), so the first 50 runs are timed on both sides too.
The requests each side sends for one call are counted by a recording proxy in an untimed pass.

    python benchmarks/bench_sweeps.py            # 200 finished runs, a 10,000-run sweep
    python benchmarks/bench_sweeps.py --quick    # 40 finished runs, a 1,000-run sweep
    python benchmarks/bench_sweeps.py --no-wandb # liberry only in part 2

Nothing is asserted: targets are printed with PASS/MISS marks.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as C  # also puts the project root on sys.path

ENTITY = "admin"

# The official client's texts (wandb/apis/public/sweeps.py: _register_agent, _agent_heartbeat).
CREATE_AGENT = """
    mutation CreateAgent(
        $host: String!
        $projectName: String,
        $entityName: String,
        $sweep: String!
    ) {
        createAgent(input: {
            host: $host,
            projectName: $projectName,
            entityName: $entityName,
            sweep: $sweep,
        }) {
            agent {
                id
            }
        }
    }
    """

HEARTBEAT = """
    mutation Heartbeat(
        $id: ID!,
        $metrics: JSONString,
        $runState: JSONString
    ) {
        agentHeartbeat(input: {
            id: $id,
            metrics: $metrics,
            runState: $runState
        }) {
            agent {
                id
            }
            commands
        }
    }
    """

UPSERT_SWEEP = """
mutation UpsertSweep($config: String, $entityName: String, $projectName: String) {
  upsertSweep(input: {config: $config, entityName: $entityName, projectName: $projectName}) {
    sweep { id name }
  }
}"""

# wandb-core's run start, reduced to what a sweep run sends (name, sweep, config).
UPSERT_BUCKET = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $sweep: String,
    $config: JSONString) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity,
      sweep: $sweep, config: $config}) {
    bucket { id name sweepName }
    inserted
  }
}"""

SPACE = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "batch_size": {"values": [16, 32, 64, 128]},
    "optimizer": {"values": ["adam", "sgd"]},
    "layers": {"distribution": "int_uniform", "min": 2, "max": 12},
}
GRID_SPACE = {
    "lr": {"values": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]},
    "batch_size": {"values": [16, 32, 64, 128]},
    "optimizer": {"values": ["adam", "sgd"]},
    "layers": {"values": [2, 4, 6, 8, 12]},
    "dropout": {"values": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]},
}
GRID_POINTS = 10 * 4 * 2 * 5 * 6  # 2,400


def sweep_config(method: str) -> dict[str, Any]:
    return {
        "method": method,
        "metric": {"name": "loss", "goal": "minimize"},
        "parameters": GRID_SPACE if method == "grid" else SPACE,
    }


def synthetic_loss(params: dict[str, Any], rng: random.Random) -> float:
    """A smooth, noisy objective of the sweep's parameters (best near lr 3e-3, dropout 0.2)."""
    lr = float(params.get("lr", 1e-3))
    loss = (math.log10(lr) + 2.5) ** 2 * 0.3 + (float(params.get("dropout", 0.2)) - 0.2) ** 2
    loss += 0.05 * abs(int(params.get("layers", 6)) - 6) + (params.get("optimizer") == "sgd") * 0.1
    loss += 0.02 * math.log2(int(params.get("batch_size", 64)) / 16)
    return round(loss + rng.gauss(0, 0.02), 6)


# --------------------------------------------------------------------------- part 1


class Agent:
    """One sweep agent played over HTTP: heartbeats, and the runs it is handed."""

    def __init__(self, url: str, key: str, project: str, method: str) -> None:
        import requests

        self.url = url
        self.project = project
        self.http = requests.Session()
        self.http.auth = ("api", key)
        self.gql = C.Gql(url, key)
        data = self.gql(UPSERT_SWEEP, {"config": json.dumps(sweep_config(method)),
                                       "entityName": ENTITY, "projectName": project})  # fmt: skip
        self.sweep = data["upsertSweep"]["sweep"]["name"]
        data = self.gql(CREATE_AGENT, {"host": "bench", "entityName": ENTITY,
                                       "projectName": project, "sweep": self.sweep})  # fmt: skip
        self.agent_id = data["createAgent"]["agent"]["id"]
        self.rng = random.Random(13)

    def heartbeat(self) -> list[dict[str, Any]]:
        r = self.http.post(f"{self.url}/graphql", json={
            "query": HEARTBEAT, "operationName": "",
            "variables": {"id": self.agent_id, "metrics": "{}", "runState": "{}"},
        }, timeout=600)  # fmt: skip
        body = r.json()
        if r.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"agentHeartbeat: HTTP {r.status_code} {json.dumps(body)[:500]}")
        commands: list[dict[str, Any]] = json.loads(body["data"]["agentHeartbeat"]["commands"])
        return commands

    def run_one(self, command: dict[str, Any]) -> None:
        """Start the handed-out run and finish it with its metric, as wandb's client does."""
        name = command["run_id"]
        params = {k: v["value"] for k, v in command["args"].items()}
        config = json.dumps({k: {"value": v} for k, v in params.items()})
        self.gql(UPSERT_BUCKET, {"name": name, "project": self.project, "entity": ENTITY,
                                 "sweep": self.sweep, "config": config})  # fmt: skip
        summary = {"loss": synthetic_loss(params, self.rng), "_step": 9, "_runtime": 1.0}
        body = {"files": {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}},
                "complete": True, "exitcode": 0}  # fmt: skip
        r = self.http.post(f"{self.url}/files/{ENTITY}/{self.project}/{name}/file_stream",
                           json=body, timeout=600)  # fmt: skip
        if r.status_code != 200:
            raise RuntimeError(f"file_stream: HTTP {r.status_code} {r.text[:300]}")


def heartbeat_series(url: str, key: str, server_pid: int, method: str, finished: int,
                     timed: int) -> dict[str, Any]:  # fmt: skip
    """`finished` runs played through, then `timed` heartbeats timed (each hands out a run)."""
    agent = Agent(url, key, f"bench-sweeps-{method}", method)
    seed_times: list[float] = []
    times: list[float] = []
    cpu = 0.0
    t_all = time.perf_counter()
    for i in range(finished + timed):
        cpu0 = C.cpu_seconds(server_pid) if i >= finished else 0.0
        t0 = time.perf_counter()
        commands = agent.heartbeat()
        dt = time.perf_counter() - t0
        if i >= finished:
            cpu += C.cpu_seconds(server_pid) - cpu0
        runs = [c for c in commands if c.get("type") == "run"]
        if not runs:
            raise RuntimeError(f"{method}: heartbeat {i} handed out no run: {commands}")
        (times if i >= finished else seed_times).append(dt)
        agent.run_one(runs[0])
    return {
        "sweep": agent.sweep, "project": agent.project, "seed_times": seed_times,
        "times": times, "cpu_per_call": cpu / max(1, len(times)),
        "seconds": time.perf_counter() - t_all,
    }  # fmt: skip


def check_finished(url: str, key: str, project: str, sweep: str) -> Counter[str]:
    """The sweep's runs by state, through liberry.Api (a sanity check of the played loop)."""
    import liberry

    api = liberry.Api(overrides={"base_url": url}, api_key=key)
    return Counter(r.state for r in api.sweep(f"{ENTITY}/{project}/{sweep}").runs)


def part_heartbeats(args: argparse.Namespace, work: Path) -> list[list[str]]:
    proc, url, key = C.liberry_server(work / "data-heartbeat")
    rows: list[list[str]] = []
    try:
        proc.start()
        C.log(f"liberry server {url} (pid {proc.pid}) started in {C.fmt_s(proc.startup_s)}")
        for method in ("bayes", "grid", "random"):
            if method == "grid" and args.finished + args.timed > GRID_POINTS:
                C.log(f"  grid: skipped, its {GRID_POINTS:,} points are fewer than "
                      f"{args.finished + args.timed:,} runs")  # fmt: skip
                continue
            res = heartbeat_series(url, key, proc.pid, method, args.finished, args.timed)
            states = check_finished(url, key, res["project"], res["sweep"])
            seed = res["seed_times"]
            bins = [seed[i : i + 50] for i in range(0, len(seed), 50)]
            growth = ", ".join(
                f"{i * 50}-{i * 50 + len(b)}: {C.fmt_s(C.percentile(b, 50))}"
                for i, b in enumerate(bins)
            )
            C.log(f"  {method}: {args.finished + args.timed} runs played in "
                  f"{C.fmt_s(res['seconds'])}; states {dict(states)}; heartbeat p50 while "
                  f"the sweep filled up (finished runs: p50) {growth}")  # fmt: skip
            p50, p90 = C.percentile(res["times"], 50), C.percentile(res["times"], 90)
            target = 0.050 if method == "bayes" else 0.010
            rows.append([
                f"{method}: heartbeat handing out run #{args.finished + 1}.."
                f"{args.finished + args.timed}", C.fmt_s(p50), C.fmt_s(p90),
                C.fmt_s(max(res["times"])), C.fmt_s(res["cpu_per_call"]),
                f"p50 <= {C.fmt_s(target)}", "PASS" if p50 <= target else "MISS",
            ])  # fmt: skip
    finally:
        proc.stop()
    return rows


# --------------------------------------------------------------------------- part 2


def bulk_sweep(data_dir: Path, project: str, n: int, others: int) -> tuple[str, dict[str, Any]]:
    """A bayes sweep made by the server's controller, and `n` finished runs in it (plus
    `others` runs of the project outside it), inserted straight into the SQLite file."""
    from sqlalchemy import insert

    from liberry.server.datadir import DataDir
    from liberry.server.store import accounts, tables
    from liberry.server.store import projects as store_projects
    from liberry.server.store.values import reindex_runs
    from liberry.server.sweeps import controller

    rng = random.Random(7)
    data = DataDir.open(data_dir)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    with data.store.write() as conn:
        admin = accounts.user_by_name(conn, "admin")
        assert admin is not None
        proj, _ = store_projects.upsert_project(conn, ENTITY, project, user_id=admin["id"])
        import yaml

        cfg_text = yaml.safe_dump(sweep_config("bayes"))
        sweep, _ = controller.create_sweep(conn, proj, admin["id"], {"config": cfg_text})
        batch: list[dict[str, Any]] = []
        for i in range(n + others):
            params = {
                "lr": 10 ** rng.uniform(-5, -1), "dropout": rng.uniform(0, 0.5),
                "batch_size": rng.choice([16, 32, 64, 128]),
                "optimizer": rng.choice(["adam", "sgd"]), "layers": rng.randint(2, 12),
            }  # fmt: skip
            loss = synthetic_loss(params, rng)
            ts = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            summary = {"loss": loss, "acc": round(1 / (1 + loss), 6), "_step": 99,
                       "_runtime": rng.uniform(10, 500), "_timestamp": 1.79e9 + i}  # fmt: skip
            batch.append({
                "project_id": proj["id"], "name": f"s{i:07d}", "display_name": f"run-{i}",
                "state": "finished", "config": json.dumps({k: {"value": v} for k, v in
                                                           params.items()}),
                "summary": json.dumps(summary), "user_id": admin["id"],
                "sweep_name": sweep["name"] if i < n else None,
                "created_at": ts, "updated_at": ts, "heartbeat_at": ts, "exitcode": 0,
            })  # fmt: skip
            if len(batch) == 5000:
                conn.execute(insert(tables.runs), batch)
                batch.clear()
        if batch:
            conn.execute(insert(tables.runs), batch)
        reindex_runs(conn, project_id=proj["id"])
    data.store.close()
    return sweep["name"], {"seconds": time.perf_counter() - t0}


def quiet_wandb_env(workdir: Path) -> None:
    for var in ("WANDB_DIR", "WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        os.environ[var] = str(workdir)
    os.environ.update(
        WANDB_SILENT="true", WANDB_ERROR_REPORTING="false", WANDB_DISABLE_GIT="true",
        WANDB_X_DISABLE_STATS="true", WANDB_CONSOLE="off",
    )  # fmt: skip


def interleaved(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, list[float]]:
    """Each function once untimed, then `repeat` rounds calling each in turn (a busy machine
    slows every side alike)."""
    for fn in fns.values():
        fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            out[name].append(time.perf_counter() - t0)
    return out


def count_requests(url: str, fns: dict[str, Callable[[str], Any]]) -> dict[str, Counter[str]]:
    """The requests each call sends, seen by a recording proxy in front of the server."""
    from tests.compat.protocol.record import RecordingProxy

    out: dict[str, Counter[str]] = {}
    with RecordingProxy(url) as proxy:
        for name, fn in fns.items():
            proxy.recorder.take()
            fn(proxy.url)
            time.sleep(0.2)
            out[name] = Counter(x["operationName"] or x["path"] for x in proxy.recorder.take())
    return out


def part_big_sweep(args: argparse.Namespace, work: Path) -> list[list[str]]:
    import liberry

    n = args.runs
    project = "bench-sweeps-big"
    data_dir = work / "data-big"
    proc, url, key = C.liberry_server(data_dir)
    sweep, seeded = bulk_sweep(data_dir, project, n, args.others)
    C.log(
        f"sweep {ENTITY}/{project}/{sweep}: {n:,} finished runs (+{args.others:,} outside "
        f"it) bulk-inserted in {C.fmt_s(seeded['seconds'])} (controller.create_sweep, then "
        "SQLAlchemy executemany into runs with sweep_name, then values.reindex_runs)"
    )
    path = f"{ENTITY}/{project}/{sweep}"
    rows: list[list[str]] = []
    try:
        proc.start()
        C.log(f"liberry server {url} (pid {proc.pid}) started in {C.fmt_s(proc.startup_s)}")
        api = liberry.Api(overrides={"base_url": url}, api_key=key)
        wapi: Any = None
        wandb: Any = None
        if not args.no_wandb:
            quiet_wandb_env(work / "wandb")
            import wandb

            wapi = wandb.Api(overrides={"base_url": url}, api_key=key)

        def lib_best(a: Any = None) -> tuple[str, float]:
            a = a or api
            a.flush()
            best = a.sweep(path).best_run()
            return best.id, best.summary["loss"]

        def lib_page(a: Any = None, k: int = 50) -> list[tuple[str, Any]]:
            a = a or api
            a.flush()
            return [(r.id, r.summary.get("loss")) for r in a.sweep(path).runs[:k]]

        def wb_fresh(a: Any) -> Any:
            # wandb's flush() forgets runs only: its sweep cache is emptied too.
            a.flush()
            a._sweeps = {}
            return a

        def wb_best(a: Any = None) -> tuple[str, float]:
            a = wb_fresh(a or wapi)
            best = a.sweep(path).best_run()
            return best.id, best.summary["loss"]

        def wb_runs(a: Any = None, k: int = 10) -> list[tuple[str, Any]]:
            runs = wb_fresh(a or wapi).sweep(path).runs
            return [(r.id, r.summary.get("loss")) for r in itertools.islice(runs, k)]

        fns: dict[str, Callable[[], Any]] = {"lib_best": lib_best, "lib_page": lib_page}
        if wapi is not None:
            fns |= {"wb_best": wb_best, "wb_page": wb_runs,
                    "wb_50": lambda: wb_runs(k=50)}  # fmt: skip
        # The same best run on both sides.
        mine = lib_best()
        if wapi is not None:
            theirs = wb_best()
            if mine != theirs:
                C.log(f"  NOTE: best runs differ: liberry {mine}, wandb {theirs}")
        C.log(f"best run {mine[0]} (loss {mine[1]}); timing {args.repeat} rounds ...")
        times = interleaved(fns, args.repeat)

        def p50(name: str) -> float | None:
            return statistics.median(times[name]) if name in times else None

        counts: dict[str, Counter[str]] = {}
        if not args.no_requests:
            counters: dict[str, Callable[[str], Any]] = {
                "lib_best": lambda u: lib_best(liberry.Api(overrides={"base_url": u},
                                                           api_key=key)),
                "lib_page": lambda u: lib_page(liberry.Api(overrides={"base_url": u},
                                                           api_key=key)),
            }  # fmt: skip
            if wapi is not None:

                def wandb_at(u: str) -> Any:
                    return wandb.Api(overrides={"base_url": u}, api_key=key)

                counters |= {
                    "wb_best": lambda u: wb_best(wandb_at(u)),
                    "wb_page": lambda u: wb_runs(wandb_at(u)),
                    "wb_50": lambda u: wb_runs(wandb_at(u), 50),
                }  # fmt: skip
            counts = count_requests(url, counters)
            # A new Api object's own set-up (the key check, the default entity, the server's
            # features), made once per Api object: not part of the call.
            for c in counts.values():
                for op in ("Viewer", "GetDefaultEntity", "ServerFeaturesQuery"):
                    c.pop(op, None)

        def reqs(name: str) -> str:
            c = counts.get(name)
            if not c:
                return "-"
            return f"{sum(c.values())} ({', '.join(f'{k} {v}' for k, v in sorted(c.items()))})"

        def ratio(peer: float | None, ours: float | None) -> str:
            return C.fmt_ratio(peer / ours) if peer and ours else "-"

        def mark(v: float | None) -> str:
            return "-" if v is None else ("PASS" if v <= 0.050 else "MISS")

        lb, lp, wb, wp, w50 = (p50(k) for k in ("lib_best", "lib_page", "wb_best", "wb_page",
                                                 "wb_50"))  # fmt: skip
        rows = [
            ["sweep(path).best_run() + its metric", C.fmt_s(lb), C.fmt_s(wb), ratio(wb, lb),
             "<= 50 ms", mark(lb), reqs("lib_best"), reqs("wb_best")],
            ["first page of sweep.runs, id + metric (liberry 50 runs, wandb 10)", C.fmt_s(lp),
             C.fmt_s(wp), ratio(wp, lp), "<= 50 ms", mark(lp), reqs("lib_page"),
             reqs("wb_page")],
            ["first 50 runs of sweep.runs, id + metric", C.fmt_s(lp), C.fmt_s(w50),
             ratio(w50, lp), "", "", reqs("lib_page"), reqs("wb_50")],
        ]  # fmt: skip
    finally:
        proc.stop()
    return rows


# --------------------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes")
    parser.add_argument(
        "--finished",
        type=int,
        default=200,
        help="finished runs in each sweep before heartbeats are timed (200)",
    )
    parser.add_argument("--timed", type=int, default=40, help="heartbeats timed per method (40)")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the big sweep (10,000)")
    parser.add_argument(
        "--others",
        type=int,
        default=2_000,
        help="runs of the big sweep's project outside the sweep (2,000)",
    )
    parser.add_argument("--repeat", type=int, default=15, help="timed rounds in part 2 (15)")
    parser.add_argument("--no-wandb", action="store_true", help="liberry only in part 2")
    parser.add_argument("--no-requests", action="store_true", help="skip counting requests")
    parser.add_argument("--only", choices=("heartbeat", "big"), help="run one part only")
    parser.add_argument("--json", type=Path, help="also write the tables here")
    args = parser.parse_args()
    if args.quick:
        args.finished, args.timed, args.runs, args.others, args.repeat = 40, 15, 1_000, 200, 5

    load0 = C.load_average()
    C.log(f"# bench_sweeps — {C.machine_line()}; 1-min load average {load0:.2f}")
    work = Path(tempfile.mkdtemp(prefix="liberry-bench-sweeps-"))
    out: dict[str, Any] = {}
    try:
        if args.only != "big":
            C.log(f"\n## part 1: agentHeartbeat with {args.finished} finished runs in the sweep")
            out["heartbeat"] = part_heartbeats(args, work)
        if args.only != "heartbeat":
            C.log(f"\n## part 2: a sweep of {args.runs:,} runs")
            out["big"] = part_big_sweep(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if "heartbeat" in out:
        C.print_table(
            ["question", "p50", "p90", "max", "server CPU/call", "target", ""],
            out["heartbeat"],
            title=f"Suggestion latency: agentHeartbeat (idle agent, runState {{}}) over HTTP, "
            f"{args.finished} finished runs in the sweep, {args.timed} timed",
            right=(1, 2, 3, 4),
        )
    if "big" in out:
        C.print_table(
            ["question", "liberry.Api", "wandb.Api", "ratio", "target", "", "liberry requests",
             "wandb requests"],
            out["big"],
            title=f"A sweep of {args.runs:,} runs: p50 of {args.repeat} calls, each from a fresh "
            "api.sweep(path) (nothing cached), clients alternating",
            right=(1, 2, 3),
        )  # fmt: skip
    load1 = C.load_average()
    C.log(f"\n1-min load average: {load0:.2f} at the start, {load1:.2f} at the end")
    warning = C.load_warning(load0, load1)
    if warning:
        C.log(f"NOTE: {warning}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
