"""Issue #14: the official `wandb` client logs, uses, downloads and edits artifacts on liberry.

One training script (a subprocess, as users run it) logs and uses versions across three
runs; the tests then read them back with `wandb.Api` in this process (its own, empty
artifact cache, so downloads really go over HTTP) and check the server's blob store.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import wandb

from tests.stored_objects import blob_digests, object_keys, read_object, unfinished_uploads
from tests.wire import Wire

from .conftest import WandbClient

pytestmark = [pytest.mark.compat, pytest.mark.slow]

PROJECT = "artifacts"

LOG_AND_USE = r"""
import json, os, sys, wandb
from wandb.sdk.artifacts.artifact_manifest_entry import ArtifactManifestEntry
project = sys.argv[1]
os.makedirs("d/sub", exist_ok=True)
open("data.txt", "w").write("hello " * 25)
open("d/a.txt", "w").write("a-file")
open("d/sub/b.txt", "w").write("b-file")
open("outside.txt", "w").write("referenced, not uploaded")
out = {}

def dataset():
    art = wandb.Artifact("ds", type="dataset", description="first", metadata={"k": 1})
    art.add_file("data.txt")
    art.add_dir("d", name="dir")
    with art.new_file("notes.txt") as f:
        f.write("made by new_file")
    art.add_reference("file://" + os.path.abspath("outside.txt"), name="ref/outside.txt")
    return art

def bucket_refs():
    # An s3:// reference as add_reference(checksum=False) records it (boto3 is not installed
    # here, and the server never touches the bucket): stored as a reference, not bytes.
    art = wandb.Artifact("bucket", type="dataset")
    uri = "s3://some-bucket/path/model.bin"
    art.manifest.add_entry(ArtifactManifestEntry(path="model.bin", ref=uri, digest=uri))
    return art

with wandb.init(project=project, job_type="make") as run:
    out["run1"] = run.id
    art = run.log_artifact(dataset(), aliases=["best"])
    art.wait()
    out["v0"] = {"version": art.version, "aliases": sorted(art.aliases), "id": art.id}
    again = run.log_artifact(dataset())  # same content: no new version
    again.wait()
    out["again"] = {"version": again.version, "id": again.id}
    run.log_artifact(bucket_refs()).wait()

with wandb.init(project=project, job_type="train") as run:
    out["run2"] = run.id
    used = run.use_artifact("ds:best")
    root = used.download(root="got")
    out["downloaded"] = {
        os.path.relpath(os.path.join(d, f), root): open(os.path.join(d, f)).read()
        for d, _, files in os.walk(root) for f in files
    }
    draft = used.new_draft()  # incremental: v0's files plus one more
    open("extra.txt", "w").write("added in v1")
    draft.add_file("extra.txt")
    v1 = run.log_artifact(draft, aliases=["candidate"])
    v1.wait()
    out["v1"] = {"version": v1.version, "aliases": sorted(v1.aliases)}
    model = wandb.Artifact("clf", type="model")
    model.add_file("data.txt", name="weights.txt")  # the same bytes as ds's data.txt
    run.log_artifact(model).wait()

with wandb.init(project=project, job_type="eval") as run:
    out["run3"] = run.id
    run.use_artifact("clf:latest")
    run.use_artifact("ds:v1")
emit(out)
"""


@pytest.fixture(scope="module")
def logged(wandb_client: WandbClient) -> dict[str, Any]:
    result: dict[str, Any] = wandb_client.run(LOG_AND_USE, args=[PROJECT], timeout=240).result
    return result


def _path(client: WandbClient, name: str) -> str:
    return f"{client.entity}/{PROJECT}/{name}"


def test_log_artifact_numbers_versions_and_applies_aliases(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    assert logged["v0"]["version"] == "v0"
    assert logged["v0"]["aliases"] == ["best", "latest"]
    assert logged["v1"]["version"] == "v1"
    assert logged["v1"]["aliases"] == ["candidate", "latest"]
    api = wandb_client.api()
    assert api.artifact(_path(wandb_client, "ds:latest")).version == "v1"  # latest moved
    v0 = api.artifact(_path(wandb_client, "ds:v0"))
    assert set(v0.aliases) == {"best"}
    assert v0.description == "first" and v0.metadata == {"k": 1}
    assert v0.type == "dataset"


def test_same_content_again_makes_no_new_version(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    assert logged["again"]["version"] == "v0"
    assert logged["again"]["id"] == logged["v0"]["id"]
    api = wandb_client.api()
    versions = api.artifacts("dataset", _path(wandb_client, "ds"))
    assert sorted(a.version for a in versions) == ["v0", "v1"]


def test_use_artifact_downloads_files_dirs_new_files_and_references(
    logged: dict[str, Any],
) -> None:
    assert logged["downloaded"] == {
        "data.txt": "hello " * 25,
        "dir/a.txt": "a-file",
        "dir/sub/b.txt": "b-file",
        "notes.txt": "made by new_file",
        "ref/outside.txt": "referenced, not uploaded",
    }


def test_references_are_stored_as_references(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    api = wandb_client.api()
    bucket = api.artifact(_path(wandb_client, "bucket:v0"))
    assert bucket.manifest.entries["model.bin"].ref == "s3://some-bucket/path/model.bin"
    assert [f.name for f in bucket.files()] == ["model.bin"]
    entries = api.artifact(_path(wandb_client, "ds:v0")).manifest.entries
    assert entries["ref/outside.txt"].ref.startswith("file://")
    assert entries["data.txt"].ref is None
    blobs = _blob_digests(wandb_client)
    referenced = hashlib.md5(b"referenced, not uploaded").hexdigest()
    assert referenced not in blobs  # never uploaded, only pointed at
    assert hashlib.md5(b"a-file").hexdigest() in blobs


def test_identical_file_in_two_artifacts_is_stored_once(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    api = wandb_client.api()
    weights = api.artifact(_path(wandb_client, "clf:v0")).manifest.entries["weights.txt"]
    data = api.artifact(_path(wandb_client, "ds:v1")).manifest.entries["data.txt"]
    assert weights.digest == data.digest
    md5 = hashlib.md5(("hello " * 25).encode()).hexdigest()
    stored = [k for k in object_keys(wandb_client.server) if k.endswith(md5)]
    assert stored == [f"artifacts/{md5[:2]}/{md5}"]  # ds v0, ds v1 and clf v0 share one blob


def test_api_artifact_download_files_and_sizes(
    wandb_client: WandbClient, logged: dict[str, Any], tmp_path: Path
) -> None:
    art = wandb_client.api().artifact(_path(wandb_client, "ds:v1"))
    names = sorted(f.name for f in art.files())
    assert names == [
        "data.txt",
        "dir/a.txt",
        "dir/sub/b.txt",
        "extra.txt",
        "notes.txt",
        "ref/outside.txt",
    ]
    root = Path(art.download(root=str(tmp_path / "v1")))
    assert (root / "extra.txt").read_text() == "added in v1"
    assert (root / "dir/sub/b.txt").read_text() == "b-file"
    assert art.file_count == 6
    assert art.size == sum(
        len(t)
        for t in [
            "hello " * 25,
            "a-file",
            "b-file",
            "added in v1",
            "made by new_file",
            "referenced, not uploaded",
        ]
    )


def test_logged_by_used_by_and_run_artifacts(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    api = wandb_client.api()
    v0 = api.artifact(_path(wandb_client, "ds:v0"))
    logged_by = v0.logged_by()
    assert logged_by is not None and logged_by.id == logged["run1"]
    assert [r.id for r in v0.used_by()] == [logged["run2"]]
    run2 = api.run(_path(wandb_client, logged["run2"]))
    assert sorted((a.name, a.version) for a in run2.logged_artifacts()) == [
        ("clf:v0", "v0"),
        ("ds:v1", "v1"),
    ]
    assert [a.name for a in run2.used_artifacts()] == ["ds:v0"]
    run3 = api.run(_path(wandb_client, logged["run3"]))
    assert sorted(a.name for a in run3.used_artifacts()) == ["clf:v0", "ds:v1"]


def test_alias_moves_between_versions(wandb_client: WandbClient, logged: dict[str, Any]) -> None:
    api = wandb_client.api()
    v0 = api.artifact(_path(wandb_client, "ds:v0"))
    v0.aliases.append("prod")
    v0.save()
    assert api.artifact(_path(wandb_client, "ds:prod")).version == "v0"
    v1 = api.artifact(_path(wandb_client, "ds:v1"))
    v1.aliases.append("prod")
    v1.save()
    assert api.artifact(_path(wandb_client, "ds:prod")).version == "v1"
    assert "prod" not in api.artifact(_path(wandb_client, "ds:v0")).aliases
    v1 = api.artifact(_path(wandb_client, "ds:v1"))
    v1.aliases.remove("prod")
    v1.save()
    assert not api.artifact_exists(_path(wandb_client, "ds:prod"))


def test_delete_artifact_versions(wandb_client: WandbClient, tmp_path: Path) -> None:
    code = """
import sys, wandb
with wandb.init(project=sys.argv[1]) as run:
    for text in ("one", "two"):
        art = wandb.Artifact("scratch", type="dataset")
        with art.new_file("only.txt") as f:
            f.write("unique scratch content " + text)
        run.log_artifact(art).wait()
"""
    wandb_client.run(code, args=[PROJECT])
    api = wandb_client.api()
    v0 = api.artifact(_path(wandb_client, "scratch:v0"))
    md5 = hashlib.md5(b"unique scratch content one").hexdigest()
    assert md5 in _blob_digests(wandb_client)
    v0.delete()
    assert not api.artifact_exists(_path(wandb_client, "scratch:v0"))
    assert md5 not in _blob_digests(wandb_client)  # its only user is gone
    v1 = api.artifact(_path(wandb_client, "scratch:latest"))
    assert v1.version == "v1"
    with pytest.raises(Exception, match="alias"):
        v1.delete()  # still has `latest`: refused, as W&B does
    v1.delete(delete_aliases=True)
    assert not api.artifact_exists(_path(wandb_client, "scratch:latest"))


def test_unknown_artifact_alias_version_and_wrong_type(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    api = wandb_client.api()
    with pytest.raises(wandb.errors.CommError, match="nope"):
        api.artifact(_path(wandb_client, "nope:latest"))
    with pytest.raises(wandb.errors.CommError, match="v99"):
        api.artifact(_path(wandb_client, "ds:v99"))
    with pytest.raises(wandb.errors.CommError, match="no-such-alias"):
        api.artifact(_path(wandb_client, "ds:no-such-alias"))
    with pytest.raises(wandb.errors.CommError, match=r"of type 'dataset'"):
        api.artifact(_path(wandb_client, "ds:v0"), type="model")


def test_log_artifact_with_another_type_is_refused(wandb_client: WandbClient) -> None:
    code = """
import sys, wandb
with wandb.init(project=sys.argv[1]) as run:
    art = wandb.Artifact("ds", type="model")
    with art.new_file("x.txt") as f:
        f.write("x")
    try:
        run.log_artifact(art).wait()
    except Exception as exc:
        emit(str(exc))
"""
    res = wandb_client.run(code, args=[PROJECT], check=False)
    assert "dataset" in res.result or "type" in res.result


def _blob_digests(client: WandbClient) -> set[str]:
    return blob_digests(client.server)


def test_blob_store_has_no_leftover_temp_files(
    wandb_client: WandbClient, logged: dict[str, Any]
) -> None:
    assert unfinished_uploads(wandb_client.server) == []
    for name in _blob_digests(wandb_client):  # every blob is named by its content
        data = read_object(wandb_client.server, f"artifacts/{name[:2]}/{name}")
        assert hashlib.md5(data).hexdigest() == name, json.dumps(name)


def test_tags_and_ttl_are_kept(wandb_client: WandbClient) -> None:
    """`log_artifact(tags=...)` with `art.ttl`, then tags and TTL edited with `save()`: both
    clients read back what was set (before, the tags were refused and the TTL dropped)."""
    code = """
import datetime, sys, wandb
with wandb.init(project=sys.argv[1]) as run:
    art = wandb.Artifact("labelled", type="dataset")
    with art.new_file("x.txt") as f:
        f.write("labelled content")
    art.ttl = datetime.timedelta(days=3)
    run.log_artifact(art, tags=["gold", "v-one"]).wait()
"""
    wandb_client.run(code, args=[PROJECT])
    path = _path(wandb_client, "labelled:v0")
    theirs = wandb_client.api().artifact(path)
    assert sorted(theirs.tags) == ["gold", "v-one"]
    assert theirs.ttl == timedelta(days=3)
    ours = wandb_client.liberry_api().artifact(path)
    assert (sorted(ours.tags), ours.ttl) == (["gold", "v-one"], timedelta(days=3))

    theirs.tags = ["silver", "gold"]
    theirs.ttl = None
    theirs.save()
    again = wandb_client.api().artifact(path)
    assert sorted(again.tags) == ["gold", "silver"]
    assert again.ttl is None
    ours = wandb_client.liberry_api().artifact(path)
    assert (sorted(ours.tags), ours.ttl) == (["gold", "silver"], None)


def test_a_bad_tag_is_refused_by_name(wandb_client: WandbClient, logged: dict[str, Any]) -> None:
    wire = Wire(wandb_client.server.url, wandb_client.api_key)
    art = wandb_client.api().artifact(_path(wandb_client, "ds:v0"))
    update = """mutation ($input: UpdateArtifactInput!) {
      updateArtifact(input: $input) { artifact { id } } }"""
    error = wire.gql_error(
        update, {"input": {"artifactID": art.id, "tagsToAdd": [{"tagName": "no/slash"}]}}
    )
    assert "invalid tag 'no/slash'" in error
    assert wandb_client.api().artifact(_path(wandb_client, "ds:v0")).tags == []
