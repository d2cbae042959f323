"""`Api.sweep` / `Api.sweeps` / `Run.sweep` (issue #13, item 3): a real server, real sweeps.

Sweeps are made with the `upsertSweep` mutation the official client sends (`wandb.sweep`),
their runs with `Api.create_run(sweep=...)`, as an agent's runs are made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from graphql import FieldNode, FragmentDefinitionNode, parse

import liberry
from liberry import queries
from liberry.paths import SweepPath, parse_sweep_path
from liberry.server import ServerHandle
from tests.wire import Wire

from .conftest import unique

UPSERT_SWEEP = """
mutation UpsertSweep($config: String, $entityName: String, $projectName: String,
    $state: String, $id: ID) {
  upsertSweep(input: {config: $config, entityName: $entityName, projectName: $projectName,
      state: $state, id: $id}) {
    sweep { id name project { name entity { name } } }
    configValidationWarnings
  }
}
"""

RANDOM = {
    "method": "random",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"lr": {"min": 0.001, "max": 0.1}},
}
MAXIMIZE = {
    "name": "accuracy search",
    "method": "random",
    "metric": {"name": "acc", "goal": "maximize"},
    "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}},
}
GRID = {
    "method": "grid",
    "metric": {"name": "val_loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.1, 0.01, 0.001]}, "bs": {"values": [16, 32]}},
}
CAPPED = {**RANDOM, "run_cap": 10}

N = 25  # runs of the main sweep that logged val_loss; not a multiple of the page size
LOSSES = [round(0.5 + ((i * 7) % N) / 10, 3) for i in range(N)]  # a permutation: one min


def upsert_sweep(wire: Wire, entity: str, project: str, config: dict[str, Any], **kw: Any) -> str:
    """Create (or, with `id`, update) a sweep as `wandb.sweep` does; returns its id."""
    variables = {"config": yaml.safe_dump(config), "entityName": entity, "projectName": project}
    data = wire.gql(UPSERT_SWEEP, {**variables, **kw})["upsertSweep"]
    sweep = data["sweep"]
    assert sweep["project"]["name"] == project and sweep["project"]["entity"]["name"] == entity
    assert isinstance(data["configValidationWarnings"], list)
    return str(sweep["name"])


@dataclass
class Swept:
    """A project with sweeps and runs: who is in which sweep, and what they logged."""

    entity: str
    project: str
    main: str  # RANDOM: N runs with val_loss, one without, one with val_loss = null
    maximize: str  # MAXIMIZE: 3 runs with acc (and tiny val_losses), one without acc
    grid: str  # GRID: no runs
    capped: str  # CAPPED: no runs
    bare: str  # RANDOM: a single run that never logged val_loss
    main_runs: list[str] = field(default_factory=list)  # in creation order
    max_runs: list[str] = field(default_factory=list)
    loose: str = ""  # a run of no sweep, with the lowest val_loss of all

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}"

    def sweep_path(self, sweep_id: str) -> str:
        return f"{self.path}/{sweep_id}"


@pytest.fixture(scope="module")
def swept(server: ServerHandle, entity: str) -> Swept:
    project = unique("sweeps")
    wire = Wire(server.url, server.api_key)
    s = Swept(
        entity,
        project,
        main=upsert_sweep(wire, entity, project, RANDOM),
        maximize=upsert_sweep(wire, entity, project, MAXIMIZE),
        grid=upsert_sweep(wire, entity, project, GRID),
        capped=upsert_sweep(wire, entity, project, CAPPED),
        bare=upsert_sweep(wire, entity, project, RANDOM),
    )
    with liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key) as api:

        def run(run_id: str, sweep: str | None, summary: dict[str, Any]) -> str:
            api.create_run(run_id=run_id, project=s.path, sweep=sweep, state="finished",
                           config={"lr": 0.001 * (1 + len(run_id))}, summary=summary)  # fmt: skip
            return run_id

        for i in range(N):
            s.main_runs.append(run(f"m{i:02d}", s.main, {"val_loss": LOSSES[i], "acc": 0.5}))
        s.main_runs.append(run("m-nometric", s.main, {"acc": 0.9}))
        s.main_runs.append(run("m-null", s.main, {"val_loss": None}))
        for i, acc in enumerate([0.7, 0.95, 0.8]):
            s.max_runs.append(run(f"x{i}", s.maximize, {"acc": acc, "val_loss": 0.001}))
        s.max_runs.append(run("x-noacc", s.maximize, {"val_loss": 0.001}))
        run("b-nometric", s.bare, {"acc": 1.0})
        s.loose = run("loose", None, {"val_loss": 0.0001, "acc": 1.0})
    return s


# -- one sweep ---------------------------------------------------------------------------------


def test_sweep_attributes(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    assert api.client.operation_counts["GetSweep"] == 1
    assert sweep.id == swept.main and sweep.entity == swept.entity
    assert sweep.project == swept.project
    assert sweep.path == [swept.entity, swept.project, swept.main]
    assert sweep.path_str == swept.sweep_path(swept.main)
    assert sweep.name == swept.main  # no display name, no `name` in the config
    assert sweep.state == "RUNNING"
    assert sweep.method == "random"
    assert sweep.config == RANDOM
    assert sweep.metric == "val_loss" and sweep.goal == "minimize"
    assert sweep.run_count == N + 2
    assert sweep.expected_run_count is None  # random, no run_cap: no end
    assert sweep.created_at and sweep.updated_at and sweep.created_at <= sweep.updated_at
    assert sweep.storage_id and sweep.storage_id != "None"
    assert sweep.url == f"{api.app_url}/{swept.path}/sweeps/{swept.main}"
    assert api.client.operation_counts["GetSweep"] == 1  # attributes came with it


def test_name_from_the_config(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.maximize))
    assert sweep.name == "accuracy search"
    assert sweep.metric == "acc" and sweep.goal == "maximize"
    assert repr(sweep) == (
        f'<Sweep {swept.sweep_path(swept.maximize)} "accuracy search" (RUNNING, random, 4 runs)>'
    )


def test_repr(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    assert repr(sweep) == f"<Sweep {swept.sweep_path(swept.main)} (RUNNING, random, {N + 2} runs)>"
    assert repr(api.sweep(swept.sweep_path(swept.grid))) == (
        f"<Sweep {swept.sweep_path(swept.grid)} (RUNNING, grid, 0 runs)>"
    )
    html = sweep._repr_html_()
    assert swept.main in html and "val_loss" in html and "parameters.lr.min" in html
    unloaded = liberry.Sweep(api, swept.entity, swept.project, "abc123")
    assert repr(unloaded) == f"<Sweep {swept.path}/abc123>"  # repr sends nothing


def test_expected_run_count(api: liberry.Api, swept: Swept) -> None:
    assert api.sweep(swept.sweep_path(swept.grid)).expected_run_count == 6  # 3 lr x 2 bs
    assert api.sweep(swept.sweep_path(swept.capped)).expected_run_count == 10  # run_cap
    assert api.sweep(swept.sweep_path(swept.main)).expected_run_count is None


def test_cached_until_flush_and_refresh(server: ServerHandle, api: liberry.Api) -> None:
    project = unique("sweep-state")
    wire = Wire(server.url, server.api_key)
    entity = api.default_entity
    assert entity
    sweep_id = upsert_sweep(wire, entity, project, RANDOM)
    path = f"{entity}/{project}/{sweep_id}"
    sweep = api.sweep(path)
    assert api.sweep(path) is sweep  # cached
    assert api.client.operation_counts["GetSweep"] == 1
    upsert_sweep(wire, entity, project, RANDOM, id=sweep.storage_id, state="PAUSED")
    assert api.sweep(path).state == "RUNNING"  # still the cached object
    assert sweep.refresh() is sweep and sweep.state == "PAUSED"
    api.flush()
    again = api.sweep(path)
    assert again is not sweep and again == sweep and hash(again) == hash(sweep)
    assert again.state == "PAUSED"
    assert api.client.operation_counts["GetSweep"] == 3


# -- runs --------------------------------------------------------------------------------------


def test_runs_are_the_sweeps_own_oldest_first(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    runs = sweep.runs
    assert api.client.operation_counts["Runs"] == 0  # lazy
    assert sweep.runs is runs
    assert [r.id for r in runs] == swept.main_runs  # no other sweep's runs, no loose run
    assert len(runs) == N + 2
    assert repr(runs) == f"<Runs of sweep {swept.sweep_path(swept.main)} ({N + 2} runs)>"
    assert all(r.sweep_name == swept.main for r in runs[:3])


def test_runs_page_lazily(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    runs = sweep.runs(per_page=10)
    assert isinstance(runs, liberry.Runs)
    assert runs[0].id == swept.main_runs[0]
    assert runs.loaded == 10 and api.client.operation_counts["Runs"] == 1
    assert [r.id for r in runs] == swept.main_runs
    assert api.client.operation_counts["Runs"] == 2  # 10, then 20 (doubling): 27 runs
    assert [r.id for r in runs] == swept.main_runs  # cached
    assert api.client.operation_counts["Runs"] == 2


def test_runs_with_another_order_and_filters(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    newest = sweep.runs(order="-created_at")
    assert [r.id for r in newest] == swept.main_runs[::-1]
    low = sweep.runs(filters={"summary_metrics.val_loss": {"$lt": 1.0}})
    assert sorted(r.id for r in low) == sorted(f"m{i:02d}" for i in range(N) if LOSSES[i] < 1.0)
    by_loss = sweep.runs(order="+summary_metrics.val_loss", limit=3)
    assert [r.summary["val_loss"] for r in by_loss] == sorted(LOSSES)[:3]


def test_runs_export(api: liberry.Api, swept: Swept) -> None:
    frame = api.sweep(swept.sweep_path(swept.main)).runs.to_pandas()
    assert list(frame["id"]) == swept.main_runs
    assert {"config.lr", "summary.val_loss", "summary.acc"} <= set(frame.columns)
    table = api.sweep(swept.sweep_path(swept.maximize)).runs.to_arrow()
    assert table.column("id").to_pylist() == swept.max_runs


def test_best_run_minimize(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    before = dict(api.client.operation_counts)
    best = sweep.best_run()
    assert best is not None
    assert best.id == f"m{LOSSES.index(min(LOSSES)):02d}"  # not the loose run (0.0001)
    assert best.summary["val_loss"] == min(LOSSES) and best.config["lr"]
    sent = {k: v - before.get(k, 0) for k, v in api.client.operation_counts.items()}
    assert {k: v for k, v in sent.items() if v} == {"RunsTable": 1}  # one request, complete


def test_best_run_maximize(api: liberry.Api, swept: Swept) -> None:
    best = api.sweep(swept.sweep_path(swept.maximize)).best_run()
    assert best is not None and best.id == "x1"  # acc 0.95; not the loose run (acc 1.0)


def test_best_run_explicit_order(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.main))
    worst = f"m{LOSSES.index(max(LOSSES)):02d}"
    assert (best := sweep.best_run(order="-summary_metrics.val_loss")) and best.id == worst
    assert (best := sweep.best_run(order="-val_loss")) and best.id == worst  # wandb's shorthand
    assert (best := sweep.best_run(order="+created_at")) and best.id == swept.main_runs[0]
    assert (best := sweep.best_run(order="-created_at")) and best.id == swept.main_runs[-1]
    # acc: every run but the null one has it; the one without val_loss has the highest
    assert (best := sweep.best_run(order="-summary_metrics.acc")) and best.id == "m-nometric"
    with pytest.raises(liberry.FilterError, match="order"):
        sweep.best_run(order="-summary.val_loss")


def test_a_run_without_the_metric_is_never_best(api: liberry.Api, swept: Swept) -> None:
    # Minimizing or maximizing, runs that never logged the metric (or logged null) lose.
    for order in ("+summary_metrics.val_loss", "-summary_metrics.val_loss"):
        best = api.sweep(swept.sweep_path(swept.main)).best_run(order=order)
        assert best is not None and best.id not in ("m-nometric", "m-null")
    best = api.sweep(swept.sweep_path(swept.maximize)).best_run(order="+acc")
    assert best is not None and best.id == "x0"  # not x-noacc
    # A sweep whose only run lacks the metric has no best run.
    assert api.sweep(swept.sweep_path(swept.bare)).best_run() is None


def test_best_run_of_a_sweep_without_runs(api: liberry.Api, swept: Swept) -> None:
    sweep = api.sweep(swept.sweep_path(swept.grid))
    assert sweep.best_run() is None
    assert list(sweep.runs) == [] and len(sweep.runs) == 0


def test_best_run_without_a_metric(server: ServerHandle, api: liberry.Api) -> None:
    project = unique("sweep-nometric")
    entity = api.default_entity
    assert entity
    config = {"method": "grid", "parameters": {"lr": {"values": [1, 2]}}}
    sweep_id = upsert_sweep(Wire(server.url, server.api_key), entity, project, config)
    sweep = api.sweep(f"{entity}/{project}/{sweep_id}")
    assert sweep.metric is None and sweep.goal is None
    with pytest.raises(liberry.UsageError, match=r"no metric.*best_run\(order="):
        sweep.best_run()
    assert sweep.best_run(order="-created_at") is None


def test_run_sweep(api: liberry.Api, swept: Swept) -> None:
    run = api.run(f"{swept.path}/m03")
    assert api.client.operation_counts["GetSweep"] == 0
    sweep = run.sweep
    assert sweep is not None and sweep.id == swept.main and sweep.state == "RUNNING"
    assert api.client.operation_counts["GetSweep"] == 1
    assert run.sweep is sweep and sweep == api.sweep(swept.sweep_path(swept.main))
    assert api.client.operation_counts["GetSweep"] == 1  # cached by the Api
    assert api.run(f"{swept.path}/{swept.loose}").sweep is None
    assert api.client.operation_counts["GetSweep"] == 1
    # From a listing: the run's page is filled in (one request), then the sweep is known.
    listed = next(r for r in api.runs(swept.path) if r.id == "x2")
    assert listed.sweep == api.sweep(swept.sweep_path(swept.maximize))


# -- listing -----------------------------------------------------------------------------------


def test_sweeps_listing(api: liberry.Api, swept: Swept) -> None:
    sweeps = api.sweeps(swept.path, per_page=2)
    assert api.client.operation_counts["GetSweeps"] == 0  # lazy
    assert len(sweeps) == 5
    assert api.client.operation_counts["GetSweeps"] == 1
    ids = [s.id for s in sweeps]
    assert sorted(ids) == sorted([swept.main, swept.maximize, swept.grid, swept.capped,
                                  swept.bare])  # fmt: skip
    assert api.client.operation_counts["GetSweeps"] == 3  # pages of 2, 2, 1
    by_id = {s.id: s for s in sweeps}
    main = by_id[swept.main]
    assert main == api.sweep(swept.sweep_path(swept.main))
    assert api.client.operation_counts["GetSweep"] == 1  # only the api.sweep above
    assert main.config == RANDOM and main.run_count == N + 2 and main.state == "RUNNING"
    assert by_id[swept.maximize].name == "accuracy search"
    assert by_id[swept.grid].expected_run_count == 6
    assert api.client.operation_counts["GetSweep"] == 1  # listed sweeps are complete
    assert repr(sweeps) == f"<Sweeps {swept.path} (5 sweeps)>"
    assert "accuracy search" in sweeps._repr_html_()
    assert [s.id for s in api.project(swept.path).sweeps()] and sorted(
        s.id for s in api.project(swept.path).sweeps()
    ) == sorted(ids)


def test_an_empty_project_has_no_sweeps(api: liberry.Api, swept: Swept) -> None:
    project = unique("no-sweeps")
    api.create_run(project=f"{swept.entity}/{project}")
    sweeps = api.sweeps(f"{swept.entity}/{project}")
    assert len(sweeps) == 0 and list(sweeps) == [] and not sweeps


# -- errors ------------------------------------------------------------------------------------


def test_missing_sweep(api: liberry.Api, swept: Swept) -> None:
    with pytest.raises(liberry.NotFoundError) as info:
        api.sweep(f"{swept.path}/nosuch1")
    message = str(info.value)
    assert f"sweep {swept.path}/nosuch1 not found" in message
    assert f"api.sweeps('{swept.path}')" in message
    assert isinstance(info.value, ValueError)  # as wandb.Api raises


def test_missing_project(api: liberry.Api, swept: Swept) -> None:
    with pytest.raises(liberry.NotFoundError) as info:
        api.sweep(f"{swept.entity}/no-such-project-x/{swept.main}")
    message = str(info.value)
    assert f"project {swept.entity}/no-such-project-x not found" in message
    assert "sweep" not in message.split(";")[0]
    with pytest.raises(liberry.NotFoundError, match=r"project .*no-such-project-x not found"):
        len(api.sweeps(f"{swept.entity}/no-such-project-x"))


@pytest.mark.parametrize(
    "bad", ["", "   ", "/", "a/b/c/d", "a//b", "e / p / abc", "e/p/ab c", "e/p/x/y/z"]
)
def test_malformed_paths(api: liberry.Api, bad: str) -> None:
    with pytest.raises(liberry.UsageError, match="'entity/project/sweep_id'"):
        api.sweep(bad)
    assert sum(api.client.operation_counts.values()) == 0  # refused before sending


def test_a_run_path_is_not_a_sweep_path(api: liberry.Api) -> None:
    with pytest.raises(liberry.UsageError, match=r"run's path.*'entity/project/sweep_id'"):
        api.sweep("e/p/runs/abc")
    with pytest.raises(liberry.UsageError, match="sweep URL"):
        api.sweep("https://wandb.ai/e/p/runs/abc")


def test_path_forms(server: ServerHandle, swept: Swept) -> None:
    base = {"base_url": server.url, "api_key": server.api_key}
    full = liberry.Api(overrides=base).sweep(swept.sweep_path(swept.main))
    path = swept.sweep_path(swept.main)
    assert liberry.Api(overrides=base).sweep(f"{swept.project}/{swept.main}") == full  # viewer
    both = {**base, "entity": swept.entity, "project": swept.project}
    assert liberry.Api(overrides=both).sweep(swept.main) == full
    assert liberry.Api(overrides=base).sweep(f"  {path}/ ") == full
    url_path = f"{swept.path}/sweeps/{swept.main}"
    assert liberry.Api(overrides=base).sweep(url_path) == full
    assert liberry.Api(overrides=base).sweep(f"{server.url}/{url_path}") == full
    assert liberry.Api(overrides=base).sweep(f"{server.url}/{url_path}?workspace=user-a") == full
    assert liberry.Api(overrides=base).sweep([swept.entity, swept.project, swept.main]) == full  # type: ignore[arg-type]
    api = liberry.Api(overrides=base)
    with pytest.raises(liberry.UsageError, match="no project"):
        api.sweep(swept.main)
    with pytest.raises(liberry.UsageError, match="no project"):
        api.sweeps()
    with pytest.raises(liberry.UsageError, match="invalid project path"):
        api.sweeps("a/b/c")


# -- paths and queries, no server --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("e/p/abc", ("e", "p", "abc")),
        ("p/abc", ("E", "p", "abc")),
        ("abc", ("E", "P", "abc")),
        ("/e/p/abc/", ("e", "p", "abc")),
        ("e/p/sweeps/abc", ("e", "p", "abc")),
        ("https://wandb.ai/e/p/sweeps/abc", ("e", "p", "abc")),
        ("https://wandb.ai/e/p/sweeps/abc/?workspace=user-e", ("e", "p", "abc")),
        ("http://127.0.0.1:8080/e/p/sweeps/abc#runs", ("e", "p", "abc")),
        (["e", "p", "abc"], ("e", "p", "abc")),
    ],
)
def test_parse_sweep_path(path: Any, expected: tuple[str, str, str]) -> None:
    parsed = parse_sweep_path(path, entity="E", project="P")
    assert parsed == SweepPath(*expected)
    assert str(parsed) == "/".join(expected)


def test_parse_sweep_path_asks_for_the_entity_only_when_needed() -> None:
    def no_lookup() -> str:
        raise AssertionError("the entity default was looked up")

    assert parse_sweep_path("e/p/abc", entity=no_lookup, project=None).entity == "e"
    assert parse_sweep_path("p/abc", entity=lambda: "V", project=None).entity == "V"
    with pytest.raises(liberry.UsageError, match="no entity"):
        parse_sweep_path("p/abc", entity=lambda: None, project=None)
    with pytest.raises(liberry.UsageError, match="no project"):
        parse_sweep_path("abc", entity="E", project=None)


def _selected(document: str, operation: str) -> set[str]:
    """The fields a document's `Sweep` fragment selects."""
    for definition in parse(document).definitions:
        if isinstance(definition, FragmentDefinitionNode) and (
            definition.type_condition.name.value == "Sweep"
        ):
            selections = definition.selection_set.selections
            return {s.name.value for s in selections if isinstance(s, FieldNode)} - {"__typename"}
    raise AssertionError(f"no Sweep fragment in {operation}")


def test_queries_ask_only_what_wandb_asks() -> None:
    """W&B's servers answer what the official client sends: select no more than it does."""
    from wandb.apis._generated import operations

    wandb_fields = _selected(operations.GET_SWEEP_GQL, "GET_SWEEP_GQL")
    assert _selected(queries.GET_SWEEP.document, "GetSweep") == wandb_fields
    assert _selected(queries.GET_SWEEPS.document, "GetSweeps") == wandb_fields
    assert _selected(operations.GET_SWEEPS_GQL, "GET_SWEEPS_GQL") == wandb_fields
    assert "filters" not in queries.GET_SWEEPS.document  # W&B < 0.81.4 lacks it
