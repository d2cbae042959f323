"""Run counts that stay fast at a million runs per project (GraphQL's `runCount`).

Two shortcuts, each giving exactly what `SELECT count(*) FROM runs WHERE project_id = :p AND
<filters>` gives:

- No filter: `project_run_counts`, one row per project kept by database triggers on `runs`
  (so every writer, bulk tools included, keeps it right; see `install_triggers`). A project
  without a row falls back to counting.
- A filter whose top level (directly, or through `$and`) holds a plain comparison of one
  config/summary number or string (`{"config.lr": {"$gt": 0.01}}`, `{"summary_metrics.acc":
  0.9}`): the count is driven by that key's range in the ordering index
  `ix_run_values_order` (project, source, key, group, number, text): it reads only the
  matching entries, not one EXISTS probe per run of the project; the rest of the filter, if
  any, is checked on the runs found.
- Anything else counts as before.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import ColumnElement, Connection, and_, func, select, text

from . import jsonsql
from . import tables as t
from .errors import FilterError
from .filter_fields import ValueField, resolve_field
from .filters import compile_filters

# The join that SQLite must read left to right (see ordering.py): the range, then its runs.
from .ordering import _DriverJoin

__all__ = ["count_runs", "install_triggers"]

_RANGES: Final = {"$gt", "$gte", "$lt", "$lte", "$eq"}


_SQLITE_TRIGGERS: Final = (
    """CREATE TRIGGER IF NOT EXISTS trg_runs_count_insert AFTER INSERT ON runs BEGIN
         INSERT INTO project_run_counts (project_id, n) VALUES (NEW.project_id, 1)
         ON CONFLICT (project_id) DO UPDATE SET n = n + 1;
       END""",
    """CREATE TRIGGER IF NOT EXISTS trg_runs_count_delete AFTER DELETE ON runs BEGIN
         UPDATE project_run_counts SET n = n - 1 WHERE project_id = OLD.project_id;
       END""",
)
_PG_TRIGGERS: Final = (
    """CREATE OR REPLACE FUNCTION liberry_count_runs() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'INSERT' THEN
           INSERT INTO project_run_counts (project_id, n) VALUES (NEW.project_id, 1)
           ON CONFLICT (project_id) DO UPDATE SET n = project_run_counts.n + 1;
         ELSE
           UPDATE project_run_counts SET n = n - 1 WHERE project_id = OLD.project_id;
         END IF;
         RETURN NULL;
       END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS trg_runs_count ON runs",
    """CREATE TRIGGER trg_runs_count AFTER INSERT OR DELETE ON runs
       FOR EACH ROW EXECUTE FUNCTION liberry_count_runs()""",
)


def install_triggers(conn: Connection) -> None:
    """Create `project_run_counts`, fill it from `runs` and keep it up to date from now on
    (in the caller's transaction, so no run is counted twice or missed). Runs never move
    between projects, so inserts and deletes are all the triggers follow."""
    t.project_run_counts.create(conn, checkfirst=True)
    for statement in _SQLITE_TRIGGERS if conn.dialect.name == "sqlite" else _PG_TRIGGERS:
        conn.execute(text(statement))
    conn.execute(t.project_run_counts.delete())
    conn.execute(
        t.project_run_counts.insert().from_select(
            ["project_id", "n"],
            select(t.runs.c.project_id, func.count()).group_by(t.runs.c.project_id),
        )
    )


def _conjuncts(filters: Mapping[str, Any]) -> list[tuple[str, Any]] | None:
    """The filter as (key, operand) terms that must all hold; None if its top is not an AND."""
    terms: list[tuple[str, Any]] = []
    for key, operand in filters.items():
        if key == "$and" and isinstance(operand, list) and operand:
            for part in operand:
                inner = _conjuncts(part) if isinstance(part, Mapping) else None
                if inner is None:
                    return None
                terms += inner
        elif key.startswith("$"):
            return None
        else:
            terms.append((key, operand))
    return terms


def _plain(value: Any) -> bool:
    """A number (not a boolean, not NaN) or a string: what one index range can answer."""
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return not math.isnan(value)
    return isinstance(value, int | str)


def _range(key: str, operand: Any, dialect: str) -> list[ColumnElement[bool]] | None:
    """Conditions on `run_values` equal to the term `key: operand`, or None when the term is
    not one comparison of one indexed value with numbers or strings."""
    ops = operand if isinstance(operand, Mapping) else {"$eq": operand}
    if not ops or not set(ops) <= _RANGES or not all(_plain(x) for x in ops.values()):
        return None
    kinds = {isinstance(x, str) for x in ops.values()}
    if len(kinds) != 1:
        return None
    try:
        field = resolve_field(key, dialect, key)
    except FilterError:  # the caller compiled the whole filter first: unreachable
        return None
    if not isinstance(field, ValueField):
        return None
    rv = t.run_values.c
    strings = kinds == {True}
    # The filters' `kind = NUMBER` (or STRING) as the sort group: numbers are the only kind
    # in RANK_NUMBER and strings the only one in RANK_STRING (values.GROUP_OF_KIND), and the
    # group is in the index where the kind is not, so the range is read from the index alone.
    # A string's `number` is NULL: saying so lets the seek go on to `text`.
    where = [
        rv.source == field.source,
        rv.key == field.key,
        rv.grp == (jsonsql.RANK_STRING if strings else jsonsql.RANK_NUMBER),
    ]
    if strings:
        where.append(rv.number.is_(None))
    column = rv.text if strings else rv.number
    for op, value in ops.items():
        operand_sql = value if strings else jsonsql.number_param(value, dialect)
        where.append(_COMPARE[op](column, operand_sql))
    return where


_COMPARE: Final = {
    "$gt": lambda c, x: c > x,
    "$gte": lambda c, x: c >= x,
    "$lt": lambda c, x: c < x,
    "$lte": lambda c, x: c <= x,
    "$eq": lambda c, x: c == x,
}


def _maintained(conn: Connection, project_id: int) -> int | None:
    row = conn.execute(
        select(t.project_run_counts.c.n).where(t.project_run_counts.c.project_id == project_id)
    ).first()
    return None if row is None else int(row[0])


def count_runs(conn: Connection, project_id: int, filters: Mapping[str, Any] | None) -> int:
    """How many runs of the project match `filters` (W&B's filter document)."""
    dialect = conn.dialect.name
    if not filters:
        found = _maintained(conn, project_id)
        if found is not None:
            return found
    # Compiled first, so a bad filter is refused with the same error whichever way counts.
    where_all = compile_filters(filters, dialect)
    terms = _conjuncts(filters) if filters else None
    for i, (key, operand) in enumerate(terms or ()):
        where = _range(key, operand, dialect)
        if where is None:
            continue
        rv = t.run_values
        rest = [{k: o} for j, (k, o) in enumerate(terms or ()) if j != i]
        stmt = select(func.count()).where(rv.c.project_id == project_id, *where)
        if rest:
            # The other terms are checked on the runs the range finds, read by primary key.
            stmt = stmt.select_from(_DriverJoin(rv, t.runs, rv.c.run_id == t.runs.c.id)).where(
                compile_filters({"$and": rest}, dialect)
            )
        else:
            stmt = stmt.select_from(rv)
        return int(conn.execute(stmt).scalar_one())
    stmt = (
        select(func.count())
        .select_from(t.runs)
        .where(and_(t.runs.c.project_id == project_id, where_all))
    )
    return int(conn.execute(stmt).scalar_one())
