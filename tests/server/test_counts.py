"""Run counts (`store/counts.py`): the kept per-project count and the index-driven filtered
count equal `count(*)` over the runs, on SQLite and PostgreSQL, after inserts and deletes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import create_engine, event, func, select

from liberry.server.store import Store, accounts, counts, projects
from liberry.server.store import runs as run_store
from liberry.server.store import tables as t
from liberry.server.store.filters import compile_filters

from .test_filters import PG_RUNS, WIDE_RUNS, RunsDB, filter_st, matches

PG_URL = os.environ.get("LIBERRY_TEST_POSTGRES_URL")


def plain_count(conn: Any, project_id: int, filters: dict[str, Any] | None) -> int:
    where = compile_filters(filters, conn.dialect.name)
    stmt = select(func.count()).select_from(t.runs).where(t.runs.c.project_id == project_id, where)
    return int(conn.execute(stmt).scalar_one())


# --------------------------------------------------------------------------- kept counts


def store_urls() -> list[Any]:
    pg = pytest.param(PG_URL, marks=pytest.mark.skipif(not PG_URL, reason="no PostgreSQL"))
    return ["sqlite", pg]


@pytest.fixture(params=store_urls())
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.param
        engine = create_engine(url)  # a scratch database: emptied
        t.metadata.drop_all(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS meta")
            conn.exec_driver_sql("DROP FUNCTION IF EXISTS liberry_count_runs() CASCADE")
        engine.dispose()
    store = Store(url)  # migrated: the triggers are installed
    store.bootstrap()
    yield store
    store.close()


def _project(store: Store, name: str) -> int:
    with store.write() as conn:
        admin = accounts.user_by_name(conn, "admin")
        assert admin is not None
        project, _ = projects.upsert_project(conn, "admin", name, user_id=admin["id"])
        return int(project["id"])


def _kept(store: Store, project_id: int) -> int | None:
    with store.read() as conn:
        return counts._maintained(conn, project_id)


def test_kept_count_follows_inserts_and_deletes(store: Store) -> None:
    a, b = _project(store, "a"), _project(store, "b")
    made: list[int] = []
    with store.write() as conn:
        for i in range(7):
            run, _ = run_store.upsert_run(
                conn, a if i < 5 else b, pk=None, name=f"r{i}", user_id=None,
                fields={"config": '{"lr": {"value": 0.1}}'},
            )  # fmt: skip
            made.append(run["id"])
        # An update of an existing run is not a new run.
        run_store.upsert_run(conn, a, pk=None, name="r0", user_id=None, fields={"state": "killed"})
    assert (_kept(store, a), _kept(store, b)) == (5, 2)
    with store.write() as conn:
        run_store.delete_run(conn, made[0])
        run_store.delete_run(conn, made[6])
    with store.read() as conn:
        for project_id in (a, b):
            assert run_store.count_runs(conn, project_id, None) == plain_count(
                conn, project_id, None
            )
            assert run_store.count_runs(conn, project_id, {}) == plain_count(conn, project_id, {})
    assert (_kept(store, a), _kept(store, b)) == (4, 1)


def test_migration_counts_runs_written_before_it(tmp_path: Path) -> None:
    from liberry.server.store import db

    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = Store(url)
    store.bootstrap()
    project_id = _project(store, "p")
    with store.write() as conn:
        for i in range(3):
            run_store.upsert_run(conn, project_id, pk=None, name=f"r{i}", user_id=None, fields={})
        # As a store from before the kept counts: no triggers, no counts table.
        conn.exec_driver_sql("DROP TRIGGER trg_runs_count_insert")
        conn.exec_driver_sql("DROP TRIGGER trg_runs_count_delete")
        conn.execute(t.project_run_counts.delete())
        before_counts = db.MIGRATIONS.index(db._v8_run_counts)  # v8 and later run again
        conn.exec_driver_sql(f"UPDATE meta SET value = '{before_counts}'")
    store.close()
    store = Store(url)  # migrates again
    assert _kept(store, project_id) == 3
    store.close()


def test_project_without_kept_row_is_counted(tmp_path: Path) -> None:
    """Databases made without the migrations (tools, tests) have no triggers: counting."""
    db = RunsDB(tmp_path / "runs.db")
    db.insert([{"name": f"r{i}"} for i in range(4)])
    with db.engine.connect() as conn:
        assert run_store.count_runs(conn, 1, None) == 4
    db.engine.dispose()


# --------------------------------------------------------------------------- filtered counts

DRIVEN = [
    {"config.lr": {"$gt": 0}},
    {"config.lr": {"$gte": 0, "$lt": 2}},
    {"config.lr": 1},
    {"config.lr": "a"},
    {"config.model": {"$lte": "b"}},
    {"summary_metrics.loss": {"$lt": 1e300}},
    {"summary_metrics.loss": {"$eq": 2.5}},
    {"config.lr": {"$gt": -1}, "state": "running"},
    {"$and": [{"config.lr": {"$gt": -1}}, {"summary_metrics.acc": {"$exists": True}}]},
    {"$and": [{"tags": "a"}, {"$and": [{"summary_metrics.é": {"$gte": ""}}]}]},
    {"config.lr": {"$gt": 0}, "config.model": {"$gt": 0}},
]


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    store = RunsDB(tmp_path_factory.mktemp("counts") / "runs.db")
    store.insert(WIDE_RUNS)
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("filt", DRIVEN)
def test_driven_counts_match(wide_db: RunsDB, filt: dict[str, Any]) -> None:
    want = sum(1 for run in WIDE_RUNS if matches(run, filt))
    with wide_db.engine.connect() as conn:
        assert counts.count_runs(conn, 1, filt) == want == plain_count(conn, 1, filt)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filt=filter_st())
def test_counts_match_python(wide_db: RunsDB, filt: dict[str, Any]) -> None:
    want = sum(1 for run in WIDE_RUNS if matches(run, filt))
    with wide_db.engine.connect() as conn:
        assert counts.count_runs(conn, 1, filt) == want


@pytest.fixture(scope="module")
def pg_db() -> Iterator[RunsDB]:
    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    store = RunsDB(PG_URL)
    store.insert(PG_RUNS)
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("filt", DRIVEN)
def test_postgresql_driven_counts_match(pg_db: RunsDB, filt: dict[str, Any]) -> None:
    want = sum(1 for run in PG_RUNS if matches(run, filt))
    with pg_db.engine.connect() as conn:
        assert counts.count_runs(conn, 1, filt) == want


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filt=filter_st())
def test_postgresql_counts_match_python(pg_db: RunsDB, filt: dict[str, Any]) -> None:
    want = sum(1 for run in PG_RUNS if matches(run, filt))
    with pg_db.engine.connect() as conn:
        assert counts.count_runs(conn, 1, filt) == want


def test_driven_count_reads_the_index(wide_db: RunsDB) -> None:
    """The range reads `ix_run_values_order`, not one probe per run (SQLite's plan)."""
    seen: list[str] = []

    def hook(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(wide_db.engine, "before_cursor_execute", hook)
    try:
        with wide_db.engine.connect() as conn:
            counts.count_runs(conn, 1, {"config.lr": {"$gt": 0}})
            sql = seen[-1]
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, (1, 0, "lr", 0, 0)).all()
    finally:
        event.remove(wide_db.engine, "before_cursor_execute", hook)
    detail = [str(row[-1]) for row in plan]
    assert len(detail) == 1 and "COVERING INDEX ix_run_values_order" in detail[0], detail


def test_range_groups_hold_one_kind() -> None:
    """counts._range names the sort group instead of the kind: one kind per group."""
    from liberry.server.store import jsonsql
    from liberry.server.store import values as v

    groups = list(v.GROUP_OF_KIND.values())
    assert v.GROUP_OF_KIND[v.KIND_NUMBER] == jsonsql.RANK_NUMBER
    assert v.GROUP_OF_KIND[v.KIND_STRING] == jsonsql.RANK_STRING
    assert groups.count(jsonsql.RANK_NUMBER) == groups.count(jsonsql.RANK_STRING) == 1
