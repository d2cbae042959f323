"""Record what the official `wandb` client sends for sweeps, and what liberry answers.

A recording reverse proxy sits between the client and a real liberry server
(`liberry.server.start(data_dir=None, port=0)`): it forwards every request (any method, path,
headers and body) and writes each exchange as one JSON line, the way
`../shared/reference/wandb-protocol/captures/*.jsonl` were recorded:
`t, method, path, headers` (the Authorization password is replaced by its length and prefix),
`body`, `operationName`, `status`, `response`, `ms`.

    .venv/bin/python tests/compat/protocol/record.py            # every flow, then OPERATIONS.md
    .venv/bin/python tests/compat/protocol/record.py --only s4  # some flows only
    .venv/bin/python tests/compat/protocol/record.py --markdown-only

The flows run in subprocesses (wandb-core, the Go binary, is the HTTP client of `wandb.init`
and of `wandb.Api`), with `WANDB_BASE_URL` set to the proxy and the quiet environment of
`tests/compat/conftest.py`. Set-up a flow needs but is not about (a sweep to pause, runs to
read) goes straight to the server, so it is not recorded.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
OUT = HERE / "sweeps"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Bodies (request or response) larger than this are cut, with a marker, to keep captures small.
MAX_BODY = 20_000
ENTITY = "admin"

from tests.wandb_env import QUIET_ENV  # noqa: E402  (after ROOT joined sys.path)

_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "host", "content-length",
}  # fmt: skip
_OP_RE = re.compile(r"\b(query|mutation|subscription)\s+([A-Za-z_][A-Za-z0-9_]*)")


# --------------------------------------------------------------------------- recording


def redact_authorization(value: str) -> str:
    """`Basic <user='api' password_len=46 password_prefix='local-'>`: the key never lands."""
    scheme, _, cred = value.partition(" ")
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(cred).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return f"Basic <undecodable len={len(cred)}>"
        prefix = password.split("-", 1)[0] + "-" if "-" in password else password[:4]
        return f"Basic <user={user!r} password_len={len(password)} password_prefix={prefix!r}>"
    return f"{scheme} <redacted len={len(cred)}>"


def operation_name(body: Any) -> str | None:
    """The operation's name from the query text (the Public Client sends `operationName: ""`)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return None
    match = _OP_RE.search(body["query"])
    return match.group(2) if match else (body.get("operationName") or None)


def decode_body(raw: bytes, encoding: str | None, content_type: str | None) -> Any:
    """A body as it is logged: parsed JSON when it is JSON, text when it is text, a marker for
    binary; anything over `MAX_BODY` is cut with a marker."""
    if encoding and "gzip" in encoding.lower():
        try:
            raw = gzip.decompress(raw)
        except OSError:
            return f"<{len(raw)} bytes, gzip, undecodable>"
    if not raw:
        return None
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes binary ({content_type or 'no content-type'})>"
    if len(text) > MAX_BODY:
        return text[:MAX_BODY] + f"... <truncated: {len(text)} characters in all>"
    try:
        return json.loads(text)
    except ValueError:
        return text


class Recorder:
    """The exchanges seen since the last `take()`, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[dict[str, Any]] = []

    def add(self, line: dict[str, Any]) -> None:
        with self._lock:
            self._lines.append(line)

    def peek(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._lines)

    def take(self) -> list[dict[str, Any]]:
        with self._lock:
            lines, self._lines = self._lines, []
        return sorted(lines, key=lambda x: x["t"])


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wandb-core's Go client expects
    upstream: str = ""
    recorder: Recorder
    session: requests.Session

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self) -> None:
        t = time.time()
        t0 = time.perf_counter()
        raw = self._read_body()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            resp = self.session.request(
                self.command, self.upstream + self.path, data=raw or None, headers=headers,
                stream=True, allow_redirects=False, timeout=300,
            )  # fmt: skip
            payload = resp.raw.read(decode_content=False)
            status, resp_headers = resp.status_code, resp.headers
        except requests.RequestException as exc:
            payload = f"proxy: upstream failed: {exc}".encode()
            status, resp_headers = 502, requests.structures.CaseInsensitiveDict()
        ms = (time.perf_counter() - t0) * 1000
        self.send_response(status)
        for k, v in resp_headers.items():
            if k.lower() not in _HOP_BY_HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)
        logged_headers = dict(self.headers.items())
        if "Authorization" in logged_headers:
            logged_headers["Authorization"] = redact_authorization(logged_headers["Authorization"])
        body = decode_body(raw, self.headers.get("Content-Encoding"),
                           self.headers.get("Content-Type"))  # fmt: skip
        self.recorder.add({
            "t": t, "method": self.command, "path": self.path, "headers": logged_headers,
            "body": body, "operationName": operation_name(body), "status": status,
            "response": decode_body(payload, resp_headers.get("Content-Encoding"),
                                    resp_headers.get("Content-Type")),
            "ms": round(ms, 1),
        })  # fmt: skip

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward


class RecordingProxy:
    """A threaded HTTP proxy on 127.0.0.1 in front of `upstream`, logging into `recorder`."""

    def __init__(self, upstream: str) -> None:
        self.recorder = Recorder()
        handler = type("Handler", (_ProxyHandler,), {
            "upstream": upstream.rstrip("/"), "recorder": self.recorder,
            "session": requests.Session(),
        })  # fmt: skip
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_jsonl(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for line in lines:
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- flows


class Flows:
    """The recorded flows: each runs the official client in subprocesses against the proxy."""

    def __init__(self, server_url: str, proxy: RecordingProxy, api_key: str, work: Path) -> None:
        self.server_url = server_url
        self.proxy = proxy
        self.api_key = api_key
        self.work = work
        self.notes: dict[str, list[str]] = {}

    def env(self, base_url: str, wandb_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LIBERRY_"))}
        wandb_dir.mkdir(parents=True, exist_ok=True)
        env.update(QUIET_ENV)
        env.update(
            WANDB_BASE_URL=base_url, WANDB_API_KEY=self.api_key, WANDB_DIR=str(wandb_dir),
            WANDB_CONFIG_DIR=str(wandb_dir / "config"), WANDB_CACHE_DIR=str(wandb_dir / "cache"),
            WANDB_DATA_DIR=str(wandb_dir / "data"), WANDB_ENTITY=ENTITY,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
        )  # fmt: skip
        return env

    def run(
        self,
        flow: str,
        argv: list[str],
        *,
        recorded: bool = True,
        cwd: Path | None = None,
        label: str | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command with the client pointed at the proxy (or at the server directly)."""
        base = self.proxy.url if recorded else self.server_url
        cwd = cwd or self.work / flow
        cwd.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(argv, cwd=cwd, env=self.env(base, cwd / "wandb"), text=True,
                              capture_output=True, timeout=timeout)  # fmt: skip
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-6:]
        label = label or " ".join(["wandb", *argv[1:]])
        note = f"{label}: exit {proc.returncode}"
        results = [ln[7:] for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if results:
            note += f", returned `{results[-1]}`"
        if proc.returncode != 0:
            note += ": " + " / ".join(tail)
        if recorded:
            self.notes.setdefault(flow, []).append(note)
        print(f"  [{flow}] {note}", flush=True)
        return proc

    def python(self, flow: str, code: str, *, recorded: bool = True) -> Any:
        """Run Python code in a subprocess; returns what it printed on its last `RESULT ` line.
        The code's first line, a comment, labels it in the notes."""
        code = textwrap.dedent(code).strip("\n")
        script = self.work / flow / f"{'rec' if recorded else 'setup'}_{time.monotonic_ns()}.py"
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(code + "\n")
        label = code.splitlines()[0].lstrip("# ")
        proc = self.run(flow, [sys.executable, str(script)], recorded=recorded, label=label)
        results = [ln[7:] for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        return json.loads(results[-1]) if results else None

    def wandb_cli(self, flow: str, *args: str, cwd: Path | None = None) -> str:
        proc = self.run(flow, [str(Path(sys.executable).parent / "wandb"), *args], cwd=cwd)
        return proc.stdout + proc.stderr

    # -- the flows

    def s1_sweep_create(self) -> None:
        self.python(
            "s1_sweep_create",
            """
            # python: wandb.sweep(config, entity="admin", project="s1")
            import json, wandb
            cfg = {"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
                   "parameters": {"lr": {"distribution": "log_uniform_values",
                                         "min": 1e-4, "max": 1e-1},
                                  "bs": {"values": [16, 32, 64]}},
                   "run_cap": 10}
            print("RESULT", json.dumps(wandb.sweep(cfg, entity="admin", project="s1")))
        """,
        )

    def s2_agent_function(self) -> str:
        return str(
            self.python(
                "s2_agent_function",
                """
            # python: wandb.sweep(grid of 2), then wandb.agent(sweep_id, function=train, count=5)
            import json, wandb
            cfg = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
                   "parameters": {"lr": {"values": [0.1, 0.01]}}}
            sid = wandb.sweep(cfg, entity="admin", project="s2")
            def train():
                run = wandb.init()
                for i in range(3):
                    run.log({"loss": run.config.lr / (i + 1)})
                run.finish()
            wandb.agent(sid, function=train, count=5, entity="admin", project="s2")
            print("RESULT", json.dumps(sid))
        """,
            )
        )

    def s3_cli_sweep_agent(self) -> None:
        flow = "s3_cli_sweep_agent"
        cwd = self.work / flow
        cwd.mkdir(parents=True, exist_ok=True)
        (cwd / "train.py").write_text(
            textwrap.dedent("""
            import wandb
            run = wandb.init()
            for i in range(3):
                run.log({"loss": run.config.lr / (i + 1), "acc": 1 - run.config.lr})
            run.finish()
        """)
        )
        (cwd / "config.yaml").write_text(
            textwrap.dedent("""
            program: train.py
            method: random
            metric:
              name: loss
              goal: minimize
            parameters:
              lr:
                min: 0.001
                max: 0.1
              optimizer:
                values: [adam, sgd]
        """)
        )
        self.wandb_cli(flow, "sweep", "--entity", ENTITY, "--project", "s3", "config.yaml",
                       cwd=cwd)  # fmt: skip
        sid = self._created_sweep_ids(self.proxy.recorder.peek())[-1]
        self.wandb_cli(flow, "agent", "--count", "1", f"{ENTITY}/s3/{sid}", cwd=cwd)

    def s4_sweep_states(self) -> None:
        flow = "s4_sweep_states"
        make = """
            # python (unrecorded set-up): wandb.sweep(config, entity="admin", project="s4")
            import json, wandb
            cfg = {"method": "random", "parameters": {"x": {"min": 0.0, "max": 1.0}}}
            print("RESULT", json.dumps(wandb.sweep(cfg, entity="admin", project="s4")))
        """
        first = self.python(flow, make, recorded=False)
        second = self.python(flow, make, recorded=False)
        for verb in ("--pause", "--resume", "--stop"):
            self.wandb_cli(flow, "sweep", verb, f"{ENTITY}/s4/{first}")
        self.wandb_cli(flow, "sweep", "--cancel", f"{ENTITY}/s4/{second}")

    def s5_public_api_sweep(self, sweep_id: str) -> None:
        self.python(
            "s5_public_api_sweep",
            f"""
            # python: wandb.Api().sweep(path); .runs; .best_run(); api.project(...).sweeps()
            import json, wandb
            api = wandb.Api()
            sweep = api.sweep("admin/s2/{sweep_id}")
            runs = [(r.id, r.state, dict(r.config), r.summary.get("loss")) for r in sweep.runs]
            best = sweep.best_run()
            sweeps = [s.id for s in api.project("s2", entity="admin").sweeps()]
            print("RESULT", json.dumps({{"state": sweep.state, "runs": runs,
                                        "best": best.id if best else None, "sweeps": sweeps}}))
        """,
        )

    def s6_bad_config(self) -> None:
        self.python(
            "s6_bad_config",
            """
            # python: wandb.sweep(grid over a uniform distribution, entity="admin", project="s6")
            import json, wandb
            cfg = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
                   "parameters": {"lr": {"distribution": "uniform", "min": 0.0, "max": 1.0}}}
            try:
                sid = wandb.sweep(cfg, entity="admin", project="s6")
                print("RESULT", json.dumps({"created": sid}))
            except Exception as exc:
                print("RESULT", json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        """,
        )

    @staticmethod
    def _created_sweep_ids(lines: list[dict[str, Any]]) -> list[str]:
        ids = []
        for line in lines:
            if line.get("operationName") == "UpsertSweep" and isinstance(line["response"], dict):
                sweep = ((line["response"].get("data") or {}).get("upsertSweep") or {}).get("sweep")
                if sweep and sweep.get("name"):
                    ids.append(sweep["name"])
        return ids


# --------------------------------------------------------------------------- OPERATIONS.md

FLOW_TITLES = {
    "s1_sweep_create": "`wandb.sweep(config, entity, project)` (bayes, run_cap)",
    "s2_agent_function": "`wandb.agent(sweep_id, function=train, count=5)` on a 2-point grid "
    "(`wandb.sweep` first); the agent stops by itself when the grid is done",
    "s3_cli_sweep_agent": "`wandb sweep config.yaml` (random, `program: train.py`), then "
    "`wandb agent --count 1 E/P/ID` running `python train.py`",
    "s4_sweep_states": "`wandb sweep --pause`, `--resume`, `--stop` on one sweep, `--cancel` on "
    "another (both created unrecorded)",
    "s5_public_api_sweep": "`wandb.Api().sweep(path)`, `.runs`, `.best_run()`, "
    "`api.project(...).sweeps()` on s2's sweep",
    "s6_bad_config": "`wandb.sweep` with an invalid config (grid over a continuous parameter)",
}


OP_NOTES = {
    "UpsertSweep": "on a GraphQL error the client sends the mutation again in each older shape "
    "it knows (`_upsert_sweep` walks `mutation_5` down to `mutation_1`, dropping "
    "`templateVariableValues`, `launchScheduler`, ... one at a time) and raises the last "
    "error: s6 shows the five attempts. Pause/resume/stop/cancel are this mutation with `id` and "
    "`state` (PAUSED, RUNNING, FINISHED, CANCELED).",
    "SweepWithRuns": "what `wandb agent` and `wandb sweep --pause/...` read first (state, config, "
    '`runs` with `specs: "{}"`).',
    "Heartbeat": '`wandb.agent(function=...)` and `wandb agent` both send `metrics: "{}"` and '
    '`runState: "{}"` here (an idle agent asking for work); `commands` is a JSON string.',
}


def _null_paths(value: Any, path: str = "") -> list[str]:
    """Paths in a GraphQL `data` object whose value is null (list indices folded to `[]`)."""
    out: list[str] = []
    if value is None:
        return [path]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _null_paths(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for v in value:
            out += _null_paths(v, f"{path}[]")
    return out


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def _clip(text: str, limit: int = 6000) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... <{len(text) - limit} more>"


def build_markdown(out_dir: Path) -> str:
    """OPERATIONS.md from the captures in `out_dir`: one section per GraphQL operation, then
    the other endpoints, then what each flow's commands returned."""
    ops: dict[str, dict[str, Any]] = {}
    others: dict[str, dict[str, Any]] = {}
    files = sorted(out_dir.glob("*.jsonl"))
    for f in files:
        for raw in f.read_text().splitlines():
            line = json.loads(raw)
            ua = line["headers"].get("User-Agent", "?")
            name = line.get("operationName")
            if name:
                op = ops.setdefault(name, {"flows": [], "uas": [], "texts": [], "examples": [],
                                           "errors": [], "nulls": set()})  # fmt: skip
                body = line["body"]
                if f.stem not in op["flows"]:
                    op["flows"].append(f.stem)
                if ua not in op["uas"]:
                    op["uas"].append(ua)
                if body["query"] not in op["texts"]:
                    op["texts"].append(body["query"])
                resp = line["response"]
                op["examples"].append((f.stem, body.get("variables"), resp, line["status"]))
                if not isinstance(resp, dict) or resp.get("errors") or line["status"] != 200:
                    op["errors"].append((f.stem, line["status"], resp))
                elif isinstance(resp, dict):
                    op["nulls"].update(_null_paths(resp.get("data")))
            else:
                path = re.sub(r"^/files/[^/]+/[^/]+/[^/]+/", "/files/{entity}/{project}/{run}/",
                              line["path"].split("?")[0])  # fmt: skip
                path = re.sub(r"/storage/.*", "/storage/...", path)
                key = f"{line['method']} {path}"
                o = others.setdefault(key, {"flows": [], "uas": [], "statuses": set(),
                                            "example": line})  # fmt: skip
                if f.stem not in o["flows"]:
                    o["flows"].append(f.stem)
                if ua not in o["uas"]:
                    o["uas"].append(ua)
                o["statuses"].add(line["status"])

    md = [
        "# Sweep protocol: what `wandb` 0.31 sends, and what liberry answers",
        "",
        "Recorded by `tests/compat/protocol/record.py`: a recording reverse proxy in front of a",
        "real liberry server (`liberry.server.start(data_dir=None, port=0)`), with the official",
        "`wandb` client (0.31, in subprocesses, `WANDB_BASE_URL` = the proxy, the quiet",
        "environment of `tests/compat/conftest.py`) running the flows below. Each `*.jsonl` beside",
        "this file is one flow, one exchange a line, in the format of",
        "`../shared/reference/wandb-protocol/captures/` (`t, method, path, headers` with the",
        "password reduced to its length and prefix, `body`, `operationName`, `status`,",
        "`response`, `ms`; bodies over 20 kB are cut with a marker). Responses are **liberry's**,",
        "not W&B's: the reference for what W&B itself answers stays",
        "`../shared/reference/wandb-protocol/`. Set-up a flow needs but is not about (the sweeps",
        "that s4 pauses) went straight to the server and is not in the captures.",
        "",
        "Re-record (about a minute; rewrites the captures and this file):",
        "",
        "```bash",
        ".venv/bin/python tests/compat/protocol/record.py",
        ".venv/bin/python tests/compat/protocol/record.py --markdown-only  # this file only",
        "```",
        "",
        "## Flows",
        "",
    ]
    notes_path = out_dir / "flows.json"
    notes = json.loads(notes_path.read_text()) if notes_path.exists() else {}
    for f in files:
        n = sum(1 for _ in f.open())
        md.append(f"* `{f.name}` ({n} requests): {FLOW_TITLES.get(f.stem, '')}")
        for note in notes.get(f.stem, []):
            md.append(f"  * {note}")
    md += ["", "GraphQL operations, by name:", ""]
    for name in sorted(ops):
        op = ops[name]
        md.append(f"* `{name}` ({', '.join(op['uas'])}): {', '.join(op['flows'])}")
    for name in sorted(ops):
        op = ops[name]
        md += ["", f"## {name}", f"- sent by: {', '.join(op['uas'])}",
               f"- flows: {', '.join(f + '.jsonl' for f in op['flows'])}",
               f"- requests: {len(op['examples'])}"]  # fmt: skip
        if len(op["texts"]) > 1:
            md.append(f"- NOTE: {len(op['texts'])} textual variants of this operation were seen")
        if op["errors"]:
            md.append(
                f"- **errors** in {len(op['errors'])} of them, e.g. ({op['errors'][0][0]}, "
                f"HTTP {op['errors'][0][1]}): `{json.dumps(op['errors'][0][2])[:400]}`"
            )
        if name in OP_NOTES:
            md.append(f"- {OP_NOTES[name]}")
        if op["nulls"]:
            md.append(f"- answered null at least once: {sorted(op['nulls'])}")
        for text in op["texts"]:
            md += ["", "```graphql", textwrap.dedent(text).strip("\n"), "```"]
        # One example: prefer an answer without errors, and one with data in it.
        ok = [e for e in op["examples"] if isinstance(e[2], dict) and not e[2].get("errors")]
        flow, variables, resp, status = (ok or op["examples"])[-1 if name == "Heartbeat" else 0]
        if name == "Heartbeat":  # the interesting heartbeat is one that hands out a run
            runs = [e for e in ok if '"type": "run"' in str(e[2]) or "'type': 'run'" in str(e[2])
                    or "run_id" in json.dumps(e[2])]  # fmt: skip
            flow, variables, resp, status = (runs or ok or op["examples"])[0]
        md += ["", f"variables ({flow}):", "```json", _clip(_pretty(variables)), "```",
               f"response (HTTP {status}):", "```json", _clip(_pretty(resp)), "```"]  # fmt: skip
        if name == "Heartbeat":
            done = [e for e in ok if "run_id" not in json.dumps(e[2])]
            if done:
                md += ["", f"a heartbeat that hands out no run ({done[-1][0]}): variables, then "
                       "response", "```json", _pretty(done[-1][1]), _pretty(done[-1][2]),
                       "```"]  # fmt: skip
    md += ["", "## Other endpoints", ""]
    for key in sorted(others):
        o = others[key]
        md.append(f"* `{key}` (HTTP {sorted(o['statuses'])}; {', '.join(o['uas'])}): "
                  f"{', '.join(o['flows'])}")  # fmt: skip
    md.append("")
    return "\n".join(md)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PREFIX",
        help="record only the flows whose name starts with this (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="only regenerate OPERATIONS.md from the captures",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    if not args.markdown_only:
        from liberry.server import start

        work = Path(tempfile.mkdtemp(prefix="liberry-record-"))
        notes_path = out / "flows.json"
        notes = json.loads(notes_path.read_text()) if notes_path.exists() else {}
        try:
            with start(data_dir=None, port=0) as srv, RecordingProxy(srv.url) as proxy:
                print(f"server {srv.url}, recording proxy {proxy.url}", flush=True)
                flows = Flows(srv.url, proxy, srv.api_key, work)
                s2_sweep: list[str] = []
                plan: list[tuple[str, Callable[[], Any]]] = [
                    ("s1_sweep_create", flows.s1_sweep_create),
                    ("s2_agent_function", lambda: s2_sweep.append(flows.s2_agent_function())),
                    ("s3_cli_sweep_agent", flows.s3_cli_sweep_agent),
                    ("s4_sweep_states", flows.s4_sweep_states),
                    ("s5_public_api_sweep", lambda: flows.s5_public_api_sweep(s2_sweep[0])),
                    ("s6_bad_config", flows.s6_bad_config),
                ]  # fmt: skip
                for name, fn in plan:
                    if args.only and not any(name.startswith(p) for p in args.only):
                        continue
                    if name == "s5_public_api_sweep" and not s2_sweep:
                        # s5 reads s2's sweep: run s2 first (its capture is not kept).
                        flows.s2_agent_function()
                        s2_sweep.append(_s2_sweep_of_lines(proxy.recorder.take()))
                    proxy.recorder.take()
                    t0 = time.perf_counter()
                    fn()
                    time.sleep(0.5)  # late requests (wandb-core's last file_stream) land
                    lines = proxy.recorder.take()
                    write_jsonl(out / f"{name}.jsonl", lines)
                    notes[name] = flows.notes.get(name, [])
                    print(f"{name}: {len(lines)} requests in {time.perf_counter() - t0:.1f} s",
                          flush=True)  # fmt: skip
        finally:
            shutil.rmtree(work, ignore_errors=True)
        notes_path.write_text(json.dumps(notes, indent=1) + "\n")
    (out / "OPERATIONS.md").write_text(build_markdown(out))
    print(f"wrote {out / 'OPERATIONS.md'}")
    return 0


def _s2_sweep_of_lines(lines: list[dict[str, Any]]) -> str:
    ids = Flows._created_sweep_ids(lines)
    if not ids:
        raise RuntimeError("s2 created no sweep")
    return ids[0]


if __name__ == "__main__":
    sys.exit(main())
