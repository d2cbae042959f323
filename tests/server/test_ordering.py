"""Run orders and keyset cursors agree with a Python sort, page after page.

Uses the real SQLite file and run strategies of `test_filters.py`.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql

from liberry.server.store import runs as runs_store
from liberry.server.store import tables as t
from liberry.server.store.filters import FilterError, compile_filters
from liberry.server.store.ordering import OrderSpec, compile_order

from .test_filters import (
    MISSING,
    PG_RUNS,
    PG_URL,
    WIDE_RUNS,
    RunsDB,
    field_value,
    is_number,
    matches,
    run_st,
    runs_st,
)

ORDERS = [
    "-summary_metrics.loss", "+summary_metrics.loss", "summary_metrics.acc",
    "+summary_metrics.acc.max", "-summary_metrics.é", "+summary_metrics.a\\.b",
    "+config.lr", "-config.lr.value", "config.model.depth", '+config.q"t', "-config.model",
    "+created_at", "-created_at", "createdAt", "+heartbeat_at", "-updated_at", "+name",
    "-name", "+display_name", "-displayName", "+state", "-group", "+job_type", None,
]  # fmt: skip
FILTERS: list[dict[str, Any] | None] = [
    None,
    {"state": "finished"},
    {"config.lr": {"$exists": True}},
    {"$or": [{"tags": "a"}, {"summary_metrics.loss": {"$gt": 0}}]},
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    store = RunsDB(tmp_path_factory.mktemp("ordering") / "runs.db")
    yield store
    store.engine.dispose()


# --------------------------------------------------------------------------- the oracle


def canonical(value: Any) -> str:
    def norm(v: Any) -> Any:
        if isinstance(v, float) and math.isfinite(v) and v.is_integer() and abs(v) < 2**63:
            return int(v)
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            return [norm(x) for x in v]
        return v

    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def group_and_value(run: Mapping[str, Any], field: str) -> tuple[int, Any]:
    """(group, value): groups sort ascending in both directions, values by direction."""
    value = field_value(run, field)
    if not field.startswith(("config.", "summary_metrics.")):
        return (1, None) if value is MISSING else (0, value)  # NULL columns last
    if value is MISSING:
        return 5, None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return 4, None
    if isinstance(value, bool):
        return 2, value
    if is_number(value):
        return 0, value
    if isinstance(value, str):
        return 1, value
    return 3, canonical(value)


def python_order(runs: Sequence[Mapping[str, Any]], order: str | None) -> list[str]:
    text = order or "-created_at"
    descending = not text.startswith("+")
    field = text.lstrip("+-")

    def cmp(a: Mapping[str, Any], b: Mapping[str, Any]) -> int:
        (ga, va), (gb, vb) = group_and_value(a, field), group_and_value(b, field)
        if ga != gb:
            return -1 if ga < gb else 1
        if va is not None and va != vb:
            result = -1 if va < vb else 1
        else:
            result = -1 if a["id"] < b["id"] else 1 if a["id"] > b["id"] else 0
        return -result if descending else result

    return [run["name"] for run in sorted(runs, key=functools.cmp_to_key(cmp))]


# --------------------------------------------------------------------------- paging helpers


def fetch_page(
    store: RunsDB,
    spec: OrderSpec,
    filters: Mapping[str, Any] | None,
    cursor: str | None,
    size: int,
    *,
    fast: bool = True,
) -> tuple[list[str], str | None]:
    """One page of all run columns plus the order's columns: as the server reads it
    (`OrderSpec.fetch`), or with `fast=False` as one statement (`columns`/`order_by`/`after`)."""
    condition = compile_filters(filters, store.dialect)
    stmt = select(t.runs).where(t.runs.c.project_id == 1, condition)
    with store.engine.connect() as conn:
        if fast:
            rows: Sequence[Mapping[str, Any]] = spec.fetch(
                conn, stmt, project_id=1, after=cursor, limit=size + 1
            )
        else:
            stmt = stmt.add_columns(*spec.columns)
            if cursor is not None:
                stmt = stmt.where(spec.after(cursor))
            rows = conn.execute(stmt.order_by(*spec.order_by).limit(size + 1)).mappings().all()
    page = rows[:size]
    next_cursor = spec.cursor_for(page[-1]) if len(rows) > size else None
    return [row["name"] for row in page], next_cursor


def page_through(
    store: RunsDB, spec: OrderSpec, filters: Mapping[str, Any] | None, size: int, *, fast: bool
) -> list[str]:
    """Every run's name, page by page (`fetch_page`), following each page's cursor."""
    seen: list[str] = []
    cursor: str | None = None
    while True:
        names, cursor = fetch_page(store, spec, filters, cursor, size, fast=fast)
        seen += names
        if cursor is None:
            return seen


def all_names(store: RunsDB, spec: OrderSpec, filters: Mapping[str, Any] | None) -> list[str]:
    """Every run's name in the order, from the one-statement form of `spec`."""
    stmt = select(t.runs.c.name, *spec.columns).where(compile_filters(filters, store.dialect))
    with store.engine.connect() as conn:
        return [row[0] for row in conn.execute(stmt.order_by(*spec.order_by))]


order_st = st.sampled_from(ORDERS)
filter_choice = st.sampled_from(FILTERS)


# --------------------------------------------------------------------------- property tests


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs=runs_st(), orders=st.lists(order_st, min_size=3, max_size=3))
def test_order_matches_python(db: RunsDB, runs: list[dict[str, Any]], orders: list[str]) -> None:
    db.reset(runs)
    for order in orders:
        want = python_order(runs, order)
        assert all_names(db, compile_order(order), None) == want, order
        assert all_names(db, compile_order(order, side_table=False), None) == want, order


@pytest.fixture(scope="module")
def wide_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    store = RunsDB(tmp_path_factory.mktemp("ordering-wide") / "runs.db")
    store.insert(WIDE_RUNS)
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("side_table", [True, False])
def test_order_matches_python_on_many_runs(
    wide_db: RunsDB, order: str | None, side_table: bool
) -> None:
    spec = compile_order(order, side_table=side_table)
    assert all_names(wide_db, spec, None) == python_order(WIDE_RUNS, order)


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=runs_st(max_size=12),
    order=order_st,
    filters=filter_choice,
    size=st.integers(1, 4),
    inserts=st.lists(st.lists(run_st, max_size=3), max_size=4),
)
def test_keyset_paging_with_concurrent_inserts(
    db: RunsDB,
    runs: list[dict[str, Any]],
    order: str | None,
    filters: dict[str, Any] | None,
    size: int,
    inserts: list[list[dict[str, Any]]],
) -> None:
    db.reset(runs)
    present = {run["name"] for run in runs}
    expected = python_order([r for r in runs if not filters or matches(r, filters)], order)
    spec = compile_order(order)
    seen: list[str] = []
    cursor: str | None = None
    for step in range(len(runs) + sum(map(len, inserts)) + 2):
        names, cursor = fetch_page(db, spec, filters, cursor, size)
        assert 0 < len(names) <= size or (not seen and not names)
        seen += names
        if step < len(inserts):  # another client logs new runs between two page requests
            for i, run in enumerate(inserts[step]):
                run["name"] = f"new{step}-{i}"
            db.insert(inserts[step])
        if cursor is None:
            break
    else:
        pytest.fail("paging did not end")
    assert len(seen) == len(set(seen)), "a run was repeated"
    assert [name for name in seen if name in present] == expected


@pytest.mark.parametrize("fast", [True, False])
def test_paging_matches_full_order_without_inserts(db: RunsDB, fast: bool) -> None:
    runs = [dict(run) for run in WIDE_RUNS]
    db.reset(runs)
    for order in ORDERS:
        for filters in FILTERS:
            seen = page_through(db, compile_order(order), filters, 9, fast=fast)
            want = [r for r in runs if not filters or matches(r, filters)]
            assert seen == python_order(want, order), (order, filters)


# Skips that end inside a sort group, on a group's edge, past the end; from the start or a cursor.
SKIPS = [(1, 0), (10, 9), (12, 3), (40, 25), (45, 44), (81, 79), (200, 150), (30, 30)]


def skipped_names(
    store: RunsDB,
    spec: OrderSpec,
    filters: Mapping[str, Any] | None,
    cursor: str | None,
    limit: int,
    skip: int,
    *,
    unfiltered: bool,
) -> list[str]:
    stmt = select(t.runs).where(t.runs.c.project_id == 1, compile_filters(filters, store.dialect))
    with store.engine.connect() as conn:
        rows = spec.fetch(
            conn, stmt, project_id=1, after=cursor, limit=limit, skip=skip, unfiltered=unfiltered
        )
    return [row["name"] for row in rows]


def check_skips(store: RunsDB, runs: list[dict[str, Any]], order: str | None) -> None:
    """`fetch(limit, skip)` gives rows `skip:limit` of the order, after a cursor or not, with
    the filters applied in SQL or (no filters) read from the ordering index alone."""
    spec = compile_order(order, store.dialect)
    for filters in FILTERS:
        want_all = python_order([r for r in runs if not filters or matches(r, filters)], order)
        first_page, cursor = fetch_page(store, spec, filters, None, 7)
        for after, want in ((None, want_all), (cursor, want_all[len(first_page) :])):
            for limit, skip in SKIPS:
                where = (order, filters, after, limit, skip)
                got = skipped_names(store, spec, filters, after, limit, skip, unfiltered=False)
                assert got == want[skip:limit], where
                if filters is None:
                    got = skipped_names(store, spec, None, after, limit, skip, unfiltered=True)
                    assert got == want[skip:limit], where


@pytest.mark.parametrize("order", ORDERS)
def test_skip_passes_over_runs_in_the_database(db: RunsDB, order: str | None) -> None:
    runs = [dict(run) for run in WIDE_RUNS]
    db.reset(runs)
    check_skips(db, runs, order)


@pytest.fixture(scope="module")
def pg_db() -> Iterator[RunsDB]:
    if not PG_URL:
        pytest.skip("set LIBERRY_TEST_POSTGRES_URL to a scratch PostgreSQL database")
    store = RunsDB(PG_URL)
    store.insert(PG_RUNS)
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize(("side_table", "fast"), [(True, True), (True, False), (False, True)])
def test_postgresql_order_and_paging(
    pg_db: RunsDB, order: str | None, side_table: bool, fast: bool
) -> None:
    spec = compile_order(order, "postgresql", side_table=side_table)
    expected = python_order(PG_RUNS, order)
    assert all_names(pg_db, spec, None) == expected
    for filters in FILTERS:
        seen = page_through(pg_db, spec, filters, 9, fast=fast)
        want = [r for r in PG_RUNS if not filters or matches(r, filters)]
        assert seen == python_order(want, order), filters


@pytest.mark.parametrize("order", ORDERS)
def test_postgresql_skip(pg_db: RunsDB, order: str | None) -> None:
    check_skips(pg_db, PG_RUNS, order)


# --------------------------------------------------------------------------- details


def test_defaults_and_signs() -> None:
    assert compile_order(None).order == "-created_at"
    assert compile_order("").order == "-created_at"
    assert compile_order("created_at").order == "-created_at"
    assert compile_order(" +config.lr ").order == "+config.lr"
    # Spellings of the same key share cursors; directions do not.
    assert compile_order("config.lr").tag == compile_order("-config.lr.value").tag
    assert compile_order("createdAt").tag == compile_order("-created_at").tag
    assert compile_order("+config.lr").tag != compile_order("-config.lr").tag


def test_order_ends_with_id_and_labels_columns() -> None:
    spec = compile_order("-summary_metrics.loss")
    assert [c.name for c in spec.columns] == ["order_k0", "order_k1", "order_k2", "order_id"]
    sql = str(select(t.runs.c.name, *spec.columns).order_by(*spec.order_by))
    # The type group never flips; ties go to runs.id in the order's direction.
    assert sql.endswith("ORDER BY order_k0 ASC, order_k1 DESC, order_k2 DESC, order_id DESC")


def test_cursor_round_trips_awkward_values(db: RunsDB) -> None:
    summaries = [{"loss": v} for v in [math.inf, -math.inf, 2**62, -0.0, "é\"'", True, [1.0]]]
    runs = [{"name": f"r{i}", "summary": s} for i, s in enumerate(summaries)]
    db.reset(runs)
    for order in ("+summary_metrics.loss", "-summary_metrics.loss"):
        spec = compile_order(order)
        seen: list[str] = []
        cursor: str | None = None
        while True:
            names, cursor = fetch_page(db, spec, None, cursor, 1)
            seen += names
            if cursor is None:
                break
            assert re.fullmatch(r"[A-Za-z0-9_-]+", cursor), cursor
        assert seen == python_order(runs, order)


def test_column_orders_use_the_index(db: RunsDB) -> None:
    db.reset(
        [{"name": f"r{i}", "created_at": f"2024-01-0{1 + i % 3}T00:00:00.000000"} for i in range(9)]
    )
    spec = compile_order("-created_at")
    _, cursor = fetch_page(db, spec, None, None, 2)
    assert cursor is not None
    condition = spec.after(cursor)
    assert "(runs.created_at, runs.id) <" in str(condition)
    stmt = (
        select(t.runs.c.name, *spec.columns)
        .where(t.runs.c.project_id == 1, condition)
        .order_by(*spec.order_by)
        .limit(3)
    )
    sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))
    assert "ix_runs_project_created" in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(("side_table", "marker"), [(True, "run_values"), (False, "jsonb_typeof")])
def _plans(
    store: RunsDB, spec: OrderSpec, filters: dict[str, Any], cursor: str | None, size: int
) -> list[str]:
    """SQLite's plan of each statement `spec.fetch` runs for one page."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        statements.append((sql, params))

    # As `runs.list_runs` builds it: run columns, the user's name, a bound project id.
    stmt = (
        select(*runs_store.RUN_COLUMNS)
        .outerjoin(t.users, t.users.c.id == t.runs.c.user_id)
        .where(t.runs.c.project_id == 1, compile_filters(filters))
    )
    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.engine.connect() as conn:
            spec.fetch(conn, stmt, project_id=1, after=cursor, limit=size + 1)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    with store.engine.connect() as conn:
        return [
            " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, p))
            for sql, p in statements
        ]


@pytest.fixture(scope="module")
def analyzed_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunsDB]:
    """A one-user server (as most are) with ANALYZE statistics: there SQLite's planner
    prefers scanning all runs to reading the ordering index, unless the join order is forced."""
    store = RunsDB(tmp_path_factory.mktemp("ordering-plans") / "runs.db")
    with store.engine.begin() as conn:
        conn.execute(t.users.delete().where(t.users.c.id != 1))
    rnd = random.Random(5)
    runs = [
        {"name": f"r{i}", "user_id": 1, "config": {"lr": {"value": rnd.random()}},
         "summary": {"loss": rnd.random()}}
        for i in range(300)
    ]  # fmt: skip
    runs += [{"name": "text", "summary": {"loss": "x"}}, {"name": "none", "summary": {}}]
    store.insert(runs)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("order", ["-summary_metrics.loss", "+summary_metrics.loss"])
def test_value_orders_read_the_ordering_index(analyzed_db: RunsDB, order: str) -> None:
    db = analyzed_db
    spec = compile_order(order)
    filters = {"config.lr": {"$gt": 0.01}}  # issue #2's query
    first = _plans(db, spec, filters, None, 5)
    assert len(first) == 1  # the numbers fill the page: one query
    seek = "ix_run_values_order (project_id=? AND source=? AND key=? AND grp=?)"
    assert f"SEARCH order_rv USING COVERING INDEX {seek}" in first[0]
    assert "TEMP B-TREE" not in first[0]
    matching = len(all_names(db, spec, filters))
    _, cursor = fetch_page(db, spec, filters, None, matching - 2)  # next: into later groups
    later = _plans(db, spec, filters, cursor, 5)
    # The 5 groups from the numbers on, a check that some run lacks the key, those runs.
    assert len(later) == 5 + 1 + 1
    assert all(
        "TEMP B-TREE" not in plan and "order_rv USING COVERING" in plan for plan in later[:5]
    )


def test_long_structured_values_page_consistently(db: RunsDB) -> None:
    """Arrays/objects sort by canonical JSON cut at values.STRUCT_TEXT_LIMIT characters:
    values alike that far tie and go by run id, in every form of the order."""
    base = list(range(50))
    runs = [{"name": f"r{i}", "summary": {"h": [*base, i % 3]}} for i in range(7)]
    runs += [{"name": "short", "summary": {"h": [-1]}}, {"name": "obj", "summary": {"h": {}}}]
    db.reset(runs)
    for order in ("+summary_metrics.h", "-summary_metrics.h"):
        spec = compile_order(order)
        full = all_names(db, spec, None)
        for fast in (True, False):
            seen: list[str] = []
            cursor: str | None = None
            while True:
                names, cursor = fetch_page(db, spec, None, cursor, 2, fast=fast)
                seen += names
                if cursor is None:
                    break
            assert seen == full, (order, fast)
        ties = [name for name in full if name.startswith("r")]
        assert ties == sorted(ties, reverse=order.startswith("-"))
        ends = [full[0], full[-1]]  # "[-1]" < "[0,1,..." < "{}", as whole texts compare
        assert ends == (["obj", "short"] if order.startswith("-") else ["short", "obj"])


@pytest.mark.parametrize(("side_table", "marker"), [(True, "run_values"), (False, "jsonb_typeof")])
def test_postgresql_compiles(side_table: bool, marker: str) -> None:
    spec = compile_order("-summary_metrics.loss", "postgresql", side_table=side_table)
    cursor = spec.cursor_for({"order_k0": 0, "order_k1": 0.5, "order_k2": None, "order_id": 3})
    stmt = select(t.runs.c.id, *spec.columns).where(spec.after(cursor)).order_by(*spec.order_by)
    sql = str(stmt.compile(dialect=postgresql.dialect()))
    assert marker in sql
    assert "order_id DESC" in sql


# --------------------------------------------------------------------------- errors


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("order", "message"),
    [
        ("foo", 'cannot order by "foo" in order "foo"; use one of: created_at, heartbeat_at'),
        ("-tags", 'cannot order by "tags" in order "-tags"'),
        ("+username", 'cannot order by "username"'),
        ("config", '"config" needs a key: use config.KEY'),
        ("-summary_metrics..x", 'empty key in "summary_metrics..x"'),
        ("-", 'empty order "-"; use e.g. "-created_at"'),
    ],
)
def test_order_errors(order: str, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        compile_order(order)


def test_cursor_errors() -> None:
    spec = compile_order("-summary_metrics.loss")
    other = compile_order("+summary_metrics.loss")
    good = spec.cursor_for({"order_k0": 0, "order_k1": 0.5, "order_k2": None, "order_id": 3})
    assert isinstance(spec.after(good), object)
    cases = [
        ("!!!", "invalid cursor '!!!'; pass back a cursor this server returned"),
        (_cursor("just a string"), "invalid cursor"),
        (base64.urlsafe_b64encode(b"\xff\xfe").decode(), "invalid cursor"),
        (good, 'the cursor was made for a different order than "+summary_metrics.loss"'),
        (_cursor([other.tag, [0, 1]]), "its values are malformed"),
        (_cursor([other.tag, [0, 1, "x"]]), "its values are malformed"),
        (_cursor([other.tag, [0, {"a": 1}, 3]]), "its values are malformed"),
    ]
    for cursor, message in cases:
        with pytest.raises(FilterError, match=re.escape(message)):
            other.after(cursor)
    column = compile_order("-created_at")
    with pytest.raises(FilterError, match="its values are malformed"):
        column.after(_cursor([column.tag, [None, 3]]))


def test_cursor_for_needs_the_order_columns() -> None:
    with pytest.raises(KeyError, match=r"select OrderSpec\.columns"):
        compile_order("-created_at").cursor_for({"id": 1, "created_at": "x"})


def test_unsupported_dialect() -> None:
    with pytest.raises(FilterError, match="unsupported SQL dialect"):
        compile_order("-created_at", "mysql")
