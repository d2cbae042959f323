"""`run_values`, the config/summary key index: its encoding, the writers that keep it in step
(upsertBucket, file_stream's summary, delete), and the v1 -> v2 migration that fills it."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, func, select, text

from liberry.server import ServerHandle
from liberry.server.filestream import apply_chunk
from liberry.server.store import Store, accounts, projects, runs
from liberry.server.store import tables as t
from liberry.server.store.db import SCHEMA_VERSION, create_store_engine, migrate, sqlite_url
from liberry.server.store.filters import compile_filters
from liberry.server.store.ordering import compile_order
from liberry.server.store.values import (
    CONFIG,
    KIND_ARRAY,
    KIND_BOOLEAN,
    KIND_NAN,
    KIND_NULL,
    KIND_NUMBER,
    KIND_OBJECT,
    KIND_STRING,
    MAX_DEPTH,
    STRUCT_TEXT_LIMIT,
    SUMMARY,
    delete_run_values,
    index_run_values,
    indexed,
    key_text,
    value_rows,
)
from tests.wire import Wire

# --------------------------------------------------------------------------- encoding


def _by_key(rows: list[tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
    """key -> (grp, number, text, kind)"""
    return {row[2]: row[4:] for row in rows}


def test_config_rows_unwrap_nest_and_escape() -> None:
    config = {
        "lr": {"desc": None, "value": 0.1},
        "model": {"value": {"depth": 3, "a.b": {"c\\d": True}}},
        "raw": 5,  # not W&B-wrapped: not a config value, as config.raw reads $.raw.value
        "nodesc": {"desc": "no value"},
        "_wandb": {"value": {"cli_version": "0.31.0"}},
        "big": {"value": 2**70},
        "huge": {"value": 2**62 + 1},
    }
    rows = _by_key(value_rows(7, 3, CONFIG, config))
    assert set(rows) == {"lr", "model", "model.depth", "model.a\\.b", "model.a\\.b.c\\\\d", "big",
                         "huge"}  # fmt: skip
    assert rows["lr"] == (0, 0.1, None, KIND_NUMBER)
    assert rows["model.depth"] == (0, 3, None, KIND_NUMBER)
    assert rows["model.a\\.b.c\\\\d"] == (2, 1, None, KIND_BOOLEAN)
    assert rows["model"] == (3, None, '{"a.b":{"c\\\\d":true},"depth":3}', KIND_OBJECT)
    assert rows["big"] == (0, float(2**70), None, KIND_NUMBER)  # as json_extract reads it
    assert rows["huge"][1] == 2**62 + 1  # integers stay exact
    assert all(row[:4] == (7, CONFIG, row[2], 3) for row in value_rows(7, 3, CONFIG, config))


def test_summary_kinds_groups_and_limits() -> None:
    deep: Any = 1
    for key in "fedcba":
        deep = {key: deep}
    long_list = list(range(100))
    summary = {
        "s": "x",
        "t": True,
        "f": False,
        "n": None,
        "nan": math.nan,
        "inf": -math.inf,
        "arr": [1.0, "x"],
        "long": long_list,
        "deep": deep,
        "_wandb": {"runtime": 3},
        "nul\x00": 1,
    }
    rows = _by_key(value_rows(1, 1, SUMMARY, summary))
    assert rows["s"] == (1, None, "x", KIND_STRING)
    assert rows["t"] == (2, 1, None, KIND_BOOLEAN)
    assert rows["f"] == (2, 0, None, KIND_BOOLEAN)
    assert rows["n"] == (4, None, None, KIND_NULL)
    assert rows["nan"] == (4, None, None, KIND_NAN)  # sorts with null, filters apart from it
    assert rows["inf"] == (0, -math.inf, None, KIND_NUMBER)
    assert rows["arr"] == (3, None, '[1,"x"]', KIND_ARRAY)
    cut = rows["long"][2]
    assert len(cut) == STRUCT_TEXT_LIMIT + 1 and cut.endswith("~")
    assert json.dumps(long_list, separators=(",", ":")).startswith(cut[:-1])
    # Nested keys down to MAX_DEPTH; `_wandb` and keys no filter can name are left out.
    assert "deep.a.b.c.d" in rows and "deep.a.b.c.d.e" not in rows
    assert not any(k.startswith("_wandb") or "\x00" in k for k in rows)


def test_indexed_and_key_text_agree_with_the_writer() -> None:
    assert indexed(("a",)) and indexed(tuple("abcde"))
    assert not indexed(tuple("abcdef")) and len("abcdef") == MAX_DEPTH + 1
    assert not indexed(("_wandb", "runtime")) and indexed(("x", "_wandb"))
    assert key_text(["a.b", "c\\d", "e"]) == "a\\.b.c\\\\d.e"


# --------------------------------------------------------------------------- writers


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(sqlite_url(tmp_path / "liberry.db"))
    store.bootstrap("admin")
    yield store
    store.close()


def _project(conn: Connection) -> int:
    admin = accounts.user_by_name(conn, "admin")
    assert admin is not None
    project, _ = projects.upsert_project(conn, "admin", "p", user_id=admin["id"])
    return int(project["id"])


def _rows(conn: Connection, run_id: int) -> set[tuple[Any, ...]]:
    rv = t.run_values.c
    stmt = select(rv.source, rv.key, rv.kind, rv.number, rv.text).where(rv.run_id == run_id)
    return {tuple(row) for row in conn.execute(stmt)}


def _rebuilt(conn: Connection, run_id: int) -> set[tuple[Any, ...]]:
    """What a full rebuild from the stored documents gives (the incremental writer's target)."""
    run = runs.get_run_by_pk(conn, run_id)
    assert run is not None
    rows = value_rows(run_id, run["project_id"], CONFIG, json.loads(run["config"]))
    rows += value_rows(run_id, run["project_id"], SUMMARY, json.loads(run["summary"]))
    return {(r[1], r[2], r[7], r[5], r[6]) for r in rows}


def _names(conn: Connection, project_id: int, filters: Any, order: str | None = None) -> list[str]:
    page, _, _ = runs.list_runs(
        conn, project_id, filters=filters, order=order, first=100, after=None
    )
    return [row["name"] for row in page]


def _wrapped(config: dict[str, Any]) -> str:
    return json.dumps({k: {"desc": None, "value": v} for k, v in config.items()})


def test_rows_follow_upserts_file_stream_and_delete(store: Store) -> None:
    with store.write() as conn:
        pid = _project(conn)
        fields = {"config": _wrapped({"lr": 0.1, "opt": "adam", "m": {"d": 2}}),
                  "summaryMetrics": json.dumps({"loss": 1.5})}  # fmt: skip
        run, inserted = runs.upsert_run(conn, pid, pk=None, name="r1", user_id=None, fields=fields)
        other, _ = runs.upsert_run(
            conn, pid, pk=None, name="r2", user_id=None, fields={"config": _wrapped({"lr": 1})}
        )
        assert inserted
        rid = int(run["id"])
        assert (CONFIG, "m.d", KIND_NUMBER, 2, None) in _rows(conn, rid)
        assert _rows(conn, rid) == _rebuilt(conn, rid)
        assert _names(conn, pid, {"config.lr": {"$lt": 0.5}}) == ["r1"]

    # Config replaced: a changed, a removed and a new key; summary untouched.
    with store.write() as conn:
        new_config = _wrapped({"lr": 0.9, "m": {"d": 2}, "seed": 7})
        runs.upsert_run(conn, pid, pk=rid, name=None, user_id=None, fields={"config": new_config})
        assert _rows(conn, rid) == _rebuilt(conn, rid)
        assert (CONFIG, "opt", KIND_STRING, None, "adam") not in _rows(conn, rid)
        assert _names(conn, pid, {"config.lr": {"$lt": 0.5}}) == []
        assert _names(conn, pid, {"config.opt": {"$exists": False}}, "+name") == ["r1", "r2"]
        assert _names(conn, pid, {"config.seed": 7}) == ["r1"]
        assert _names(conn, pid, {"summary_metrics.loss": 1.5}) == ["r1"]
        # An upsert without config or summary leaves the rows alone.
        before = _rows(conn, rid)
        runs.upsert_run(conn, pid, pk=rid, name=None, user_id=None, fields={"state": "running"})
        assert _rows(conn, rid) == before

    # The summary replaced by file_stream's wandb-summary.json (last line wins).
    lines = [json.dumps({"loss": 9}), json.dumps({"acc": 0.5, "loss": math.nan, "h": [1, 2]})]
    apply_chunk(store, "admin", "p", "r1",
                {"files": {"wandb-summary.json": {"offset": 0, "content": lines}}})  # fmt: skip
    with store.read() as conn:
        assert _rows(conn, rid) == _rebuilt(conn, rid)
        assert (SUMMARY, "loss", KIND_NAN, None, None) in _rows(conn, rid)
        assert _names(conn, pid, {"summary_metrics.loss": 1.5}) == []
        assert _names(conn, pid, {"summary_metrics.loss": {"$exists": True}}) == ["r1"]
        assert _names(conn, pid, {"summary_metrics.loss": None}) == ["r2"]  # NaN is not null
        assert _names(conn, pid, {"summary_metrics.h": [1, 2]}) == ["r1"]
        assert _names(conn, pid, None, "-summary_metrics.acc") == ["r1", "r2"]

    with store.write() as conn:
        runs.delete_run(conn, rid)
        assert _rows(conn, rid) == set()
        assert _rows(conn, int(other["id"])) == _rebuilt(conn, int(other["id"]))
        total = conn.execute(select(func.count()).select_from(t.run_values)).scalar_one()
        assert total == len(_rows(conn, int(other["id"])))


def test_filters_follow_updates_over_http(server: ServerHandle, project_name: str) -> None:
    """The same through the wire: upsertBucket, then file_stream, then a filtered page."""
    w = Wire(server.url, server.api_key)
    for i in range(4):
        w.upsert("admin", project_name, f"r{i}", config={"lr": i / 10}, summary={"loss": i})
    w.upsert("admin", project_name, "r0", config={"lr": 0.5})
    body = {"files": {"wandb-summary.json": {"offset": 0, "content": ['{"loss": 10}']}}}
    assert w.file_stream("admin", project_name, "r1", body).status_code == 200
    query = """query R($p: String!, $f: JSONString, $o: String) {
      project(name: $p, entityName: "admin") {
        runCount(filters: $f) runs(filters: $f, order: $o) { edges { node { name } } } } }"""
    data = w.gql(query, {"p": project_name, "f": json.dumps({"config.lr": {"$gte": 0.2}}),
                         "o": "-summary_metrics.loss"})["project"]  # fmt: skip
    assert data["runCount"] == 3
    assert [e["node"]["name"] for e in data["runs"]["edges"]] == ["r3", "r2", "r0"]
    data = w.gql(query, {"p": project_name, "f": None, "o": "+summary_metrics.loss"})["project"]
    assert [e["node"]["name"] for e in data["runs"]["edges"]] == ["r0", "r2", "r3", "r1"]


# --------------------------------------------------------------------------- migration

MIGRATION_RUNS: list[dict[str, Any]] = [
    {"config": {"lr": 0.1, "opt": "adam", "m": {"d": 3}}, "summary": {"loss": 0.5, "acc": 0.9}},
    {"config": {"lr": 0.01, "opt": "sgd", "m": {"d": 5}}, "summary": {"loss": math.nan}},
    {"config": {"lr": "0.1", "flag": True}, "summary": {"loss": None, "h": [1, 2, 3]}},
    {"config": {"m": [1, 2]}, "summary": {"loss": 2, "acc": "n/a"}},
    {"config": {}, "summary": {}},
]
MIGRATION_FILTERS: list[Any] = [
    None,
    {"config.lr": {"$gt": 0.05}},
    {"config.lr": {"$ne": 0.1}},
    {"config.m.d": {"$gte": 4}},
    {"config.m": [1, 2]},
    {"summary_metrics.loss": None},
    {"summary_metrics.loss": {"$exists": True}},
    {"$or": [{"config.opt": {"$regex": "^a"}}, {"summary_metrics.acc": "n/a"}]},
    {"$nor": [{"config.flag": True}, {"summary_metrics.h": {"$exists": True}}]},
]
MIGRATION_ORDERS = [None, "-summary_metrics.loss", "+summary_metrics.loss", "+config.lr",
                    "-config.m", "summary_metrics.acc"]  # fmt: skip


def _v1_store(path: Path) -> None:
    """A store as schema version 1 left it (no run_values), holding MIGRATION_RUNS."""
    engine = create_store_engine(sqlite_url(path))
    with engine.begin() as conn:
        for table in t.metadata.sorted_tables:
            if table is not t.run_values:
                table.create(conn)
        conn.execute(t.meta.insert().values(key="schema_version", value="1"))
        conn.execute(t.entities.insert().values(id=1, name="admin", created_at="x"))
        conn.execute(t.projects.insert().values(id=1, entity_id=1, name="p", created_at="x"))
        for i, run in enumerate(MIGRATION_RUNS):
            conn.execute(
                t.runs.insert().values(
                    project_id=1, name=f"r{i}", config=_wrapped(run["config"]),
                    summary=json.dumps(run["summary"]), created_at=f"2024-01-0{i + 1}",
                    updated_at="x", heartbeat_at="x",
                )
            )  # fmt: skip
        assert "run_values" not in {row[0] for row in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type = 'table'"))}  # fmt: skip
    engine.dispose()


def test_migration_from_v1_indexes_existing_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_store(path)
    # Answers before: the JSON-text path, the only one a v1 store could take.
    engine = create_store_engine(sqlite_url(path))
    with engine.connect() as conn:
        before = {
            (json.dumps(f), o): _legacy_names(conn, f, o)
            for f in MIGRATION_FILTERS
            for o in MIGRATION_ORDERS
        }
    assert migrate(engine) == 1
    assert migrate(engine) == SCHEMA_VERSION  # once only
    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(t.run_values)).scalar_one()
        assert count == sum(len(_rebuilt(conn, pk)) for pk in range(1, len(MIGRATION_RUNS) + 1))
        for (filt, order), names in before.items():
            assert _names(conn, 1, json.loads(filt), order) == names, (filt, order)
    engine.dispose()
    # And the Store opens it as usual.
    store = Store(sqlite_url(path))
    with store.read() as conn:
        assert _names(conn, 1, {"config.m.d": 3}) == ["r0"]
    store.close()


def _legacy_names(conn: Connection, filters: Any, order: str | None) -> list[str]:
    spec = compile_order(order, side_table=False)
    stmt = (
        select(t.runs.c.name, *spec.columns)
        .where(t.runs.c.project_id == 1, compile_filters(filters, side_table=False))
        .order_by(*spec.order_by)
    )
    return [row[0] for row in conn.execute(stmt)]


def test_writer_on_postgresql() -> None:
    """Updates and deletes through the driver's own parameter style, and the row lock."""
    from .test_filters import PG_URL, RunsDB

    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    db = RunsDB(PG_URL)
    try:
        run: dict[str, Any] = {"name": "r", "config": {"a": {"value": 1}, "b": {"value": "x"}},
                               "summary": {"loss": 0.5, "h": [1, 2]}}  # fmt: skip
        db.insert([run])
        with db.engine.begin() as conn:
            assert _rows(conn, run["id"]) == _rebuilt(conn, run["id"])
            for config in (_wrapped({"a": 2, "b": "x", "c": {"d": None}}), _wrapped({"z": 1})):
                conn.execute(t.runs.update().values(config=config))
                index_run_values(conn, run["id"], 1, config=config)
                assert _rows(conn, run["id"]) == _rebuilt(conn, run["id"])
            assert db.names(compile_filters({"config.z": 1}, "postgresql")) == set()  # uncommitted
        assert db.names(compile_filters({"config.z": 1}, "postgresql")) == {"r"}
        with db.engine.begin() as conn:
            delete_run_values(conn, run["id"])
            assert _rows(conn, run["id"]) == set()
    finally:
        db.engine.dispose()
