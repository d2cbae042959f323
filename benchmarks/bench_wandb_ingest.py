"""Ingestion from the official `wandb` client (issue #4): N concurrent training processes.

N `wandb` processes (default 20) each run `wandb.init`, log S steps (default 5,000; three
keys per step) and `finish()`, all at once, against one liberry server
(`python -m liberry.cli server`, a subprocess on 127.0.0.1). The questions:

  1. Time until everything is fully ingested: from launching the N processes until the
     server reports every run `finished` with all S history rows (every process has exited).
  2. The server's CPU time per 1,000 history rows: the server process's user + system CPU
     over the whole ingestion (upsertBucket, file_stream, file uploads: all of it) divided
     by the rows stored.

Each worker uses the quiet, fast client settings recorded in the wandb protocol notes
(no system-metrics sampler, no console capture, no code/git capture, no telemetry). The
clients dominate the machine: on 2 cores, `wandb`'s own Python + wandb-core CPU is shown
beside the server's so the split is visible. Rows are checked afterwards (none lost, none
duplicated); a missing row makes the script exit 1.

    python benchmarks/bench_wandb_ingest.py              # 20 processes x 5,000 steps
    python benchmarks/bench_wandb_ingest.py --quick      # 4 processes x 1,000 steps
    python benchmarks/bench_wandb_ingest.py --procs 10 --steps 20000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import _common as C  # also puts the project root on sys.path

from tests.wandb_env import QUIET_ENV as TEST_QUIET_ENV

ENTITY = "admin"
PROJECT = "wandb-ingest"

# The quiet settings the tests use, without their short retries (a benchmark under load should
# wait, not fail) and with a longer init timeout.
QUIET_ENV = {k: v for k, v in TEST_QUIET_ENV.items() if "RETRY" not in k} | {
    "WANDB_INIT_TIMEOUT": "300"
}

WORKER = textwrap.dedent("""
    import json, sys, time
    t0 = time.perf_counter()
    import wandb
    worker, steps = int(sys.argv[1]), int(sys.argv[2])
    run = wandb.init(entity=sys.argv[3], project=sys.argv[4], config={"worker": worker})
    t1 = time.perf_counter()
    for i in range(steps):
        run.log({"loss": 1.0 / (i + 1), "worker": worker, "i": i})
    t2 = time.perf_counter()
    run.finish()
    t3 = time.perf_counter()
    print(json.dumps({"id": run.id, "start": t1 - t0, "log": t2 - t1, "finish": t3 - t2}))
""")

RUNS_QUERY = """
query R($e: String!, $p: String!, $after: String) {
  project(name: $p, entityName: $e) {
    runs(first: 100, after: $after) {
      edges { node { name state historyLineCount } }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""

HISTORY_QUERY = """
query H($e: String!, $p: String!, $n: String!, $s: Int!) {
  project(name: $p, entityName: $e) { run(name: $n) { history(samples: $s) } }
}"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, from /proc (the server is a single process)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def list_runs(gql: C.Gql) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = None
    while True:
        data = gql(RUNS_QUERY, {"e": ENTITY, "p": PROJECT, "after": after})
        project = data.get("project")
        if project is None:
            return out
        conn = project["runs"]
        out.extend(edge["node"] for edge in conn["edges"])
        if not conn["pageInfo"]["hasNextPage"]:
            return out
        after = conn["pageInfo"]["endCursor"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--procs", type=int, default=20, help="concurrent wandb processes")
    parser.add_argument("--steps", type=int, default=5000, help="steps logged per process")
    parser.add_argument("--quick", action="store_true", help="4 processes x 1,000 steps")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    procs, steps = (4, 1000) if args.quick else (args.procs, args.steps)
    rows_total = procs * steps

    try:
        import wandb
    except ImportError:
        C.log("bench_wandb_ingest: the `wandb` package is not installed (pip install "
              "'wandb>=0.31,<0.32'); nothing to measure.")
        return 0

    C.log(f"# bench_wandb_ingest: {procs} wandb {wandb.__version__} processes x {steps:,} steps "
          f"— {C.machine_line()}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="liberry-bench-wandb-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = C.load_average()
    server, url, key = C.liberry_server(workdir / "data")
    server.start()
    figures: dict[str, Any] = {"procs": procs, "steps": steps}
    failed = False
    try:
        gql = C.Gql(url, key)
        gql("{ viewer { id } }")  # warm the server (imports, first connection)
        idle0 = cpu_seconds(server.pid)
        time.sleep(2.0)
        idle_cpu = cpu_seconds(server.pid) - idle0

        env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LIBERRY_"))}
        env.update(QUIET_ENV)
        env.update({"WANDB_BASE_URL": url, "WANDB_API_KEY": key,
                    "WANDB_CONFIG_DIR": str(workdir / "wandb-config"),
                    "WANDB_CACHE_DIR": str(workdir / "wandb-cache"),
                    "WANDB_DATA_DIR": str(workdir / "wandb-data")})
        script = workdir / "worker.py"
        script.write_text(WORKER)

        server_cpu0 = cpu_seconds(server.pid)
        clients_cpu0 = children_cpu()
        t0 = time.perf_counter()
        workers = []
        for w in range(procs):
            wdir = workdir / f"w{w}"
            wdir.mkdir(exist_ok=True)
            workers.append(subprocess.Popen(
                [sys.executable, str(script), str(w), str(steps), ENTITY, PROJECT],
                cwd=wdir, env={**env, "WANDB_DIR": str(wdir)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            ))
        reports = []
        exited_at = []
        for w, proc in enumerate(workers):
            out, err = proc.communicate(timeout=3600)
            exited_at.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                C.log(f"worker {w} exited {proc.returncode}:\n{err[-2000:]}")
                failed = True
                continue
            reports.append(json.loads(out.strip().splitlines()[-1]))
        # Fully ingested: every run finished with every row stored.
        while True:
            runs = list_runs(gql)
            done = [r for r in runs if r["state"] == "finished" and r["historyLineCount"] == steps]
            if len(done) == procs or time.perf_counter() - t0 > 3600 or failed:
                break
            time.sleep(0.05)
        ingest_s = time.perf_counter() - t0
        server_cpu = cpu_seconds(server.pid) - server_cpu0
        clients_cpu = children_cpu() - clients_cpu0

        # Check every row: steps 0..S-1 once each, values as logged.
        lost = 0
        wrong_state = [r["name"] for r in runs if r["state"] != "finished"]
        for r in runs:
            hist = gql(HISTORY_QUERY, {"e": ENTITY, "p": PROJECT, "n": r["name"],
                                       "s": steps * 2})["project"]["run"]["history"]
            got = [json.loads(h) for h in hist]
            ok = [g for i, g in enumerate(got) if g.get("_step") == i and g.get("i") == i]
            lost += steps - len(ok)
        lost += (procs - len(runs)) * steps
        failed = failed or lost > 0 or bool(wrong_state)

        per_1k = server_cpu / (rows_total / 1000)
        starts = sorted(r["start"] for r in reports) or [float("nan")]
        logs = sorted(r["log"] for r in reports) or [float("nan")]
        C.print_table(
            ["figure", "value"],
            [
                [f"{procs} x {steps:,} steps fully ingested (launch -> all finished + stored)",
                 C.fmt_s(ingest_s)],
                ["  last process exited", C.fmt_s(max(exited_at))],
                ["  per process: import + wandb.init (median / max)",
                 f"{C.fmt_s(C.percentile(starts, 50))} / {C.fmt_s(starts[-1])}"],
                [f"  per process: {steps:,} x run.log (median / max)",
                 f"{C.fmt_s(C.percentile(logs, 50))} / {C.fmt_s(logs[-1])}"],
                ["  rows stored / lost / runs not finished",
                 f"{rows_total - lost:,} / {lost:,} / {len(wrong_state)}"],
                ["server CPU per 1,000 history rows", f"{per_1k * 1000:.1f} ms"],
                ["  server CPU, whole ingestion", C.fmt_s(server_cpu)],
                ["  server CPU while idle, per second", C.fmt_s(idle_cpu / 2.0)],
                ["  clients' CPU (python + wandb-core, all processes)", C.fmt_s(clients_cpu)],
                ["  ingestion rate (rows/s, wall)", C.fmt_rate(rows_total / ingest_s, "rows")],
                ["server RSS peak", C.fmt_mb(server.rss.peak_total if server.rss else None)],
            ],
        )
        warning = C.load_warning(load_before, 0.0)  # the workers themselves load the machine
        if warning:
            C.log(f"note: {warning}")
        figures.update({
            "ingest_s": ingest_s, "last_exit_s": max(exited_at), "server_cpu_s": server_cpu,
            "server_cpu_ms_per_1k_rows": per_1k * 1000, "clients_cpu_s": clients_cpu,
            "rows_lost": lost, "runs_not_finished": wrong_state,
            "init_median_s": C.percentile(starts, 50), "log_median_s": C.percentile(logs, 50),
        })
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        server.stop()
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
