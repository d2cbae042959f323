"""`Run.history` (sampled, deterministic, outer-joined) and `Run.scan_history` (complete)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import liberry
from liberry.server import ServerHandle
from tests.seed import RunSpec, Seeder

from .conftest import unique

STEPS = 2000


def _row(step: int) -> dict[str, float | int]:
    row: dict[str, float | int] = {"_step": step, "loss": 1 / (step + 1), "epoch": step // 100}
    if step % 10 == 0:
        row["acc"] = step / STEPS
    if step % 50 == 5:
        row["val"] = -step  # logged on steps where `acc` never is
    return row


@pytest.fixture(scope="module")
def run_path(server: ServerHandle, seeder: Seeder) -> str:
    project = unique("history")
    seeder.write(RunSpec(project, run_id="h1", history=[_row(s) for s in range(STEPS)]))
    return f"admin/{project}/h1"


def test_history_is_sampled_sorted_and_deterministic(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    frame = run.history(samples=100)
    assert isinstance(frame, pd.DataFrame)
    assert 0 < len(frame) <= 100
    steps = list(frame["_step"])
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == STEPS - 1
    assert frame.columns[0] == "_step"
    assert {"loss", "epoch"} <= set(frame.columns)
    again = run.history(samples=100)
    pd.testing.assert_frame_equal(frame, again)
    assert len(run.history(samples=5000)) == STEPS


def test_keys_logged_at_different_steps_are_outer_joined(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    frame = run.history(keys=["acc", "val"], samples=STEPS)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["_step", "acc", "val"]
    # Every row with either key is there: none has both, so an inner join would be empty.
    acc_steps = [s for s in range(STEPS) if s % 10 == 0]
    val_steps = [s for s in range(STEPS) if s % 50 == 5]
    assert list(frame["_step"]) == sorted(acc_steps + val_steps)
    assert frame.set_index("_step").loc[105, "val"] == -105
    assert math.isnan(frame.set_index("_step").loc[105, "acc"])
    # One request for all keys.
    assert api.client.operation_counts["RunSampledHistory"] == 1


def test_sampled_keys_are_deterministic(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    first = run.history(keys=["loss", "val"], samples=50)
    second = run.history(keys=["loss", "val"], samples=50)
    pd.testing.assert_frame_equal(first, second)
    assert first["val"].notna().sum() == 40  # all 40 `val` rows fit the sample
    assert first["loss"].notna().sum() <= 50


def test_x_axis_and_plain_rows(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    rows = run.history(keys=["val"], x_axis="epoch", samples=1000, pandas=False)
    assert isinstance(rows, list)
    assert all(set(r) == {"epoch", "val"} for r in rows)
    assert [r["epoch"] for r in rows] == sorted(r["epoch"] for r in rows)
    assert len(rows) == 40
    by_epoch = run.history(x_axis="epoch", samples=100)
    assert isinstance(by_epoch, pd.DataFrame) and by_epoch.columns[0] == "epoch"
    assert list(by_epoch["epoch"]) == sorted(by_epoch["epoch"])
    empty = run.history(keys=["never_logged"])
    assert isinstance(empty, pd.DataFrame) and empty.empty
    assert list(empty.columns) == ["_step", "never_logged"]


def test_scan_history_streams_every_row(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    rows = list(run.scan_history(page_size=300))
    assert [r["_step"] for r in rows] == list(range(STEPS))
    assert rows[7] == _row(7)
    assert api.client.operation_counts["HistoryPage"] == math.ceil(STEPS / 300)
    window = list(run.scan_history(min_step=100, max_step=250, page_size=60))
    assert [r["_step"] for r in window] == list(range(100, 250))


def test_scan_history_with_keys(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    rows = list(run.scan_history(keys=["acc", "val"], page_size=500))
    expected = [s for s in range(STEPS) if s % 10 == 0 or s % 50 == 5]
    assert [r["_step"] for r in rows] == expected
    assert rows[1] == {"_step": 5, "val": -5}
    assert rows[2] == {"_step": 10, "acc": 10 / STEPS}
    assert list(run.scan_history(keys="loss", max_step=3)) == [
        {"_step": s, "loss": 1 / (s + 1)} for s in range(3)
    ]


def test_scan_history_crosses_sparse_steps_quickly(
    api: liberry.Api, seeder: Seeder, project_name: str
) -> None:
    steps = [0, 1, 2, 5_000, 1_000_000, 1_000_001]
    seeder.write(
        RunSpec(project_name, run_id="sparse", history=[{"_step": s, "x": s} for s in steps])
    )
    run = api.run(f"admin/{project_name}/sparse")
    assert [r["_step"] for r in run.scan_history(page_size=100)] == steps
    # Empty windows double in width: a few dozen requests per gap, not 10,000.
    assert api.client.operation_counts["HistoryPage"] < 100


def test_history_keys_say_what_was_logged(api: liberry.Api, run_path: str) -> None:
    keys = api.run(run_path).history_keys
    assert keys["lastStep"] == STEPS - 1
    counts = {name: {tc["type"]: tc["count"] for tc in entry["typeCounts"]}
              for name, entry in keys["keys"].items()}  # fmt: skip
    assert counts["loss"] == {"number": STEPS} and counts["epoch"] == {"number": STEPS}
    assert counts["acc"] == {"number": STEPS // 10} and counts["val"] == {"number": STEPS // 50}


def test_empty_history(api: liberry.Api, project_name: str) -> None:
    run = api.create_run(project=project_name, run_id="empty")
    assert list(run.scan_history()) == []
    frame = run.history()
    assert isinstance(frame, pd.DataFrame) and frame.empty
    assert run.history_keys == {"lastStep": -1, "keys": {}}


def test_history_of_missing_run(api: liberry.Api, run_path: str) -> None:
    run = api.run(run_path)
    ghost = liberry.Run(api, run.entity, run.project, "ghost")
    with pytest.raises(liberry.NotFoundError, match="ghost"):
        ghost.history()
    with pytest.raises(liberry.NotFoundError, match="ghost"):
        list(ghost.scan_history())


@pytest.mark.slow
def test_scan_history_is_complete_over_100k_rows(
    api: liberry.Api, seeder: Seeder, project_name: str
) -> None:
    n = 100_000
    history = [{"_step": s, "loss": s * 0.5, "acc": s % 7} for s in range(n)]
    seeder.write(RunSpec(project_name, run_id="big", history=history), chunk=20_000)
    run = api.run(f"admin/{project_name}/big")
    assert run.history_line_count == n
    count = 0
    for step, row in enumerate(run.scan_history()):
        assert row["_step"] == step and row["loss"] == step * 0.5
        count += 1
    assert count == n
    assert api.client.operation_counts["HistoryPage"] == n // 1000
    keyed = run.scan_history(keys=["acc"], page_size=5000, min_step=50_000)
    assert sum(1 for _ in keyed) == n - 50_000
