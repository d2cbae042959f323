"""`liberry server --storage s3://...`: the CLI as a subprocess, against moto's real S3 API.

Every `--workers` process writes to and reads from the same bucket; bad storage settings
(an unknown scheme, a missing bucket, refused credentials) exit 2 with one line at start.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.s3_moto import new_bucket, s3_client
from tests.test_server_deploy import _cli, _free_port, _serve, _stop
from tests.wire import Wire

CREATE = """
mutation ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) { files { name uploadUrl } }
}"""
FILE_URLS = """
query ($p: String!, $n: String!) {
  project(name: $p, entityName: "admin") { run(name: $n) {
    files(first: 100) { edges { node { name directUrl } } } } }
}"""


def _one_line_exit_2(res: subprocess.CompletedProcess[str], reason: str) -> None:
    assert res.returncode == 2, res.stderr
    assert reason in res.stderr, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("liberry server: storage: "), res.stderr


def test_workers_share_one_bucket(tmp_path: Path, s3_endpoint: str) -> None:
    storage = new_bucket(s3_endpoint, "workers")
    port = _free_port()
    proc = _serve(tmp_path / "data", port, "--workers", "2", "--storage", storage)
    try:
        key = (tmp_path / "data" / "api_key").read_text().strip()
        wire = Wire(f"http://127.0.0.1:{port}", key)
        wire.upsert("admin", "deploy", "r")
        names = [f"f{i}.txt" for i in range(16)]
        run = {"entity": "admin", "project": "deploy", "run": "r"}
        urls = wire.gql(CREATE, {**run, "files": names})
        served: set[str] = set()
        for item in urls["createRunFiles"]["files"]:
            # A connection each, so the kernel hands the PUTs to either worker.
            r = requests.put(
                item["uploadUrl"], data=item["name"].encode() * 1000,
                headers={"Connection": "close"}, timeout=30,
            )  # fmt: skip
            assert r.status_code == 200, r.text
            served.add(r.headers["X-Liberry-Worker"])
        found = wire.gql(FILE_URLS, {"p": "deploy", "n": "r"})["project"]["run"]["files"]
        for edge in found["edges"]:
            r = requests.get(edge["node"]["directUrl"], headers={"Connection": "close"}, timeout=30)
            assert r.content == edge["node"]["name"].encode() * 1000
            served.add(r.headers["X-Liberry-Worker"])
        assert len(served) == 2, f"only {served} served 32 requests"
        bucket, prefix = storage.removeprefix("s3://").split("/", 1)
        listed = s3_client(s3_endpoint).list_objects_v2(Bucket=bucket, Prefix=prefix + "/runs/")
        assert {o["Key"].rsplit("/", 1)[1] for o in listed["Contents"]} == set(names)
        assert not (tmp_path / "data" / "files" / "runs").exists()
    finally:
        out = _stop(proc)
    assert f"files: {storage}" in out and "2 workers" in out


def test_storage_from_the_environment_and_bad_settings_exit_2(
    tmp_path: Path, s3_endpoint: str
) -> None:
    data = str(tmp_path / "data")
    res = _cli("server", "--data-dir", data, env={"LIBERRY_STORAGE": "gs://bucket"})
    _one_line_exit_2(res, "unsupported storage URL 'gs://bucket'")
    res = _cli("server", "--data-dir", data, "--storage", "s3://missing-bucket/x")
    _one_line_exit_2(res, "NoSuchBucket")
    res = _cli(
        "server", "--data-dir", data, "--storage", "s3://b-1",
        env={"AWS_ENDPOINT_URL": "http://127.0.0.1:9"},
    )  # fmt: skip
    _one_line_exit_2(res, "cannot use S3 bucket 'b-1' at http://127.0.0.1:9")


@pytest.fixture
def moto_with_auth() -> Iterator[str]:
    """A moto S3 server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0)."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{endpoint}/moto-api/", timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, "moto did not start"
                time.sleep(0.1)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_refused_credentials_exit_2(tmp_path: Path, moto_with_auth: str) -> None:
    res = _cli(
        "server", "--data-dir", str(tmp_path), "--storage", "s3://team-files",
        env={"AWS_ENDPOINT_URL": moto_with_auth, "AWS_ACCESS_KEY_ID": "nobody"},
    )  # fmt: skip
    _one_line_exit_2(res, "InvalidAccessKeyId")
    assert "AWS_SECRET_ACCESS_KEY" in res.stderr


def test_server_help_documents_storage() -> None:
    res = _cli("server", "--help")
    assert res.returncode == 0
    for text in ("--storage", "LIBERRY_STORAGE", "s3://", "AWS_ENDPOINT_URL", "[s3]"):
        assert text in res.stdout, text
