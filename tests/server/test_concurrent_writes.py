"""Concurrent first writes to one new entity and project all succeed, on either backend.

On SQLite, `BEGIN IMMEDIATE` queues writers; on PostgreSQL (with
`LIBERRY_TEST_SERVER_DB=postgresql`, or several `--workers`) the store's write lock must give
the same order, or two requests both create the project and one fails on its unique key.
"""

from __future__ import annotations

import json
import threading

from liberry.server import ServerHandle
from tests.wire import Wire


def test_parallel_upserts_into_a_new_project_all_succeed(
    server: ServerHandle, project_name: str
) -> None:
    entity = f"team-{project_name}"[:60].lower()
    start = threading.Barrier(12)
    failures: list[str] = []

    def upsert(i: int) -> None:
        wire = Wire(server.url, server.api_key)  # a connection of its own
        start.wait()
        try:
            run = wire.upsert(entity, project_name, f"r{i}")
            assert run["bucket"]["name"] == f"r{i}"
        except AssertionError as exc:
            failures.append(str(exc)[:300])

    threads = [threading.Thread(target=upsert, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not failures, failures
    count = "query($e: String!, $p: String!) { project(name: $p, entityName: $e) { runCount } }"
    data = Wire(server.url, server.api_key).gql(count, {"e": entity, "p": project_name})
    assert data["project"]["runCount"] == 12


def test_live_runs_streamed_and_updated_at_once_lose_nothing(
    server: ServerHandle, project_name: str
) -> None:
    # What live wandb runs send: file_stream chunks and upsertBucket updates of existing runs
    # (run writes side by side on PostgreSQL), beside creations of new runs (plain writes).
    runs, chunks, lines = 6, 8, 25
    setup = Wire(server.url, server.api_key)
    for r in range(runs):
        setup.upsert("admin", project_name, f"live{r}")
    start = threading.Barrier(runs * 2)
    failures: list[str] = []

    def stream(r: int) -> None:
        wire = Wire(server.url, server.api_key)
        start.wait()
        try:
            for c in range(chunks):
                rows = [{"_step": s, "r": r} for s in range(c * lines, (c + 1) * lines)]
                wire.log_history("admin", project_name, f"live{r}", rows, offset=c * lines)
        except AssertionError as exc:
            failures.append(str(exc)[:300])

    def update_and_create(r: int) -> None:
        wire = Wire(server.url, server.api_key)
        start.wait()
        try:
            for c in range(chunks):
                wire.upsert("admin", project_name, f"live{r}", config={"c": c})
                wire.upsert("admin", project_name, f"new{r}-{c}")
        except AssertionError as exc:
            failures.append(str(exc)[:300])

    threads = [threading.Thread(target=stream, args=(r,)) for r in range(runs)]
    threads += [threading.Thread(target=update_and_create, args=(r,)) for r in range(runs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    query = """query($e: String!, $p: String!, $n: String!) { project(name: $p, entityName: $e) {
      runCount run(name: $n) { config historyLineCount history(samples: 1000) } } }"""
    for r in range(runs):
        data = setup.gql(query, {"e": "admin", "p": project_name, "n": f"live{r}"})["project"]
        assert data["runCount"] == runs + runs * chunks
        run = data["run"]
        assert run["historyLineCount"] == chunks * lines
        steps = [json.loads(row)["_step"] for row in run["history"]]
        assert steps == list(range(chunks * lines))
        assert json.loads(run["config"])["c"]["value"] == chunks - 1
