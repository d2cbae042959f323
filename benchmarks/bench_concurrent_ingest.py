"""Many concurrent official `wandb` runs against `liberry server --workers 4` on PostgreSQL
(issue #19): 0 rows lost, p99 file_stream latency.

R runs (default 100) of the real `wandb` client (0.31) each log S steps (default 2,000; four
scalar keys per step) at once. The same load then goes to SQLite with one worker, and the
table prints the ratios. Per backend:

  * the server is `python -m liberry.cli server` as a subprocess (PostgreSQL: `--database-url`
    on a scratch cluster, `--workers 4`), started with `LIBERRY_TIMINGS=FILE`, so every worker
    appends each request's duration as the server saw it (liberry/server/timings.py):
    file_stream p50/p95/p99/max come from there, since wandb-core cannot be instrumented;
  * the runs are spread over P client processes (default 10), each holding R/P runs at once
    with `wandb.init(reinit="create_new")` and one wandb-core: 100 processes each with their
    own wandb-core do not fit 2 cores (the client RSS per process is printed so the choice
    can be checked), and the server sees the same 100 concurrent runs either way;
  * every process logs its runs' steps round-robin (step i of every run, then step i + 1),
    then finishes them; wall time runs from the launch until the last process exits (finish()
    returns once wandb-core has delivered everything);
  * then every run is read back with `liberry.Api`: exactly S history rows with the logged
    values, `historyLineCount` S, summary equal to the last step, state `finished`. A lost or
    wrong row makes the script exit 1.

PostgreSQL: a fresh database on the cluster named by `LIBERRY_TEST_POSTGRES_URL` when set,
else a cluster of its own from `scripts/scratch_postgres.sh` (stopped at the end).

    python benchmarks/bench_concurrent_ingest.py            # 100 runs x 2,000 steps, 10 procs
    python benchmarks/bench_concurrent_ingest.py --quick    # 10 runs x 200 steps, 2 procs
    python benchmarks/bench_concurrent_ingest.py --runs 40 --procs 4 --no-sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _common as C

ENTITY = "admin"
PROJECT = "concurrent-ingest"

# One process, several runs: step i of every run, then step i + 1; the values are a function of
# (run number, step), so the read-back can check each row.
WORKER = textwrap.dedent("""
    import json, sys, time
    import wandb
    entity, project, nonce = sys.argv[1], sys.argv[2], sys.argv[3]
    first, count, steps = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    t0 = time.perf_counter()
    runs = [
        wandb.init(entity=entity, project=project, id=f"{nonce}-{k:04d}", config={"k": k},
                   reinit="create_new")
        for k in range(first, first + count)
    ]
    t1 = time.perf_counter()
    for i in range(steps):
        for k, run in enumerate(runs, first):
            run.log({"loss": 1.0 / (i + 1) + k, "acc": (i * 7 + k) % 1000 / 1000, "i": i, "k": k})
    t2 = time.perf_counter()
    for run in runs:
        run.finish()
    t3 = time.perf_counter()
    print(json.dumps({"init": t1 - t0, "log": t2 - t1, "finish": t3 - t2}))
""")


def expected_row(k: int, i: int) -> dict[str, Any]:
    """What the worker logged for run `k` at step `i` (wandb adds `_step` and more)."""
    return {"_step": i, "loss": 1.0 / (i + 1) + k, "acc": (i * 7 + k) % 1000 / 1000, "i": i,
            "k": k}


@dataclass
class Outcome:
    """One backend's figures."""

    label: str
    wall_s: float = 0.0
    rows: int = 0
    lost: int = 0
    wrong: list[str] = field(default_factory=list)
    server_rss: int = 0
    server_cpu_s: float = 0.0
    client_rss_per_proc: int = 0
    file_stream: list[float] = field(default_factory=list)
    file_stream_bytes: list[int] = field(default_factory=list)
    other: list[float] = field(default_factory=list)
    failed_requests: dict[str, int] = field(default_factory=dict)
    client_reports: list[dict[str, float]] = field(default_factory=list)

    def p(self, q: float) -> float:
        return C.percentile(self.file_stream, q) if self.file_stream else float("nan")


# --------------------------------------------------------------------------- PostgreSQL


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database URL: on LIBERRY_TEST_POSTGRES_URL's cluster, else on a cluster started
    with scripts/scratch_postgres.sh for this run."""
    import psycopg
    from sqlalchemy.engine import make_url

    own_dir: str | None = None
    base_url = os.environ.get("LIBERRY_TEST_POSTGRES_URL")
    if not base_url:
        out = subprocess.run(["bash", str(C.ROOT / "scripts/scratch_postgres.sh"), "start"],
                             check=True, capture_output=True, text=True).stdout
        found = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines()
                     if line.startswith("export "))
        own_dir, base_url = found["PGSCRATCH"], found["LIBERRY_TEST_POSTGRES_URL"]
        C.log(f"started a scratch PostgreSQL in {own_dir}")
    base = make_url(base_url)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"bench_ingest_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if own_dir:
            subprocess.run(["bash", str(C.ROOT / "scripts/scratch_postgres.sh"), "stop", own_dir],
                           check=False)


# --------------------------------------------------------------------------- the load


def client_env(workdir: Path, url: str, key: str) -> dict[str, str]:
    from tests.wandb_env import QUIET_ENV

    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LIBERRY_"))}
    env.update(QUIET_ENV)
    env.update({"WANDB_BASE_URL": url, "WANDB_API_KEY": key, "WANDB_INIT_TIMEOUT": "600",
                # Retries as the client ships (the quiet env cuts them short for tests).
                "WANDB_X_FILE_STREAM_RETRY_MAX": "", "WANDB_X_GRAPHQL_RETRY_MAX": "",
                "WANDB_CONFIG_DIR": str(workdir / "wandb-config"),
                "WANDB_CACHE_DIR": str(workdir / "wandb-cache"),
                "WANDB_DATA_DIR": str(workdir / "wandb-data")})
    return {k: v for k, v in env.items() if v != ""}


def read_timings(path: Path, out: Outcome) -> None:
    """file_stream durations and body sizes, other requests' durations, non-2xx counts."""
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        _start, took, status, method, route, size, _pid = line.split("\t")
        if not status.startswith("2"):
            out.failed_requests[f"{status} {method} {route.rsplit('/', 1)[-1]}"] = (
                out.failed_requests.get(f"{status} {method} {route.rsplit('/', 1)[-1]}", 0) + 1)
        if method == "POST" and route.endswith("/file_stream"):
            out.file_stream.append(float(took))
            out.file_stream_bytes.append(int(size) if size.isdigit() else 0)
        else:
            out.other.append(float(took))


def verify(url: str, key: str, nonce: str, runs: int, steps: int, out: Outcome) -> None:
    """Every run: S rows with the logged values, historyLineCount S, summary = last step,
    state finished. Counts lost/wrong rows into `out`."""
    import liberry

    api = liberry.Api({"base_url": url, "entity": ENTITY, "project": PROJECT}, api_key=key,
                      timeout=300)
    found = {r.id: r for r in api.runs(f"{ENTITY}/{PROJECT}", per_page=200)}
    for k in range(runs):
        run = found.get(f"{nonce}-{k:04d}")
        if run is None:
            out.lost += steps
            out.wrong.append(f"run {k}: missing")
            continue
        rows = run.history(samples=steps * 2, pandas=False)
        good = 0
        for row in rows:
            i = row.get("_step")
            if isinstance(i, int) and 0 <= i < steps and all(
                    row.get(key) == value for key, value in expected_row(k, i).items()):
                good += 1
        steps_seen = sorted(r.get("_step") for r in rows if isinstance(r.get("_step"), int))
        out.lost += steps - len(set(steps_seen) & set(range(steps)))
        problems = []
        if good != steps or len(rows) != steps:
            problems.append(f"{good} right rows of {len(rows)}")
        if run.history_line_count != steps:
            problems.append(f"historyLineCount {run.history_line_count}")
        last = expected_row(k, steps - 1)
        summary = run.summary
        if any(summary.get(key) != value for key, value in last.items()):
            problems.append("summary is not the last step")
        if run.state != "finished":
            problems.append(f"state {run.state}")
        if problems:
            out.wrong.append(f"run {k}: " + ", ".join(problems))
    out.rows = runs * steps - out.lost


def drive(label: str, workdir: Path, args: argparse.Namespace, *,
          database_url: str | None, workers: int) -> Outcome:
    """Start a server, run the load, stop it, verify; the figures."""
    out = Outcome(label)
    slug = label.split(",")[0].lower()
    data_dir = workdir / f"data-{slug}"
    timings = workdir / f"timings-{slug}.tsv"
    server, url, key = C.liberry_server(
        data_dir, database_url=database_url, extra_args=["--workers", str(workers)],
        env={"LIBERRY_TIMINGS": str(timings)})
    server.start()
    try:
        C.Gql(url, key)("{ viewer { id } }")  # imports and first connections, untimed
        if timings.exists():  # truncated, not removed: the workers hold it open for appending
            os.truncate(timings, 0)
        env = client_env(workdir, url, key)
        script = workdir / "worker.py"
        script.write_text(WORKER)
        nonce = uuid.uuid4().hex[:8]
        per_proc = -(-args.runs // args.procs)
        cpu0 = C.cpu_seconds(server.pid)
        t0 = time.perf_counter()
        procs: list[tuple[subprocess.Popen[str], C.RssSampler]] = []
        for p, first in enumerate(range(0, args.runs, per_proc)):
            wdir = workdir / f"{slug}-p{p}"
            wdir.mkdir(exist_ok=True)
            proc = subprocess.Popen(
                [sys.executable, str(script), ENTITY, PROJECT, nonce, str(first),
                 str(min(per_proc, args.runs - first)), str(args.steps)],
                cwd=wdir, env={**env, "WANDB_DIR": str(wdir)},
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append((proc, C.RssSampler(proc.pid, interval=0.5).start()))
        for p, (proc, rss) in enumerate(procs):
            stdout, stderr = proc.communicate(timeout=args.timeout)
            rss.stop()
            out.client_rss_per_proc = max(out.client_rss_per_proc, rss.peak_total)
            if proc.returncode != 0:
                out.wrong.append(f"client process {p} exited {proc.returncode}: "
                                 f"{stderr.strip()[-1500:]}")
                continue
            out.client_reports.append(json.loads(stdout.strip().splitlines()[-1]))
        out.wall_s = time.perf_counter() - t0
        out.server_cpu_s = C.cpu_seconds(server.pid) - cpu0
        out.server_rss = server.rss.peak_total if server.rss else 0
        verify(url, key, nonce, args.runs, args.steps, out)
    finally:
        server.stop()
    read_timings(timings, out)
    return out


# --------------------------------------------------------------------------- report


def report(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    def row(name: str, fmt: Any, getter: Any, lower_better: bool | None = True) -> list[str]:
        """A figure per backend; with two, the ratio saying how much better the first
        (PostgreSQL) did: SQLite's / PostgreSQL's where lower is better, the inverse where
        higher is better; `lower_better=None`: no ratio."""
        values = [getter(o) for o in outcomes]
        cells = [name, *(fmt(v) for v in values)]
        if len(values) == 2:
            a, b = values
            ratio = None
            if lower_better is True and a:
                ratio = b / a
            elif lower_better is False and b:
                ratio = a / b
            cells.append(C.fmt_ratio(ratio) if lower_better is not None else "")
        return cells

    total = args.runs * args.steps
    headers = ["figure", *(o.label for o in outcomes)]
    if len(outcomes) == 2:
        headers.append("PostgreSQL's advantage (> 1: better)")
    rows = [
        row("wall time (launch -> last process exited)", C.fmt_s, lambda o: o.wall_s),
        row("history rows/s, all runs (wall)", lambda v: C.fmt_rate(v, "rows"),
            lambda o: total / o.wall_s if o.wall_s else 0.0, lower_better=False),
        row("file_stream requests", str, lambda o: len(o.file_stream), None),
        row("file_stream mean body", lambda v: f"{v / 1024:,.1f} kB",
            lambda o: sum(o.file_stream_bytes) / max(1, len(o.file_stream_bytes))),
        row("file_stream p50 (server-side)", C.fmt_s, lambda o: o.p(50)),
        row("file_stream p95", C.fmt_s, lambda o: o.p(95)),
        row("file_stream p99", C.fmt_s, lambda o: o.p(99)),
        row("file_stream max", C.fmt_s, lambda o: max(o.file_stream, default=float("nan"))),
        row("other requests p99 (GraphQL, files)", C.fmt_s,
            lambda o: C.percentile(o.other, 99) if o.other else float("nan")),
        row("server CPU (all workers)", C.fmt_s, lambda o: o.server_cpu_s),
        row("server RSS peak (all workers + supervisor)", C.fmt_mb, lambda o: o.server_rss),
        row("client RSS peak per process (python + wandb-core)", C.fmt_mb,
            lambda o: o.client_rss_per_proc, None),
        row("rows stored / lost", lambda v: f"{v[0]:,} / {v[1]:,}", lambda o: (o.rows, o.lost),
            None),
        row("runs wrong (rows, count, summary, state)", str, lambda o: len(o.wrong), None),
    ]
    C.print_table(headers, rows)
    for o in outcomes:
        inits = sorted(r["init"] for r in o.client_reports) or [float("nan")]
        logs = sorted(r["log"] for r in o.client_reports) or [float("nan")]
        fins = sorted(r["finish"] for r in o.client_reports) or [float("nan")]
        C.log(f"{o.label}: per process, {args.runs // args.procs} x wandb.init "
              f"{C.fmt_s(C.percentile(inits, 50))} (median), logging "
              f"{C.fmt_s(C.percentile(logs, 50))}, finish() {C.fmt_s(C.percentile(fins, 50))}")
        if o.failed_requests:
            C.log(f"{o.label}: non-2xx responses: {o.failed_requests}")
        for problem in o.wrong[:10]:
            C.log(f"{o.label}: {problem}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="concurrent wandb runs")
    parser.add_argument("--steps", type=int, default=2000, help="steps logged per run")
    parser.add_argument("--procs", type=int, default=10,
                        help="client processes the runs are spread over (one wandb-core each)")
    parser.add_argument("--workers", type=int, default=4, help="server workers on PostgreSQL")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite comparison")
    parser.add_argument("--quick", action="store_true", help="10 runs x 200 steps, 2 procs")
    parser.add_argument("--timeout", type=float, default=3600, help="per client process, s")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workdir", type=Path, help="keep the data here (default: a temp dir)")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.steps, args.procs = 10, 200, 2
    args.procs = max(1, min(args.procs, args.runs))

    try:
        import wandb
    except ImportError:
        C.log("bench_concurrent_ingest: the `wandb` package is not installed "
              "(pip install 'wandb>=0.31,<0.32'); nothing to measure.")
        return 0
    C.log(f"# bench_concurrent_ingest: {args.runs} wandb {wandb.__version__} runs x "
          f"{args.steps:,} steps, in {args.procs} processes of {-(-args.runs // args.procs)} "
          f"runs each (one wandb-core per process) — {C.machine_line()}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="liberry-bench-concurrent-"))
    workdir.mkdir(parents=True, exist_ok=True)
    load_before = C.load_average()
    outcomes: list[Outcome] = []
    try:
        with postgres_database() as url:
            outcomes.append(drive(f"PostgreSQL, {args.workers} workers", workdir, args,
                                  database_url=url, workers=args.workers))
        C.log(f"PostgreSQL done in {C.fmt_s(outcomes[0].wall_s)} "
              f"(load average {C.load_average():.1f})")
        if not args.no_sqlite:
            outcomes.append(drive("SQLite, 1 worker", workdir, args, database_url=None,
                                  workers=1))
        report(outcomes, args)
        load_after = C.load_average()
        C.log(f"1-min load average: {load_before:.1f} at the start, {load_after:.1f} at the end "
              f"({os.cpu_count()} cores; the clients themselves keep them busy)")
        if args.json:
            args.json.write_text(json.dumps({
                "runs": args.runs, "steps": args.steps, "procs": args.procs,
                "load_before": load_before, "load_after": load_after,
                "backends": [{
                    "label": o.label, "wall_s": o.wall_s, "rows": o.rows, "lost": o.lost,
                    "wrong": o.wrong, "server_rss": o.server_rss, "server_cpu_s": o.server_cpu_s,
                    "file_stream_requests": len(o.file_stream), "file_stream_p50_s": o.p(50),
                    "file_stream_p95_s": o.p(95), "file_stream_p99_s": o.p(99),
                    "client_rss_per_proc": o.client_rss_per_proc,
                    "failed_requests": o.failed_requests,
                } for o in outcomes],
            }, indent=2))
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 1 if any(o.lost or o.wrong for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
