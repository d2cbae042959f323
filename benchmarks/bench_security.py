"""Security measurements (issue #17) against a real `liberry server` subprocess.

1. The authorization matrix: operations x (owner, teammate, other user, no key, bad key),
   users and the team made with the `liberry user` / `liberry team` commands.
2. Hostile inputs one by one: status, answer and time of each.
3. A fuzz run: N generated filters, orders, GraphQL documents, file_stream bodies and
   storage requests (default 10,000) -> counts of each status, HTTP 5xx, internal errors in
   answers and in the server's log, and the slowest request.

Run: `.venv/bin/python benchmarks/bench_security.py [--n 10000] [--seed 1]`.
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as C  # also puts the project root on sys.path
import requests

from tests.fuzz_inputs import Client, fuzz

RUNS = """query ($f: JSONString, $o: String) { project(name: "p", entityName: $e) {
  runs(filters: $f, order: $o, first: 20) { edges { node { name } } } } }"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "liberry.cli", *args], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1]


# -- 1. the matrix ---------------------------------------------------------------------------
def _outcome(r: requests.Response, present: bool) -> str:
    if r.status_code == 404:
        return "not found"
    if r.status_code in (401, 429):
        return str(r.status_code)
    if r.status_code != 200:
        return f"HTTP {r.status_code}"
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if body.get("errors"):
        message = body["errors"][0]["message"]
        return "not found" if "not found" in message or message.startswith("no ") else message
    return "ok" if present else "not found"


def matrix(url: str, keys: dict[str, str | None]) -> tuple[list[list[str]], int]:
    owner = Client(url, keys["owner"])
    owner.gql('mutation { upsertBucket(input: {name: "r", modelName: "p", entityName: "alice"}) '
              "{ bucket { id } } }")  # fmt: skip
    owner.gql('mutation { upsertBucket(input: {name: "r", modelName: "tp", entityName: "ml"}) '
              "{ bucket { id } } }")  # fmt: skip

    def ops(entity: str, project: str) -> dict[str, Any]:
        path = f'name: "{project}", entityName: "{entity}"'
        return {
            "project": (f"{{ project({path}) {{ id }} }}", lambda d: d["project"]),
            "runs": (
                f"{{ project({path}) {{ runs {{ edges {{ node {{ name }} }} }} }} }}",
                lambda d: d["project"],
            ),
            "models": (
                f'{{ models(entityName: "{entity}") {{ edges {{ node {{ name }} }} }} }}',
                lambda d: d["models"]["edges"],
            ),
            "upsertBucket": (
                f'mutation {{ upsertBucket(input: {{name: "r", modelName: "{project}", '
                f'entityName: "{entity}", notes: "n"}}) {{ bucket {{ id }} }} }}',
                lambda d: d["upsertBucket"],
            ),
            "file_stream": f"/files/{entity}/{project}/r/file_stream",
        }

    expected = {
        ("owner", "own"): "ok", ("teammate", "own"): "not found", ("other", "own"): "not found",
        ("owner", "team"): "ok", ("teammate", "team"): "ok", ("other", "team"): "not found",
    }  # fmt: skip
    rows: list[list[str]] = []
    wrong = 0
    for where, (entity, project) in {"own": ("alice", "p"), "team": ("ml", "tp")}.items():
        for who in ("owner", "teammate", "other", "no key", "bad key"):
            client = Client(url, keys[who])
            want = expected.get((who, where), "401")
            row = [f"{who} -> {entity}/{project}"]
            for op in ops(entity, project).values():
                if isinstance(op, str):
                    r = client.http.post(f"{url}{op}", json={"files": {}}, timeout=60)
                    got = "ok" if r.status_code == 200 else _outcome(r, False)
                else:
                    r = client.gql(op[0])
                    present = r.status_code == 200 and bool(
                        (r.json().get("data") or {}) and op[1](r.json()["data"])
                    )
                    got = _outcome(r, present)
                wrong += got != want
                row.append(got if got == want else f"{got} (want {want})")
            rows.append(row)
    return [["caller", "project", "runs", "models", "upsertBucket", "file_stream"], *rows], wrong


# -- 2. hostile inputs -------------------------------------------------------------------------
def hostile(url: str, key: str) -> list[list[str]]:
    c = Client(url, key)
    q = RUNS.replace("$e", '"admin"')
    c.gql('mutation { upsertBucket(input: {name: "r", modelName: "p", config: "{\\"lr\\": '
          '{\\"value\\": 0.1}}"}) { bucket { id } } }')  # fmt: skip
    nested = '{"config.lr": 1}'
    for _ in range(5000):
        nested = '{"$and": [' + nested + "]}"
    cases: list[tuple[str, Any]] = [
        ("filter -648198639422176384135", {"f": '{"config.lr": -648198639422176384135}'}),
        ("filter 10^400", {"f": '{"config.lr": {"$gt": 1' + "0" * 400 + "}}"}),
        ("filter NaN", {"f": '{"config.lr": NaN}'}),
        ("filter Infinity", {"f": '{"config.lr": {"$lt": Infinity}}'}),
        ("$and nested 5,000 deep", {"f": nested}),
        ("$in of 200,000", {"f": json.dumps({"config.lr": {"$in": list(range(200_000))}})}),
        ("$regex invalid", {"f": '{"display_name": {"$regex": "(("}}'}),
        ("$regex (a+)+$", {"f": '{"display_name": {"$regex": "(a+)+$"}}'}),
        ("order by 10 kB key", {"o": "-config." + "k" * 10_000}),
    ]
    rows = []
    for name, variables in cases:
        started = time.perf_counter()
        r = c.gql(q, variables)
        rows.append(_hostile_row(name, r, time.perf_counter() - started))
    aliases = "{ " + " ".join(f"a{i}: viewer {{ id }}" for i in range(5000)) + " }"
    aliases_600 = "{ viewer { " + " ".join(f"a{i}: id" for i in range(600)) + " } }"
    deep = "{ viewer { " + "teams { edges { node { " * 30 + "id" + " } } }" * 30 + " } }"
    bomb = "query { viewer { ...F0 } } " + " ".join(
        f"fragment F{i} on User {{ id ...F{i + 1} ...F{i + 1} }}" for i in range(25)
    ) + " fragment F25 on User { id }"  # fmt: skip
    for name, query in [
        ("5,000 aliases", aliases),
        ("600 aliases", aliases_600),
        ("depth 90", deep),
        ("fragment bomb (2^25 fields)", bomb),
    ]:
        started = time.perf_counter()
        r = c.gql(query)
        rows.append(_hostile_row(name, r, time.perf_counter() - started))
    started = time.perf_counter()
    r = c.gql('{ project(name: "p", entityName: "admin") { runs(first: 1000000) { edges { node '
              "{ name } } } } }")  # fmt: skip
    rows.append(_hostile_row("first: 1,000,000", r, time.perf_counter() - started))
    return [["input", "status", "answer", "time"], *rows]


def _hostile_row(name: str, r: requests.Response, seconds: float) -> list[str]:
    try:
        body = r.json()
        message = (body.get("errors") or [{}])[0].get("message") or "ok (answered)"
    except ValueError:
        message = r.text
    return [name, str(r.status_code), message[:70], C.fmt_s(seconds)]


# -- 3. fuzz: the generators live with the fuzz test (tests/fuzz_inputs.py) ----------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000, help="fuzz requests (default 10,000)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="liberry-sec-"))
    port = _free_port()
    keys: dict[str, str | None] = {
        "owner": _cli("user", "create", "alice", "--data-dir", str(data)),
        "teammate": _cli("user", "create", "carol", "--data-dir", str(data)),
        "other": _cli("user", "create", "bob", "--data-dir", str(data)),
        "no key": None,
        "bad key": "local-" + "0" * 40,
    }
    _cli("team", "create", "ml", "--member", "alice", "--member", "carol", "--data-dir", str(data))
    log_path = data / "server.log"
    with open(log_path, "w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-m", "liberry.cli", "server", "--data-dir", str(data),
             "--port", str(port)],
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        admin_key = (data / "api_key").read_text().strip()
        table, wrong = matrix(url, keys)
        C.log("\n## Authorization matrix (every cell must be as expected)\n")
        _print_table(table)
        C.log(f"\nunexpected outcomes: {wrong}")
        C.log("\n## Hostile inputs\n")
        _print_table(hostile(url, admin_key))
        C.log(f"\n## Fuzz: {args.n} generated requests (seed {args.seed})\n")
        started = time.perf_counter()
        statuses, internal, slowest = fuzz(url, admin_key, args.n, args.seed)
        elapsed = time.perf_counter() - started
        fivexx = sum(v for k, v in statuses.items() if k.startswith("5"))
        log_text = log_path.read_text()
        logged = log_text.count("Traceback") + log_text.count("unexpected error")
        _print_table([
            ["requests", "statuses", "HTTP 5xx", "internal errors (answers)",
             "internal errors (server log)", "slowest", "total"],
            [str(args.n), ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items())),
             str(fivexx), str(internal), str(logged),
             ", ".join(f"{what} {C.fmt_s(s)}" for s, what in slowest), C.fmt_s(elapsed)],
        ])  # fmt: skip
        return 1 if wrong or fivexx or internal or logged else 0
    finally:
        server.terminate()
        server.wait(timeout=30)


def _print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, row in enumerate(rows):
        C.log("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
        if j == 0:
            C.log("|" + "|".join("-" * (w + 2) for w in widths) + "|")


if __name__ == "__main__":
    raise SystemExit(main())
