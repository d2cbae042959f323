"""`liberry server` deployed for a team: PostgreSQL via --database-url, several --workers.

Real processes, a real PostgreSQL (the scratch cluster of scripts/scratch_postgres.sh, one
fresh database per test): the CLI is started as a subprocess and spoken to over HTTP.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.pg_databases import scratch_database
from tests.wire import UPSERT

PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")
needs_pg = pytest.mark.skipif(
    not PG_URL, reason="set LIBERRY_TEST_POSTGRES_URL (scripts/scratch_postgres.sh start)"
)
RUN_QUERY = """
query R($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) { run(name: $name) { name config } }
}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "liberry.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def database() -> Iterator[str]:
    with scratch_database("deploy") as url:
        yield url


def _serve(data_dir: Path, port: int, *extra: str) -> subprocess.Popen[str]:
    cli = [sys.executable, "-m", "liberry.cli", "server"]
    proc = subprocess.Popen(
        [*cli, "--data-dir", str(data_dir), "--port", str(port), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not come up within 60 s")


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return out


def _gql(port: int, key: str, query: str, variables: dict) -> tuple[dict, str]:
    """One request on a connection of its own (so the kernel may hand it to any worker)."""
    r = requests.post(
        f"http://127.0.0.1:{port}/graphql",
        json={"query": query, "variables": variables},
        auth=("api", key),
        headers={"Connection": "close"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert not body.get("errors"), body
    return body["data"], r.headers["X-Liberry-Worker"]


@needs_pg
def test_workers_on_postgresql_serve_one_consistent_store(tmp_path: Path, database: str) -> None:
    # `postgresql://` without a driver: the CLI adds psycopg's.
    plain_url = database.replace("postgresql+psycopg://", "postgresql://")
    port = _free_port()
    proc = _serve(tmp_path / "data", port, "--workers", "2", "--database-url", plain_url)
    try:
        key = (tmp_path / "data" / "api_key").read_text().strip()
        served: set[str] = set()
        crossed = 0  # runs written by one worker and read back, at once, through the other
        for i in range(60):
            name = f"run{i}"
            variables = {"entity": "admin", "project": "deploy", "name": name}
            upsert = {**variables, "config": f'{{"i": {{"value": {i}}}}}'}
            data, writer = _gql(port, key, UPSERT, upsert)
            assert data["upsertBucket"]["bucket"]["name"] == name
            data, reader = _gql(port, key, RUN_QUERY, variables)
            assert data["project"]["run"]["name"] == name
            assert json.loads(data["project"]["run"]["config"])["i"]["value"] == i
            served |= {writer, reader}
            crossed += writer != reader
        assert len(served) == 2, f"only {served} served 120 requests"
        assert crossed > 0
        runs = 'query { project(name: "deploy", entityName: "admin") { runCount } }'
        data, _ = _gql(port, key, runs, {})
        assert data["project"]["runCount"] == 60
    finally:
        out = _stop(proc)
    assert "API key (shown once" in out and key in out
    assert "2 workers" in out


@needs_pg
def test_first_run_key_is_printed_once_and_kept_on_postgresql(
    tmp_path: Path, database: str
) -> None:
    port = _free_port()
    out = _stop(_serve(tmp_path / "data", port, "--database-url", database))
    key = (tmp_path / "data" / "api_key").read_text().strip()
    assert key in out
    # The second start finds the admin in PostgreSQL: no new key, the saved one still works.
    proc = _serve(tmp_path / "data", port, "--database-url", database)
    try:
        r = requests.post(
            f"http://127.0.0.1:{port}/graphql",
            json={"query": "query { viewer { username } }"},
            auth=("api", key),
            timeout=30,
        )
        assert r.json()["data"]["viewer"]["username"] == "admin", r.text
    finally:
        out = _stop(proc)
    assert key not in out and "see" in out


def test_database_url_from_the_environment_and_bad_urls_exit_2(tmp_path: Path) -> None:
    for url, reason in [
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("not a url", "not a database URL"),
        ("postgresql+psycopg2://u@h/db", "unsupported PostgreSQL driver"),
        ("postgresql://127.0.0.1:1/x", "cannot open the database"),
    ]:
        res = _cli("server", "--data-dir", str(tmp_path), env={"LIBERRY_DATABASE_URL": url})
        assert res.returncode == 2, (url, res.stderr)
        assert reason in res.stderr, (url, res.stderr)
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("liberry server: "), res.stderr
    res = _cli("server", "--data-dir", str(tmp_path), "--workers", "0")
    assert res.returncode == 2 and "--workers" in res.stderr


def test_server_help_documents_the_deployment_options() -> None:
    res = _cli("server", "--help")
    assert res.returncode == 0
    for option in ("--database-url", "LIBERRY_DATABASE_URL", "--workers", "--data-dir"):
        assert option in res.stdout
