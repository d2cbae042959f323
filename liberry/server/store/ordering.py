"""Compile W&B run orders (`"-summary_metrics.loss"`, `"+created_at"`) into ORDER BY clauses
and keyset cursors.

An order is an optional sign (`+` ascending, `-` or none descending) and a key: a run column
(created_at, heartbeat_at, updated_at, name, display_name, state, group, job_type, sweep,
host, notes; camelCase accepted), `config.KEY[.value]` or `summary_metrics.KEY`. No order
means `-created_at`.

Order across JSON types, the same in both directions: numbers, then strings, then booleans
(false < true), then arrays/objects (by canonical JSON text), then null and NaN, then runs
missing the key. The direction only orders values within each group, so runs without the
key always come last. A NULL run column also sorts last. Ties are broken by `runs.id` in the
same direction, making the order total.

Pagination is keyset-based: `cursor_for(row)` encodes the row's sort values, and
`after(cursor)` selects the rows strictly after it. Runs present throughout paging are
neither repeated nor skipped, whatever is inserted meanwhile, as long as their own sort
values do not change (a running run's heartbeat or summary can move it between pages).

Config/summary orders read `run_values` (see `values.py`). `OrderSpec.columns`, `order_by`
and `after` still make one statement over `runs` (with correlated lookups of the sort values,
so every run is read and sorted); `OrderSpec.fetch` gets the same page from the ordering
index instead: one query per type group, from the cursor's group on, each seeking the group
in `ix_run_values_order` and reading values in order until the page is full, then the runs
missing the key (skipped at once when every run of the project has it). A first page then
reads about as many index entries as it returns rows, whatever the project's size.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Connection,
    Join,
    Label,
    Select,
    case,
    exists,
    func,
    literal,
    null,
    select,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles

from . import jsonsql
from . import tables as t
from .errors import FilterError
from .filter_fields import (
    JSON_PREFIXES,
    ColumnField,
    Field,
    JsonField,
    UsernameField,
    ValueField,
    resolve_field,
)
from .util import Rows, fetch_rows

__all__ = ["DEFAULT_ORDER", "OrderError", "OrderSpec", "compile_order"]

OrderError = FilterError
DEFAULT_ORDER: Final = "-created_at"
_ID_LABEL: Final = "order_id"
_ORDERABLE: Final = (
    "created_at, heartbeat_at, updated_at, name, display_name, state, group, job_type, sweep, "
    "host, notes, config.KEY, summary_metrics.KEY"
)


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term: `expr` in a direction, selected as `label`."""

    expr: ColumnElement[Any]
    descending: bool
    label: str
    nullable: bool = False  # NULL only for whole groups fixed by the earlier keys

    @property
    def labelled(self) -> Label[Any]:
        return self.expr.label(self.label)


@dataclass(frozen=True)
class ValueOrder:
    """An order by one `run_values` key: what `OrderSpec.fetch` needs to walk the index."""

    source: int
    key: str
    descending: bool


@dataclass(frozen=True)
class OrderSpec:
    """How to order runs and page through them with opaque cursors."""

    order: str  # as given, normalized (sign + key)
    keys: tuple[SortKey, ...]  # the last one is runs.id
    tag: str  # identifies the order inside cursors
    value: ValueOrder | None = None  # set for orders by a `run_values` key

    @property
    def columns(self) -> list[Label[Any]]:
        """Extra columns to SELECT so that `cursor_for` can read a row's sort values."""
        return [key.labelled for key in self.keys]

    @property
    def order_by(self) -> list[ColumnElement[Any]]:
        """ORDER BY clauses, ending with runs.id (by label when `columns` are selected)."""
        return [k.labelled.desc() if k.descending else k.labelled.asc() for k in self.keys]

    def cursor_for(self, row: Mapping[Any, Any]) -> str:
        """An opaque, URL-safe cursor for `row` (a mapping holding the `columns` labels)."""
        try:
            values = [row[key.label] for key in self.keys]
        except KeyError as exc:
            raise KeyError(f"select OrderSpec.columns to build cursors (missing {exc})") from None
        raw = json.dumps([self.tag, values], separators=(",", ":"), ensure_ascii=False)
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    def decode(self, cursor: str) -> list[Any]:
        """The sort values inside `cursor`; FilterError if it is not one of this order's."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            tag, values = json.loads(raw)
        except (ValueError, TypeError, binascii.Error):
            raise FilterError(
                f"invalid cursor {cursor[:40]!r}; pass back a cursor this server returned, "
                "or omit it to start from the first page"
            ) from None
        if tag != self.tag:
            raise FilterError(
                f'the cursor was made for a different order than "{self.order}"; '
                "keep the order unchanged while paging, or start again without a cursor"
            )
        direction = self.keys[-1].descending
        if (
            not isinstance(values, list)
            or len(values) != len(self.keys)
            or not isinstance(values[-1], int)
            or not all(
                (v is None and key.nullable)
                or isinstance(v, int | float)
                or (isinstance(v, str) and key.descending == direction)
                for key, v in zip(self.keys, values, strict=True)
            )
        ):
            raise FilterError(f"invalid cursor {cursor[:40]!r}: its values are malformed")
        return values

    def after(self, cursor: str) -> ColumnElement[bool]:
        """The keyset condition selecting runs strictly after `cursor` in this order.

        One row-value comparison, so each sort expression is evaluated once per row and
        plain-column orders can seek their index. Keys sorting against the order's direction
        (group ranks, always ascending) are integers: negating them aligns the direction. A
        None value marks a key that is NULL for the whole group fixed by the earlier keys
        (see jsonsql.sort_keys); it compares equal there, so it is left out.
        """
        values = self.decode(cursor)
        descending = self.keys[-1].descending
        lhs: list[Any] = []
        rhs: list[Any] = []
        for key, value in zip(self.keys, values, strict=True):
            if value is None:
                continue
            flip = key.descending != descending
            lhs.append(-key.expr if flip else key.expr)
            rhs.append(-value if flip else value)
        return _beyond(lhs, rhs, descending)

    def fetch(
        self,
        conn: Connection,
        stmt: Select[Any],
        *,
        project_id: int,
        after: str | None,
        limit: int,
        skip: int = 0,
        unfiltered: bool = False,
    ) -> list[dict[str, Any]]:
        """`fetch_rows`, each row a dict by label."""
        keys, rows = self.fetch_rows(
            conn, stmt, project_id=project_id, after=after, limit=limit, skip=skip,
            unfiltered=unfiltered,
        )  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def fetch_rows(
        self,
        conn: Connection,
        stmt: Select[Any],
        *,
        project_id: int,
        after: str | None,
        limit: int,
        skip: int = 0,
        unfiltered: bool = False,
    ) -> Rows:
        """Up to `limit` rows of `stmt` (a SELECT over runs of `project_id`, with its filters,
        unordered) after the cursor `after`, in this order, each with the `columns` labels;
        with `skip`, without the first `skip` of them (passed over in the database: a cursor
        jump of thousands of runs needs only the row it lands on). `unfiltered` says `stmt`
        keeps every run of the project, so runs can be skipped in the ordering index alone.

        The same rows as `stmt.add_columns(*columns).where(after(cursor)).order_by(*order_by)`,
        read through the ordering index for `run_values` orders (see the module docstring).
        """
        if self.value is None:
            stmt = stmt.add_columns(*self.columns)
            if after:
                stmt = stmt.where(self.after(after))
            stmt = stmt.order_by(*self.order_by).limit(max(0, limit - skip))
            return fetch_rows(conn, stmt.offset(skip) if skip else stmt)
        cursor = self.decode(after) if after else None
        first_group = cursor[0] if cursor else jsonsql.RANK_NUMBER
        keys: list[str] = []
        rows: list[tuple[Any, ...]] = []
        passed = 0  # rows read so far, skipped or kept
        for group in range(first_group, jsonsql.RANK_MISSING + 1):
            if passed >= limit:
                break
            within = cursor if cursor and cursor[0] == group else None
            if group < jsonsql.RANK_MISSING:
                arm = _group_arm(self.value, stmt, project_id, group, within, limit - passed)
            elif within or _some_run_lacks(conn, self.value, project_id):
                arm = _missing_arm(self.value, stmt, within, limit - passed)
            else:
                break
            drop = skip - passed
            if drop > 0 and unfiltered and group < jsonsql.RANK_MISSING:
                landed = _nth_in_group(conn, self.value, project_id, group, within, drop)
                if isinstance(landed, int):  # the whole group is skipped
                    passed += landed
                    continue
                passed += drop
                arm = _group_arm(self.value, stmt, project_id, group, landed, limit - passed)
                keys, found = fetch_rows(conn, arm)
            elif drop > 0:
                keys, found = fetch_rows(conn, arm.limit(limit - passed - drop).offset(drop))
                if not found:  # the whole group is skipped: how many runs did it have?
                    counted = conn.execute(select(func.count()).select_from(arm.subquery()))
                    passed += int(counted.scalar_one())
                    continue
                passed += drop
            else:
                keys, found = fetch_rows(conn, arm)
            passed += len(found)
            rows += found
        return Rows(keys, rows)


def _beyond(lhs: list[Any], rhs: list[Any], descending: bool) -> ColumnElement[bool]:
    """`lhs` strictly after `rhs` (row values) in the direction."""
    if len(lhs) == 1:
        return lhs[0] < rhs[0] if descending else lhs[0] > rhs[0]
    return tuple_(*lhs) < tuple_(*rhs) if descending else tuple_(*lhs) > tuple_(*rhs)


def _group_arm(
    order: ValueOrder,
    stmt: Select[Any],
    project_id: int,
    group: int,
    cursor: list[Any] | None,
    limit: int,
) -> Select[Any]:
    """The runs whose value is in sort group `group`, in order, after `cursor` if in it.

    Seeks (project, source, key, group) in `ix_run_values_order` and reads on in index order
    (backwards when descending), so only as many entries as it keeps or filters out.
    """
    rv = t.run_values.alias("order_rv")
    return (
        _driven_by(rv, rv.c.run_id == t.runs.c.id, stmt)
        .where(*_group_where(rv, order, project_id, group, cursor))
        .add_columns(
            rv.c.grp.label("order_k0"),
            rv.c.number.label("order_k1"),
            rv.c.text.label("order_k2"),
            t.runs.c.id.label(_ID_LABEL),
        )
        .order_by(*_group_order(rv, order))
        .limit(limit)
    )


def _group_where(
    rv: Any, order: ValueOrder, project_id: int, group: int, cursor: list[Any] | None
) -> list[ColumnElement[bool]]:
    """The index entries of sort group `group`, after `cursor` if it is in it."""
    where = [
        rv.c.project_id == project_id,
        rv.c.source == order.source,
        rv.c.key == order.key,
        rv.c.grp == group,
    ]
    if cursor is not None:
        # Inside a group only some value columns are non-NULL (jsonsql.sort_keys invariant).
        pairs = [(c, x) for c, x in zip((rv.c.number, rv.c.text), cursor[1:3], strict=True)]
        lhs = [c for c, x in pairs if x is not None]
        rhs = [x for _, x in pairs if x is not None]
        where.append(_beyond([*lhs, rv.c.run_id], [*rhs, cursor[3]], order.descending))
    return where


def _group_order(rv: Any, order: ValueOrder) -> list[Any]:
    direction = "desc" if order.descending else "asc"
    return [getattr(col, direction)() for col in (rv.c.number, rv.c.text, rv.c.run_id)]


def _nth_in_group(
    conn: Connection,
    order: ValueOrder,
    project_id: int,
    group: int,
    cursor: list[Any] | None,
    n: int,
) -> list[Any] | int:
    """The cursor values of the `n`-th run of sort group `group` (after `cursor` if it is in
    it), read from the ordering index alone; or, when the group has fewer runs, how many."""
    rv = t.run_values.alias("order_rv")
    entries = (
        select(rv.c.grp, rv.c.number, rv.c.text, rv.c.run_id)
        .where(*_group_where(rv, order, project_id, group, cursor))
        .order_by(*_group_order(rv, order))
    )
    row = conn.execute(entries.limit(1).offset(n - 1)).first()
    if row is not None:
        return list(row)
    counted = select(func.count()).select_from(entries.limit(n).subquery())
    return int(conn.execute(counted).scalar_one())


class _DriverJoin(Join):
    """An inner join whose left side must be read first: `CROSS JOIN` on SQLite, whose planner
    never reorders it (it would otherwise scan and sort every run of a project whenever
    `runs.project_id` is a bound parameter). A plain JOIN elsewhere."""

    inherit_cache = True


@compiles(_DriverJoin, "sqlite")
def _sqlite_driver_join(join: _DriverJoin, compiler: Any, **kw: Any) -> str:
    assert join.onclause is not None  # always given by _driven_by
    kw["asfrom"] = True
    left = join.left._compiler_dispatch(compiler, **kw)
    right = join.right._compiler_dispatch(compiler, **kw)
    on = join.onclause._compiler_dispatch(compiler, **{**kw, "asfrom": False})
    return f"{left} CROSS JOIN {right} ON {on}"


def _driven_by(driver: Any, on: ColumnElement[bool], stmt: Select[Any]) -> Select[Any]:
    """`stmt` (a SELECT over runs and its joins) reading `driver` first, then runs (`on`),
    then `stmt`'s own joins (`users` in `list_runs`), which SQLAlchemy chains after runs."""
    return stmt.select_from(_DriverJoin(driver, t.runs, on))


def _missing_arm(
    order: ValueOrder, stmt: Select[Any], cursor: list[Any] | None, limit: int
) -> Select[Any]:
    """The runs without the key, by id, after `cursor` if it is one of them."""
    rv = t.run_values.c
    stmt = stmt.where(
        ~exists()
        .where(rv.run_id == t.runs.c.id, rv.source == order.source, rv.key == order.key)
        .correlate(t.runs)
    )
    if cursor is not None:
        stmt = stmt.where(_beyond([t.runs.c.id], [cursor[3]], order.descending))
    direction = "desc" if order.descending else "asc"
    return (
        stmt.add_columns(
            literal(jsonsql.RANK_MISSING).label("order_k0"),
            null().label("order_k1"),
            null().label("order_k2"),
            t.runs.c.id.label(_ID_LABEL),
        )
        .order_by(getattr(t.runs.c.id, direction)())
        .limit(limit)
    )


def _some_run_lacks(conn: Connection, order: ValueOrder, project_id: int) -> bool:
    """Whether any run of the project has no value for the key: two index-only counts,
    much cheaper than looking for such runs one by one when there are none."""
    runs = select(func.count()).select_from(t.runs).where(t.runs.c.project_id == project_id)
    rv = t.run_values.c
    present = (
        select(func.count())
        .select_from(t.run_values)
        .where(rv.project_id == project_id, rv.source == order.source, rv.key == order.key)
    )
    return bool(conn.execute(select(runs.scalar_subquery() > present.scalar_subquery())).scalar())


def _value_keys(field: ValueField, descending: bool) -> list[SortKey]:
    """Sort keys reading the run's `run_values` row by its primary key: group (missing last),
    number (numbers, booleans), text (strings, arrays/objects)."""

    rv = t.run_values.c

    def lookup(name: str) -> ColumnElement[Any]:
        return (
            select(rv[name])
            .where(rv.run_id == t.runs.c.id, rv.source == field.source, rv.key == field.key)
            .correlate(t.runs)
            .scalar_subquery()
        )

    return [
        SortKey(func.coalesce(lookup("grp"), jsonsql.RANK_MISSING), False, "order_k0"),
        SortKey(lookup("number"), descending, "order_k1", nullable=True),
        SortKey(lookup("text"), descending, "order_k2", nullable=True),
    ]


def _parse(order: str | None) -> tuple[bool, str]:
    text = (order or "").strip() or DEFAULT_ORDER
    descending = not text.startswith("+")
    name = text[1:].strip() if text[0] in "+-" else text
    if not name:
        raise FilterError(f'empty order "{order}"; use e.g. "-created_at" or "+config.lr"')
    return descending, name


def compile_order(
    order: str | None, dialect: str = "sqlite", *, side_table: bool = True
) -> OrderSpec:
    """ORDER BY terms, cursor columns and keyset conditions for a W&B `order` string.

    `side_table=False` sorts config/summary keys by their JSON text (the slow path).
    """
    try:
        jsonsql.check_dialect(dialect)
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    descending, name = _parse(order)
    field: Field | None = None
    where = f'order "{order}"'
    if name.partition(".")[0] in JSON_PREFIXES:
        field = resolve_field(name, dialect, where, side_table=side_table)  # specific errors
    else:
        with contextlib.suppress(FilterError):
            field = resolve_field(name, dialect, where)
    value: ValueOrder | None = None
    if isinstance(field, ValueField):
        keys = _value_keys(field, descending)
        identity: list[Any] = [field.json.ref.doc.name, list(field.json.ref.keys)]
        value = ValueOrder(field.source, field.key, descending)
    elif isinstance(field, JsonField):
        rank, *values = jsonsql.sort_keys(field.ref, dialect)
        # The group rank stays ascending: missing keys last in both directions.
        keys = [SortKey(rank, False, "order_k0")] + [
            SortKey(v, descending, f"order_k{i}", nullable=True) for i, v in enumerate(values, 1)
        ]
        identity = [field.ref.doc.name, list(field.ref.keys)]
    elif isinstance(field, ColumnField) and not isinstance(field, UsernameField):
        column = field.column
        if field.nullable:  # NULLs last in both directions
            keys = [
                SortKey(case((column.is_(None), 1), else_=0), False, "order_k0"),
                SortKey(column, descending, "order_k1", nullable=True),
            ]
        else:
            keys = [SortKey(column, descending, "order_k0")]
        identity = [column.name]
    else:
        raise FilterError(f'cannot order by "{name}" in order "{order}"; use one of: {_ORDERABLE}')
    keys.append(SortKey(t.runs.c.id, descending, _ID_LABEL))
    normalized = ("-" if descending else "+") + name
    digest = hashlib.sha256(json.dumps([descending, *identity]).encode()).hexdigest()[:10]
    return OrderSpec(normalized, tuple(keys), digest, value)
