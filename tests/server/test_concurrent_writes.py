"""Concurrent first writes to one new entity and project all succeed, on either backend.

On SQLite, `BEGIN IMMEDIATE` queues writers; on PostgreSQL (with
`LIBERRY_TEST_SERVER_DB=postgresql`, or several `--workers`) the store's write lock must give
the same order, or two requests both create the project and one fails on its unique key.
"""

from __future__ import annotations

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
