"""Issue #19: concurrent official `wandb` runs against `liberry server --workers 2` on
PostgreSQL lose no row (the small, CI-sized cousin of benchmarks/bench_concurrent_ingest.py).

A real CLI server (two worker processes, file_stream writes of different runs committing side
by side) on a fresh database of the scratch cluster; two training processes with five runs
each (`reinit="create_new"`), logging their steps interleaved. Every run must then hold
exactly its 200 rows with the logged values, its summary the last step, state finished.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import requests

from liberry.server import ServerHandle
from tests.pg_databases import scratch_database

from .conftest import WandbClient

pytestmark = [
    pytest.mark.compat,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.environ.get("LIBERRY_TEST_POSTGRES_URL"),
        reason="set LIBERRY_TEST_POSTGRES_URL (scripts/scratch_postgres.sh start)",
    ),
]

PROCESSES, RUNS_EACH, STEPS = 2, 5, 200

WORKER = """
import sys, wandb
project, first, count, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
runs = [wandb.init(project=project, config={"k": k}, reinit="create_new")
        for k in range(first, first + count)]
for i in range(steps):
    for k, run in enumerate(runs, first):
        run.log({"loss": 1.0 / (i + 1) + k, "i": i, "k": k})
for run in runs:
    run.finish()
emit({run.id: k for k, run in enumerate(runs, first)})
"""


class _CliServer:
    """What WandbClient needs of a server: its URL and admin key."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = url
        self.api_key = api_key


@pytest.fixture
def workers_server(tmp_path: Path) -> Iterator[_CliServer]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with scratch_database("ingest") as database:
        data = tmp_path / "data"
        proc = subprocess.Popen(
            [sys.executable, "-m", "liberry.cli", "server", "--data-dir", str(data),
             "--port", str(port), "--workers", "2", "--database-url", database],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, f"server exited: {proc.communicate()[1]}"
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, "server did not come up within 60 s"
                time.sleep(0.1)
            key = (data / "api_key").read_text().strip()
            yield _CliServer(f"http://127.0.0.1:{port}", key)
        finally:
            proc.terminate()
            proc.communicate(timeout=30)


@pytest.mark.timeout(240)  # ~30 s on an idle 2-core machine
def test_concurrent_runs_on_two_workers_lose_no_row(
    workers_server: _CliServer, tmp_path: Path
) -> None:
    client = WandbClient(cast(ServerHandle, workers_server), tmp_path / "clients", "admin")
    project = "workers-ingest"
    procs = [
        client.popen(WORKER, args=[project, str(p * RUNS_EACH), str(RUNS_EACH), str(STEPS)])[0]
        for p in range(PROCESSES)
    ]
    ids: dict[str, int] = {}
    try:
        for proc in procs:
            ids.update(client.wait(proc, timeout=200).result)
    finally:
        client.kill_leftovers()
    assert sorted(ids.values()) == list(range(PROCESSES * RUNS_EACH))

    api = client.liberry_api()
    found = {run.id: run for run in api.runs(f"admin/{project}", per_page=100)}
    assert sorted(found) == sorted(ids)
    for run_id, k in ids.items():
        run = found[run_id]
        assert run.state == "finished", (k, run.state)
        assert run.history_line_count == STEPS, k
        rows: list[dict[str, Any]] = run.history(samples=STEPS * 2, pandas=False)
        assert [r["_step"] for r in rows] == list(range(STEPS)), k
        assert all(r["i"] == r["_step"] and r["k"] == k for r in rows), k
        assert all(r["loss"] == 1.0 / (r["_step"] + 1) + k for r in rows), k
        assert run.summary["_step"] == STEPS - 1 and run.summary["i"] == STEPS - 1, k
        assert run.config["k"] == k
