"""`Runs.to_pandas()` / `to_arrow()` through liberry's Arrow bulk export and through GraphQL
pages (what W&B's servers get) give the same table, on the same runs."""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import requests

import liberry
from liberry import bulk_export
from liberry.errors import NotFoundError
from liberry.run_frame_arrow import TypedRunColumns
from liberry.server import ServerHandle
from tests.seed import RunSpec, Seeder

from .conftest import unique

NAN = float("nan")
INF = float("inf")


def awkward_runs(project: str) -> list[RunSpec]:
    """Nested config, NaN/inf, mixed types, missing keys, media objects, tags, no name."""
    return [
        RunSpec(project, run_id="a", display_name="first", tags=["x", "y"],
                config={"lr": 0.1, "opt": {"name": "adam", "beta": [0.9, 0.99]}, "v": 1,
                        "deep": {"a": {"b": {"c": 1}}}, "empty": {}},
                summary={"loss": NAN, "best": INF, "worst": -INF, "img": {"_type": "image-file",
                         "path": "a.png"}, "flag": True}),
        RunSpec(project, run_id="b", tags=[],
                config={"lr": 0.2, "opt": "plain", "v": "one", "only_b": None},
                summary={"loss": 0.5, "flag": False, "nested": {"x": 1, "y": {"z": "deep"}}}),
        RunSpec(project, run_id="c", display_name="third", tags=["y"], config={"v": [1, 2]},
                summary={"loss": 2**70, "text": "ünïcødé", "best": 1}, exitcode=None),
        RunSpec(project, run_id="d", config={}, summary={}),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def awkward(seeder: Seeder) -> str:
    project = unique("bulk")
    for spec in awkward_runs(project):
        seeder.write(spec)
    return project


def frames_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(left, right, check_exact=True)
    # assert_frame_equal treats NaN == NaN; also compare object cells one by one, where it
    # would let None and NaN pass for each other.
    for column in left.columns:
        pairs = zip(left[column].tolist(), right[column].tolist(), strict=True)
        assert all(same(a, b) for a, b in pairs), column


def same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and b != b))


def tables_equal(left: pa.Table, right: pa.Table) -> None:
    # Table.equals calls NaN unequal to itself.
    assert left.schema == right.schema
    for name in left.column_names:
        pairs = zip(left[name].to_pylist(), right[name].to_pylist(), strict=True)
        assert all(same(a, b) for a, b in pairs), name


@pytest.mark.parametrize(
    ("filters", "order"),
    [
        (None, "-created_at"),
        (None, "+summary_metrics.loss"),
        ({"state": "finished"}, "-config.lr"),
        ({"tags": {"$in": ["y"]}}, "+name"),
    ],
)
def test_bulk_and_graphql_pages_give_the_same_frame(
    api: liberry.Api, awkward: str, filters: dict[str, Any] | None, order: str
) -> None:
    path = f"admin/{awkward}"
    bulk = api.runs(path, filters=filters, order=order).to_pandas()
    assert api.client.operation_counts["RunsExport"] == 0
    assert api.client.operation_counts["RunsArrow"] == 1
    assert bulk_export.supported(api)
    paged = api.runs(path, filters=filters, order=order, per_page=2).to_pandas(bulk=False)
    assert api.client.operation_counts["RunsExport"] == 1
    frames_equal(bulk, paged)
    assert not bulk.empty and list(bulk.columns[:4]) == ["id", "name", "state", "created_at"]
    assert bulk.equals(api.runs(path, filters=filters, order=order).to_pandas())

    arrow = api.runs(path, filters=filters, order=order).to_arrow()
    tables_equal(arrow, api.runs(path, filters=filters, order=order).to_arrow(bulk=False))
    assert arrow.column_names == list(bulk.columns)

    columns = api.runs(path, filters=filters, order=order).to_columns()
    assert list(columns) == list(bulk.columns)
    assert columns["id"] == list(bulk["id"])
    paged_columns = api.runs(path, filters=filters, order=order).to_columns(bulk=False)
    assert json.dumps(columns, sort_keys=True, default=str) == json.dumps(
        paged_columns, sort_keys=True, default=str
    )


def test_bulk_frame_values(api: liberry.Api, awkward: str) -> None:
    frame = api.runs(f"admin/{awkward}", order="+created_at").to_pandas().set_index("id")
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert list(frame["name"]) == ["first", "b", "third", "d"]  # the id when no name was set
    assert frame.loc["a", "config.opt.beta"] == [0.9, 0.99]
    assert frame.loc["a", "config.deep.a.b.c"] == 1 and frame.loc["a", "config.empty"] == {}
    assert frame.loc["b", "config.opt"] == "plain" and frame.loc["a", "config.opt.name"] == "adam"
    assert math.isnan(frame.loc["a", "summary.loss"]) and frame.loc["a", "summary.best"] == INF
    assert frame.loc["a", "summary.worst"] == -INF
    assert frame.loc["a", "summary.img"] == {"_type": "image-file", "path": "a.png"}
    assert frame.loc["c", "summary.loss"] == 2**70 and frame.loc["c", "summary.text"] == "ünïcødé"
    assert list(frame["config.v"]) == [1, "one", [1, 2], None]  # mixed types stay as they are
    assert frame.loc["b", "summary.nested.y.z"] == "deep"
    assert frame.loc["c", "state"] == "running"
    assert not any(c.startswith(("config._", "summary._wandb")) for c in frame.columns)
    table = api.runs(f"admin/{awkward}", order="+created_at").to_arrow()
    assert table.column("config.v").to_pylist() == ["1", "one", "[1,2]", None]
    assert table.schema.field("created_at").type == pa.timestamp("us", tz="UTC")


def test_bulk_limit_empty_and_errors(api: liberry.Api, awkward: str, project_name: str) -> None:
    path = f"admin/{awkward}"
    limited = api.runs(path, order="+created_at", limit=2).to_pandas()
    assert list(limited["id"]) == ["a", "b"]
    api.create_project(project_name, "admin")
    empty = api.runs(f"admin/{project_name}").to_pandas()
    assert empty.empty and list(empty.columns) == ["id", "name", "state", "created_at"]
    with pytest.raises(NotFoundError):
        api.runs("admin/no-such-project-here").to_pandas()


def test_bulk_route_needs_a_key(server: ServerHandle, awkward: str) -> None:
    url = server.url + bulk_export.ARROW_EXPORT_PATH
    params = {"entity": "admin", "project": awkward}
    assert requests.get(url, params=params, timeout=30).status_code == 401
    wrong = requests.get(url, params=params, auth=("api", "not-a-key"), timeout=30)
    assert wrong.status_code == 401
    ok = requests.get(url, params={**params, "compression": "zstd"},
                      auth=("api", server.api_key), timeout=30)  # fmt: skip
    assert ok.status_code == 200 and ok.headers["content-type"] == bulk_export.ARROW_MEDIA_TYPE
    table = pa.ipc.open_stream(ok.content).read_all()
    assert table.num_rows == 4 and sorted(table.column("id").to_pylist()) == ["a", "b", "c", "d"]
    assert table.column("tags").to_pylist()[-1] == ["x", "y"]  # newest first: "a" is last
    tags = dict(zip(table.column("id").to_pylist(), table.column("tags").to_pylist(), strict=True))
    assert tags == {"a": ["x", "y"], "b": [], "c": ["y"], "d": []}
    # requests asks for gzip; Arrow's own compression (asked for above) is the one used.
    assert ok.headers.get("content-encoding") == "identity"
    bad = requests.get(url, params={**params, "filters": "[1]"},
                       auth=("api", server.api_key), timeout=30)  # fmt: skip
    assert bad.status_code == 400
    bad_order = requests.get(url, params={**params, "order": "+nope"},
                             auth=("api", server.api_key), timeout=30)  # fmt: skip
    assert bad_order.status_code == 400 and "nope" in bad_order.json()["error"]
    missing = requests.get(url, params={"project": "no-such"}, auth=("api", server.api_key),
                           timeout=30)  # fmt: skip
    assert missing.status_code == 404


def test_graphql_pages_without_the_feature(
    api: liberry.Api, awkward: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that does not list the feature (W&B's) gets GraphQL pages."""
    monkeypatch.setattr(bulk_export, "ARROW_EXPORT_FEATURE", "SOMETHING_ELSE")
    frame = api.runs(f"admin/{awkward}").to_pandas()
    assert not bulk_export.supported(api)
    assert api.client.operation_counts["RunsExport"] == 1
    assert api.client.operation_counts["ServerFeatures"] == 1
    api.runs(f"admin/{awkward}", order="+name").to_pandas()
    assert api.client.operation_counts["ServerFeatures"] == 1  # asked once per Api
    assert len(frame) == 4


def regular_runs(project: str) -> list[RunSpec]:
    """Runs of one shape, as a sweep writes them: the bulk export types them with Arrow."""
    return [
        RunSpec(project, run_id=f"r{i}", display_name=None if i % 2 else f"run {i}",
                config={"lr": [0.1, 0.2, NAN][i % 3], "bs": 32 * (i + 1), "mix": [1, 2.5][i % 2],
                        "opt": {"name": "adam", "betas": [9, i]}, "flag": i % 2 == 0,
                        "note": None if i else "first"},
                summary={"loss": [0.5, INF, -INF, 0.25][i], "best": [True, None, False, True][i],
                         "deep": {"a": {"b": i, "c": "x"}}, **({"late": i} if i > 1 else {})},
                exitcode=None if i == 3 else 0)
        for i in range(4)
    ]  # fmt: skip


def test_regular_runs_are_typed_by_arrow_and_equal_graphql(
    api: liberry.Api, seeder: Seeder
) -> None:
    project = unique("bulk-regular")
    for spec in regular_runs(project):
        seeder.write(spec)
    path = f"admin/{project}"
    typed = bulk_export.fetch_columns(
        api.session, "admin", project, filters_json=None, order="+created_at", limit=None
    )
    assert isinstance(typed, TypedRunColumns)  # the fast way was taken
    bulk = api.runs(path, order="+created_at").to_pandas()
    frames_equal(bulk, api.runs(path, order="+created_at").to_pandas(bulk=False))
    assert bulk["config.bs"].dtype == "int64" and bulk["summary.deep.a.b"].tolist() == [0, 1, 2, 3]
    assert list(bulk.columns)[-1] == "summary.late"
    tables_equal(
        api.runs(path, order="+created_at").to_arrow(),
        api.runs(path, order="+created_at").to_arrow(bulk=False),
    )
    assert json.dumps(api.runs(path).to_columns(), default=str) == json.dumps(
        api.runs(path).to_columns(bulk=False), default=str
    )
