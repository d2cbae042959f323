"""`Api.runs` / `Api.run`: paging, limit, page(), exports, caching, create/update/delete."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import liberry
from liberry.server import ServerHandle
from tests.seed import RunSpec, Seeder

from .conftest import unique

N = 23  # not a multiple of the page sizes used below


def _spec(project: str, i: int) -> RunSpec:
    return RunSpec(
        project,
        run_id=f"r{i:02d}",
        config={"lr": 0.001 * (i + 1), "opt": {"name": "adam" if i % 2 else "sgd", "beta": i}},
        summary={"loss": 1 / (i + 1), "acc": i / N, "_wandb": {"runtime": 1}},
        display_name=f"lr={0.001 * (i + 1):g}",
        tags=["even"] if i % 2 == 0 else ["odd"],
        group="g" if i < 10 else None,
        job_type="train",
        notes=f"note {i}",
        exitcode=None if i == N - 1 else 0,
    )


@pytest.fixture(scope="module")
def project(server: ServerHandle, seeder: Seeder) -> str:
    name = unique("runs")
    for i in range(N):
        seeder.write(_spec(name, i))
    return name


def newest_first() -> list[str]:
    return [f"r{i:02d}" for i in reversed(range(N))]


def test_iteration_pages_lazily(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", per_page=5)
    assert api.client.operation_counts["Runs"] == 0  # lazy
    assert runs[0].id == newest_first()[0]
    assert runs.loaded == 5
    ids = [r.id for r in runs]
    assert ids == newest_first()
    assert api.client.operation_counts["Runs"] == 3  # pages of 5, 10, 20: doubling
    assert [r.id for r in runs] == ids  # cached: no more requests
    assert api.client.operation_counts["Runs"] == 3


def test_pages_double_up_to_1000(api: liberry.Api) -> None:
    runs = api.runs("admin/anything", per_page=50)
    sizes = []
    for _ in range(8):
        sizes.append(runs._next_page_size())
        runs._fetches += 1
    assert sizes == [50, 100, 200, 400, 800, 1000, 1000, 1000]
    assert api.runs("admin/anything", per_page=2000)._next_page_size() == 2000


def test_len_uses_the_server_count(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", per_page=5)
    assert len(runs) == N
    assert api.client.operation_counts["Runs"] == 1
    assert runs.loaded == 5


def test_indexing_and_slicing_across_pages(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", per_page=4)
    expected = newest_first()
    assert runs[0].id == expected[0]
    assert runs[9].id == expected[9]
    assert api.client.operation_counts["Runs"] == 2  # 4 + 8
    assert [r.id for r in runs[3:11]] == expected[3:11]
    assert runs[-1].id == expected[-1]
    assert [r.id for r in runs[-3:]] == expected[-3:]
    assert [r.id for r in runs[::5]] == expected[::5]
    with pytest.raises(IndexError):
        runs[N]


def test_limit_caps_runs_and_requests(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", per_page=5, limit=7)
    assert [r.id for r in runs] == newest_first()[:7]
    assert len(runs) == 7
    assert api.client.operation_counts["Runs"] == 2  # 5 + 2: never more than the limit
    assert len(api.runs(f"admin/{project}", limit=0)) == 0
    assert list(api.runs(f"admin/{project}", limit=100)) == list(api.runs(f"admin/{project}"))
    frame = api.runs(f"admin/{project}", limit=3).to_pandas()
    assert list(frame["id"]) == newest_first()[:3]


def test_run_attributes(api: liberry.Api, project: str) -> None:
    run = api.run(f"admin/{project}/r03")
    assert run.id == "r03" and run.entity == "admin" and run.project == project
    assert run.name == run.display_name == "lr=0.004"
    assert run.state == "finished"
    assert run.config == {"lr": 0.004, "opt": {"name": "odd" and "adam", "beta": 3}}
    assert run.summary["loss"] == 0.25
    assert run.tags == ["odd"] and run.group == "g" and run.job_type == "train"
    assert run.notes == "note 3"
    assert run.created_at and run.heartbeat_at and run.created_at <= run.heartbeat_at
    assert run.url == f"{api.base_url}/admin/{project}/runs/r03"
    assert run.path == ["admin", project, "r03"]
    assert repr(run) == f'<Run admin/{project}/r03 "lr=0.004" (finished)>'
    assert "config.lr" in run._repr_html_()
    assert api.run(f"admin/{project}/r{N - 1}").state == "running"


def test_path_forms(server: ServerHandle, project: str) -> None:
    base = {"base_url": server.url, "api_key": server.api_key}
    full = liberry.Api(overrides=base).run(f"admin/{project}/r01")
    assert liberry.Api(overrides=base).run(f"{project}/r01") == full  # viewer's entity
    assert liberry.Api(overrides={**base, "entity": "admin"}).run(f"{project}/r01") == full
    both = {**base, "entity": "admin", "project": project}
    assert liberry.Api(overrides=both).run("r01") == full
    assert liberry.Api(overrides={**both, "run": "r01"}).run() == full
    url = f"{server.url}/admin/{project}/runs/r01"
    assert liberry.Api(overrides=base).run(url) == full
    assert liberry.Api(overrides=base).run(["admin", project, "r01"]) == full  # type: ignore[arg-type]
    assert len(liberry.Api(overrides=both).runs()) == N
    assert len(liberry.Api(overrides=base).runs(project)) == N
    api = liberry.Api(overrides=base)
    for bad in ("a/b/c/d", "a//b", "/"):
        with pytest.raises(liberry.UsageError, match=r"run path|no run"):
            api.run(bad)
    with pytest.raises(liberry.UsageError, match="no project"):
        api.run("r01")
    with pytest.raises(liberry.UsageError, match="no project"):
        api.runs()
    with pytest.raises(liberry.UsageError, match="invalid project path"):
        api.runs("a/b/c")


def test_iterating_asks_for_little(api: liberry.Api, project: str) -> None:
    """Iteration selects only what `repr` shows; other attributes fill a page at a time."""
    runs = list(api.runs(f"admin/{project}", per_page=10))
    assert {"displayName", "state", "createdAt"} <= set(runs[0]._attrs)
    assert "tags" not in runs[0]._attrs and runs[0]._config is None
    assert [r.tags for r in runs] == [["even"] if int(r.id[1:]) % 2 == 0 else ["odd"] for r in runs]
    assert runs[3].group == ("g" if int(runs[3].id[1:]) < 10 else None)
    assert runs[3].config["opt"]["beta"] == int(runs[3].id[1:])
    assert api.client.operation_counts["RunsTable"] == 2  # one per page, not per run
    assert runs[0].storage_id and api.client.operation_counts["Run"] == 0
    assert runs[0].history_line_count == 0  # not in any listing: this one run is fetched
    assert api.client.operation_counts["Run"] == 1


def test_hydration_keeps_local_changes(api: liberry.Api, project: str) -> None:
    run = api.runs(f"admin/{project}")[0]
    run.name = "changed locally"
    run.tags = ["mine"]
    assert run.config["lr"] > 0  # fills the page in
    assert (run.name, run.tags) == ("changed locally", ["mine"])


def test_reading_config_costs_one_request_per_page(api: liberry.Api, project: str) -> None:
    """The loop wandb users write sends one query per run there; here one per page."""
    pairs = [(r.config, r.summary) for r in api.runs(f"admin/{project}", per_page=10)]
    assert len(pairs) == N
    assert pairs[-1][0]["lr"] == 0.001
    assert api.client.operation_counts["Runs"] == 2  # 10 + 20
    assert api.client.operation_counts["RunsTable"] == 2
    assert api.client.operation_counts["Run"] == 0


def test_page_fetches_one_table_page(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", per_page=6)
    expected = newest_first()
    first = runs.page(0)
    assert [r.id for r in first] == expected[:6]
    assert first[0].config["lr"] == pytest.approx(0.001 * N)
    assert api.client.operation_counts["RunsTable"] == 1
    assert api.client.operation_counts["RunsCursor"] == 0
    assert len(runs) == N and api.client.operation_counts["Runs"] == 0
    # The next page continues from a known cursor: one request.
    assert [r.id for r in runs.page(6)] == expected[6:12]
    assert api.client.operation_counts["RunsTable"] == 2
    assert api.client.operation_counts["RunsCursor"] == 0
    # A jump costs one cursor request more, then the cursor is remembered.
    assert [r.id for r in runs.page(15, 4)] == expected[15:19]
    assert api.client.operation_counts["RunsCursor"] == 1
    assert [r.id for r in runs.page(15, 4)] == expected[15:19]
    assert api.client.operation_counts["RunsCursor"] == 1
    assert [r.id for r in runs.page(20, 10)] == expected[20:]
    assert runs.page(N) == [] and runs.page(N + 50) == []
    assert api.client.operation_counts["Run"] == 0
    with pytest.raises(ValueError):
        runs.page(-1)
    limited = api.runs(f"admin/{project}", per_page=6, limit=8)
    assert [r.id for r in limited.page(6)] == expected[6:8]
    assert limited.page(8) == []


def test_to_pandas_one_request_per_page(api: liberry.Api, project: str) -> None:
    frame = api.runs(f"admin/{project}").to_pandas(bulk=False)  # GraphQL pages, as on W&B
    assert api.client.operation_counts["RunsExport"] == 1  # 23 runs fit one export page
    assert list(frame["id"]) == newest_first()
    assert list(frame.columns[:4]) == ["id", "name", "state", "created_at"]
    assert str(frame["created_at"].dtype).startswith("datetime64") and frame["created_at"].dt.tz
    assert {
        "config.lr",
        "config.opt.name",
        "config.opt.beta",
        "summary.loss",
        "summary.acc",
    } <= set(frame.columns)
    assert not any(c.startswith("summary._wandb") for c in frame.columns)
    row = frame.set_index("id").loc["r05"]
    assert row["name"] == "lr=0.006" and row["state"] == "finished"
    assert row["config.opt.name"] == "adam" and row["summary.loss"] == pytest.approx(1 / 6)
    assert frame.set_index("id").loc[f"r{N - 1}", "state"] == "running"


def test_export_pages_are_large(api: liberry.Api, server: ServerHandle, seeder: Seeder) -> None:
    name = unique("export")
    seeder.write_many([RunSpec(name, run_id=f"x{i:04d}", config={"i": i}) for i in range(1200)])
    runs = api.runs(f"admin/{name}")
    frame = runs.to_pandas(progress=False, bulk=False)  # GraphQL pages, as on W&B
    assert len(frame) == 1200 and sorted(frame["config.i"]) == list(range(1200))
    assert api.client.operation_counts["RunsExport"] == 2  # 1000 + 200
    # The export is reused for iteration.
    assert len([r.config["i"] for r in runs]) == 1200
    assert api.client.operation_counts["Runs"] == 0 and api.client.operation_counts["Run"] == 0


def test_to_arrow(api: liberry.Api, project: str, seeder: Seeder) -> None:
    table = api.runs(f"admin/{project}").to_arrow()
    assert isinstance(table, pa.Table) and table.num_rows == N
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("config.lr").type == pa.float64()
    mixed = unique("mixed")
    seeder.write(RunSpec(mixed, config={"v": 1, "l": [1, 2]}))
    seeder.write(RunSpec(mixed, config={"v": "one", "l": {"a": 1}}))
    table = api.runs(f"admin/{mixed}", order="+created_at").to_arrow()
    assert table.column("config.v").to_pylist() == ["1", "one"]
    assert table.column("config.l.a").to_pylist() == [None, 1]


def test_repr_and_html(api: liberry.Api, project: str) -> None:
    runs = api.runs(f"admin/{project}", filters={"state": "finished"}, per_page=50)
    assert repr(runs) == f'<Runs admin/{project} filters={{"state": "finished"}}>'
    html = runs._repr_html_()
    assert "<table" in html and "r21" in html and f"20 of {N - 1:,} runs" in html
    assert repr(runs).endswith(f"({N - 1} runs)>")


def test_flush_and_cache_keys(api: liberry.Api, project: str, seeder: Seeder) -> None:
    path = f"admin/{project}"
    runs = api.runs(path, filters={"config.lr": {"$gt": 0}})
    assert api.runs(path, filters={"config.lr": {"$gt": 0}}) is runs
    # Everything that changes the result is part of the key.
    assert api.runs(path, filters={"config.lr": {"$gt": 1}}) is not runs
    assert api.runs(path, filters={"config.lr": {"$gt": 0}}, order="+created_at") is not runs
    assert api.runs(path, filters={"config.lr": {"$gt": 0}}, per_page=7) is not runs
    assert api.runs(path, filters={"config.lr": {"$gt": 0}}, limit=3) is not runs
    assert api.runs(project, filters={"config.lr": {"$gt": 0}}) is runs  # same path
    run = api.run(f"{path}/r02")
    assert api.run(f"{path}/r02") is run
    count = len(runs)
    seeder.write(RunSpec(project, run_id="late", config={"lr": 5}))
    try:
        assert len(api.runs(path, filters={"config.lr": {"$gt": 0}})) == count  # cached
        api.flush()
        fresh = api.runs(path, filters={"config.lr": {"$gt": 0}})
        assert fresh is not runs and len(fresh) == count + 1
        assert api.run(f"{path}/r02") is not run
    finally:
        api.run(f"{path}/late").delete()


def test_create_update_delete(api: liberry.Api, project_name: str) -> None:
    run = api.create_run(
        project=project_name, run_id="new1", display_name="first",
        config={"lr": 0.1, "n": {"a": 1}}, tags=["t1"], notes="hello", group="grp",
        job_type="eval",
    )  # fmt: skip
    assert api.client.operation_counts["CreateRun"] == 1
    assert (run.id, run.name, run.state, run.tags) == ("new1", "first", "running", ["t1"])
    assert run.config == {"lr": 0.1, "n": {"a": 1}}
    assert api.client.operation_counts["Run"] == 0  # the mutation returned everything
    generated = api.create_run(project=project_name)
    assert len(generated.id) == 8 and generated.id.isalnum()

    run.config["lr"] = 0.2
    run.config["new"] = [1, 2]
    run.summary["best"] = 0.9
    run.name = "renamed"
    run.notes = "changed"
    run.tags = ["t1", "t2"]
    run.group = "grp2"
    run.job_type = "train"
    run.update()
    api.flush()
    again = api.run(f"{project_name}/new1")
    assert again.config == {"lr": 0.2, "n": {"a": 1}, "new": [1, 2]}
    assert again.summary["best"] == 0.9
    assert (again.name, again.notes, again.tags) == ("renamed", "changed", ["t1", "t2"])
    assert (again.group, again.job_type) == ("grp2", "train")
    assert sorted(r.id for r in api.runs(project_name)) == sorted(["new1", generated.id])

    again.delete()
    api.flush()
    assert [r.id for r in api.runs(project_name)] == [generated.id]
    with pytest.raises(liberry.NotFoundError, match="not found"):
        api.run(f"{project_name}/new1")


def test_update_keeps_internal_config(api: liberry.Api, project_name: str, seeder: Seeder) -> None:
    seeder.gql(
        "mutation($e: String, $p: String, $c: JSONString) { upsertBucket(input: {entityName: $e,"
        " modelName: $p, name: \"int1\", config: $c}) { bucket { id } } }",
        {"e": "admin", "p": project_name,
         "c": '{"lr": {"value": 1}, "_wandb": {"value": {"cli_version": "0.31.0"}}}'},
    )  # fmt: skip
    run = api.run(f"{project_name}/int1")
    assert run.config == {"lr": 1}
    run.config["lr"] = 2
    run.update()
    raw: dict[str, Any] = run._config_raw or {}
    assert raw["_wandb"] == {"value": {"cli_version": "0.31.0"}}
    assert raw["lr"] == {"value": 2}


def test_projects(api: liberry.Api, project: str) -> None:
    projects = api.projects()
    names = [p.name for p in projects]
    assert project in names
    assert api.client.operation_counts["GetProjects"] == 1
    small = api.projects("admin", per_page=2)
    assert [p.name for p in small] == names
    assert api.client.operation_counts["GetProjects"] >= 1 + (len(names) + 1) // 2
    found = next(p for p in projects if p.name == project)
    assert found.entity == "admin" and found.created_at and found.id
    assert repr(found) == f"<Project admin/{project}>"
    assert len(found.runs()) == N
    assert "<table" in projects._repr_html_()
    created = api.create_project(unique("made"), "admin")
    assert created.name in [p.name for p in api.projects("admin")]


def test_resources_share_the_api_session(api: liberry.Api, project: str) -> None:
    """A project's runs, a run's reload and an Api over the same session hit one cache, so
    asking again sends nothing; `flush` empties it for all of them."""
    runs = api.project(project, "admin").runs(order="+created_at")
    assert runs is api.runs(f"admin/{project}", order="+created_at")
    run = api.run(f"admin/{project}/{runs[0].id}")
    same = liberry.Api.from_session(run._session)
    sent = api.client.operation_counts["Run"]
    assert same.run(run.path_str) is run and same.base_url == api.base_url
    assert api.client.operation_counts["Run"] == sent
    same.flush()
    assert api.run(run.path_str) is not run


def test_projects_without_entity(server: ServerHandle) -> None:
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    api.session._viewer = {"id": "x", "entity": None}  # a user without an entity
    with pytest.raises(ValueError, match="no entity"):
        api.projects()


def test_run_keys(api: liberry.Api, project: str) -> None:
    config, summary = api.run_keys(f"admin/{project}")
    assert config == ["lr", "opt.beta", "opt.name"]
    assert {"acc", "loss"} <= set(summary) and "_wandb" not in summary
    assert api.client.operation_counts["RunKeys"] == 1


def test_run_keys_falls_back_without_the_liberry_field(
    api: liberry.Api, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without `runKeys` (W&B's) answers "Cannot query field": scan instead."""
    from liberry import api as api_module
    from liberry.queries import Operation

    expected = api.run_keys(f"admin/{project}")
    missing = Operation.build(
        "RunKeys",
        "query RunKeys($entity: String!, $project: String!) {"
        " project(name: $project, entityName: $entity) { runKeysNotHere { config } } }",
    )
    monkeypatch.setattr(api_module.queries, "RUN_KEYS", missing)
    assert api.run_keys(f"admin/{project}") == expected
    assert api.client.operation_counts["RunsExport"] == 1


def test_frame_of_empty_project(api: liberry.Api, project_name: str) -> None:
    api.create_project(project_name, "admin")
    frame = api.runs(f"admin/{project_name}").to_pandas()
    assert isinstance(frame, pd.DataFrame) and frame.empty
    assert list(frame.columns) == ["id", "name", "state", "created_at"]
    assert len(api.runs(f"admin/{project_name}")) == 0


def test_update_sends_only_what_changed(api: liberry.Api, project_name: str) -> None:
    """Renaming must not write back a summary the run may be updating meanwhile."""
    sent: list[dict[str, Any]] = []
    run = api.create_run(project=project_name, run_id="busy", summary={"loss": 1.0})
    api.client.session.hooks["response"].append(
        lambda r, *a, **k: sent.append(json.loads(r.request.body or b"{}"))
    )
    # Meanwhile, the training process writes a newer summary.
    api.client.execute(
        liberry.queries.UPDATE_RUN,
        {"id": run.storage_id, "summaryMetrics": json.dumps({"loss": 0.5})},
    )
    run.name = "renamed"
    run.update()
    variables = sent[-1]["variables"]
    assert variables["displayName"] == "renamed"
    assert "summaryMetrics" not in variables and "config" not in variables
    assert run.summary == {"loss": 0.5}
    run.summary["loss"] = 0.1
    run.update()
    assert json.loads(sent[-1]["variables"]["summaryMetrics"]) == {"loss": 0.1}


def test_page_after_new_runs_starts_at_the_right_run(
    api: liberry.Api, server: ServerHandle, seeder: Seeder
) -> None:
    name = unique("page-fresh")
    for i in range(10):
        seeder.write(RunSpec(name, run_id=f"a{i}"))
    runs = api.runs(f"admin/{name}", per_page=4)
    assert [r.id for r in runs.page(4)] == ["a5", "a4", "a3", "a2"]
    seeder.write(RunSpec(name, run_id="new"))  # newest first: everything shifts by one
    assert [r.id for r in runs.page(4)] == ["a6", "a5", "a4", "a3"]
    assert len(runs) == 11


def test_page_jumps_past_the_servers_page_cap(
    api: liberry.Api, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import liberry.runs as runs_module

    name = unique("page-jump")
    for i in range(30):
        seeder.write(RunSpec(name, run_id=f"j{i:02d}"))
    # A small skip size stands in for W&B's page cap, and the server is made to look like one
    # without liberry's deep skip: a jump takes several steps.
    monkeypatch.setattr(runs_module, "MAX_SKIP", 7)
    monkeypatch.setattr(runs_module, "DEEP_SKIP_FEATURE", "NOT_OFFERED")
    runs = api.runs(f"admin/{name}", per_page=5)
    assert [r.id for r in runs.page(25)] == [f"j{i:02d}" for i in reversed(range(5))]
    assert api.client.operation_counts["RunsCursor"] == 4  # 7 + 7 + 7 + 4
    assert [r.id for r in runs.page(20)] == [f"j{i:02d}" for i in reversed(range(5, 10))]


def test_page_jump_is_one_request_on_a_liberry_server(
    api: liberry.Api, seeder: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """liberry's server announces LIBERRY_RUNS_DEEP_SKIP: any jump is one cursor request,
    past W&B's page cap too (its `first` limit does not apply to a pageInfo-only query)."""
    import liberry.runs as runs_module

    name = unique("page-deep")
    for i in range(30):
        seeder.write(RunSpec(name, run_id=f"d{i:02d}"))
    monkeypatch.setattr(runs_module, "MAX_SKIP", 7)
    runs = api.runs(f"admin/{name}", per_page=5)
    assert [r.id for r in runs.page(25)] == [f"d{i:02d}" for i in reversed(range(5))]
    assert api.client.operation_counts["RunsCursor"] == 1
    wire_first = 20_000  # over the 10,000 a page of rows may hold
    data = api.client.execute(
        runs_module.queries.RUNS_CURSOR,
        {"entity": "admin", "project": name, "filters": None, "order": None,
         "cursor": None, "count": wire_first},
    )  # fmt: skip
    assert data["project"]["runs"]["pageInfo"]["hasNextPage"] is False
