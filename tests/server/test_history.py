"""History reads: deterministic sampling, first/last kept, step ranges, sparse keys."""

from __future__ import annotations

import json

from liberry.server import ServerHandle
from liberry.server.store.history import even_positions
from tests.wire import Wire

Q = """
query H($e: String!, $p: String!, $n: String!, $samples: Int, $min: Int64, $max: Int64,
        $specs: [JSONString!]!) {
  project(name: $p, entityName: $e) { run(name: $n) {
    history(samples: $samples, minStep: $min, maxStep: $max)
    sampledHistory(specs: $specs)
    parquetHistory(liveKeys: ["_step"]) { parquetUrls liveData }
  } }
}
"""


def _seed(w: Wire, project: str, n: int) -> list[dict]:
    w.upsert("admin", project, "h")
    rows = []
    for i in range(n):
        row = {"_step": i, "loss": 1.0 / (i + 1)}
        if i % 10 == 0:
            row["val"] = i  # logged on fewer steps than loss
        rows.append(row)
    for start in range(0, n, 1000):
        w.log_history("admin", project, "h", rows[start : start + 1000], offset=start)
    return rows


def _query(w: Wire, project: str, **v: object) -> dict:
    variables = {"e": "admin", "p": project, "n": "h", "specs": [], **v}
    return w.gql(Q, variables)["project"]["run"]


def test_even_positions_keeps_ends_and_is_stable() -> None:
    assert even_positions(10, 3) == [0, 4, 9] or even_positions(10, 3) == [0, 5, 9]
    assert even_positions(5, 10) == [0, 1, 2, 3, 4]
    assert even_positions(1000, 500)[0] == 0 and even_positions(1000, 500)[-1] == 999
    assert len(even_positions(1000, 500)) == 500
    assert even_positions(0, 5) == [] and even_positions(5, 0) == []


def test_sampling_is_deterministic_and_keeps_first_and_last(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    _seed(w, project_name, 5000)
    a = _query(w, project_name, samples=100)["history"]
    b = _query(w, project_name, samples=100)["history"]
    assert a == b and len(a) == 100
    steps = [json.loads(x)["_step"] for x in a]
    assert steps[0] == 0 and steps[-1] == 4999 and steps == sorted(steps)


def test_step_range_pages(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    rows = _seed(w, project_name, 3000)
    got = []
    for lo in range(0, 3000, 700):
        page = _query(w, project_name, samples=700, min=lo, max=lo + 700)["history"]
        got.extend(json.loads(x) for x in page)
    assert got == rows


def test_sampled_history_outer_joins_sparse_keys(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    _seed(w, project_name, 2000)
    spec = json.dumps({"keys": ["_step", "loss", "val"], "samples": 3000})
    rows = _query(w, project_name, specs=[spec])["sampledHistory"][0]
    assert len(rows) == 2000  # rows without `val` are kept, not dropped
    assert rows[1] == {"_step": 1, "loss": 0.5}
    assert rows[10] == {"_step": 10, "loss": 1 / 11, "val": 10}
    only_val = json.dumps({"keys": ["_step", "val"], "samples": 50})
    rows = _query(w, project_name, specs=[only_val])["sampledHistory"][0]
    assert len(rows) == 50 and all("val" in r for r in rows)
    assert rows[0]["_step"] == 0 and rows[-1]["_step"] == 1990
    # A spec's maxStep is inclusive (wandb-core pages scan_history(keys=...) as [0, n-1], ...).
    ranged = json.dumps({"keys": ["_step", "val"], "samples": 1000, "minStep": 100, "maxStep": 200})
    rows = _query(w, project_name, specs=[ranged])["sampledHistory"][0]
    assert [r["_step"] for r in rows] == list(range(100, 201, 10))


def test_live_data(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    _seed(w, project_name, 50)
    ph = _query(w, project_name, samples=1)["parquetHistory"]
    assert ph["parquetUrls"] == [] and ph["liveData"] == [{"_step": i} for i in range(50)]


def test_bad_specs_are_errors(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    _seed(w, project_name, 5)
    base = {"e": "admin", "p": project_name, "n": "h"}
    q = (
        "query H($e: String!, $p: String!, $n: String!, $s: [JSONString!]!) {"
        " project(name: $p, entityName: $e) { run(name: $n) { sampledHistory(specs: $s) } } }"
    )
    assert "not valid JSON" in w.gql_error(q, {**base, "s": ["{x"]})
    assert "keys" in w.gql_error(q, {**base, "s": ['{"samples": 3}']})
    assert "samples" in w.gql_error(q, {**base, "s": ['{"keys": ["a"], "samples": -1}']})
    q2 = (
        "query H($e: String!, $p: String!, $n: String!) {"
        " project(name: $p, entityName: $e) { run(name: $n) { history(samples: -5) } } }"
    )
    assert "samples" in w.gql_error(q2, base)
