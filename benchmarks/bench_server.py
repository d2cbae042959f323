"""Server benchmarks (issue #2): liberry's tracking server, with MLflow's measured in the same run.

Part 1, the targets (printed with PASS/MISS marks, never asserted):
  * 100,000 runs in one project (8 config keys, 4 summary metrics): first page of 50 with a
    config filter, ordered by a summary metric, p50 <= 50 ms;
  * all 10,000 runs of a 10k project, config + summary, paged through GraphQL: <= 1 s;
  * file_stream ingestion >= 100,000 history rows/s (a 1,000,000-step run, over HTTP);
  * 500-point sampled history of that 1,000,000-step run: <= 100 ms p50;
  * server RSS <= 200 MB, the peak sampled while serving all of the above.
The 100k and 10k projects are bulk-inserted into the server's SQLite file before the server
starts (executemany into liberry's `runs`, then the store's own `values.reindex_runs`);
everything else goes over HTTP to `python -m liberry.cli server` in a subprocess.

Part 2, head-to-head with MLflow's tracking server (3.x, SQLite, `--workers 1`): the same runs
(configs as params, summaries as metrics), the same questions, a ratio MLflow/liberry per
question. On each side the first `--http-runs` runs are created over HTTP (timed), the rest
bulk-inserted into that server's own tables.

    python benchmarks/bench_server.py            # full sizes, ~5 min on an idle 2-core machine
    python benchmarks/bench_server.py --quick    # smoke sizes, ~1.5 min
    python benchmarks/bench_server.py --help     # sizes, --no-mlflow, --json, ...

Times are wall-clock round trips measured by the client on 127.0.0.1 (an upper bound of
server time), with the server's own CPU time per call beside them; the "store diagnostics"
time the same queries inside this process through `liberry.server.store`, without HTTP.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as C
import requests

ENTITY = "admin"  # the admin user's own entity, created when the data dir is bootstrapped

# --------------------------------------------------------------------------- synthetic data

OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
ARCHS = ("resnet18", "resnet50", "vit-s16", "vit-b16", "mlp-mixer", "convnext-t")


@dataclass(frozen=True)
class SynthRun:
    name: str
    config: dict[str, Any]   # 8 keys, plain values
    summary: dict[str, float]  # 4 metrics


def synth_runs(n: int, seed: int, prefix: str) -> list[SynthRun]:
    """`n` deterministic runs: 8 config keys (numbers and strings), 4 summary metrics."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lr = round(10 ** rng.uniform(-4, -1), 7)
        quality = rng.random()
        loss = round(0.02 + 2.3 * (1 - quality) + rng.random() * 0.05, 7)
        acc = round(0.1 + 0.89 * quality - rng.random() * 0.02, 7)
        out.append(SynthRun(
            name=f"{prefix}{i:07d}",
            config={
                "lr": lr,
                "batch_size": rng.choice((16, 32, 64, 128, 256)),
                "optimizer": rng.choice(OPTIMIZERS),
                "layers": rng.randint(2, 24),
                "dropout": round(rng.uniform(0, 0.5), 3),
                "weight_decay": round(10 ** rng.uniform(-6, -2), 9),
                "arch": rng.choice(ARCHS),
                "seed": rng.randrange(1_000_000),
            },
            summary={
                "loss": loss,
                "accuracy": acc,
                "val_loss": round(loss * (1.05 + rng.random() * 0.2), 7),
                "val_accuracy": round(acc * (0.9 + rng.random() * 0.08), 7),
            },
        ))
    return out


def wandb_config(config: dict[str, Any]) -> str:
    """Config as W&B's client sends it: each value wrapped in {"value": v}."""
    return json.dumps({k: {"desc": None, "value": v} for k, v in config.items()})


def history_lines(n: int, start: int = 0, *, wide: bool = True) -> list[str]:
    """History rows as W&B's client writes them: `_step`, `_runtime`, `_timestamp` + metrics.
    `wide=False` gives `{_step, _timestamp, loss}`: one metric point per row."""
    t0 = 1_767_225_600.0
    out = []
    if wide:
        for i in range(start, start + n):
            x = i / 1000.0
            out.append(
                f'{{"loss":{2.5 / (1 + x) + 0.01 * math.sin(i):.6f},'
                f'"accuracy":{1 - 0.9 / (1 + x):.6f},"lr":{1e-3 * (0.5 + 0.5 * math.cos(x)):.7g},'
                f'"_step":{i},"_runtime":{i * 0.01:.2f},"_timestamp":{t0 + i * 0.01:.3f}}}'
            )
    else:
        for i in range(start, start + n):
            out.append(f'{{"_step":{i},"_timestamp":{t0 + i * 0.01:.3f},'
                       f'"loss":{2.5 / (1 + i / 1000.0) + 0.01 * math.sin(i):.6f}}}')
    return out


def metric_points(n: int) -> list[tuple[int, int, float]]:
    """The same series as `history_lines(wide=False)`, as (step, timestamp_ms, value)."""
    t0 = 1_767_225_600.0
    return [(i, int((t0 + i * 0.01) * 1000),
             float(f"{2.5 / (1 + i / 1000.0) + 0.01 * math.sin(i):.6f}"))
            for i in range(n)]


# --------------------------------------------------------------------------- liberry: seeding


def bulk_seed(data_dir: Path, projects: list[tuple[str, list[SynthRun]]], *,
              quiet: bool = False) -> dict[str, Any]:
    """Insert runs straight into the server's SQLite file (WAL: the server may be running)."""
    from sqlalchemy import insert

    from liberry.server.datadir import DataDir
    from liberry.server.store import accounts, tables
    from liberry.server.store import projects as store_projects

    reindex_runs: Callable[..., int] | None
    try:  # the config/summary index that filters and orders read, when the store has one
        from liberry.server.store.values import reindex_runs
    except ImportError:
        reindex_runs = None

    # The bulk path writes `runs` (and has the store index them): say so if the schema grew
    # other tables derived from runs, which would be left empty.
    known = {"history", "history_blocks", "stream_lines", "run_files"}
    known |= {"run_values"} if reindex_runs else set()
    derived = sorted(
        name for name, table in tables.metadata.tables.items()
        if name not in known and any(fk.column.table is tables.runs for fk in table.foreign_keys)
    )
    if derived and not quiet:
        C.log(f"  WARNING: bulk seeding writes `runs` only; tables {derived} reference runs and "
              "are left empty (the server's own write path may fill them).")
    index_s = 0.0

    data = DataDir.open(data_dir)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    counts = {}
    with C.stopwatch() as sw:
        for pname, synth in projects:
            with data.store.write() as conn:
                admin = accounts.user_by_name(conn, "admin")
                assert admin is not None
                proj, _ = store_projects.upsert_project(conn, ENTITY, pname, user_id=admin["id"])
                batch: list[dict[str, Any]] = []
                for i, r in enumerate(synth):
                    ts = (base + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
                    batch.append({
                        "project_id": proj["id"], "name": r.name, "display_name": r.name,
                        "state": "finished", "config": wandb_config(r.config),
                        "summary": json.dumps(r.summary), "user_id": admin["id"],
                        "created_at": ts, "updated_at": ts, "heartbeat_at": ts, "exitcode": 0,
                    })
                    if len(batch) == 5000:
                        conn.execute(insert(tables.runs), batch)
                        batch.clear()
                if batch:
                    conn.execute(insert(tables.runs), batch)
                if reindex_runs is not None:
                    with C.stopwatch() as swi:
                        reindex_runs(conn, project_id=proj["id"])
                    index_s += swi[0]
            counts[pname] = len(synth)
    data.store.close()
    path = "bulk insert (SQLAlchemy executemany into runs"
    path += ", then the store's values.reindex_runs)" if reindex_runs else ")"
    return {"seconds": sw[0], "index_seconds": index_s, "runs": counts, "path": path}


# --------------------------------------------------------------------------- liberry: GraphQL

UPSERT = """
mutation UpsertBucket($name: String, $project: String, $entity: String, $config: JSONString,
    $summaryMetrics: JSONString, $state: String, $displayName: String) {
  upsertBucket(input: {name: $name, modelName: $project, entityName: $entity, config: $config,
      summaryMetrics: $summaryMetrics, state: $state, displayName: $displayName}) {
    bucket { id name }
    inserted
  }
}"""

RUNS = """
query Runs($entity: String!, $project: String!, $filters: JSONString, $order: String,
    $first: Int, $after: String) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, order: $order, first: $first, after: $after) {
      edges { node { name config summaryMetrics } }
      pageInfo { endCursor hasNextPage }
    }
  }
}"""

HISTORY = """
query History($entity: String!, $project: String!, $run: String!, $samples: Int) {
  project(name: $project, entityName: $entity) { run(name: $run) { history(samples: $samples) } }
}"""

SAMPLED = """
query Sampled($entity: String!, $project: String!, $run: String!, $specs: [JSONString!]!) {
  project(name: $project, entityName: $entity) { run(name: $run) { sampledHistory(specs: $specs) } }
}"""


class Liberry:
    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.gql = C.Gql(url, key)

    def runs_page(self, project: str, *, filters: Any = None, order: str | None = None,
                  first: int = 50, after: str | None = None) -> dict[str, Any]:
        data = self.gql(RUNS, {
            "entity": ENTITY, "project": project, "first": first, "after": after, "order": order,
            "filters": json.dumps(filters) if filters is not None else None,
        })
        return data["project"]["runs"]

    def page_all(self, project: str, page_size: int) -> int:
        """Every run of the project, `page_size` per request; the count of runs."""
        n, full, after = 0, 0, None
        while True:
            conn = self.runs_page(project, first=page_size, after=after)
            for edge in conn["edges"]:
                node = edge["node"]
                full += len(node["config"] or "") > 2 and len(node["summaryMetrics"] or "") > 2
                n += 1
            if not conn["pageInfo"]["hasNextPage"]:
                if n > 1 and full < n - 1:
                    raise RuntimeError(f"only {full} of {n} runs came with config + summary")
                return n
            after = conn["pageInfo"]["endCursor"]

    def upsert(self, gql: C.Gql, project: str, run: SynthRun | None, name: str,
               state: str = "finished") -> None:
        variables: dict[str, Any] = {"entity": ENTITY, "project": project, "name": name,
                                     "displayName": name, "state": state}
        if run is not None:
            variables["config"] = wandb_config(run.config)
            variables["summaryMetrics"] = json.dumps(run.summary)
        gql(UPSERT, variables)

    def create_runs(self, project: str, synth: list[SynthRun], threads: int) -> float:
        """Runs created with upsertBucket (config + summary in the same call); seconds."""
        local = threading.local()

        def one(r: SynthRun) -> None:
            if not hasattr(local, "gql"):
                local.gql = C.Gql(self.url, self.key)
            self.upsert(local.gql, project, r, r.name)

        with C.stopwatch() as sw, ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, synth))
        return sw[0]

    def history(self, project: str, run: str, samples: int) -> list[str]:
        data = self.gql(HISTORY, {"entity": ENTITY, "project": project, "run": run,
                                  "samples": samples})
        return data["project"]["run"]["history"]

    def sampled(self, project: str, run: str, keys: list[str], samples: int) -> list[Any]:
        spec = json.dumps({"keys": keys, "samples": samples})
        data = self.gql(SAMPLED, {"entity": ENTITY, "project": project, "run": run,
                                  "specs": [spec]})
        return data["project"]["run"]["sampledHistory"][0]


def stream_bodies(lines: list[str], chunk_rows: int) -> list[bytes]:
    """file_stream request bodies, `chunk_rows` history lines each, offsets in order."""
    return [
        json.dumps({"files": {"wandb-history.jsonl": {
            "offset": off, "content": lines[off : off + chunk_rows]}}}).encode()
        for off in range(0, len(lines), chunk_rows)
    ]


def ingest(url: str, key: str, jobs: list[tuple[str, str, list[bytes]]]) -> float:
    """POST each job's bodies in order, one client (thread + session) per job; wall seconds.
    Bodies are JSON-encoded beforehand so only the HTTP exchange is timed."""
    errors: list[BaseException] = []

    def client(project: str, run: str, bodies: list[bytes]) -> None:
        try:
            gql = C.Gql(url, key)
            path = f"/files/{ENTITY}/{project}/{run}/file_stream"
            for body in bodies:
                gql.post_json_bytes(path, body)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=job) for job in jobs]
    with C.stopwatch() as sw:
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    if errors:
        raise errors[0]
    return sw[0]


# --------------------------------------------------------------------------- MLflow over REST


MLFLOW_CACHE = Path("~/.cache/liberry-bench").expanduser()
_VERSIONS: dict[str, str] = {}


def mlflow_version(exe: str) -> str:
    if exe not in _VERSIONS:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
        words = out.stdout.strip().split()
        _VERSIONS[exe] = words[-1] if words else "unknown"
    return _VERSIONS[exe]


def find_mlflow(explicit: str | None) -> str | None:
    candidates = [
        explicit,
        os.environ.get("LIBERRY_BENCH_MLFLOW"),
        shutil.which("mlflow"),
        str(MLFLOW_CACHE / "mlflow-venv" / "bin" / "mlflow"),
    ]
    for c in candidates:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


class Mlflow:
    """MLflow's REST API 2.0, as `MlflowClient` calls it over HTTP (plain requests, so this
    benchmark does not need mlflow importable in its own interpreter)."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()

    def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        r = self.http.request(method, f"{self.url}/api/2.0/mlflow/{path}", timeout=900, **kw)
        if r.status_code != 200:
            raise RuntimeError(f"MLflow {path}: HTTP {r.status_code}: {r.text[:500]}")
        return r.json()

    def create_experiment(self, name: str) -> str:
        return str(self.call("POST", "experiments/create", json={"name": name})["experiment_id"])

    def create_run(self, exp: str, name: str, start_ms: int) -> str:
        body = {"experiment_id": exp, "run_name": name, "start_time": start_ms,
                "tags": [{"key": "mlflow.runName", "value": name}]}
        return str(self.call("POST", "runs/create", json=body)["run"]["info"]["run_id"])

    def log_batch(self, run_id: str, *, params: dict[str, Any] | None = None,
                  metrics: list[dict[str, Any]] | None = None) -> None:
        body = {"run_id": run_id,
                "params": [{"key": k, "value": str(v)} for k, v in (params or {}).items()],
                "metrics": metrics or []}
        self.call("POST", "runs/log-batch", json=body)

    def search(self, exp: str, *, filter: str = "", order_by: list[str] | None = None,
               max_results: int = 50, page_token: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"experiment_ids": [exp], "filter": filter,
                                "max_results": max_results, "order_by": order_by or []}
        if page_token:
            body["page_token"] = page_token
        return self.call("POST", "runs/search", json=body)

    def page_all(self, exp: str, page_size: int) -> int:
        """Every run of the experiment, `page_size` per request; the count of runs."""
        n, full, token = 0, 0, None
        while True:
            res = self.search(exp, max_results=page_size, page_token=token)
            for run in res.get("runs", []):
                data = run.get("data", {})
                full += bool(data.get("params") and data.get("metrics"))
                n += 1
            token = res.get("next_page_token")
            if not token:
                if n > 1 and full < n - 1:
                    raise RuntimeError(f"only {full} of {n} MLflow runs came with params + metrics")
                return n

    def metric_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        token = None
        while True:
            params = {"run_id": run_id, "metric_key": key}
            if token:
                params["page_token"] = token
            res = self.call("GET", "metrics/get-history", params=params)
            out.extend(res.get("metrics", []))
            token = res.get("next_page_token")
            if not token:
                return out


def mlflow_names(res: dict[str, Any]) -> list[str]:
    return [r["info"].get("run_name", "") for r in res.get("runs", [])]


# --------------------------------------------------------------------------- results


@dataclass
class Results:
    sizes: dict[str, Any]
    targets: list[dict[str, Any]] = field(default_factory=list)
    h2h: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    def target(self, what: str, value: float | None, shown: str, limit: float, limit_shown: str,
               higher_is_better: bool = False, cpu_shown: str = "", **extra: Any) -> None:
        ok = None if value is None or math.isnan(value) else (
            value >= limit if higher_is_better else value <= limit)
        self.targets.append({"what": what, "value": value, "shown": shown, "limit": limit,
                             "limit_shown": limit_shown, "pass": ok, "cpu_shown": cpu_shown,
                             **extra})

    def versus(self, what: str, lib: float | None, mlf: float | None, lib_shown: str,
               mlf_shown: str, higher_is_better: bool = False, note: str = "",
               cpu: tuple[float | None, float | None] = (None, None)) -> None:
        ratio = None
        if lib and mlf and not (math.isnan(lib) or math.isnan(mlf)):
            ratio = lib / mlf if higher_is_better else mlf / lib
        self.h2h.append({"what": what, "liberry": lib, "mlflow": mlf, "liberry_shown": lib_shown,
                         "mlflow_shown": mlf_shown, "ratio": ratio, "note": note,
                         "liberry_cpu_s": cpu[0], "mlflow_cpu_s": cpu[1]})


def cpu_col(t: C.Timings) -> str:
    return C.fmt_s(t.cpu_per_call) if t.cpu_per_call is not None else ""


def _fn_first_page(lib: Liberry, project: str, filters: Any,
                   order: str | None) -> Callable[[], Any]:
    return lambda: lib.runs_page(project, filters=filters, order=order, first=50)


# --------------------------------------------------------------------------- part 1: targets


def part_targets(args: argparse.Namespace, work: Path, res: Results) -> dict[str, Any]:
    data_dir = work / "liberry"
    big, ten = "bench-100k", "bench-10k"
    C.log(f"\n== liberry: seeding {args.runs_big:,} + {args.runs_10k:,} runs "
          "(bulk insert into the server's SQLite file, before it starts)")
    with C.stopwatch() as sw:
        synth_big = synth_runs(args.runs_big, 1, "b")
        synth_10k = synth_runs(args.runs_10k, 2, "t")
    C.log(f"  generated in {C.fmt_s(sw[0])}")
    seeded = bulk_seed(data_dir, [(big, synth_big), (ten, synth_10k)])
    del synth_big, synth_10k
    db = data_dir / "liberry.db"
    C.log(f"  {seeded['path']}: {C.fmt_s(seeded['seconds'])} "
          f"(of which indexing {C.fmt_s(seeded['index_seconds'])}); "
          f"db {C.fmt_mb(db.stat().st_size)}")
    res.info["liberry_seed"] = seeded

    server, url, key = C.liberry_server(data_dir)
    server.start()
    C.log(f"  server pid {server.pid} up in {C.fmt_s(server.startup_s)} at {url}")
    lib = Liberry(url, key)
    assert server.rss is not None
    rss = server.rss
    pid = server.pid
    state: dict[str, Any] = {"server": server, "lib": lib, "url": url, "key": key,
                             "db": db, "big": big, "ten": ten, "data_dir": data_dir}
    try:
        # -- 1. first page of 50, config filter, ordered by a summary metric
        flt = {"config.lr": {"$gt": 0.01}}
        order = "-summary_metrics.accuracy"
        C.log(f"\n== first page of 50 of {args.runs_big:,} runs: filters={json.dumps(flt)} "
              f"order={order}")
        with rss.phase("first_page"):
            page = lib.runs_page(big, filters=flt, order=order, first=50)
            nodes = [e["node"] for e in page["edges"]]
            accs = [json.loads(n["summaryMetrics"])["accuracy"] for n in nodes]
            lrs = [json.loads(n["config"])["lr"]["value"] for n in nodes]
            if len(nodes) != 50 or accs != sorted(accs, reverse=True) or min(lrs) <= 0.01:
                res.notes.append("first page: WRONG RESULT (count, order or filter)")
            t_first = C.time_calls(_fn_first_page(lib, big, flt, order), repeat=args.repeat,
                                   warmup=2, budget_s=60, cpu_pid=pid)
        C.log(f"  p50 {C.fmt_s(t_first.p50)}  p95 {C.fmt_s(t_first.p95)}  "
              f"cold {C.fmt_s(t_first.cold)}  server CPU {cpu_col(t_first)}/call  (n={t_first.n})")
        res.target(f"first page of 50, config filter + order by summary "
                   f"({args.runs_big:,} runs), p50",
                   t_first.p50, C.fmt_s(t_first.p50), 0.050, "<= 50 ms",
                   cpu_shown=cpu_col(t_first), **t_first.as_dict())

        # the same page ordered by summary only, and filtered only, to split the cost
        extra = {}
        for label, f2, o2 in (("order by summary only", None, order),
                              ("config filter only (default order)", flt, None),
                              ("no filter, default order", None, None)):
            tt = C.time_calls(_fn_first_page(lib, big, f2, o2), repeat=max(5, args.repeat // 2),
                              warmup=1, budget_s=30, cpu_pid=pid)
            extra[label] = tt.as_dict()
            C.log(f"  [split] {label}: p50 {C.fmt_s(tt.p50)} (server CPU {cpu_col(tt)})")
        res.info["first_page_split"] = extra

        # -- 2. all runs of the 10k project, paged
        C.log(f"\n== all {args.runs_10k:,} runs of a {args.runs_10k:,}-run project, config + "
              f"summary, {args.page_size} per page")
        with rss.phase("page_all_10k"):
            count = lib.page_all(ten, args.page_size)
            if count != args.runs_10k:
                res.notes.append(f"paging the 10k project returned {count} runs")
            t_all = C.time_calls(lambda: lib.page_all(ten, args.page_size),
                                 repeat=max(3, args.repeat // 4), warmup=0, budget_s=30,
                                 cpu_pid=pid)
        C.log(f"  p50 {C.fmt_s(t_all.p50)}  min {C.fmt_s(t_all.min)}  "
              f"server CPU {cpu_col(t_all)}  (n={t_all.n})")
        res.target(f"all {args.runs_10k:,} runs (config + summary), {args.page_size}/page, p50",
                   t_all.p50, C.fmt_s(t_all.p50), 1.0, "<= 1 s", cpu_shown=cpu_col(t_all),
                   **t_all.as_dict())
        with C.stopwatch() as sw50:
            lib.page_all(ten, 50)
        C.log(f"  (for reference, 50 per page as wandb.Api's default: {C.fmt_s(sw50[0])})")
        res.info["page_all_10k_per_page_50_s"] = sw50[0]

        # -- 3. file_stream ingestion: the 1M-step run
        steps, chunk = args.steps, args.chunk_rows
        proj_hist = "bench-history"
        C.log(f"\n== file_stream ingestion: a {steps:,}-step run, {chunk:,} rows per request, "
              "one client in order (as wandb's SDK sends)")
        lib.upsert(lib.gql, proj_hist, None, "steps1m", state="running")
        with C.stopwatch() as sw:
            bodies = stream_bodies(history_lines(steps, wide=True), chunk)
        C.log(f"  (request bodies prepared client-side in {C.fmt_s(sw[0])}, "
              f"{sum(map(len, bodies)) / 2**20:.0f} MB, not timed)")
        with rss.phase("ingest_1m"):
            cpu0 = C.cpu_seconds(pid)
            secs = ingest(url, key, [(proj_hist, "steps1m", bodies)])
            cpu = C.cpu_seconds(pid) - cpu0
        del bodies
        rate = steps / secs
        C.log(f"  {steps:,} rows in {C.fmt_s(secs)}: {C.fmt_rate(rate, 'rows')}; server CPU "
              f"{C.fmt_s(cpu)} = {C.fmt_rate(steps / cpu if cpu else None, 'rows')} per CPU-second")
        res.target(f"file_stream ingestion ({steps:,} rows, 1 client)", rate,
                   C.fmt_rate(rate, "rows"), 100_000, ">= 100,000 rows/s", higher_is_better=True,
                   cpu_shown=f"{C.fmt_s(cpu)} in all", seconds=secs, server_cpu_s=cpu)

        n2 = args.ingest2_rows
        for i in (1, 2):
            lib.upsert(lib.gql, proj_hist, None, f"par{i}", state="running")
        lines2 = history_lines(n2, wide=True)
        bodies2 = stream_bodies(lines2, chunk)
        with rss.phase("ingest_2clients"):
            secs2 = ingest(url, key, [(proj_hist, "par1", bodies2), (proj_hist, "par2", bodies2)])
        rate2 = 2 * n2 / secs2
        C.log(f"  two clients, two runs, {n2:,} rows each: {C.fmt_rate(rate2, 'rows')} in total")
        res.info["ingest_two_clients"] = {"rows": 2 * n2, "seconds": secs2, "rows_per_s": rate2}

        # -- 4. 500-point sampled history of the 1M-step run
        C.log(f"\n== 500-point sampled history of the {steps:,}-step run")
        with rss.phase("history_sample"):
            rows = lib.history(proj_hist, "steps1m", 500)
            if len(rows) != 500 or json.loads(rows[-1])["_step"] != steps - 1:
                res.notes.append(f"history(samples: 500) returned {len(rows)} rows")
            t_hist = C.time_calls(lambda: lib.history(proj_hist, "steps1m", 500),
                                  repeat=args.repeat, warmup=1, budget_s=30, cpu_pid=pid)
            sampled = lib.sampled(proj_hist, "steps1m", ["_step", "loss"], 500)
            if len(sampled) != 500:
                res.notes.append(f"sampledHistory returned {len(sampled)} rows")
            t_samp = C.time_calls(lambda: lib.sampled(proj_hist, "steps1m", ["_step", "loss"], 500),
                                  repeat=args.repeat, warmup=1, budget_s=30, cpu_pid=pid)
        C.log(f"  history(samples: 500): p50 {C.fmt_s(t_hist.p50)}  p95 {C.fmt_s(t_hist.p95)}")
        C.log(f"  sampledHistory(keys [_step, loss], 500): p50 {C.fmt_s(t_samp.p50)}  "
              f"p95 {C.fmt_s(t_samp.p95)}")
        res.target(f"history(samples: 500) of a {steps:,}-step run, p50", t_hist.p50,
                   C.fmt_s(t_hist.p50), 0.100, "<= 100 ms", cpu_shown=cpu_col(t_hist),
                   **t_hist.as_dict())
        res.target(f"sampledHistory 500 points of a {steps:,}-step run, p50", t_samp.p50,
                   C.fmt_s(t_samp.p50), 0.100, "<= 100 ms", cpu_shown=cpu_col(t_samp),
                   **t_samp.as_dict())
    except BaseException:
        server.stop()
        raise
    return state


# --------------------------------------------------------------------------- part 2: head-to-head


H2H_ORDER = ("+summary_metrics.loss", ["metrics.loss ASC"])
H2H_FILTER = (
    {"$and": [{"config.optimizer": "adam"}, {"summary_metrics.accuracy": {"$gt": 0.5}}]},
    "params.optimizer = 'adam' AND metrics.accuracy > 0.5",
)


@dataclass
class Side:
    create_runs: int = 0
    create_runs_s: float = math.nan
    ingest_points: int = 0
    ingest_s: float = math.nan
    q_first: C.Timings | None = None
    q_filter: C.Timings | None = None
    q_all: C.Timings | None = None
    q_hist: C.Timings | None = None
    first_names: list[str] = field(default_factory=list)
    filter_names: list[str] = field(default_factory=list)
    rss_peak: int = 0
    rss_tree_peak: int = 0
    rss_cmd: str = ""
    startup_s: float | None = None


def h2h_budget(args: argparse.Namespace, pid: int) -> dict[str, Any]:
    return {"repeat": args.repeat, "warmup": 1, "budget_s": args.h2h_budget, "cpu_pid": pid}


def h2h_liberry(args: argparse.Namespace, st: dict[str, Any], synth: list[SynthRun]) -> Side:
    lib: Liberry = st["lib"]
    server: C.ServerProcess = st["server"]
    side = Side()
    proj = "bench-h2h"
    n, pts, k = len(synth), args.mlflow_points, min(args.http_runs, len(synth))
    C.log(f"\n== head-to-head, liberry side: {n:,} runs; the first {k:,} created over HTTP "
          f"(upsertBucket with config + summary, {args.seed_threads} threads)")
    side.create_runs = k
    side.create_runs_s = lib.create_runs(proj, synth[:k], args.seed_threads)
    C.log(f"  {C.fmt_rate(k / side.create_runs_s, 'runs')}")
    seeded = bulk_seed(st["data_dir"], [(proj, synth[k:])], quiet=True)
    C.log(f"  the other {n - k:,} bulk-inserted in {C.fmt_s(seeded['seconds'])}")
    lib.upsert(lib.gql, proj, None, "hist100k", state="running")
    bodies = stream_bodies(history_lines(pts, wide=False), 1000)
    side.ingest_points = pts
    side.ingest_s = ingest(st["url"], st["key"], [(proj, "hist100k", bodies)])
    # MLflow ranks a run by its latest metric value; W&B's client sends that as the summary.
    last_loss = metric_points(pts)[-1][2]
    lib.gql(UPSERT, {"entity": ENTITY, "project": proj, "name": "hist100k",
                     "summaryMetrics": json.dumps({"loss": last_loss})})
    C.log(f"  {pts:,} points of one metric via file_stream, 1,000 rows per request: "
          f"{C.fmt_rate(pts / side.ingest_s, 'points')}")
    kw = h2h_budget(args, server.pid)
    order, _ = H2H_ORDER
    flt, _ = H2H_FILTER
    page = lib.runs_page(proj, order=order, first=50)
    side.first_names = [e["node"]["name"] for e in page["edges"]]
    side.q_first = C.time_calls(lambda: lib.runs_page(proj, order=order, first=50), **kw)
    C.log(f"  first page by metric: p50 {C.fmt_s(side.q_first.p50)} (n={side.q_first.n})")
    page = lib.runs_page(proj, filters=flt, order=order, first=50)
    side.filter_names = [e["node"]["name"] for e in page["edges"]]
    side.q_filter = C.time_calls(lambda: lib.runs_page(proj, filters=flt, order=order, first=50),
                                 **kw)
    C.log(f"  param+metric filter: p50 {C.fmt_s(side.q_filter.p50)} (n={side.q_filter.n})")
    got = lib.page_all(proj, args.page_size)
    if got != n + 1:  # + the history run
        C.log(f"  WARNING: paging returned {got} runs, expected {n + 1}")
    side.q_all = C.time_calls(lambda: lib.page_all(proj, args.page_size), **kw)
    C.log(f"  page all: p50 {C.fmt_s(side.q_all.p50)} (n={side.q_all.n})")
    rows = lib.history(proj, "hist100k", pts)
    if len(rows) != pts:
        C.log(f"  WARNING: history returned {len(rows)} rows, expected {pts}")
    side.q_hist = C.time_calls(lambda: lib.history(proj, "hist100k", pts), **kw)
    C.log(f"  history: p50 {C.fmt_s(side.q_hist.p50)} (n={side.q_hist.n})")
    assert server.rss is not None
    server.rss.sample()
    side.rss_peak = server.rss.peak_largest
    side.rss_tree_peak = server.rss.peak_total
    side.rss_cmd = server.rss.largest_cmd
    return side


def mlflow_server(work: Path, exe: str) -> C.ServerProcess:
    """`mlflow server` on SQLite with one uvicorn worker, not yet launched. A schema migrated
    by an earlier run of the same MLflow version is reused (copied) to skip ~15 s of
    migrations; the first run creates it."""
    mdir = work / "mlflow"
    mdir.mkdir(parents=True, exist_ok=True)
    db = mdir / "mlflow.db"
    cached = MLFLOW_CACHE / f"empty-schema-{mlflow_version(exe)}.db"
    if cached.is_file():
        shutil.copyfile(cached, db)
    port = C.free_port()
    env = {**os.environ,
           # No background job runner (it forks a runner + 7 huey consumers, ~700 MB more):
           # the tracking server alone is compared. No telemetry, nothing over the network.
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "GIT_PYTHON_REFRESH": "quiet"}
    env.pop("PYTHONPATH", None)
    cmd = [exe, "server", "--backend-store-uri", f"sqlite:///{db}",
           "--default-artifact-root", str(mdir / "artifacts"), "--no-serve-artifacts",
           "--workers", "1", "--host", "127.0.0.1", "--port", str(port)]
    return C.ServerProcess("mlflow server", cmd, health_url=f"http://127.0.0.1:{port}/health",
                           log_path=mdir / "server.log", env=env, cwd=mdir,
                           startup_timeout=300)


def _cache_mlflow_schema(db: Path, exe: str) -> None:
    cached = MLFLOW_CACHE / f"empty-schema-{mlflow_version(exe)}.db"
    if cached.is_file():
        return
    import sqlite3

    MLFLOW_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    src, dst = sqlite3.connect(db), sqlite3.connect(tmp)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    tmp.replace(cached)


def mlflow_bulk_insert(db: Path, exp: str, artifact_root: Path, synth: list[SynthRun],
                       start_index: int, base_ms: int) -> float:
    """Rows exactly as MLflow 3's SqlAlchemyStore writes them for runs/create + log-batch
    (runs, tags[mlflow.runName], params, metrics, latest_metrics); seconds. Cross-checked by the
    head-to-head itself: both servers must return the same runs in the same order."""
    import sqlite3
    import uuid

    runs_rows: list[tuple[Any, ...]] = []
    tags: list[tuple[Any, ...]] = []
    params: list[tuple[Any, ...]] = []
    metrics: list[tuple[Any, ...]] = []
    latest: list[tuple[Any, ...]] = []
    for i, r in enumerate(synth, start_index):
        rid = uuid.uuid4().hex
        ts = base_ms + i * 1000
        runs_rows.append((rid, r.name, "UNKNOWN", "", "", "unknown", "RUNNING", ts, None, "",
                          "active", str(artifact_root / exp / rid / "artifacts"), int(exp)))
        tags.append(("mlflow.runName", r.name, rid))
        params.extend((k, str(v), rid) for k, v in r.config.items())
        for k, v in r.summary.items():
            metrics.append((k, v, ts, rid, 0, 0))
            latest.append((k, v, ts, 0, 0, rid))
    with C.stopwatch() as sw:
        con = sqlite3.connect(db, timeout=60)
        try:
            con.executemany(
                "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
                "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", runs_rows)
            con.executemany("INSERT INTO tags (key, value, run_uuid) VALUES (?,?,?)", tags)
            con.executemany("INSERT INTO params (key, value, run_uuid) VALUES (?,?,?)", params)
            con.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                            "VALUES (?,?,?,?,?,?)", metrics)
            con.executemany("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, "
                            "run_uuid) VALUES (?,?,?,?,?,?)", latest)
            con.commit()
        finally:
            con.close()
    return sw[0]


def mlflow_bulk_history(db: Path, run_id: str, key: str,
                        points: list[tuple[int, int, float]]) -> float:
    import sqlite3

    with C.stopwatch() as sw:
        con = sqlite3.connect(db, timeout=60)
        try:
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "VALUES (?,?,?,?,?,0)", ((key, v, ts, run_id, s) for s, ts, v in points))
            s, ts, v = max(points)  # MLflow keeps the max (step, timestamp, value) as latest
            con.execute("INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, "
                        "is_nan, run_uuid) VALUES (?,?,?,?,0,?)", (key, v, ts, s, run_id))
            con.commit()
        finally:
            con.close()
    return sw[0]


def h2h_mlflow(args: argparse.Namespace, server: C.ServerProcess, exe: str,
               synth: list[SynthRun]) -> Side:
    side = Side()
    mdir = Path(server.cwd or ".")
    db = mdir / "mlflow.db"
    C.log(f"\n== head-to-head, MLflow side: mlflow {' '.join(server.cmd[1:])}")
    server.wait_ready()
    side.startup_s = None if server.ready_before_asked else server.startup_s
    C.log(f"  up in {C.fmt_s(server.startup_s)}"
          + (" (it was already up when first asked)" if server.ready_before_asked else ""))
    _cache_mlflow_schema(db, exe)
    try:
        ml = Mlflow(server.health_url.rsplit("/", 1)[0])
        exp = ml.create_experiment("bench-h2h")
        n, pts, k = len(synth), args.mlflow_points, min(args.http_runs, len(synth))
        base_ms = 1_767_225_600_000
        local = threading.local()

        def one(ir: tuple[int, SynthRun]) -> None:
            i, r = ir
            if not hasattr(local, "ml"):
                local.ml = Mlflow(ml.url)
            run_id = local.ml.create_run(exp, r.name, base_ms + i * 1000)
            local.ml.log_batch(run_id, params=r.config, metrics=[
                {"key": key, "value": v, "timestamp": base_ms + i * 1000, "step": 0}
                for key, v in r.summary.items()])

        C.log(f"  {n:,} runs; the first {k:,} over HTTP: runs/create + runs/log-batch "
              f"(8 params, 4 metrics), {args.seed_threads} threads")
        with C.stopwatch() as sw, ThreadPoolExecutor(args.seed_threads) as pool:
            list(pool.map(one, enumerate(synth[:k])))
        side.create_runs, side.create_runs_s = k, sw[0]
        C.log(f"  {C.fmt_rate(k / side.create_runs_s, 'runs')}")
        secs = mlflow_bulk_insert(db, exp, mdir / "artifacts", synth[k:], k, base_ms)
        C.log(f"  the other {n - k:,} bulk-inserted (sqlite3, MLflow's own tables) in "
              f"{C.fmt_s(secs)}")

        ipts = min(args.mlflow_ingest_points, pts)
        ingest_exp = ml.create_experiment("bench-ingest")
        ingest_run = ml.create_run(ingest_exp, "ingest", base_ms)
        points = metric_points(pts)
        batches = [[{"key": "loss", "value": v, "timestamp": ts, "step": s}
                    for s, ts, v in points[i : i + 1000]] for i in range(0, ipts, 1000)]
        with C.stopwatch() as sw:
            for b in batches:
                ml.log_batch(ingest_run, metrics=b)
        side.ingest_points, side.ingest_s = ipts, sw[0]
        C.log(f"  {ipts:,} points of one metric via log-batch, 1,000 per request: "
              f"{C.fmt_rate(ipts / side.ingest_s, 'points')}")
        hist_run = ml.create_run(exp, "hist100k", base_ms)
        secs = mlflow_bulk_history(db, hist_run, "loss", points)
        C.log(f"  the {pts:,}-point history run bulk-inserted in {C.fmt_s(secs)}")

        kw = h2h_budget(args, server.pid)
        _, order = H2H_ORDER
        _, flt = H2H_FILTER
        side.first_names = mlflow_names(ml.search(exp, order_by=order, max_results=50))
        side.q_first = C.time_calls(lambda: ml.search(exp, order_by=order, max_results=50), **kw)
        C.log(f"  first page by metric: p50 {C.fmt_s(side.q_first.p50)} (n={side.q_first.n})")
        side.filter_names = mlflow_names(ml.search(exp, filter=flt, order_by=order,
                                                   max_results=50))
        side.q_filter = C.time_calls(
            lambda: ml.search(exp, filter=flt, order_by=order, max_results=50), **kw)
        C.log(f"  param+metric filter: p50 {C.fmt_s(side.q_filter.p50)} (n={side.q_filter.n})")
        got = ml.page_all(exp, args.page_size)
        if got != n + 1:
            C.log(f"  WARNING: paging returned {got} runs, expected {n + 1}")
        side.q_all = C.time_calls(lambda: ml.page_all(exp, args.page_size), **kw)
        C.log(f"  page all: p50 {C.fmt_s(side.q_all.p50)} (n={side.q_all.n})")
        got_hist = ml.metric_history(hist_run, "loss")
        if len(got_hist) != pts:
            C.log(f"  WARNING: get-history returned {len(got_hist)} points, expected {pts}")
        side.q_hist = C.time_calls(lambda: ml.metric_history(hist_run, "loss"), **kw)
        C.log(f"  history: p50 {C.fmt_s(side.q_hist.p50)} (n={side.q_hist.n})")
    finally:
        server.stop()
    assert server.rss is not None
    side.rss_peak = server.rss.peak_largest
    side.rss_tree_peak = server.rss.peak_total
    side.rss_cmd = server.rss.largest_cmd
    return side


def compare(res: Results, lib: Side, mlf: Side, n: int, pts: int, page_size: int) -> None:
    def q(label: str, a: C.Timings | None, b: C.Timings | None, note: str = "") -> None:
        pa = a.p50 if a else None
        pb = b.p50 if b else None
        res.versus(label, pa, pb, C.fmt_s(pa), C.fmt_s(pb), note=note,
                   cpu=(a.cpu_per_call if a else None, b.cpu_per_call if b else None))

    q(f"first page of 50 ordered by a metric ({n:,} runs)", lib.q_first, mlf.q_first)
    q("  ... with a param/config + metric filter", lib.q_filter, mlf.q_filter)
    q(f"all {n:,} runs with config + summary, {page_size}/page", lib.q_all, mlf.q_all)
    q(f"{pts:,}-point metric history read", lib.q_hist, mlf.q_hist)
    lr, mr = lib.create_runs / lib.create_runs_s, mlf.create_runs / mlf.create_runs_s
    res.versus(f"run creation with config + summary (HTTP, {lib.create_runs} runs)", lr, mr,
               C.fmt_rate(lr, "runs"), C.fmt_rate(mr, "runs"), higher_is_better=True)
    lp, mp = lib.ingest_points / lib.ingest_s, mlf.ingest_points / mlf.ingest_s
    res.versus("metric ingestion (HTTP, 1,000 points per request)", lp, mp,
               C.fmt_rate(lp, "points"), C.fmt_rate(mp, "points"), higher_is_better=True)
    res.versus("server RSS peak (largest process)", lib.rss_peak, mlf.rss_peak,
               C.fmt_mb(lib.rss_peak), C.fmt_mb(mlf.rss_peak))
    res.info["mlflow_rss_tree_peak"] = mlf.rss_tree_peak
    res.info["mlflow_rss_largest_cmd"] = mlf.rss_cmd
    res.info["mlflow_startup_s"] = mlf.startup_s
    same1 = lib.first_names == mlf.first_names
    same2 = lib.filter_names == mlf.filter_names
    res.info["same_answers"] = {"first_page": same1, "filtered_page": same2}
    if not (same1 and same2):
        res.notes.append(
            f"head-to-head answers differ: first page same={same1}, filtered page same={same2}")


# --------------------------------------------------------------------------- diagnostics


def store_diagnostics(db: Path, big: str, ten: str, steps_run: tuple[str, str],
                      repeat: int) -> dict[str, Any]:
    """The same queries inside this process through liberry's store (no HTTP, no GraphQL):
    time per call, the SQL alone, and SQLite's plan for it."""
    from sqlalchemy import event

    from liberry.server.store import Store, history, projects, runs
    from liberry.server.store.db import sqlite_url

    store = Store(sqlite_url(db))
    captured: list[tuple[str, Any]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def _capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any,
                 executemany: bool) -> None:
        captured.append((statement, parameters))

    out: dict[str, Any] = {}

    def examine(label: str, fn: Callable[[Any], Any], conn: Any) -> None:
        t = C.time_calls(lambda: fn(conn), repeat=repeat, warmup=1, budget_s=20)
        captured.clear()
        fn(conn)
        stmts = [(s, p) for s, p in captured if s.lstrip().upper().startswith("SELECT")]
        entry: dict[str, Any] = {"store_p50_s": t.p50, "statements": len(stmts)}
        # Each SELECT the call made, re-run alone (fetching all rows): their total, and the
        # slowest one's text and plan.
        timed = []
        for sql, params in stmts[:50]:
            def rerun(sql: str = sql, params: Any = params) -> Any:
                return conn.exec_driver_sql(sql, params).all()

            tq = C.time_calls(rerun, repeat=3, warmup=1, budget_s=5)
            timed.append((tq.p50, sql, params))
        if timed:
            slow_s, sql, params = max(timed, key=lambda x: x[0])
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()
            entry.update(sql_total_s=sum(x[0] for x in timed), slowest_sql_s=slow_s, sql=sql,
                         params=list(params) if params else [], plan=[str(r[-1]) for r in plan])
        out[label] = entry

    try:
        with store.read() as conn:
            pbig = projects.get_project(conn, ENTITY, big)
            pten = projects.get_project(conn, ENTITY, ten)
            phist = projects.get_project(conn, ENTITY, steps_run[0])
            assert pbig and pten and phist
            flt = runs.parse_filters(json.dumps({"config.lr": {"$gt": 0.01}}))
            examine("first page of 50, big project", lambda c: runs.list_runs(
                c, pbig["id"], filters=flt, order="-summary_metrics.accuracy", first=50,
                after=None), conn)
            examine("one 1,000-run page, 10k project", lambda c: runs.list_runs(
                c, pten["id"], filters=None, order=None, first=1000, after=None), conn)
            run = runs.get_run(conn, phist["id"], steps_run[1])
            assert run
            examine("history(samples: 500), long run",
                    lambda c: history.sample_history(c, run, 500), conn)
            examine("sampledHistory 500, long run",
                    lambda c: history.sampled_history(c, run, ["_step", "loss"], 500), conn)
    finally:
        store.close()
    return out


# --------------------------------------------------------------------------- report


def report(res: Results, args: argparse.Namespace, total_s: float) -> None:
    print("\n" + "=" * 100)
    quick = "  (--quick: smoke sizes; marks are not meaningful)" if args.quick else ""
    print(f"liberry server benchmark{quick}")
    print(f"machine: {C.machine_line()}")
    seed = res.info.get("liberry_seed", {})
    print(f"data: {args.runs_big:,}-run and {args.runs_10k:,}-run projects seeded by "
          f"{seed.get('path', '?')} in {C.fmt_s(seed.get('seconds'))}; everything else over HTTP")

    rows = []
    for t in res.targets:
        mark = "n/a" if t["pass"] is None else ("PASS" if t["pass"] else "MISS")
        rows.append([t["what"], t["shown"], t["limit_shown"], mark, t.get("cpu_shown", "")])
    C.print_table(["target (issue #2)", "measured", "target", "", "server CPU/call"], rows,
                  right=(1, 4),
                  title=f"Targets, liberry alone (p50 of up to {args.repeat} calls after warm-up)")

    print("server CPU/call: user + system CPU the server process spent per call (from /proc); "
          "close to server time on an idle machine, and barely moved by other load")

    if res.h2h:
        rows = []
        for h in res.h2h:
            cpu = ""
            if h.get("liberry_cpu_s") is not None and h.get("mlflow_cpu_s") is not None:
                cpu = f"{C.fmt_s(h['liberry_cpu_s'])} / {C.fmt_s(h['mlflow_cpu_s'])}"
            rows.append([h["what"], h["liberry_shown"], h["mlflow_shown"],
                         C.fmt_ratio(h["ratio"]), cpu])
        C.print_table(
            ["question (same data on both)", "liberry", "MLflow", "MLflow/liberry",
             "server CPU/call (l / M)"], rows,
            right=(1, 2, 3, 4),
            title=f"Head-to-head with MLflow {res.info.get('mlflow_version', '')} "
                  "(SQLite, --workers 1), p50; for rates and RSS the ratio is how many times "
                  "better liberry is")
        same = res.info.get("same_answers", {})
        print(f"same 50 runs in the same order from both servers: first page "
              f"{'yes' if same.get('first_page') else 'NO'}, filtered page "
              f"{'yes' if same.get('filtered_page') else 'NO'}")
        print("RSS: liberry's is its peak over the whole benchmark (the 100k-run project and the "
              "1M-step run included), MLflow's the peak of its uvicorn worker over its part")
        print(f"MLflow process tree RSS peak (launcher + uvicorn worker): "
              f"{C.fmt_mb(res.info.get('mlflow_rss_tree_peak'))}; startup "
              f"{C.fmt_s(res.info.get('mlflow_startup_s'))}")
        print("issue #2's MLflow reference at 10,000 runs: first page by metric 16.4 s, with "
              "param + metric filter 1.6 s, paging all 27 s, 100k-point history 13 s, "
              "12 runs/s, 3,200 points/s, 500-750 MB")
    elif res.info.get("mlflow_skipped"):
        print(f"\nMLflow head-to-head skipped: {res.info['mlflow_skipped']}")

    rss = res.info.get("liberry_rss_phases", {})
    if rss:
        print("\nliberry server RSS peak by phase: " + ", ".join(
            f"{k} {C.fmt_mb(v)}" for k, v in rss.items()))
    if res.diagnostics:
        print("\nStore diagnostics (same query in-process via liberry.server.store, no HTTP):")
        for label, d in res.diagnostics.items():
            line = f"  {label}: store call p50 {C.fmt_s(d.get('store_p50_s'))}"
            if "sql_total_s" in d:
                line += (f"; its {d.get('statements')} SELECTs re-run alone: "
                         f"{C.fmt_s(d['sql_total_s'])}, the slowest {C.fmt_s(d['slowest_sql_s'])}")
            print(line)
            for p in d.get("plan", []):
                print(f"      plan of the slowest: {p}")
    for n in res.notes:
        print(f"NOTE: {n}")
    print(f"\ntotal benchmark time: {C.fmt_s(total_s)}")
    sys.stdout.flush()


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke sizes (about 1-2 minutes)")
    p.add_argument("--runs-big", type=int, help="runs in the big project (100,000; quick 5,000)")
    p.add_argument("--runs-10k", type=int, help="runs in the paged project (10,000; quick 1,000)")
    p.add_argument("--steps", type=int, help="steps of the long run (1,000,000; quick 50,000)")
    p.add_argument("--chunk-rows", type=int, default=10_000,
                   help="history rows per file_stream request (10,000)")
    p.add_argument("--ingest2-rows", type=int,
                   help="rows per client in the 2-client ingestion (100,000; quick 20,000)")
    p.add_argument("--page-size", type=int, default=1000, help="runs per page when paging (1000)")
    p.add_argument("--repeat", type=int, help="timed calls per question (20; quick 5)")
    p.add_argument("--mlflow-runs", type=int, help="runs in the head-to-head (2,000; quick 300)")
    p.add_argument("--mlflow-points", type=int,
                   help="points of the history read (100,000; quick 10,000)")
    p.add_argument("--http-runs", type=int,
                   help="head-to-head runs created over HTTP, timed; the rest are bulk-inserted "
                        "(200; quick 40)")
    p.add_argument("--mlflow-ingest-points", type=int,
                   help="points MLflow ingests over HTTP, timed (20,000; quick 5,000)")
    p.add_argument("--h2h-budget", type=float, default=20.0,
                   help="seconds per head-to-head question after 3 calls (20)")
    p.add_argument("--seed-threads", type=int, default=4, help="client threads creating runs (4)")
    p.add_argument("--no-mlflow", action="store_true", help="skip the MLflow head-to-head")
    p.add_argument("--mlflow-cmd", help="the `mlflow` executable (default: $LIBERRY_BENCH_MLFLOW, "
                   "PATH, ~/.cache/liberry-bench/mlflow-venv/bin/mlflow)")
    p.add_argument("--no-diagnostics", action="store_true",
                   help="skip EXPLAIN QUERY PLAN and in-process timings")
    p.add_argument("--workdir", type=Path,
                   help="keep data here (default: a temporary dir, removed at the end)")
    p.add_argument("--json", type=Path, help="also write all figures to this JSON file")
    args = p.parse_args(argv)
    q = args.quick
    defaults = {"runs_big": (100_000, 5_000), "runs_10k": (10_000, 1_000),
                "steps": (1_000_000, 50_000), "ingest2_rows": (100_000, 20_000),
                "repeat": (20, 5), "mlflow_runs": (2_000, 300),
                "mlflow_points": (100_000, 10_000), "http_runs": (200, 40),
                "mlflow_ingest_points": (20_000, 5_000)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t_start = time.perf_counter()
    load_before = C.load_average()
    C.log(f"liberry server benchmark — {C.machine_line()}")
    sizes = {k: getattr(args, k) for k in (
        "runs_big", "runs_10k", "steps", "chunk_rows", "mlflow_runs", "mlflow_points",
        "http_runs", "mlflow_ingest_points", "page_size", "repeat")}
    C.log("sizes: " + ", ".join(f"{k}={v:,}" for k, v in sizes.items()))
    res = Results(sizes=sizes)

    mlflow_exe = None if args.no_mlflow else find_mlflow(args.mlflow_cmd)
    if args.no_mlflow:
        res.info["mlflow_skipped"] = "--no-mlflow"
    elif mlflow_exe is None:
        res.info["mlflow_skipped"] = (
            "no `mlflow` executable found: pip install 'mlflow>=3,<4' (best in its own venv, "
            "e.g. ~/.cache/liberry-bench/mlflow-venv), or pass --mlflow-cmd PATH")
    else:
        res.info["mlflow_version"] = mlflow_version(mlflow_exe)
        C.log(f"MLflow {res.info['mlflow_version']}: {mlflow_exe}")
        if not res.info["mlflow_version"].startswith("3."):
            C.log(f"WARNING: MLflow {res.info['mlflow_version']} is not 3.x")

    own_tmp = args.workdir is None
    work = Path(tempfile.mkdtemp(prefix="liberry-bench-")) if own_tmp else args.workdir
    work.mkdir(parents=True, exist_ok=True)
    if (work / "liberry").exists() or (work / "mlflow").exists():
        raise SystemExit(f"{work} already holds benchmark data: pass an empty --workdir")
    C.log(f"work dir: {work}")
    mlf_server = mlflow_server(work, mlflow_exe) if mlflow_exe else None
    try:
        if mlf_server and args.quick:
            # Smoke runs overlap MLflow's ~20-40 s start with liberry's part (noisier numbers,
            # which --quick does not judge anyway); full runs keep the two strictly apart.
            C.log("(--quick: MLflow starts in the background meanwhile)")
            mlf_server.launch(sample_interval=0.1)
        st = part_targets(args, work, res)
        server: C.ServerProcess = st["server"]
        lib_side = None
        synth = synth_runs(args.mlflow_runs, 3, "h")
        try:
            if mlf_server:
                lib_side = h2h_liberry(args, st, synth)
            if not args.no_diagnostics:
                C.log("\n== store diagnostics (in-process, EXPLAIN QUERY PLAN)")
                res.diagnostics = store_diagnostics(st["db"], st["big"], st["ten"],
                                                    ("bench-history", "steps1m"),
                                                    max(5, args.repeat // 2))
        finally:
            server.stop()
        assert server.rss is not None
        rss_peak = server.rss.peak_total
        res.info["liberry_rss_phases"] = dict(server.rss.phases)
        res.info["liberry_rss_peak"] = rss_peak
        res.target("server RSS peak while serving all of the above", rss_peak,
                   C.fmt_mb(rss_peak), 200 * 2**20, "<= 200 MB")
        C.log(f"\n  liberry server RSS peak {C.fmt_mb(rss_peak)}")
        if mlf_server and mlflow_exe and lib_side is not None:
            lib_side.rss_peak = rss_peak
            if mlf_server.proc is None:
                mlf_server.launch(sample_interval=0.1)
            mlf_side = h2h_mlflow(args, mlf_server, mlflow_exe, synth)
            compare(res, lib_side, mlf_side, len(synth), args.mlflow_points, args.page_size)
    finally:
        if mlf_server:
            mlf_server.stop()
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t_start
    res.info["load_average"] = {"start": load_before, "end": C.load_average()}
    busy = C.load_warning(load_before, res.info["load_average"]["end"])
    if busy:
        res.notes.append(busy)
    report(res, args, total)
    if args.json:
        args.json.write_text(json.dumps({
            "sizes": res.sizes, "targets": res.targets, "head_to_head": res.h2h,
            "info": res.info, "diagnostics": res.diagnostics, "notes": res.notes,
            "total_s": total}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
