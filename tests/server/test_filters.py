"""Run filters compiled to SQL agree with a brute-force Python reading of the same filter.

Runs are written to a real SQLite file made from `tables.metadata`; no server is needed.
`RunsDB` and the run strategies are reused by `test_ordering.py`.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import ColumnElement, Engine, create_engine, event, select
from sqlalchemy.dialects import postgresql

from liberry.server.store import tables as t
from liberry.server.store.filters import (
    FilterError,
    compile_filters,
    install_sqlite_functions,
    parse_filters,
)
from liberry.server.store.values import index_run_values

# --------------------------------------------------------------------------- database


USERS = {1: "alice", 2: "bob"}


class RunsDB:
    """A database with the store's schema, one project, two users, and helpers.

    `target` is a SQLite file, or the URL of a scratch PostgreSQL database (emptied first).
    """

    def __init__(self, target: Path | str) -> None:
        url = target if isinstance(target, str) else f"sqlite:///{target}"
        self.engine: Engine = create_engine(url)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", self._on_connect)
        else:
            t.metadata.drop_all(self.engine)
        t.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            for uid, name in USERS.items():
                conn.execute(t.users.insert().values(id=uid, username=name, created_at="x"))
            conn.execute(t.entities.insert().values(id=1, name="e", created_at="x"))
            conn.execute(t.projects.insert().values(id=1, entity_id=1, name="p", created_at="x"))

    @staticmethod
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA synchronous=OFF")  # a scratch file: skip fsync
        install_sqlite_functions(dbapi_conn)

    @staticmethod
    def row(run: Mapping[str, Any]) -> dict[str, Any]:
        ascii_ = run.get("ensure_ascii", True)

        def dumps(value: Any) -> str:
            return json.dumps(value, separators=(",", ":"), ensure_ascii=ascii_)

        return {
            "project_id": 1,
            "name": run["name"],
            "display_name": run.get("display_name"),
            "state": run.get("state", "running"),
            "config": dumps(run.get("config", {})),
            "summary": dumps(run.get("summary", {})),
            "tags": dumps(run.get("tags", [])),
            "group_name": run.get("group_name"),
            "job_type": run.get("job_type"),
            "notes": run.get("notes"),
            "host": run.get("host"),
            "sweep_name": run.get("sweep_name"),
            "user_id": run.get("user_id"),
            "created_at": run.get("created_at", TIMES[0]),
            "updated_at": run.get("updated_at", TIMES[0]),
            "heartbeat_at": run.get("heartbeat_at", TIMES[0]),
        }

    def reset(self, runs: Sequence[dict[str, Any]]) -> None:
        self.insert(runs, replace=True)

    def insert(self, runs: Sequence[dict[str, Any]], *, replace: bool = False) -> None:
        """Insert runs (after deleting all, if `replace`); each one's key goes to run["id"].

        Config and summary keys go to `run_values` through the store's writer."""
        with self.engine.begin() as conn:
            if replace:
                conn.execute(t.run_values.delete())
                conn.execute(t.runs.delete())
            for run in runs:
                row = self.row(run)
                key = conn.execute(t.runs.insert().values(**row)).inserted_primary_key
                assert key is not None
                run["id"] = key[0]
                index_run_values(conn, key[0], 1, config=row["config"], summary=row["summary"])

    def names(self, condition: ColumnElement[bool]) -> set[str]:
        """Names of the runs matching `condition`."""
        with self.engine.connect() as conn:
            stmt = select(t.runs.c.name).where(t.runs.c.project_id == 1, condition)
            return {row[0] for row in conn.execute(stmt)}


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    store = RunsDB(tmp_path_factory.mktemp("filters") / "runs.db")
    yield store
    store.engine.dispose()


# --------------------------------------------------------------------------- run strategies

TIMES = [
    "2024-01-01T00:00:00.000000",
    "2024-01-01T12:00:00.000000",
    "2024-01-01T12:00:00.500000",
    "2024-01-02T00:00:00.000000",
]
CONFIG_KEYS = ["lr", "model", "a.b", "é", 'q"t', "x y"]
SUMMARY_KEYS = ["loss", "acc", "a.b", "é"]
TAGS = ["a", "b", "c", "é"]
SCALARS: list[Any] = [
    0, 1, 1.0, 2.5, -0.0, 2**62, 1e300, True, False, None, "", "a", "A", "1", "é",
]  # fmt: skip
scalar = st.sampled_from(SCALARS)
nested = st.one_of(
    st.dictionaries(st.sampled_from(["depth", "x", "max"]), scalar, max_size=2),
    st.lists(scalar, max_size=2),
)
json_value = st.one_of(scalar, scalar, nested)
# NaN and ±Infinity make the whole document unreadable to SQLite < 3.42's JSON functions.
stored_value = st.one_of(json_value, st.sampled_from([math.nan, math.inf, -math.inf]))


def _maybe(*values: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, *values])


_config_st = st.dictionaries(st.sampled_from(CONFIG_KEYS), stored_value, min_size=1, max_size=5)
run_st = st.fixed_dictionaries(
    {
        "display_name": _maybe("alpha", "beta", "Alpha", "é"),
        "state": st.sampled_from(["running", "finished", "crashed"]),
        "config": _config_st.map(lambda c: {k: {"value": v} for k, v in c.items()}),
        "summary": st.dictionaries(
            st.sampled_from(SUMMARY_KEYS), stored_value, min_size=1, max_size=3
        ),
        "tags": st.lists(st.sampled_from(TAGS), unique=True, max_size=3),
        "group_name": _maybe("g1", "g2"),
        "job_type": _maybe("train", "eval"),
        "notes": _maybe("some notes", "ab"),
        "host": _maybe("h1"),
        "sweep_name": _maybe("s1", "s2"),
        "user_id": _maybe(1, 2),
        "created_at": st.sampled_from(TIMES),
        "heartbeat_at": st.sampled_from(TIMES),
        "updated_at": st.sampled_from(TIMES),
        "ensure_ascii": st.booleans(),
    }
)


def runs_st(min_size: int = 3, max_size: int = 10) -> st.SearchStrategy[list[dict[str, Any]]]:
    def named(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, run in enumerate(runs):
            run["name"] = f"r{i}"
        return runs

    return st.lists(run_st, min_size=min_size, max_size=max_size).map(named)


# --------------------------------------------------------------------------- the oracle

MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
COLUMN_OF = {
    "name": "name",
    "displayName": "display_name",
    "display_name": "display_name",
    "state": "state",
    "group": "group_name",
    "jobType": "job_type",
    "job_type": "job_type",
    "sweep": "sweep_name",
    "notes": "notes",
    "host": "host",
    "createdAt": "created_at",
    "created_at": "created_at",
    "heartbeatAt": "heartbeat_at",
    "heartbeat_at": "heartbeat_at",
    "updatedAt": "updated_at",
    "updated_at": "updated_at",
}
TIME_FIELDS = {k for k, v in COLUMN_OF.items() if v.endswith("_at")}
COMPARE = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}


def path_keys(path: str) -> list[str]:
    return [part.replace("\\.", ".") for part in re.split(r"(?<!\\)\.", path)]


def field_value(run: Mapping[str, Any], field: str) -> Any:
    """What `field` holds for `run`, MISSING when absent (a NULL column is absent)."""
    if field.startswith(("config.", "summary_metrics.")):
        source, _, path = field.partition(".")
        keys = path_keys(path)
        if source == "config":
            tail = keys[1:]
            keys = [keys[0], "value", *(tail[1:] if tail[:1] == ["value"] else tail)]
        node: Any = run["config" if source == "config" else "summary"]
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                return MISSING
            node = node[key]
        return node
    if field == "username":
        return USERS.get(run["user_id"], MISSING)
    value = run[COLUMN_OF[field]]
    return MISSING if value is None else value


def is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def same(a: Any, b: Any) -> bool:
    """MongoDB-style equality: no cross-type matches, 1 == 1.0, containers structurally."""
    if a is MISSING:
        return b is None
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) or is_number(b):
        return is_number(a) and is_number(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return False


def compare(a: Any, op: str, b: Any) -> bool:
    if b is None:
        return op in ("$gte", "$lte") and (a is MISSING or a is None)
    if isinstance(b, bool):
        return isinstance(a, bool) and COMPARE[op](a, b)
    if is_number(b):
        return is_number(a) and COMPARE[op](a, b)
    return isinstance(a, str) and COMPARE[op](a, b)


def as_time(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.%f")


def regex_flags(options: str | None) -> int:
    flags = 0
    for letter, flag in (("i", re.I), ("m", re.M), ("s", re.S), ("x", re.X)):
        if options and letter in options:
            flags |= flag
    return flags


def is_operators(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.startswith("$") for k in value)


def field_matches(run: Mapping[str, Any], field: str, spec: Any) -> bool:
    if field == "tags":
        return tags_match(run["tags"], spec)
    value = field_value(run, field)
    norm = as_time if field in TIME_FIELDS else (lambda v: v)
    if not is_operators(spec):
        return same(value, norm(spec))
    for op, operand in spec.items():
        if op == "$eq":
            ok = same(value, norm(operand))
        elif op == "$ne":
            ok = not same(value, norm(operand))
        elif op in COMPARE:
            ok = compare(value, op, norm(operand))
        elif op == "$in":
            ok = any(same(value, norm(v)) for v in operand)
        elif op == "$nin":
            ok = not any(same(value, norm(v)) for v in operand)
        elif op == "$exists":
            ok = (value is not MISSING) == operand
        elif op == "$regex":
            flags = regex_flags(spec.get("$options"))
            ok = isinstance(value, str) and re.search(operand, value, flags) is not None
        elif op == "$options":
            ok = True
        elif op == "$not":
            ok = not field_matches(run, field, operand)
        else:
            raise AssertionError(op)
        if not ok:
            return False
    return True


def tags_match(tags: list[str], spec: Any) -> bool:
    def has(b: Any) -> bool:
        return b in tags if isinstance(b, str) else isinstance(b, list) and same(tags, b)

    if not is_operators(spec):
        return has(spec)
    for op, operand in spec.items():
        if op == "$eq":
            ok = has(operand)
        elif op == "$ne":
            ok = not has(operand)
        elif op == "$in":
            ok = any(has(v) for v in operand)
        elif op == "$nin":
            ok = not any(has(v) for v in operand)
        elif op == "$all":
            ok = bool(operand) and all(v in tags for v in operand)
        elif op == "$exists":
            ok = operand
        elif op == "$regex":
            flags = regex_flags(spec.get("$options"))
            ok = any(re.search(operand, tag, flags) for tag in tags)
        elif op == "$options":
            ok = True
        elif op == "$not":
            ok = not tags_match(tags, operand)
        else:
            raise AssertionError(op)
        if not ok:
            return False
    return True


def matches(run: Mapping[str, Any], filt: Mapping[str, Any]) -> bool:
    for key, value in filt.items():
        if key == "$and":
            ok = all(matches(run, f) for f in value)
        elif key == "$or":
            ok = any(matches(run, f) for f in value)
        elif key == "$nor":
            ok = not any(matches(run, f) for f in value)
        elif key == "$not":
            ok = not matches(run, value)
        else:
            ok = field_matches(run, key, value)
        if not ok:
            return False
    return True


# --------------------------------------------------------------------------- filter strategies

JSON_FIELDS = [
    "config.lr", "config.lr.value", "config.model", "config.model.depth",
    "config.model.value.x", "config.a\\.b", "config.é", 'config.q"t', "config.x y",
    "config.nope", "summary_metrics.loss", "summary_metrics.acc", "summary_metrics.acc.max",
    "summary_metrics.a\\.b", "summary_metrics.é",
]  # fmt: skip
TEXT_FIELDS = [
    "name", "displayName", "display_name", "state", "group", "jobType", "job_type", "sweep",
    "notes", "host", "username",
]  # fmt: skip
TEXT_VALUES = [
    "r0", "r1", "r2", "running", "finished", "alpha", "Alpha", "beta", "é", "g1", "train",
    "s1", "h1", "ab", "alice", "bob", "", None, 1, True,
]  # fmt: skip
TIME_VALUES = [
    "2024-01-01", "2024-01-01T12:00:00Z", "2024-01-01T13:00:00+01:00", "2024-01-01T12:00:00.5",
    "2024-01-02T00:00:00.000000", TIMES[0], None,
]  # fmt: skip
PATTERNS = ["^a", "b$", "a", "A", "é", "^$", "1", "ru", ".", "(?i)^AL", "^r[01]$"]


OPERAND_POOLS: dict[str, list[Any]] = {
    # Operands favour values that runs often hold, so filters select some runs but not all.
    "json": [0, 1, 1.0, 2.5, -0.0, 2**62, True, False, None, "", "a", "A", "1", "é", {}, []],
    "text": TEXT_VALUES,
    "time": TIME_VALUES,
    "tags": [*TAGS, [], ["a"], ["a", "b"]],
}
FIELDS: dict[str, list[str]] = {
    "json": JSON_FIELDS,
    "text": TEXT_FIELDS,
    "time": sorted(TIME_FIELDS),
    "tags": ["tags"],
}


_SINGLE_OPS = ["$eq", "$ne", "$in", "$nin", "$exists", "$regex", "$regex+"]
_OPS_ST = {
    kind: st.sampled_from(_SINGLE_OPS + (["$all"] if kind == "tags" else list(COMPARE)))
    for kind in FIELDS
}
_OPERAND_ST = {kind: st.sampled_from(pool) for kind, pool in OPERAND_POOLS.items()}
_SCALAR_ST = {
    kind: st.sampled_from([v for v in pool if not isinstance(v, list | dict)])
    for kind, pool in OPERAND_POOLS.items()
}
_FIELD_ST = {kind: st.sampled_from(fields) for kind, fields in FIELDS.items()}
_KIND_ST = st.sampled_from(["json", "json", "text", "time", "tags"])
_FORM_ST = st.sampled_from(["bare", "single", "single", "pair", "not"])
_PATTERN_ST = st.sampled_from(PATTERNS)
_OPTIONS_ST = st.sampled_from(["i", "s", ""])
_TAG_LIST_ST = st.lists(st.sampled_from(TAGS), max_size=2)
_SIZE_ST = st.integers(0, 3)


def _single(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """One operator (or $regex with $options) on a field of `kind`."""
    op = draw(_OPS_ST[kind])
    if op in ("$in", "$nin"):
        return {op: [draw(_OPERAND_ST[kind]) for _ in range(draw(_SIZE_ST))]}
    if op == "$all":
        return {op: draw(_TAG_LIST_ST)}
    if op == "$exists":
        return {op: draw(st.booleans())}
    if op.startswith("$regex"):
        spec = {"$regex": draw(_PATTERN_ST)}
        if op == "$regex+":
            spec["$options"] = draw(_OPTIONS_ST)
        return spec
    return {op: draw(_SCALAR_ST[kind] if op in COMPARE else _OPERAND_ST[kind])}


@st.composite
def leaf_st(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(_KIND_ST)
    field = draw(_FIELD_ST[kind])
    form = draw(_FORM_ST)
    spec: Any
    if form == "bare":
        spec = draw(_OPERAND_ST[kind])
    elif form == "single":
        spec = _single(draw, kind)
    elif form == "pair":
        spec = {**_single(draw, kind), **_single(draw, kind)}
    else:
        spec = {"$not": _single(draw, kind)}
    return {field: spec}


_LEAF_ST = leaf_st()
_FORMS_ST = [
    st.sampled_from(["leaf", "leaf", "$and", "$or", "$nor", "$not", "keys"]),
    st.sampled_from(["leaf", "leaf", "$and", "$or", "$nor", "$not", "keys"]),
    st.just("leaf"),
]
_PARTS_ST = st.integers(1, 3)


@st.composite
def filter_st(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    form = draw(_FORMS_ST[depth])
    if form == "leaf":
        return draw(_LEAF_ST)
    if form == "$not":
        return {"$not": draw(filter_st(depth + 1))}
    parts = [draw(filter_st(depth + 1)) for _ in range(draw(_PARTS_ST))]
    if form == "keys":  # several keys in one object: AND
        return {k: v for part in parts for k, v in part.items()}
    return {form: parts}


# --------------------------------------------------------------------------- property tests


@settings(
    max_examples=45,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(runs=runs_st(), filts=st.lists(filter_st(), min_size=3, max_size=3))
def test_sql_matches_python(
    db: RunsDB, runs: list[dict[str, Any]], filts: list[dict[str, Any]]
) -> None:
    db.reset(runs)
    for filt in filts:
        want = {run["name"] for run in runs if matches(run, filt)}
        assert db.names(compile_filters(filt)) == want, filt
        assert db.names(compile_filters(filt, side_table=False)) == want, filt
    # The GraphQL argument arrives as JSON text.
    want = {run["name"] for run in runs if matches(run, filts[0])}
    assert db.names(compile_filters(parse_filters(json.dumps(filts[0])))) == want


def random_runs(count: int, seed: int = 20240131) -> list[dict[str, Any]]:
    """`count` varied runs drawn from the same pools as `run_st`, reproducibly."""
    rnd = random.Random(seed)

    def value() -> Any:
        roll = rnd.random()
        if roll < 0.05:
            return rnd.choice([math.nan, math.inf, -math.inf])
        if roll < 0.2:
            return rnd.choice([{"depth": rnd.choice(SCALARS)}, {}, [], [1, "a"], {"x": None}])
        return rnd.choice(SCALARS)

    def some(keys: Sequence[str]) -> list[str]:
        return rnd.sample(list(keys), rnd.randint(0, len(keys)))

    return [
        {
            "name": f"r{i}",
            "display_name": rnd.choice([None, "alpha", "beta", "Alpha", "é"]),
            "state": rnd.choice(["running", "finished", "crashed"]),
            "config": {k: {"value": value()} for k in some(CONFIG_KEYS)},
            "summary": {k: value() for k in some(SUMMARY_KEYS)},
            "tags": some(TAGS),
            "group_name": rnd.choice([None, "g1", "g2"]),
            "job_type": rnd.choice([None, "train", "eval"]),
            "notes": rnd.choice([None, "some notes", "ab"]),
            "host": rnd.choice([None, "h1"]),
            "sweep_name": rnd.choice([None, "s1", "s2"]),
            "user_id": rnd.choice([None, 1, 2]),
            "created_at": rnd.choice(TIMES),
            "heartbeat_at": rnd.choice(TIMES),
            "updated_at": rnd.choice(TIMES),
            "ensure_ascii": rnd.random() < 0.5,
        }
        for i in range(count)
    ]


WIDE_RUNS = random_runs(80)


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    store = RunsDB(tmp_path_factory.mktemp("filters-wide") / "runs.db")
    store.insert(WIDE_RUNS)
    yield store
    store.engine.dispose()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filt=filter_st())
def test_sql_matches_python_on_many_runs(wide_db: RunsDB, filt: dict[str, Any]) -> None:
    want = {run["name"] for run in WIDE_RUNS if matches(run, filt)}
    assert wide_db.names(compile_filters(filt)) == want
    assert wide_db.names(compile_filters(filt, side_table=False)) == want


PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")  # e.g. postgresql+psycopg://u@h/scratch


def finite(value: Any) -> Any:
    """`value` with NaN/±Infinity as null: PostgreSQL's jsonb rejects them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


PG_RUNS = [{**r, "config": finite(r["config"]), "summary": finite(r["summary"])} for r in WIDE_RUNS]


@pytest.fixture(scope="module")
def pg_db() -> Iterator[RunsDB]:
    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    store = RunsDB(PG_URL)
    store.insert(PG_RUNS)
    yield store
    store.engine.dispose()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filt=filter_st())
def test_postgresql_matches_python(pg_db: RunsDB, filt: dict[str, Any]) -> None:
    # Text run columns follow the database's collation: compare them in a C-collated one.
    want = {run["name"] for run in PG_RUNS if matches(run, filt)}
    assert pg_db.names(compile_filters(filt, "postgresql")) == want
    assert pg_db.names(compile_filters(filt, "postgresql", side_table=False)) == want


# --------------------------------------------------------------------------- examples


def _example_runs() -> list[dict[str, Any]]:
    return [
        {"name": "num", "config": {"lr": {"value": 0.1}}, "summary": {"loss": 0.5}},
        {"name": "str", "config": {"lr": {"value": "0.1"}}, "summary": {"loss": "low"}},
        {"name": "bool", "config": {"lr": {"value": True}}, "summary": {"loss": None}},
        {"name": "one", "config": {"lr": {"value": 1}}, "summary": {}},
        {"name": "none", "config": {}, "summary": {"loss": math.nan}},
    ]


@pytest.mark.parametrize(
    ("filt", "expected"),
    [
        ({"config.lr": {"$gt": 0.01}}, {"num", "one"}),  # "0.1" and true are not numbers
        ({"config.lr": True}, {"bool"}),  # true never equals 1
        ({"config.lr": 1}, {"one"}),
        ({"config.lr": {"$gte": "0"}}, {"str"}),
        ({"config.lr.value": None}, {"none"}),  # null matches missing
        ({"config.lr": {"$ne": 0.1}}, {"str", "bool", "one", "none"}),  # ...and $ne missing
        ({"config.lr": {"$nin": [0.1, 1]}}, {"str", "bool", "none"}),
        ({"config.lr": {"$exists": False}}, {"none"}),
        ({"summary_metrics.loss": None}, {"bool", "one"}),  # NaN is not null
        ({"summary_metrics.loss": {"$exists": True}}, {"num", "str", "bool", "none"}),
        ({"summary_metrics.loss": {"$lt": 1}}, {"num"}),  # NaN never compares
        ({"summary_metrics.loss": {"$regex": "^l"}}, {"str"}),
        ({"config.lr": {"$not": {"$gt": 0.05}}}, {"str", "bool", "none"}),
        ({"$nor": [{"config.lr": 0.1}, {"config.lr": 1}]}, {"str", "bool", "none"}),
        ({"$or": [{"name": "num"}, {"name": {"$regex": "^b"}}]}, {"num", "bool"}),
        ({}, {"num", "str", "bool", "one", "none"}),
    ],
)
def test_semantics_examples(db: RunsDB, filt: dict[str, Any], expected: set[str]) -> None:
    db.reset(_example_runs())
    assert db.names(compile_filters(filt)) == expected


@pytest.mark.parametrize("ensure_ascii", [True, False])
def test_keys_needing_quotes(db: RunsDB, ensure_ascii: bool) -> None:
    config = {k: {"value": i} for i, k in enumerate(["a.b", 'q"t', "é", "x y", "$", "[0]", "b\\s"])}
    db.reset([{"name": "r", "config": config, "ensure_ascii": ensure_ascii}])
    for field, value in [
        ("config.a\\.b", 0),
        ('config.q"t', 1),
        ("config.é", 2),
        ("config.x y", 3),
        ("config.$", 4),
        ("config.[0]", 5),
        ("config.b\\s", 6),
    ]:
        assert db.names(compile_filters({field: value})) == {"r"}, field
        assert db.names(compile_filters({field: value + 1})) == set(), field


def test_nested_keys_under_unusual_parent(db: RunsDB) -> None:
    config = {"é": {"value": {"depth": 3, "w.x": "y"}}, "plain": {"value": {'k"': {"z": 1}}}}
    db.reset([{"name": "r", "config": config}])
    assert db.names(compile_filters({"config.é.depth": 3})) == {"r"}
    assert db.names(compile_filters({"config.é.value.w\\.x": "y"})) == {"r"}
    assert db.names(compile_filters({'config.plain.k".z': {"$gte": 1}})) == {"r"}
    assert db.names(compile_filters({"config.é.depth.deeper": {"$exists": True}})) == set()


@pytest.mark.parametrize("side_table", [True, False])
def test_keys_the_side_table_does_not_hold(db: RunsDB, side_table: bool) -> None:
    """Deep paths, `_wandb` and long arrays/objects: read from JSON text, same answers."""
    deep: Any = {"leaf": 1}
    for key in "edcb":
        deep = {key: deep}
    long = list(range(60))  # canonical text far beyond values.STRUCT_TEXT_LIMIT
    runs = [
        {"name": "r0", "config": {"a": {"value": deep}, "_wandb": {"value": {"v": "0.31"}}},
         "summary": {"h": long, "_wandb": {"runtime": 3}}},
        {"name": "r1", "config": {"a": {"value": {"b": 2}}}, "summary": {"h": [*long, 1]}},
        {"name": "r2", "config": {}, "summary": {"h": {"o": long}}},
    ]  # fmt: skip
    db.reset(runs)

    def names(filt: dict[str, Any]) -> set[str]:
        got = db.names(compile_filters(filt, side_table=side_table))
        assert got == {run["name"] for run in runs if matches(run, filt)}, filt
        return got

    assert names({"config.a.b.c.d.e.leaf": 1}) == {"r0"}  # 6 keys: deeper than MAX_DEPTH
    assert names({"config.a.b.c.d.e.leaf": {"$exists": False}}) == {"r1", "r2"}
    assert names({"config.a.b.c.d.e": {"leaf": 1}}) == {"r0"}  # 5 keys: in the table
    assert names({"config.a.b": {"$gte": 2}}) == {"r1"}
    assert names({"config._wandb.v": "0.31"}) == {"r0"}
    assert names({"summary_metrics._wandb.runtime": {"$gt": 1}}) == {"r0"}
    assert names({"summary_metrics._wandb": {"$exists": False}}) == {"r1", "r2"}
    assert names({"summary_metrics.h": long}) == {"r0"}
    assert names({"summary_metrics.h": {"$in": [[*long, 1], {"o": long}]}}) == {"r1", "r2"}
    assert names({"summary_metrics.h": {"$nin": [long, [], None]}}) == {"r1", "r2"}
    assert names({"summary_metrics.h": {"$ne": long[:-1]}}) == {"r0", "r1", "r2"}
    assert names({"summary_metrics.h.o": long}) == {"r2"}


def test_objects_compare_canonically(db: RunsDB) -> None:
    db.reset([{"name": "r", "config": {"m": {"value": {"b": [1.0, "x"], "a": None}}}}])
    assert db.names(compile_filters({"config.m": {"a": None, "b": [1, "x"]}})) == {"r"}
    assert db.names(compile_filters({"config.m": {"$in": [[], {"a": None, "b": [1, "x"]}]}})) == {
        "r"
    }
    assert db.names(compile_filters({"config.m": {"a": None, "b": [True, "x"]}})) == set()


def test_timestamps_are_normalized(db: RunsDB) -> None:
    db.reset(
        [
            {"name": "early", "created_at": "2024-01-01T11:59:59.999999"},
            {"name": "noon", "created_at": "2024-01-01T12:00:00.000000"},
        ]
    )
    assert db.names(compile_filters({"createdAt": {"$gte": "2024-01-01T12:00:00Z"}})) == {"noon"}
    assert db.names(compile_filters({"createdAt": {"$lt": "2024-01-01T13:00:00+01:00"}})) == {
        "early"
    }
    assert db.names(compile_filters({"created_at": "2024-01-01T12:00:00"})) == {"noon"}


def test_tags_and_username(db: RunsDB) -> None:
    db.reset(
        [
            {"name": "ab", "tags": ["a", "b"], "user_id": 1},
            {"name": "b", "tags": ["b"], "user_id": 2},
            {"name": "none", "tags": []},
        ]
    )
    assert db.names(compile_filters({"tags": "a"})) == {"ab"}
    assert db.names(compile_filters({"tags": {"$in": ["a", "b"]}})) == {"ab", "b"}
    assert db.names(compile_filters({"tags": {"$nin": ["a"]}})) == {"b", "none"}
    assert db.names(compile_filters({"tags": {"$all": ["b", "a"]}})) == {"ab"}
    assert db.names(compile_filters({"tags": []})) == {"none"}
    assert db.names(compile_filters({"username": "alice"})) == {"ab"}
    assert db.names(compile_filters({"username": {"$ne": "alice"}})) == {"b", "none"}
    assert db.names(compile_filters({"username": None})) == {"none"}


def test_plain_columns_stay_index_friendly() -> None:
    sql = str(compile_filters({"state": "finished", "createdAt": {"$gt": "2024-01-01"}}))
    assert "runs.state = :state_1" in sql
    assert "runs.created_at > :created_at_1" in sql
    username = str(compile_filters({"username": "alice"}))
    assert "runs.user_id IN (SELECT users.id" in username


def test_none_and_empty_filters_are_true() -> None:
    assert str(compile_filters(None)) == "true"
    assert str(compile_filters({})) == "true"
    assert parse_filters(None) is None
    assert parse_filters("  ") is None
    assert parse_filters("null") is None
    assert parse_filters('{"state": "finished"}') == {"state": "finished"}


def test_postgresql_compiles() -> None:
    """The PostgreSQL branch at least renders (it is not run against a server here)."""
    filt = {
        "config.lr": {"$gt": 0.1, "$in": [1, "a", True, None, {"x": 1}]},
        "summary_metrics.é": {"$regex": "^a", "$options": "i"},
        "tags": {"$all": ["a"], "$regex": "b"},
        "username": {"$ne": "bob"},
        "$not": {"config.m": {"$exists": False}},
    }

    def sql(side_table: bool) -> str:
        condition = compile_filters(filt, "postgresql", side_table=side_table)
        stmt = select(t.runs.c.id).where(condition)
        return str(
            stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
        )

    from_json = sql(side_table=False)
    assert "jsonb_typeof" in from_json
    assert "json_extract" not in from_json
    from_table = sql(side_table=True)
    assert "run_values" in from_table
    assert "jsonb_typeof" not in from_table  # tags still read their JSON list
    assert "jsonb_array_elements_text" in from_table


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"state": ', "filters is not valid JSON: Expecting value at line 1 column 11"),
        ("[1, 2]", "filters must be a JSON object, got a list"),
        ('"state"', "filters must be a JSON object, got a string"),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        parse_filters(text)


@pytest.mark.parametrize(
    ("filt", "message"),
    [
        ({"foo": 1}, 'unknown field "foo" at foo; use config.KEY, summary_metrics.KEY or one of:'),
        ({"config": 1}, '"config" needs a key: use config.KEY'),
        ({"config..lr": 1}, 'empty key in "config..lr"'),
        (
            {"config.lr": {"$gtx": 1}},
            'unknown operator "$gtx" at config.lr; supported: $eq, $ne, $gt',
        ),
        ({"$foo": []}, 'unknown operator "$foo" at top level; supported: $and, $or, $nor, $not'),
        ({"config.lr": {"$in": 1}}, "$in at config.lr expects a list, got number 1"),
        ({"config.lr": {"$nin": "a"}}, '$nin at config.lr expects a list, got string "a"'),
        ({"tags": {"$all": "a"}}, '$all at tags expects a list, got string "a"'),
        ({"tags": {"$all": [1]}}, "$all at tags expects a list of strings, got [1]"),
        ({"config.lr": {"$all": [1]}}, 'unknown operator "$all" at config.lr'),
        ({"tags": {"$gt": "a"}}, 'unknown operator "$gt" at tags; supported: $eq, $ne, $in'),
        ({"config.lr": {"$exists": 1}}, "$exists at config.lr expects true or false, got number"),
        ({"config.lr": {"$regex": 1}}, "$regex at config.lr expects a string, got number 1"),
        ({"config.lr": {"$regex": "("}}, "invalid $regex at config.lr: missing ), unterminated"),
        (
            {"config.lr": {"$regex": "a", "$options": "q"}},
            '$options at config.lr must be a string of the letters "imsx", got "q"',
        ),
        ({"config.lr": {"$options": "i"}}, "$options at config.lr needs a $regex next to it"),
        ({"$and": {"a": 1}}, "$and at top level expects a non-empty list of filter objects"),
        ({"$or": []}, "$or at top level expects a non-empty list of filter objects, got list []"),
        ({"$and": [1]}, "expected a filter object at $and[0], got number 1"),
        (
            {"$or": [{"state": "x"}, {"config.lr": {"$gtx": 1}}]},
            'unknown operator "$gtx" at $or[1].config.lr',
        ),
        ({"$or": [{"state": "x"}, {"bar": 1}]}, 'unknown field "bar" at $or[1].bar'),
        ({"config.lr": {"$or": [{"$gt": 1}]}}, "$or is only allowed at the top of a filter"),
        ({"config.lr": {"$not": 1}}, '$not at config.lr expects operators such as {"$gt": 1}'),
        ({"config.lr": {"$not": {"a": 1}}}, "to exclude one value use $ne"),
        ({"config.lr": {"$gt": [1]}}, "$gt at config.lr expects a number, string, boolean or null"),
        ({"config.lr": {"$eq": math.nan}}, "$eq at config.lr: NaN cannot be compared"),
        ({"config.lr": {"$gt": 1, "x": 2}}, "config.lr mixes operators and plain keys"),
        ({"createdAt": {"$gt": "yesterday"}}, 'invalid timestamp "yesterday" at createdAt; use'),
        ({"config.lr": {1, 2}}, "$eq at config.lr:"),
        ({"$not": 3}, "expected a filter object at $not, got number 3"),
    ],
)
def test_filter_errors(filt: Any, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        compile_filters(filt)


def test_unsupported_dialect() -> None:
    with pytest.raises(FilterError, match="unsupported SQL dialect 'mysql'; supported: sqlite"):
        compile_filters({"state": "x"}, "mysql")


def test_filter_error_is_a_value_error() -> None:
    assert issubclass(FilterError, ValueError)
