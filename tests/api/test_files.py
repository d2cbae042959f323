"""Run files: listing, upload/download round trip, replace semantics, not-found."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

import liberry
from tests.seed import RunSpec, Seeder

PAYLOADS = {
    "config.yaml": b"lr: 0.1\n",
    "output.log": b"line 1\nline 2\n",
    "media/images/sample.bin": os.urandom(300_000),
    "model.pt": os.urandom(2_000),
    "empty.txt": b"",
}


@pytest.fixture
def run(api: liberry.Api, seeder: Seeder, project_name: str) -> liberry.Run:
    seeder.write(RunSpec(project_name, run_id="files1", files=PAYLOADS))
    return api.run(f"admin/{project_name}/files1")


def test_listing_pages_through_files(run: liberry.Run, api: liberry.Api) -> None:
    files = run.files(per_page=2)
    names = [f.name for f in files]
    assert sorted(names) == sorted(PAYLOADS)
    assert api.client.operation_counts["RunFiles"] == 3
    assert len(files) == len(PAYLOADS)
    sizes = {f.name: f.size for f in files}
    assert sizes == {name: len(data) for name, data in PAYLOADS.items()}
    assert "<table" in files._repr_html_()
    only = run.files(names=["model.pt", "config.yaml"])
    assert sorted(f.name for f in only) == ["config.yaml", "model.pt"]


def test_download_round_trip(run: liberry.Run, tmp_path: Path) -> None:
    for name, data in PAYLOADS.items():
        file = run.file(name)
        assert file.md5 == base64.b64encode(hashlib.md5(data).digest()).decode()
        path = file.download(tmp_path)
        assert path == tmp_path / name
        assert path.read_bytes() == data
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]  # no temporary leftovers
    assert repr(run.file("model.pt")) == "<File model.pt (2.0 kB)>"


def test_replace_semantics(run: liberry.Run, tmp_path: Path) -> None:
    file = run.file("config.yaml")
    target = tmp_path / "config.yaml"
    target.write_bytes(b"local edits")
    with pytest.raises(liberry.UsageError, match="replace=True"):
        file.download(tmp_path)
    assert target.read_bytes() == b"local edits"
    assert file.download(tmp_path, exist_ok=True) == target
    assert target.read_bytes() == b"local edits"
    file.download(tmp_path, replace=True)
    assert target.read_bytes() == PAYLOADS["config.yaml"]


def test_upload_file_from_the_api(run: liberry.Run, tmp_path: Path) -> None:
    local = tmp_path / "checkpoints" / "best.ckpt"
    local.parent.mkdir()
    local.write_bytes(b"\x00weights\xff" * 1000)
    uploaded = run.upload_file(local, root=tmp_path)
    assert uploaded.name == "checkpoints/best.ckpt" and uploaded.size == 9000
    out = tmp_path / "out"
    assert run.file("checkpoints/best.ckpt").download(out).read_bytes() == local.read_bytes()
    with pytest.raises(liberry.UsageError, match="not inside root"):
        run.upload_file(local, root=tmp_path / "elsewhere")
    with pytest.raises(liberry.UsageError, match="not a file"):
        run.upload_file(tmp_path / "missing.bin", root=tmp_path)


def test_missing_file(run: liberry.Run) -> None:
    with pytest.raises(liberry.NotFoundError, match=r"no file 'nope\.txt'") as info:
        run.file("nope.txt")
    assert "run.files()" in str(info.value)


def test_names_cannot_escape_root(run: liberry.Run, api: liberry.Api, tmp_path: Path) -> None:
    evil = liberry.File(api, run.run_path, {"name": "../outside.txt", "url": "http://x/"})
    with pytest.raises(liberry.UsageError, match="outside"):
        evil.download(tmp_path)


def test_corrupt_download_is_detected(run: liberry.Run, tmp_path: Path) -> None:
    file = run.file("model.pt")
    file.md5 = base64.b64encode(b"0" * 16).decode()
    with pytest.raises(liberry.ServerError, match="corrupt"):
        file.download(tmp_path)
    assert not (tmp_path / "model.pt").exists()
    assert not list(tmp_path.iterdir())
