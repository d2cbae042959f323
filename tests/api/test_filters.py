"""Filters and orders: local validation, and server results against a brute-force evaluation."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import Mapping
from typing import Any

import pytest

import liberry
from liberry.filters import validate_filters, validate_order
from liberry.server import ServerHandle
from tests.seed import RunSpec, Seeder

from .conftest import unique

MISSING = object()


# -- validation (no server) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "location", "message"),
    [
        ({"config.lr": {"$gtt": 1}}, 'filters["config.lr"]["$gtt"]', "did you mean '$gt'"),
        ({"$or": [{"state": "finished"}, {"config.lr": {"$foo": 1}}]},
         'filters["$or"][1]["config.lr"]["$foo"]', "unknown operator"),
        ({"conifg.lr": 1}, 'filters["conifg.lr"]', "unknown field"),
        ({"summary.loss": 1}, 'filters["summary.loss"]', "summary_metrics.loss"),
        ({"config.": 1}, 'filters["config."]', "empty key"),
        ({"config.lr": {"$in": 3}}, 'filters["config.lr"]["$in"]', "takes a list"),
        ({"config.lr": {"$gt": [1]}}, 'filters["config.lr"]["$gt"]', "compares a number"),
        ({"config.name": {"$regex": "(unclosed"}}, 'filters["config.name"]["$regex"]',
         "invalid regular expression"),
        ({"config.name": {"$options": "i"}}, '["config.name"]["$options"]', "needs a $regex"),
        ({"config.name": {"$regex": "a", "$options": "q"}}, '["$options"]', "imsx"),
        ({"config.lr": {"$exists": "yes"}}, 'filters["config.lr"]["$exists"]', "True or False"),
        ({"$or": []}, 'filters["$or"]', "non-empty list"),
        ({"$or": {"state": "finished"}}, 'filters["$or"]', "non-empty list"),
        ({"$xor": []}, 'filters["$xor"]', "unknown logical operator"),
        ({"$gt": 1}, 'filters["$gt"]', "goes inside a field"),
        ({"config.lr": {"$or": [1]}}, 'filters["config.lr"]["$or"]', "top of a filter"),
        ({"config.lr": {"$gt": 1, "x": 2}}, 'filters["config.lr"]', "mixes operators"),
        ({"state": "finshed"}, 'filters["state"]', "did you mean 'finished'"),
        ({"createdAt": {"$gt": "yesterday"}}, 'filters["createdAt"]["$gt"]', "ISO-8601"),
        ({"config.lr": float("nan")}, 'filters["config.lr"]', "finite"),
        ({"config.lr": object()}, 'filters["config.lr"]', "not a JSON value"),
        ({"tags": {"$gt": "a"}}, 'filters["tags"]["$gt"]', "unknown operator"),
        ({"config.lr": {"$all": ["a"]}}, 'filters["config.lr"]["$all"]', "unknown operator"),
        ({"config.lr": {"$not": 3}}, 'filters["config.lr"]["$not"]', "$not takes operators"),
        ("state=finished", "filters", "expected an object"),
    ],
)  # fmt: skip
def test_invalid_filters_name_the_bad_part(filters: Any, location: str, message: str) -> None:
    with pytest.raises(liberry.FilterError) as info:
        validate_filters(filters)
    assert location in str(info.value)
    assert message in str(info.value)
    assert isinstance(info.value, ValueError)  # code written for wandb catches ValueError


def test_valid_filters_pass_and_become_json_safe() -> None:
    when = dt.datetime(2024, 1, 31, 12, 0)
    checked = validate_filters(
        {
            "$and": [{"config.lr": {"$gte": 0.1, "$lt": 1}}, {"tags": {"$all": ["a", "b"]}}],
            "$not": {"state": {"$in": ["failed", "crashed"]}},
            "createdAt": {"$gt": when},
            "config.layers": [64, 64],
            "config.opt": {"name": "adam"},
            "summary_metrics.loss": {"$not": {"$gt": 1}, "$exists": True},
            "config.name": {"$regex": "^b", "$options": "i"},
            "config.x.value": None,
        }
    )
    assert checked is not None
    assert checked["createdAt"] == {"$gt": "2024-01-31T12:00:00"}
    json.dumps(checked)
    assert validate_filters(None) is None


def test_numpy_values_are_converted() -> None:
    np = pytest.importorskip("numpy")
    assert validate_filters({"config.lr": {"$in": [np.float64(0.5), np.int64(3)]}}) == {
        "config.lr": {"$in": [0.5, 3]}
    }


@pytest.mark.parametrize(
    "order",
    ["-created_at", "+createdAt", "heartbeat_at", "+summary_metrics.loss", "-config.lr.value"],
)
def test_valid_orders(order: str) -> None:
    assert validate_order(order) == order


@pytest.mark.parametrize(
    ("order", "message"),
    [("+created", "did you mean 'created"), ("-summary.loss", "summary_metrics.loss"),
     ("", "expected a string"), ("+config.", "cannot order by")],
)  # fmt: skip
def test_invalid_orders(order: str, message: str) -> None:
    with pytest.raises(liberry.FilterError, match=re.escape(message)):
        validate_order(order)


def test_api_runs_validates_before_sending(api: liberry.Api) -> None:
    with pytest.raises(liberry.FilterError, match=r'filters\["config.lr"\]\["\$gtt"\]'):
        api.runs("admin/anything", filters={"config.lr": {"$gtt": 1}})
    with pytest.raises(liberry.FilterError, match="order"):
        api.runs("admin/anything", order="+bogus")
    assert sum(api.client.operation_counts.values()) == 0


# -- against the server --------------------------------------------------------------------------


def _make_runs(count: int) -> list[dict[str, Any]]:
    rng = random.Random(1234)
    runs = []
    for i in range(count):
        config: dict[str, Any] = {"lr": rng.choice([0.001, 0.01, 0.03, 0.1, 0.3, 1]), "seed": i}
        if i % 3:
            config["opt"] = rng.choice(["adam", "sgd", "Adam", "rmsprop"])
        if i % 4 == 0:
            config["layers"] = rng.choice([[64, 64], [128], []])
        if i % 5 == 0:
            config["arch"] = {"depth": rng.randint(1, 4), "act": rng.choice(["relu", "gelu"])}
        if i % 7 == 0:
            config["flag"] = rng.choice([True, False])
        if i % 11 == 0:
            config["lr"] = "auto"  # a string where others have numbers
        summary = {"loss": round(rng.uniform(0, 2), 6), "acc": round(rng.uniform(0, 1), 6)}
        if i % 6 == 0:
            summary.pop("acc")
        runs.append(
            {
                "run_id": f"f{i:03d}",
                "config": config,
                "summary": summary,
                "tags": rng.sample(["a", "b", "c", "prod"], rng.randint(0, 3)),
                "group": rng.choice(["g1", "g2", None]),
                "exitcode": rng.choice([0, 0, 0, 1, None]),
                "display_name": rng.choice(["alpha", "beta", "Gamma"]) + f"-{i}",
            }
        )
    return runs


@pytest.fixture(scope="module")
def filter_project(server: ServerHandle, seeder: Seeder) -> tuple[str, list[dict[str, Any]]]:
    project = unique("filters")
    runs = _make_runs(48)
    for r in runs:  # sequentially: creation order is the seed order
        seeder.write(RunSpec(project, **r))
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    truth = []
    for run in api.runs(f"admin/{project}", order="+created_at", per_page=100):
        truth.append(
            {
                "id": run.id, "config": run.config, "summary": run.summary, "tags": run.tags,
                "state": run.state, "group": run.group, "displayName": run.name,
                "name": run.id, "createdAt": run.created_at,
            }
        )  # fmt: skip
    assert [t["id"] for t in truth] == [r["run_id"] for r in runs]
    return project, truth


def _get(run: Mapping[str, Any], field: str) -> Any:
    if field.startswith(("config.", "summary_metrics.")):
        head, _, rest = field.partition(".")
        keys = rest.split(".")
        if head == "config" and keys[1:2] == ["value"]:
            keys = [keys[0], *keys[2:]]
        value: Any = run["config" if head == "config" else "summary"]
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                return MISSING
            value = value[key]
        return value
    value = run.get(field)
    return MISSING if value is None else value


def _same_type(a: Any, b: Any) -> bool:
    def kind(x: Any) -> str:
        if isinstance(x, bool):
            return "bool"
        if isinstance(x, int | float):
            return "number"
        return type(x).__name__

    return kind(a) == kind(b)


def _eq(value: Any, operand: Any) -> bool:
    if operand is None:
        return value is None or value is MISSING
    if value is MISSING or not _same_type(value, operand):
        return False
    if isinstance(operand, list | dict):
        return json.dumps(value, sort_keys=True) == json.dumps(operand, sort_keys=True)
    return bool(value == operand)


def _ops(field: str, value: Any, ops: Mapping[str, Any]) -> bool:
    tags = field == "tags"
    for op, x in ops.items():
        if op == "$eq":
            ok = (x in value) if tags and not isinstance(x, list) else _eq(value, x)
        elif op == "$ne":
            ok = not _ops(field, value, {"$eq": x})
        elif op == "$in":
            ok = any(_ops(field, value, {"$eq": v}) for v in x)
        elif op == "$nin":
            ok = not _ops(field, value, {"$in": x})
        elif op == "$all":
            ok = bool(x) and all(v in value for v in x)
        elif op == "$exists":
            ok = True if tags else (value is not MISSING) == x
        elif op == "$regex":
            flags = re.I if "i" in ops.get("$options", "") else 0
            texts = value if tags else [value]
            ok = any(isinstance(t, str) and re.search(x, t, flags) for t in texts)
        elif op == "$options":
            ok = True
        elif op == "$not":
            ok = not _ops(field, value, x)
        else:
            if value is MISSING or not _same_type(value, x):
                ok = False
            else:
                compare = {"$gt": value > x, "$gte": value >= x, "$lt": value < x}
                ok = compare.get(op, value <= x)
        if not ok:
            return False
    return True


def matches(run: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """MongoDB semantics as liberry documents them (type-bracketed comparisons)."""
    for key, operand in doc.items():
        if key == "$and":
            ok = all(matches(run, d) for d in operand)
        elif key == "$or":
            ok = any(matches(run, d) for d in operand)
        elif key == "$nor":
            ok = not any(matches(run, d) for d in operand)
        elif key == "$not":
            ok = not matches(run, operand)
        else:
            value = run["tags"] if key == "tags" else _get(run, key)
            is_ops = isinstance(operand, dict) and any(k.startswith("$") for k in operand)
            ok = _ops(key, value, operand if is_ops else {"$eq": operand})
        if not ok:
            return False
    return True


FIXED_FILTERS: list[dict[str, Any]] = [
    {},
    {"config.lr": 0.1},
    {"config.lr": {"$gte": 0.03}},
    {"config.lr.value": {"$lt": 0.03}},
    {"config.lr": "auto"},
    {"config.lr": {"$gt": "a"}},
    {"config.opt": {"$in": ["adam", "sgd"]}},
    {"config.opt": {"$nin": ["adam"]}},
    {"config.opt": {"$exists": False}},
    {"config.opt": {"$regex": "^ad", "$options": "i"}},
    {"config.opt": {"$ne": "adam"}},
    {"config.opt": None},
    {"config.layers": [64, 64]},
    {"config.layers": []},
    {"config.arch.depth": {"$gte": 2}},
    {"config.arch": {"depth": 3, "act": "relu"}},
    {"config.flag": True},
    {"config.flag": {"$ne": True}},
    {"summary_metrics.loss": {"$gt": 0.5, "$lte": 1.5}},
    {"summary_metrics.acc": {"$exists": True}},
    {"summary_metrics.loss": {"$not": {"$gt": 1}}},
    {"state": "finished"},
    {"state": {"$in": ["failed", "running"]}},
    {"tags": "prod"},
    {"tags": {"$all": ["a", "b"]}},
    {"tags": {"$nin": ["a"]}},
    {"tags": {"$regex": "^pr"}},
    {"group": "g1"},
    {"group": {"$exists": False}},
    {"displayName": {"$regex": "^gamma", "$options": "i"}},
    {"$or": [{"config.lr": {"$lt": 0.01}}, {"tags": "prod"}]},
    {"$and": [{"state": "finished"}, {"config.opt": "adam"}]},
    {"$nor": [{"state": "finished"}, {"config.lr": "auto"}]},
    {"$not": {"config.opt": "sgd"}},
    {"config.lr": {"$gte": 0.01}, "state": "finished", "$or": [{"tags": "a"}, {"tags": "b"}]},
]


def _random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.3:
        op = rng.choice(["$and", "$or", "$nor"])
        return {op: [_random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    field, values = rng.choice(
        [
            ("config.lr", [0.001, 0.01, 0.03, 0.1, 0.3, 1, "auto"]),
            ("config.opt", ["adam", "sgd", "Adam", "rmsprop", None]),
            ("config.arch.depth", [1, 2, 3, 4]),
            ("summary_metrics.loss", [0.25, 0.5, 1.0, 1.5]),
            ("summary_metrics.acc", [0.2, 0.5, 0.8]),
            ("state", ["finished", "failed", "running"]),
            ("group", ["g1", "g2"]),
        ]
    )
    op = rng.choice(["eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"])
    if op == "eq":
        return {field: rng.choice(values)}
    if op in ("$in", "$nin"):
        return {field: {op: rng.sample(values, min(len(values), rng.randint(1, 3)))}}
    if op == "$exists":
        return {field: {op: rng.random() < 0.5}}
    return {field: {op: rng.choice([v for v in values if v is not None])}}


def test_fixed_filters_match_brute_force(
    api: liberry.Api, filter_project: tuple[str, list[dict[str, Any]]]
) -> None:
    project, truth = filter_project
    for doc in FIXED_FILTERS:
        expected = [t["id"] for t in truth if matches(t, doc)]
        runs = api.runs(f"admin/{project}", filters=doc, order="+created_at", per_page=7)
        assert [r.id for r in runs] == expected, doc
        assert len(runs) == len(expected), doc


def test_random_filters_match_brute_force(
    api: liberry.Api, filter_project: tuple[str, list[dict[str, Any]]]
) -> None:
    project, truth = filter_project
    rng = random.Random(99)
    for _ in range(120):
        doc = _random_filter(rng)
        expected = [t["id"] for t in truth if matches(t, doc)]
        runs = api.runs(f"admin/{project}", filters=doc, order="+created_at", per_page=100)
        assert [r.id for r in runs] == expected, doc


def _sorted_ids(truth: list[dict[str, Any]], field: str, descending: bool) -> list[str]:
    """liberry's documented order: numbers, then strings, then missing; ties by creation."""
    present, missing = [], []
    for index, run in enumerate(truth):
        value = _get(run, field)
        (missing if value is MISSING or value is None else present).append((value, index, run))
    numbers = sorted(
        ((v, i, r) for v, i, r in present if isinstance(v, int | float)),
        key=lambda t: (t[0], t[1]), reverse=descending,
    )  # fmt: skip
    strings = sorted(
        ((v, i, r) for v, i, r in present if isinstance(v, str)),
        key=lambda t: (t[0], t[1]), reverse=descending,
    )  # fmt: skip
    missing.sort(key=lambda t: t[1], reverse=descending)
    return [r["id"] for _, _, r in [*numbers, *strings, *missing]]


@pytest.mark.parametrize(
    "order",
    ["+created_at", "-created_at", "+summary_metrics.loss", "-summary_metrics.loss",
     "+summary_metrics.acc", "-config.lr", "+config.lr", "+config.opt", "-config.seed"],
)  # fmt: skip
def test_orders_match_brute_force(
    api: liberry.Api, filter_project: tuple[str, list[dict[str, Any]]], order: str
) -> None:
    project, truth = filter_project
    field = order[1:]
    if field == "created_at":
        expected = [t["id"] for t in truth]
        if order[0] == "-":
            expected.reverse()
    else:
        expected = _sorted_ids(truth, field, order[0] == "-")
    got = [r.id for r in api.runs(f"admin/{project}", order=order, per_page=5)]
    assert got == expected


def test_filtered_export_matches_iteration(
    api: liberry.Api, filter_project: tuple[str, list[dict[str, Any]]]
) -> None:
    project, truth = filter_project
    doc = {"config.lr": {"$gte": 0.01}, "state": "finished"}
    frame = api.runs(f"admin/{project}", filters=doc, order="-summary_metrics.loss").to_pandas()
    expected = _sorted_ids([t for t in truth if matches(t, doc)], "summary_metrics.loss", True)
    assert list(frame["id"]) == expected
