"""Generated hostile requests for the fuzz test (issue #17): filters, orders, GraphQL
documents, file_stream bodies and storage requests, seeded and reproducible.

`tests/server/test_fuzz.py` runs them against a real server; `benchmarks/bench_security.py`
runs the same against a server subprocess and prints the figures.
"""

from __future__ import annotations

import json
import random
import string
import time
from collections import Counter
from typing import Any

import requests

RUNS = """query ($f: JSONString, $o: String) { project(name: "p", entityName: $e) {
  runs(filters: $f, order: $o, first: 20) { edges { node { name } } } } }"""


class Client:
    def __init__(self, url: str, key: str | None) -> None:
        self.url = url
        self.http = requests.Session()
        if key is not None:
            self.http.auth = ("api", key)

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> requests.Response:
        return self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60
        )


KEYS = [
    "config.lr",
    "summary_metrics.acc",
    "state",
    "display_name",
    "tags",
    "createdAt",
    "config.a.b",
    "summary_metrics.loss",
    "group",
    "jobType",
    "sweep",
    "name",
    "$x",
    "",
]
OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$exists", "$all",
       "$and", "$or", "$nor", "$not", "$size", "$bogus"]  # fmt: skip
FIELDS = [
    "id",
    "name",
    "state",
    "config",
    "summaryMetrics",
    "historyKeys",
    "tags",
    "displayName",
    "runCount",
    "totalSweeps",
    "entityName",
    "description",
    "bogus",
    "__typename",
]


def _value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(12)
    if kind == 0:
        return rng.choice(
            [10 ** rng.randrange(18, 500), -(10 ** rng.randrange(18, 40)), 2**63, -(2**63) - 1]
        )
    if kind == 1:
        return rng.choice(["NaN", "Infinity", "-Infinity", 1e308, -0.0, 5e-324])
    if kind == 2:
        return "".join(rng.choice(string.printable) for _ in range(rng.randrange(0, 20)))
    if kind == 3:
        return rng.choice(["(a+)+$", "((", "[", ".*", "^r", "(x*y)*", "\\", "a{99999}"])
    if kind == 4 and depth < 4:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(0, 5))]
    if kind == 5 and depth < 4:
        return _filter(rng, depth + 1)
    if kind == 6:
        return rng.choice([None, True, False])
    return rng.uniform(-1e6, 1e6) if kind % 2 else rng.randrange(-1000, 1000)


def _filter(rng: random.Random, depth: int = 0) -> Any:
    if depth > 6 or rng.random() < 0.3:
        return {rng.choice(KEYS): _value(rng, depth)}
    op = rng.choice(OPS)
    if op in ("$and", "$or", "$nor"):
        return {op: [_filter(rng, depth + 1) for _ in range(rng.randrange(0, 4))]}
    return {rng.choice(KEYS): {op: _value(rng, depth)}}


def _to_json(value: Any) -> str:
    text = json.dumps(value, allow_nan=True)
    for word in ("NaN", "Infinity"):  # strings spelled like W&B's non-finite numbers, raw
        text = text.replace(f'"{word}"', word) if random.random() < 0.5 else text
    return text


def _document(rng: random.Random) -> str:
    def selection(depth: int) -> str:
        parts = []
        for _ in range(rng.randrange(1, 6)):
            f = rng.choice(FIELDS)
            if rng.random() < 0.2:
                f = f"a{rng.randrange(1000)}: {f}"
            if depth < 8 and rng.random() < 0.2:
                f += " { " + selection(depth + 1) + " }"
            parts.append(f)
        return " ".join(parts)

    shape = rng.randrange(6)
    if shape == 0:
        return "{ viewer { " + selection(0) + " } }"
    if shape == 1:
        return '{ project(name: "p", entityName: "admin") { ' + selection(0) + " } }"
    if shape == 2:
        return "".join(rng.choice('{}()[]:$!@ .abc"#\n') for _ in range(rng.randrange(1, 200)))
    if shape == 3:
        return (
            "{ " + " ".join(f"x{i}: viewer {{ id }}" for i in range(rng.randrange(1, 800))) + " }"
        )
    if shape == 4:
        return (
            "mutation { upsertBucket(input: {"
            + selection(0).replace(" ", ", ")
            + "}) { bucket { id } } }"
        )
    return '{ project(name: "p", entityName: "admin") { run(name: "r") { history(samples: ' + str(
        rng.choice([-1, 0, 10, 2**31 - 1])) + ", minStep: " + str(rng.choice(
        [0, -(2**63), 2**63 - 1, 10**10])) + ") } } }"  # fmt: skip


def fuzz(
    url: str, key: str, n: int, seed: int
) -> tuple[Counter[str], int, list[tuple[float, str]]]:
    rng = random.Random(seed)
    random.seed(seed)
    c = Client(url, key)
    q = RUNS.replace("$e", '"admin"')
    statuses: Counter[str] = Counter()
    internal = 0
    slowest: list[tuple[float, str]] = []
    for i in range(n):
        kind = i % 5
        started = time.perf_counter()
        if kind == 0:
            what = "filter"
            r = c.gql(q, {"f": _to_json(_filter(rng))})
        elif kind == 1:
            what = "order"
            order = rng.choice(["+", "-", ""]) + rng.choice(KEYS) + rng.choice(["", ".x", "\x00"])
            r = c.gql(q, {"o": order})
        elif kind == 2:
            what = "document"
            r = c.gql(_document(rng))
        elif kind == 3:
            what = "file_stream"
            name = rng.choice(["wandb-history.jsonl", "wandb-summary.json", "output.log", "../x"])
            chunk = {
                "offset": rng.choice([0, 1, -1, 10**20, "0"]),
                "content": [_to_json(_value(rng)) for _ in range(rng.randrange(0, 4))],
            }
            body: Any = {
                "files": {name: chunk},
                "complete": rng.choice([True, False, None]),
                "exitcode": rng.choice([0, 1, 10**30]),
            }
            r = c.http.post(f"{url}/files/admin/p/r/file_stream", json=body, timeout=60)
        else:
            what = "storage"
            path = rng.choice([
                f"/storage/runs/{rng.randrange(10**6)}/a.txt",
                f"/storage/runs/1/{'../' * rng.randrange(4)}x?exp={rng.randrange(10**12)}&sig=abc",
                f"/storage/artifacts/{rng.randrange(100)}/files/{'0' * 32}/x?exp=1&sig=x&u=1",
                "/storage/artifact-blobs/"
                + "".join(rng.choice("0123456789abcdefz") for _ in range(32))
                + "/f",
            ])  # fmt: skip
            method = rng.choice(["GET", "PUT"])
            client = c.http if rng.random() < 0.5 else requests
            r = client.request(
                method, f"{url}{path}", data=b"x" * rng.randrange(0, 100), timeout=60
            )
        seconds = time.perf_counter() - started
        statuses[str(r.status_code)] += 1
        if "internal server error" in r.text:
            internal += 1
        slowest.append((seconds, what))
        slowest = sorted(slowest, reverse=True)[:3]
    return statuses, internal, slowest


