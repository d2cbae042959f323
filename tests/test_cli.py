"""`liberry demo` as a user runs it: seeding over HTTP, and the JupyterLab it opens."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.wire import Wire


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_seeds_through_http(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "liberry.cli",
            "demo",
            "--no-jupyter",
            "--runs",
            "12",
            "--data-dir",
            str(data),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        query = (
            '{ project(name: "image-classification", entityName: "demo") {'
            " runCount runs(first: 50) { edges { node { state historyLineCount } } } } }"
        )
        runs: list[dict] = []
        # Seeding is done when all 12 runs exist and each has its history.
        while len(runs) != 12 or not all(r["historyLineCount"] > 0 for r in runs):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, f"demo did not finish seeding: {runs}"
            time.sleep(0.5)
            try:
                key = (data / "api_key").read_text().strip()
                project = Wire(url, key).gql(query)["project"]
            except (OSError, requests.ConnectionError, AssertionError):
                continue
            runs = [e["node"] for e in (project or {}).get("runs", {}).get("edges", [])]
        assert {r["state"] for r in runs} <= {"finished", "failed", "crashed", "running"}
        # Then the demo sweep, which the server's controller runs to its run cap.
        sweeps = '{ project(name: "hparam-search", entityName: "demo") { sweeps { edges {' \
            " node { state runCount } } } } }"  # fmt: skip
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo did not finish its sweep"
            project = Wire(url, key).gql(sweeps)["project"]
            edges = (project or {}).get("sweeps", {}).get("edges", [])
            if edges and edges[0]["node"]["state"] == "FINISHED":
                assert edges[0]["node"]["runCount"] == 40
                break
            time.sleep(0.5)
        # Then the artifacts, the evaluation report last.
        report = '{ project(name: "image-classification", entityName: "demo") {' \
            ' artifact(name: "eval-report:latest") { id } } }'  # fmt: skip
        while not (Wire(url, key).gql(report)["project"] or {}).get("artifact"):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo did not log its artifacts"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert "demo/image-classification" in out


def test_demo_starts_this_environments_jupyterlab(tmp_path: Path) -> None:
    """`.venv/bin/liberry demo` (venv not activated, no `jupyter` on PATH) opens JupyterLab
    from its own environment, on the quickstart notebook, with kernels of that environment."""
    port = _free_port()
    env = {
        "PATH": "/usr/bin:/bin",  # no venv, pyenv or other `jupyter` on it
        "HOME": str(tmp_path / "home"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "liberry.cli", "demo", "--no-browser", "--runs", "2"),
            *("--data-dir", str(tmp_path / "demo"), "--port", str(port)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        notebook_url = ""
        deadline = time.monotonic() + 120
        while not notebook_url:
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            lines.append(line)
            if line.startswith("notebook:"):
                notebook_url = line.split()[1]
        assert "/lab/tree/quickstart.ipynb?token=" in notebook_url
        base, token = notebook_url.split("/lab/")[0], notebook_url.split("token=")[1]
        specs: dict = {}
        while time.monotonic() < deadline and not specs:
            try:
                specs = requests.get(f"{base}/api/kernelspecs?token={token}", timeout=5).json()
            except requests.ConnectionError:
                time.sleep(0.5)
        argv0 = specs["kernelspecs"][specs["default"]]["spec"]["argv"][0]
        # The kernel runs this interpreter (or `python`, resolved in this environment's bin).
        assert (
            argv0 in (sys.executable, "python") or Path(argv0).parent == Path(sys.executable).parent
        ), argv0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            rest, _ = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rest, _ = proc.communicate()
    # No Node.js stack traces: JupyterLab runs node on its own scripts inside the venv, which
    # sits in the clone; a `"type": "module"` in our package.json made node load them as ES
    # modules, and yarn and the version check failed (a screenful of minified JavaScript).
    output = "".join(lines) + rest
    assert "Node.js v" not in output and "yarn" not in output, output[-3000:]
    assert "ServerApp" in output  # JupyterLab's own log was read
