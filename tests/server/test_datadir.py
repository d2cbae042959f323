"""Persistent servers: first-start bootstrap, the key file, restarts, and `liberry server`."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import requests

from liberry.server import start
from tests.wire import Wire


def test_first_start_creates_key_file_and_restart_keeps_data(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with start(data_dir=data) as srv:
        key = srv.api_key
        assert key.startswith("local-") and len(key.split("-", 1)[1]) >= 40
        mode = stat.S_IMODE(os.stat(data / "api_key").st_mode)
        assert mode == 0o600
        assert (data / "api_key").read_text().strip() == key
        Wire(srv.url, key).upsert("admin", "keep", "r1", config={"a": 1})
    with start(data_dir=data) as srv:
        assert srv.api_key == key
        got = Wire(srv.url, key).gql('{ project(name: "keep", entityName: "admin") { runCount } }')
        assert got["project"]["runCount"] == 1


def test_temporary_data_dir_is_removed(tmp_path: Path) -> None:
    with start() as srv:
        path = srv.data_dir
        assert path.exists()
    assert not path.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_server_prints_key_once_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "srv"
    cmd = [
        sys.executable,
        "-m",
        "liberry.cli",
        "server",
        "--data-dir",
        str(data),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        key = (data / "api_key").read_text().strip()
        w = Wire(url, key)
        w.upsert("admin", "cli", "r1")
        w.log_history("admin", "cli", "r1", [{"_step": i} for i in range(100)])
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert url in out and key in out and "stopped" in out
    # Second start: the key is not printed again, and nothing was lost.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        q = '{ project(name: "cli", entityName: "admin") { run(name: "r1") { historyLineCount } } }'
        assert Wire(url, key).gql(q)["project"]["run"]["historyLineCount"] == 100
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert key not in out


def test_crashed_after_heartbeat_timeout(tmp_path: Path) -> None:
    with start(data_dir=tmp_path / "hb", heartbeat_timeout_s=1.0) as srv:
        w = Wire(srv.url, srv.api_key)
        w.upsert("admin", "hb", "r")
        w.log_history("admin", "hb", "r", [{"_step": 0}])
        q = '{ project(name: "hb", entityName: "admin") { run(name: "r") { state } } }'
        assert w.gql(q)["project"]["run"]["state"] == "running"
        deadline = time.monotonic() + 10
        while w.gql(q)["project"]["run"]["state"] != "crashed":
            assert time.monotonic() < deadline, "run was never marked crashed"
            time.sleep(0.2)
