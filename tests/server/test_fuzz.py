"""Fuzz (issue #17): 10,000 generated filters, orders, GraphQL documents, file_stream bodies
and storage requests against a real server: no HTTP 5xx, no internal error in any answer or in
the server's log. The slowest request is reported, never asserted."""

from __future__ import annotations

import logging
import time

import pytest

from liberry.server import ServerHandle
from tests.fuzz_inputs import fuzz
from tests.wire import Wire

pytestmark = pytest.mark.slow

REQUESTS = 10_000


def test_generated_requests_never_fault_the_server(
    fresh_server: ServerHandle, caplog: pytest.LogCaptureFixture
) -> None:
    wire = Wire(fresh_server.url, fresh_server.api_key)
    entity = wire.gql("{ viewer { entity } }")["viewer"]["entity"]
    assert entity == "admin"  # the generators aim at admin/p/r
    wire.upsert("admin", "p", "r", config={"lr": 0.1, "a": {"b": 1}}, summary={"acc": 0.5})
    wire.log_history("admin", "p", "r", [{"_step": i, "loss": 1 / (i + 1)} for i in range(10)])
    caplog.set_level(logging.ERROR)
    started = time.perf_counter()
    statuses, internal, slowest = fuzz(fresh_server.url, fresh_server.api_key, REQUESTS, seed=1)
    elapsed = time.perf_counter() - started
    print(  # the figures the issue asks for; -s shows them
        f"\n{REQUESTS} requests in {elapsed:.1f} s; statuses {dict(sorted(statuses.items()))}; "
        f"slowest: {', '.join(f'{what} {s * 1000:.0f} ms' for s, what in slowest)}"
    )
    assert sum(statuses.values()) == REQUESTS
    assert not {code for code in statuses if code.startswith("5")}, statuses
    assert internal == 0
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not faults, [r.getMessage() for r in faults[:5]]
    # The generators reach past the front door: most answers are not auth or routing errors.
    assert statuses["200"] > REQUESTS // 2, statuses
