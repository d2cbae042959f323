"""`liberry demo` as a user runs it (without JupyterLab, which the browser tests cover)."""

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
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
    assert "demo/image-classification" in out
