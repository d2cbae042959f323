"""`Api.sync_tensorboard` and `liberry sync-tensorboard` on event files written by
tensorboardX (and PyTorch's SummaryWriter when torch is installed), against a real server."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import liberry
from liberry.errors import UsageError
from liberry.server import ServerHandle
from tests.api.conftest import unique

tensorboardX = pytest.importorskip("tensorboardX")
pytest.importorskip("tensorboard")


def f32(x: float) -> float:
    """What a float becomes in an event file (`simple_value` is a float32)."""
    return float(np.float32(x))


_writers = iter(range(10**6))


def writer_for(log_dir: Path) -> tensorboardX.SummaryWriter:
    # Event file names carry the time in seconds: two writers in one second would share a
    # file (the second truncating the first) without a suffix of their own.
    return tensorboardX.SummaryWriter(str(log_dir), filename_suffix=f".{next(_writers)}")


def write(log_dir: Path, steps: range, *, extra_tag: bool = False) -> None:
    with writer_for(log_dir) as writer:
        for step in steps:
            writer.add_scalar("train/loss", 1.0 / (step + 1), step)
            writer.add_scalar("val/acc", step / 100, step)
            if extra_tag:
                writer.add_scalar("lr", 0.5, step)


def history(api: liberry.Api, path: str) -> list[dict]:
    return [
        {k: v for k, v in row.items() if k in ("_step", "train/loss", "val/acc", "lr")}
        for row in api.run(path).scan_history()
    ]


def expected(steps: range, *, lr_from: int | None = None) -> list[dict]:
    rows = []
    for s in steps:
        row = {"_step": s, "train/loss": f32(1.0 / (s + 1)), "val/acc": f32(s / 100)}
        if lr_from is not None and s >= lr_from:
            row["lr"] = 0.5
        rows.append(row)
    return rows


def test_scalars_histograms_text_hparams(api: liberry.Api, entity: str, tmp_path: Path) -> None:
    project = unique("tb")
    with tensorboardX.SummaryWriter(str(tmp_path / "exp")) as writer:
        for step in range(30):
            writer.add_scalar("train/loss", 1.0 / (step + 1), step)
            writer.add_scalar("val/acc", step / 100, step)
            if step % 10 == 0:
                writer.add_histogram("weights", np.arange(100, dtype=float), step)
        writer.add_text("notes", "baseline run", 0)
        writer.add_hparams({"lr": 0.01, "optimizer": "adam"}, {"hp/final_acc": 0.29})
    [result] = api.sync_tensorboard(str(tmp_path / "exp"), project=project, progress=False)
    assert result.created and result.rows_added == 30 and result.problems == []
    # Named after the folder; add_hparams' nested folder folded into it, not a run of its own.
    assert result.path == f"{entity}/{project}/exp"
    assert [r.id for r in api.runs(f"{entity}/{project}")] == ["exp"]
    assert history(api, result.path) == expected(range(30))
    run = api.run(result.path)
    assert run.config == {"notes": "baseline run", "lr": 0.01, "optimizer": "adam"}
    assert run.summary["train/loss"] == f32(1 / 30) and run.summary["hp/final_acc"] == f32(0.29)
    rows = list(run.scan_history())
    hist = rows[10]["weights"]
    assert hist["_type"] == "histogram"
    assert sum(hist["values"]) == 100 and len(hist["bins"]) == len(hist["values"]) + 1
    assert hist["bins"][0] == 0.0 and hist["bins"][-1] == 99.0
    assert "weights" not in rows[11]


def test_resync_is_idempotent_and_appends_only_new_steps(
    api: liberry.Api, entity: str, tmp_path: Path
) -> None:
    project = unique("tb")
    log_dir = tmp_path / "run1"
    write(log_dir, range(20))
    first = api.sync_tensorboard(str(log_dir), project=project, run_id="r1", progress=False)
    assert first[0].rows_added == 20
    again = api.sync_tensorboard(str(log_dir), project=project, run_id="r1", progress=False)
    assert (again[0].created, again[0].rows_added) == (False, 0)
    assert api.run(f"{entity}/{project}/r1").history_line_count == 20
    # Training resumes: a new event file in the same folder, a tag added from step 19 on
    # (step 19 was already synced without it: its row is completed, not duplicated).
    with writer_for(log_dir) as writer:
        writer.add_scalar("lr", 0.5, 19)
    write(log_dir, range(20, 35), extra_tag=True)
    more = api.sync_tensorboard(str(log_dir), project=project, run_id="r1", progress=False)
    assert more[0].rows_added == 15
    assert history(api, f"{entity}/{project}/r1") == expected(range(35), lr_from=19)
    assert api.run(f"{entity}/{project}/r1").history_line_count == 35


def test_one_run_per_log_dir_named_after_folders(
    api: liberry.Api, entity: str, tmp_path: Path
) -> None:
    project = unique("tb")
    for name in ("baseline", "tuned/seed-1"):
        write(tmp_path / "logs" / name, range(5))
    results = api.sync_tensorboard(str(tmp_path / "logs"), project=project, progress=False)
    assert sorted(r.path for r in results) == [
        f"{entity}/{project}/baseline", f"{entity}/{project}/tuned-seed-1"
    ]  # fmt: skip
    names = sorted(r.display_name for r in api.runs(f"{entity}/{project}"))
    assert names == ["baseline", "tuned/seed-1"]
    prefixed = api.sync_tensorboard(str(tmp_path / "logs"), project=project, run_id="x",
                                    progress=False)  # fmt: skip
    assert sorted(r.path.rsplit("/", 1)[1] for r in prefixed) == ["x-baseline", "x-tuned-seed-1"]


def test_bad_inputs_say_what_is_wrong(api: liberry.Api, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("not an event file")
    with pytest.raises(UsageError, match="no TensorBoard event files"):
        api.sync_tensorboard(str(tmp_path / "empty"), project="p", progress=False)
    with pytest.raises(UsageError, match="does not exist"):
        api.sync_tensorboard(str(tmp_path / "missing"), project="p", progress=False)


def test_truncated_event_file_keeps_what_was_read(
    api: liberry.Api, entity: str, tmp_path: Path
) -> None:
    project = unique("tb")
    log_dir = tmp_path / "crashed"
    write(log_dir, range(50))
    [event_file] = list(log_dir.iterdir())
    data = event_file.read_bytes()
    event_file.write_bytes(data[: len(data) - 30])  # the writer died mid-record
    with pytest.warns(UserWarning, match="truncated"):
        [result] = api.sync_tensorboard(str(log_dir), project=project, progress=False)
    assert result.problems and str(event_file) in result.problems[0]
    rows = history(api, result.path)
    # Step 49's last event (val/acc) was cut: its row keeps the loss, every earlier row is whole.
    assert len(rows) == 50
    assert rows[:-1] == expected(range(49))
    assert rows[-1] == {"_step": 49, "train/loss": f32(1 / 50)}


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_pytorch_summary_writer(api: liberry.Api, entity: str, tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter  # type: ignore[import-not-found]

    project = unique("tb")
    with SummaryWriter(str(tmp_path / "torchrun")) as writer:
        for step in range(10):
            writer.add_scalar("train/loss", 1.0 / (step + 1), step)
            writer.add_scalar("val/acc", step / 100, step)
    [result] = api.sync_tensorboard(str(tmp_path / "torchrun"), project=project, progress=False)
    assert history(api, result.path) == expected(range(10))


def test_cli(server: ServerHandle, api: liberry.Api, entity: str, tmp_path: Path) -> None:
    project = unique("tb")
    write(tmp_path / "cli-run", range(12))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "LIBERRY_"))}
    env.update(LIBERRY_BASE_URL=server.url, LIBERRY_API_KEY=server.api_key)
    cmd = [sys.executable, "-m", "liberry.cli", "sync-tensorboard"]
    done = subprocess.run([*cmd, str(tmp_path / "cli-run"), "--project", project],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"{entity}/{project}/cli-run: created, 12 new history rows" in done.stdout
    assert "reading event files" in done.stderr  # the progress bar
    assert history(api, f"{entity}/{project}/cli-run") == expected(range(12))
    (tmp_path / "nothing").mkdir()
    bad = subprocess.run([*cmd, str(tmp_path / "nothing"), "--project", project],
                         env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2
    assert "no TensorBoard event files" in bad.stderr and "Traceback" not in bad.stderr
