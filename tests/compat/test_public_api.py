"""Issue #4, item 4: `wandb.Api(overrides={"base_url": ...})` reads and edits liberry data.

One training process logs a small project of runs with varied config, summary, tags and
states; the tests then query it through the official public API (filters, orders,
pagination, attributes, edits, deletion, creation) and cross-check with `liberry.Api`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import wandb

from .conftest import WandbClient
from .readback import plain, user_summary

pytestmark = [pytest.mark.compat, pytest.mark.slow]

ARCHS = ["cnn", "mlp", "resnet50", "resnet18", "cnn", "mlp", "vit", "resnet34"]
LRS = [0.1, 0.01, 0.001, 0.1, 0.01, 0.001, 0.1, 0.0001]

MAKE_RUNS = """
import json, sys, time, wandb
project, entity = sys.argv[1], sys.argv[2]
ARCHS = json.loads(sys.argv[3])
LRS = json.loads(sys.argv[4])
ids = []
for i in range(8):
    run = wandb.init(entity=entity, project=project, name=f"run-{i}",
                     config={"lr": LRS[i], "arch": ARCHS[i], "bs": 32 * (1 + i % 2),
                             "nested": {"depth": i}},
                     tags=["even" if i % 2 == 0 else "odd", f"t{i}"],
                     group="g-low" if i < 4 else "g-high", job_type="train")
    for step in range(5):
        run.log({"loss": (8 - i) / (step + 1), "acc": i / 10 + step / 100})
    run.summary["score"] = i * 1.5
    run.finish(exit_code=1 if i == 5 else 0)
    ids.append(run.id)
    time.sleep(0.01)  # distinct created_at
emit(ids)
"""


@pytest.fixture(scope="module")
def project(wandb_client: WandbClient) -> dict[str, Any]:
    name = "public-api"
    args = [name, wandb_client.entity, json.dumps(ARCHS), json.dumps(LRS)]
    ids = wandb_client.run(MAKE_RUNS, args=args).result
    return {"name": name, "path": f"{wandb_client.entity}/{name}", "ids": ids}


def _summary_loss(i: int) -> float:
    return (8 - i) / 5


def test_projects(wandb_client: WandbClient, project: dict[str, Any]) -> None:
    api = wandb_client.api()
    names = [p.name for p in api.projects(wandb_client.entity)]
    assert project["name"] in names
    proj = api.project(project["name"], wandb_client.entity)
    assert proj.entity == wandb_client.entity
    lib = wandb_client.liberry_api()
    assert project["name"] in [p.name for p in lib.projects(wandb_client.entity)]


def test_runs_listing_order_and_pagination(
    wandb_client: WandbClient, project: dict[str, Any]
) -> None:
    api = wandb_client.api()
    ids = project["ids"]
    runs = api.runs(project["path"])  # wandb.Api's default order is +created_at
    assert len(runs) == 8
    assert [r.id for r in runs] == ids
    assert [r.id for r in api.runs(project["path"], order="-created_at")] == ids[::-1]

    paged = api.runs(project["path"], per_page=3, order="+created_at")
    assert [r.id for r in paged] == ids
    assert len(paged) == 8

    by_loss = api.runs(project["path"], order="+summary_metrics.loss", per_page=2)
    assert [r.id for r in by_loss] == [ids[i] for i in sorted(range(8), key=_summary_loss)]
    by_lr = [r.id for r in api.runs(project["path"], order="-config.lr", per_page=5)]
    want_lr = sorted(range(8), key=lambda i: (-LRS[i], -i))  # ties: newest first
    assert by_lr == [ids[i] for i in want_lr]
    by_depth = [r.id for r in api.runs(project["path"], order="+config.nested.depth")]
    assert by_depth == ids


def _ids_of(runs: Any) -> set[str]:
    return {r.id for r in runs}


FILTERS: list[tuple[dict[str, Any], list[int]]] = [
    ({"config.lr": 0.1}, [0, 3, 6]),
    ({"config.arch": {"$regex": "^resnet"}}, [2, 3, 7]),
    ({"$or": [{"config.arch": "cnn"}, {"config.arch": "mlp"}]}, [0, 1, 4, 5]),
    ({"$and": [{"config.lr": {"$lt": 0.05}}, {"config.bs": 64}]}, [1, 5, 7]),
    ({"config.nested.depth": {"$gte": 5}}, [5, 6, 7]),
    ({"summary_metrics.loss": {"$lt": 0.5}}, [6, 7]),
    ({"summary_metrics.score": {"$gt": 6}}, [5, 6, 7]),
    ({"state": "failed"}, [5]),
    ({"state": "finished"}, [0, 1, 2, 3, 4, 6, 7]),
    ({"tags": "even"}, [0, 2, 4, 6]),
    ({"tags": {"$in": ["t1", "t2"]}}, [1, 2]),
    ({"display_name": {"$regex": "run-[0-2]$"}}, [0, 1, 2]),
    ({"group": "g-high", "config.arch": "mlp"}, [5]),
    ({"$or": [{"summary_metrics.score": 0}, {"tags": "t7"}]}, [0, 7]),
]


@pytest.mark.parametrize("filters,want", FILTERS, ids=[str(f) for f, _ in FILTERS])
def test_runs_filters(
    wandb_client: WandbClient, project: dict[str, Any], filters: dict[str, Any], want: list[int]
) -> None:
    ids = project["ids"]
    api = wandb_client.api()
    runs = api.runs(project["path"], filters=filters, per_page=2)
    assert _ids_of(runs) == {ids[i] for i in want}
    assert len(runs) == len(want)
    lib = wandb_client.liberry_api()
    assert _ids_of(lib.runs(project["path"], filters=filters)) == {ids[i] for i in want}


def test_run_attributes_config_summary(wandb_client: WandbClient, project: dict[str, Any]) -> None:
    api = wandb_client.api()
    lib = wandb_client.liberry_api()
    for i, run in enumerate(api.runs(project["path"], per_page=4)):
        assert run.id == project["ids"][i]
        assert run.name == f"run-{i}"
        assert run.state == ("failed" if i == 5 else "finished")
        assert run.config == {"lr": LRS[i], "arch": ARCHS[i], "bs": 32 * (1 + i % 2),
                              "nested": {"depth": i}}
        summary = user_summary(plain(run.summary))
        assert summary == {"loss": _summary_loss(i), "acc": i / 10 + 0.04, "score": i * 1.5,
                           "_step": 4}
        assert run.tags == ["even" if i % 2 == 0 else "odd", f"t{i}"]
        assert run.group == ("g-low" if i < 4 else "g-high") and run.job_type == "train"
        if lib is not None:
            other = lib.run(f"{project['path']}/{run.id}")
            assert plain(other.config) == run.config
            assert user_summary(plain(other.summary)) == summary
            assert (other.name, other.state, other.tags, other.group, other.job_type) == (
                run.name, run.state, run.tags, run.group, run.job_type)


def test_history_samples_and_keys(wandb_client: WandbClient, project: dict[str, Any]) -> None:
    api = wandb_client.api()
    run = api.run(f"{project['path']}/{project['ids'][3]}")
    rows = run.history(samples=3, pandas=False)
    assert [r["_step"] for r in rows] == [0, 2, 4]
    full = run.history(samples=100, keys=["loss"], pandas=False)
    assert [(r["_step"], r["loss"]) for r in full] == [(s, 5 / (s + 1)) for s in range(5)]
    scanned = list(run.scan_history(keys=["acc"], page_size=2))
    assert [r["_step"] for r in scanned] == list(range(5))


def test_run_update(wandb_client: WandbClient, project: dict[str, Any]) -> None:
    api = wandb_client.api()
    path = f"{project['path']}/{project['ids'][2]}"
    run = api.run(path)
    run.name = "renamed"
    run.notes = "edited through wandb.Api"
    run.tags = [*run.tags, "edited"]
    run.group = "g-edited"
    run.job_type = "eval"
    run.config["lr"] = 0.5
    run.config["added"] = {"x": [1, 2]}
    run.summary["score"] = 99.5
    run.summary["new_metric"] = "yes"
    run.update()

    readers = [wandb_client.api()]
    lib = wandb_client.liberry_api()
    readers.append(lib)
    for reader in readers:
        again = reader.run(path)
        assert again.name == "renamed" and again.notes == "edited through wandb.Api"
        assert again.tags == ["even", "t2", "edited"]
        assert again.group == "g-edited" and again.job_type == "eval"
        assert plain(again.config) == {"lr": 0.5, "arch": "resnet50", "bs": 32,
                                       "nested": {"depth": 2}, "added": {"x": [1, 2]}}
        summary = user_summary(plain(again.summary))
        assert summary["score"] == 99.5 and summary["new_metric"] == "yes"
        assert summary["loss"] == _summary_loss(2)
        assert again.state == "finished"
    # History and files are untouched by an update.
    assert len(list(wandb_client.api().run(path).scan_history())) == 5


def test_create_and_delete_run(wandb_client: WandbClient) -> None:
    api = wandb_client.api()
    created = api.create_run(run_id="madebyapi", project="created", entity=wandb_client.entity)
    assert created.id == "madebyapi"
    path = f"{wandb_client.entity}/created/madebyapi"
    fetched = wandb_client.api().run(path)
    assert fetched.state == "running"
    listed = wandb_client.api().runs(f"{wandb_client.entity}/created")
    assert [r.id for r in listed] == ["madebyapi"]

    fetched.delete()
    fresh = wandb_client.api()
    assert len(fresh.runs(f"{wandb_client.entity}/created")) == 0
    with pytest.raises(wandb.errors.CommError, match="Could not find run"):
        fresh.run(path)
