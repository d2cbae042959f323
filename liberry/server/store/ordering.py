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

from sqlalchemy import ColumnElement, Label, case, tuple_

from . import jsonsql
from . import tables as t
from .filters import (
    JSON_PREFIXES,
    ColumnField,
    Field,
    FilterError,
    JsonField,
    UsernameField,
    resolve_field,
)

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
class OrderSpec:
    """How to order runs and page through them with opaque cursors."""

    order: str  # as given, normalized (sign + key)
    keys: tuple[SortKey, ...]  # the last one is runs.id
    tag: str  # identifies the order inside cursors

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
        if len(lhs) == 1:
            return lhs[0] < rhs[0] if descending else lhs[0] > rhs[0]
        return tuple_(*lhs) < tuple_(*rhs) if descending else tuple_(*lhs) > tuple_(*rhs)


def _parse(order: str | None) -> tuple[bool, str]:
    text = (order or "").strip() or DEFAULT_ORDER
    descending = not text.startswith("+")
    name = text[1:].strip() if text[0] in "+-" else text
    if not name:
        raise FilterError(f'empty order "{order}"; use e.g. "-created_at" or "+config.lr"')
    return descending, name


def compile_order(order: str | None, dialect: str = "sqlite") -> OrderSpec:
    """ORDER BY terms, cursor columns and keyset conditions for a W&B `order` string."""
    try:
        jsonsql.check_dialect(dialect)
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    descending, name = _parse(order)
    field: Field | None = None
    if name.partition(".")[0] in JSON_PREFIXES:
        field = resolve_field(name, dialect, f'order "{order}"')  # its errors are specific
    else:
        with contextlib.suppress(FilterError):
            field = resolve_field(name, dialect, f'order "{order}"')
    if isinstance(field, JsonField):
        rank, *values = jsonsql.sort_keys(field.ref, dialect)
        # The group rank stays ascending: missing keys last in both directions.
        keys = [SortKey(rank, False, "order_k0")] + [
            SortKey(v, descending, f"order_k{i}", nullable=True) for i, v in enumerate(values, 1)
        ]
        identity: list[Any] = [field.ref.doc.name, list(field.ref.keys)]
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
    return OrderSpec(normalized, tuple(keys), digest)
