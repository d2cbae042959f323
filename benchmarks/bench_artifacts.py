"""Artifacts (issue #14): lineage, transfer throughput, and paging many versions.

    python benchmarks/bench_artifacts.py           # 50 hops, 1 GB / 1000 files, 10,000 versions
    python benchmarks/bench_artifacts.py --quick   # 10 hops, 50 MB / 100 files, 1,000 versions

1. Lineage of an N-hop chain (run i uses stage i-1 and logs stage i): liberry's
   `artifact.lineage()` beside `wandb.Api` walking it hop by hop (`logged_by()` then
   `used_artifacts()`), counting the GraphQL requests the server answered and the wall time.
2. Upload (`run.log_artifact` + `wait()`, the official client) and download (`wandb.Api`
   `artifact.download()` with an empty cache; liberry's `Artifact.download()`) of S bytes in
   F files, beside a raw disk copy of the same directory; the server's peak RSS.
3. `artifact_versions` of a collection with V versions: time to the first page (50).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common
from _common import ROOT, fmt_s, log, print_table

sys.path.insert(0, str(ROOT))

ENTITY = "admin"  # the data dir's first user, whose key the server writes out


#: `python -m liberry.cli server`, with each GraphQL request counted: one byte appended to the
#: file named first (the server runs in a process of its own, so its RSS is its own).
COUNTING_SERVER = """
import sys
from liberry.server.graphql.executor import GraphQLService
plain = GraphQLService.execute
def counted(service, *args, **kwargs):
    with open(sys.argv[1], "ab") as tally:
        tally.write(b".")
    return plain(service, *args, **kwargs)
GraphQLService.execute = counted
from liberry.cli import main
sys.exit(main(sys.argv[2:]))
"""


class Counter:
    """The GraphQL requests the server answered (wandb.Api's go through wandb-core, so only
    the server sees them all)."""

    def __init__(self, tally: Path) -> None:
        self.tally = tally
        tally.touch()
        self.base = 0

    @property
    def n(self) -> int:
        return self.tally.stat().st_size - self.base

    @n.setter
    def n(self, value: int) -> None:
        self.base = self.tally.stat().st_size - value


def start_server(data_dir: Path, counter: Counter) -> Server:
    proc, url, key = _common.liberry_server(data_dir)  # opens the data dir, writes the key
    proc.cmd[1:3] = ["-c", COUNTING_SERVER, str(counter.tally)]  # instead of -m liberry.cli
    proc.start()
    return Server(proc, url, key)


def bench_lineage(srv: Server, entity: str, hops: int, counter: Counter) -> list[list[Any]]:
    import wandb

    import liberry
    from tests.artifact_wire import Upload, use
    from tests.wire import Wire

    wire = Wire(srv.url, srv.api_key)
    project = f"lineage-{hops}"
    prev = None
    for i in range(hops + 1):
        run = wire.upsert(entity, project, f"r{i}")["bucket"]["name"]
        if prev is not None:
            use(wire, entity, project, run, prev.artifact_id)
        files = {"x": f"stage {i}".encode()}
        prev = Upload(wire, entity, project, run, f"stage-{i}", "dataset", files).log()
    last = f"{entity}/{project}/stage-{hops}:v0"

    api = liberry.Api(overrides={"base_url": srv.url}, api_key=srv.api_key)
    counter.n = 0
    t0 = time.perf_counter()
    graph = api.artifact(last).lineage()
    ours = (counter.n, time.perf_counter() - t0, len(graph.artifacts))

    wapi = wandb.Api(overrides={"base_url": srv.url}, api_key=srv.api_key, timeout=60)
    counter.n = 0
    t0 = time.perf_counter()
    art, seen = wapi.artifact(last), 1
    while True:
        creator = art.logged_by()
        inputs = list(creator.used_artifacts()) if creator else []
        if not inputs:
            break
        art, seen = inputs[0], seen + 1
    theirs = (counter.n, time.perf_counter() - t0, seen)
    return [
        ["liberry lineage()", ours[0], fmt_s(ours[1]), ours[2]],
        ["wandb.Api hop by hop", theirs[0], fmt_s(theirs[1]), theirs[2]],
    ]


UPLOAD = """
import sys, time, wandb
with wandb.init(project="transfer") as run:
    art = wandb.Artifact("big", type="dataset")
    art.add_dir(sys.argv[1])
    t0 = time.perf_counter()
    run.log_artifact(art).wait()
    emit(time.perf_counter() - t0)
"""
DOWNLOAD = """
import sys, time, wandb
api = wandb.Api()
t0 = time.perf_counter()
api.artifact(sys.argv[2] + "/transfer/big:latest").download(root=sys.argv[1])
emit(time.perf_counter() - t0)
"""


def _script(code: str, env: dict[str, str], *args: str) -> float:
    prelude = "import json\ndef emit(v): print('@@' + json.dumps(v))\n"
    out = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code), *args],
        env=env, capture_output=True, text=True, timeout=3600, check=True,
    )  # fmt: skip
    return float(next(ln[2:] for ln in out.stdout.splitlines() if ln.startswith("@@")))


def bench_transfer(srv: Server, entity: str, size: int, nfiles: int, tmp: Path) -> list[list[Any]]:
    import liberry
    from tests.compat.conftest import QUIET_ENV

    rss = srv.proc.rss
    src = tmp / "src"
    src.mkdir(parents=True)
    per = size // nfiles
    for i in range(nfiles):
        (src / f"f{i:05d}.bin").write_bytes(os.urandom(per))
    t0 = time.perf_counter()
    shutil.copytree(src, tmp / "raw-copy")
    os.sync()
    raw = time.perf_counter() - t0
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env.update(QUIET_ENV)
    env.update(
        WANDB_BASE_URL=srv.url, WANDB_API_KEY=srv.api_key, WANDB_ENTITY=entity,
        WANDB_DIR=str(tmp), WANDB_CONFIG_DIR=str(tmp / "cfg"),
        WANDB_CACHE_DIR=str(tmp / "cache-up"), WANDB_DATA_DIR=str(tmp / "data"),
    )  # fmt: skip
    cpu: dict[str, float] = {}  # the server's CPU seconds per phase: steadier than wall time
    client_cpu: dict[str, float] = {}  # the client's (this process and its waited children)

    def client_seconds() -> float:
        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)  # the wandb scripts, wandb-core
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    @contextlib.contextmanager
    def measured(name: str) -> Iterator[None]:
        before = _common.cpu_seconds(srv.proc.pid)
        before_client = client_seconds()
        with rss.phase(name):
            yield
        cpu[name] = _common.cpu_seconds(srv.proc.pid) - before
        client_cpu[name] = client_seconds() - before_client

    with measured("upload"):
        up = _script(UPLOAD, env, str(src))
    env["WANDB_CACHE_DIR"] = str(tmp / "cache-down")  # empty: every byte over HTTP
    with measured("wandb download"):
        down = _script(DOWNLOAD, env, str(tmp / "wandb-dl"), entity)
    api = liberry.Api(overrides={"base_url": srv.url}, api_key=srv.api_key)
    with measured("liberry download"):
        t0 = time.perf_counter()
        api.artifact(f"{entity}/transfer/big:latest").download(tmp / "liberry-dl", progress=False)
        ours = time.perf_counter() - t0
    mb = size / 1e6

    def row(what: str, s: float, phase: str | None = None) -> list[Any]:
        if phase is None:
            return [what, fmt_s(s), f"{mb / s:.0f} MB/s", f"{raw / s:.0%}", "", "", ""]
        peak = f"{rss.phases[phase] / 1e6:.0f} MB"
        per_mb = f"{cpu[phase] * 1000 / mb:.2f} ms/MB"
        client_per_mb = f"{client_cpu[phase] * 1000 / mb:.2f} ms/MB"
        return [what, fmt_s(s), f"{mb / s:.0f} MB/s", f"{raw / s:.0%}", peak, per_mb,
                client_per_mb]  # fmt: skip

    return [
        row("raw disk copy", raw),
        row("upload (wandb log_artifact + wait)", up, "upload"),
        row("download (wandb.Api, empty cache)", down, "wandb download"),
        row("download (liberry.Api)", ours, "liberry download"),
    ]


def seed_versions(data_dir: Path, entity: str, count: int) -> None:
    """`count` versions of one collection, written into the store before the server starts
    (creating them over HTTP would take minutes)."""
    import json

    from liberry.server.datadir import DataDir
    from liberry.server.store import artifact_changes, projects
    from liberry.server.store import artifacts as store

    manifest = json.dumps({"contents": {}}).encode()
    data = DataDir.open(data_dir)
    with data.store.write() as conn:
        project, _ = projects.upsert_project(conn, entity, "many-versions", user_id=None)
        for i in range(count):
            spec = {"artifactTypeName": "dataset", "artifactCollectionName": "many",
                    "digest": f"{i:032x}"}  # fmt: skip
            row, _ = store.create_artifact(conn, project["id"], None, spec)
            store.set_manifest(conn, row["id"], "0" * 32)
            artifact_changes.commit(conn, row["id"], lambda _md5: manifest, lambda _md5: True)
    data.store.close()


def bench_versions(srv: Any, entity: str, count: int) -> list[list[Any]]:
    import wandb

    import liberry

    path = f"{entity}/many-versions/many"
    api = liberry.Api(overrides={"base_url": srv.url}, api_key=srv.api_key)
    wapi = wandb.Api(overrides={"base_url": srv.url}, api_key=srv.api_key, timeout=60)

    def first_page(make: Any) -> float:
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            page = make()
            times.append(time.perf_counter() - t0)
            assert page
        return statistics.median(times)

    ours = first_page(lambda: api.artifact_versions("dataset", path, per_page=50)[:50])
    theirs = first_page(lambda: wapi.artifact_versions("dataset", path, per_page=50)[:50])
    return [
        [f"liberry first page of {count:,}", fmt_s(ours), "goal <= 50 ms"],
        [f"wandb.Api first page of {count:,}", fmt_s(theirs), ""],
    ]


@dataclass
class Server:
    """The `python -m liberry.cli server` subprocess the benchmark talks to."""

    proc: Any
    url: str
    api_key: str


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--transfer-only", action="store_true", help="skip lineage and versions")
    p.add_argument("--size-mb", type=int, help="transfer size (default 1000, quick 50)")
    p.add_argument("--files", type=int, help="transfer files (default 1000, quick 100)")
    args = p.parse_args()
    hops, size, nfiles, versions = (
        (10, 50_000_000, 100, 1_000) if args.quick else (50, 1_000_000_000, 1_000, 10_000)
    )
    size = args.size_mb * 1_000_000 if args.size_mb else size
    nfiles = args.files or nfiles
    log(f"# bench_artifacts — {_common.machine_line()}")

    with tempfile.TemporaryDirectory() as tmp:
        counter = Counter(Path(tmp) / "graphql-requests")
        data_dir = Path(tmp) / "server"
        if not args.transfer_only:
            seed_versions(data_dir, ENTITY, versions)
        srv = start_server(data_dir, counter)
        proc, url, rss = srv.proc, srv.url, srv.proc.rss
        assert rss is not None
        try:
            log(f"liberry server {url} (pid {proc.pid}), its RSS sampled every 50 ms")
            if not args.transfer_only:
                log(f"lineage of a {hops}-hop chain")
                rows = bench_lineage(srv, ENTITY, hops, counter)
                print_table(["", "requests", "wall", "artifacts"], rows)
            before = rss.sample()
            log(f"transfer of {size / 1e6:.0f} MB in {nfiles} files")
            columns = ["time", "throughput", "vs raw copy", "server RSS peak", "server CPU"]
            print_table(
                ["", *columns, "client CPU"],
                bench_transfer(srv, ENTITY, size, nfiles, Path(tmp) / "transfer"),
            )
            log(f"server RSS: {before / 1e6:.0f} MB before the transfers, peak "
                f"{rss.peak_total / 1e6:.0f} MB (the server process alone)")  # fmt: skip
            if not args.transfer_only:
                log(f"artifact_versions of {versions:,} versions")
                print_table(["", "median", ""], bench_versions(srv, ENTITY, versions))
        finally:
            proc.stop()
    log(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
