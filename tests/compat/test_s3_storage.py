"""The official `wandb` client against a server whose files live in S3 (`--storage s3://`):
moto's real S3 API on 127.0.0.1, and the bucket listed with boto3 to see the bytes there.

A training script logs a run with files and an artifact (one file large enough for a
multipart upload); `wandb.Api` downloads both back; deleting the artifact and the run
removes their objects from the bucket, as the local backend removes their files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from liberry.server import ServerHandle, start
from tests.s3_moto import new_bucket
from tests.stored_objects import object_keys, read_object, unfinished_uploads

from .conftest import WandbClient, _viewer_entity

pytestmark = [pytest.mark.compat, pytest.mark.slow]

PROJECT = "on-s3"

LOG = r"""
import hashlib, json, os, sys, wandb
project = sys.argv[1]
big = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(12 * 32768))  # 12 MiB
open("weights.bin", "wb").write(big)
open("notes.txt", "w").write("trained on S3")
with wandb.init(project=project, job_type="train") as run:
    run.log({"loss": 0.5})
    run.save("notes.txt", policy="now")
    run.save("weights.bin", policy="now")
    art = wandb.Artifact("model", type="model")
    art.add_file("weights.bin")
    with art.new_file("card.md") as f:
        f.write("# a model kept in S3")
    run.log_artifact(art).wait()
    emit({"run": run.id, "md5": hashlib.md5(big).hexdigest(), "size": len(big)})
"""


@pytest.fixture(scope="module")
def s3_server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    data_dir = tmp_path_factory.mktemp("s3-server")
    with start(data_dir=data_dir, port=0, storage_url=new_bucket(s3_endpoint, "wandb")) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(
    s3_server: ServerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WandbClient]:
    jobs = WandbClient(s3_server, tmp_path_factory.mktemp("s3-jobs"), _viewer_entity(s3_server))
    yield jobs
    jobs.kill_leftovers()


@pytest.fixture(scope="module")
def logged(client: WandbClient) -> dict[str, Any]:
    result: dict[str, Any] = client.run(LOG, args=[PROJECT], timeout=240).result
    return result


def test_run_files_and_artifact_bytes_are_in_the_bucket(
    client: WandbClient, logged: dict[str, Any]
) -> None:
    server = client.server
    keys = object_keys(server)  # boto3's listing of the bucket
    md5 = logged["md5"]
    assert f"artifacts/{md5[:2]}/{md5}" in keys
    run_keys = {k.split("/", 2)[2] for k in keys if k.startswith("runs/")}
    assert {"notes.txt", "weights.bin"} <= run_keys
    assert not (server.data_dir / "files" / "runs").exists()  # nothing went to local disk
    blob = read_object(server, f"artifacts/{md5[:2]}/{md5}")
    assert (len(blob), hashlib.md5(blob).hexdigest()) == (logged["size"], md5)
    assert unfinished_uploads(server) == []


def test_wandb_api_downloads_run_files_and_the_artifact(
    client: WandbClient, logged: dict[str, Any], tmp_path: Path
) -> None:
    api = client.api()
    run = api.run(f"{client.entity}/{PROJECT}/{logged['run']}")
    run.file("notes.txt").download(root=str(tmp_path / "run"))
    run.file("weights.bin").download(root=str(tmp_path / "run"))
    assert (tmp_path / "run" / "notes.txt").read_text() == "trained on S3"
    weights = (tmp_path / "run" / "weights.bin").read_bytes()
    assert hashlib.md5(weights).hexdigest() == logged["md5"]
    art = api.artifact(f"{client.entity}/{PROJECT}/model:latest")
    root = Path(art.download(root=str(tmp_path / "art")))
    assert hashlib.md5((root / "weights.bin").read_bytes()).hexdigest() == logged["md5"]
    assert (root / "card.md").read_text() == "# a model kept in S3"


def test_deleting_the_artifact_and_the_run_removes_their_objects(
    client: WandbClient, logged: dict[str, Any]
) -> None:
    api = client.api()
    md5 = logged["md5"]
    api.artifact(f"{client.entity}/{PROJECT}/model:latest").delete(delete_aliases=True)
    assert f"artifacts/{md5[:2]}/{md5}" not in object_keys(client.server)
    assert any(k.startswith("runs/") for k in object_keys(client.server))
    api.run(f"{client.entity}/{PROJECT}/{logged['run']}").delete()
    assert not any(k.startswith("runs/") for k in object_keys(client.server))
