"""The fields a run filter or order names, each compiling its conditions to SQL:
`config.KEY[.value][.SUB...]` (the unwrapped value), `summary_metrics.KEY[.SUB...]` (or
`summaryMetrics.KEY`; in both `\\.` is a literal dot in a key), the run columns (name,
displayName, state, createdAt, heartbeatAt, updatedAt, group, jobType, sweep, notes, host,
username, and snake_case spellings) and `tags` (a list of strings).

Config and summary keys are read from the `run_values` side table (`values.py`), an EXISTS on
the run's row for that key (`ValueField`); deeper paths or `_wandb` from the JSON text by
`jsonsql` (`JsonField`), with the same semantics. Conditions are two-valued (never NULL), so
negation is exact. `filters.py` parses a filter and combines these; `ordering.py` sorts.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true

from . import jsonsql
from . import tables as t
from . import values as v
from .errors import FilterError
from .jsonsql import JsonRef

__all__ = [
    "COMPARISONS",
    "FIELD_OPS",
    "JSON_PREFIXES",
    "TAG_OPS",
    "ColumnField",
    "Field",
    "JsonField",
    "TagsField",
    "UsernameField",
    "ValueField",
    "resolve_field",
    "short",
    "split_path",
    "unknown_op",
]

FIELD_OPS: Final = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$options",
    "$not",
)  # fmt: skip
TAG_OPS: Final = ("$eq", "$ne", "$in", "$nin", "$all", "$exists", "$regex", "$options", "$not")
COMPARISONS: Final = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_BOOL_KINDS: Final = {None: "null", True: "true", False: "false"}

# Run columns a filter may name (W&B camelCase and our snake_case); timestamps are parsed.
_COLUMNS: Final[dict[str, Any]] = {
    "name": t.runs.c.name,
    "displayName": t.runs.c.display_name,
    "display_name": t.runs.c.display_name,
    "state": t.runs.c.state,
    "createdAt": t.runs.c.created_at,
    "created_at": t.runs.c.created_at,
    "heartbeatAt": t.runs.c.heartbeat_at,
    "heartbeat_at": t.runs.c.heartbeat_at,
    "updatedAt": t.runs.c.updated_at,
    "updated_at": t.runs.c.updated_at,
    "group": t.runs.c.group_name,
    "jobType": t.runs.c.job_type,
    "job_type": t.runs.c.job_type,
    "sweep": t.runs.c.sweep_name,
    "notes": t.runs.c.notes,
    "host": t.runs.c.host,
}
_TIMESTAMPS: Final = frozenset({"created_at", "heartbeat_at", "updated_at"})
JSON_PREFIXES: Final = ("config", "summary_metrics", "summaryMetrics")
_FIELD_NAMES: Final = sorted({*_COLUMNS, "tags", "username"}, key=str.lower)


def short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def unknown_op(op: str, where: str, supported: Sequence[str]) -> str:
    return f'unknown operator "{op}" at {where}; supported: {", ".join(supported)}'


def split_path(text: str, where: str) -> tuple[str, ...]:
    """Dotted key path -> keys; `\\.` is a literal dot and `\\\\` a literal backslash."""
    keys: list[str] = []
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in ".\\":
            buf.append(text[i + 1])
            i += 2
            continue
        if ch == ".":
            keys.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    keys.append("".join(buf))
    if "" in keys:
        raise FilterError(f'empty key in "{where}"; write keys as config.KEY or config.A.B')
    if any("\x00" in k for k in keys):
        raise FilterError(f'NUL character in a key of "{where}"')
    return tuple(keys)


def _boolean_kinds(op: str, value: bool) -> list[str]:
    """The JSON kinds ("false", "true") that satisfy `x op value`, with false < true."""
    return ["true" if b else "false" for b in (False, True) if COMPARISONS[op](b, value)]


class Field(ABC):
    """One filterable thing; every method returns a two-valued condition."""

    operators: tuple[str, ...] = FIELD_OPS

    def __init__(self, label: str, dialect: str, where: str) -> None:
        self.label = label  # the field as written
        self.dialect = dialect
        self.where = where  # its location in the filter, for messages

    @abstractmethod
    def eq(self, value: Any) -> ColumnElement[bool]: ...

    @abstractmethod
    def compare(self, op: str, value: Any) -> ColumnElement[bool]: ...

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        return or_(false(), *(self.eq(v) for v in values))

    @abstractmethod
    def exists(self, flag: bool) -> ColumnElement[bool]: ...

    @abstractmethod
    def regex(self, pattern: str) -> ColumnElement[bool]: ...

    def all_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        raise FilterError(unknown_op("$all", self.where, self.operators))

    def _null_compare(self, op: str) -> ColumnElement[bool]:
        # MongoDB: null is only equal to itself, so >=/<= null mean == null.
        return self.eq(None) if op in ("$gte", "$lte") else false()


class JsonField(Field):
    """A value inside `runs.config` or `runs.summary`."""

    def __init__(self, label: str, dialect: str, where: str, ref: JsonRef) -> None:
        super().__init__(label, dialect, where)
        self.ref = ref

    def _kind(self, *kinds: str) -> ColumnElement[bool]:
        return jsonsql.is_kind(self.ref, kinds, self.dialect)

    def eq(self, value: Any) -> ColumnElement[bool]:
        return self.in_([value])

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        terms: list[ColumnElement[bool]] = []
        kinds = {_BOOL_KINDS[v] for v in values if v is None or isinstance(v, bool)}
        if "null" in kinds:
            kinds.add("missing")  # MongoDB: `$eq: null` also matches a missing field
        if kinds:
            terms.append(self._kind(*kinds))
        numbers = [
            jsonsql.number_param(v, self.dialect)
            for v in values
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if numbers:
            value = jsonsql.number_value(self.ref, self.dialect)
            match = value == numbers[0] if len(numbers) == 1 else value.in_(numbers)
            terms.append(and_(self._kind("number"), match))
        strings = [v for v in values if isinstance(v, str)]
        if strings:
            text = jsonsql.string_value(self.ref, self.dialect)
            match = text == strings[0] if len(strings) == 1 else text.in_(strings)
            terms.append(and_(self._kind("string"), match))
        structured = [v for v in values if isinstance(v, list | Mapping)]
        if structured:
            terms.append(jsonsql.structured_equals(self.ref, structured, self.dialect))
        return or_(false(), *terms)

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        if value is None:
            return self._null_compare(op)
        if isinstance(value, bool):
            kinds = _boolean_kinds(op, value)
            return self._kind(*kinds) if kinds else false()
        if isinstance(value, int | float):
            number = jsonsql.number_value(self.ref, self.dialect)
            operand = jsonsql.number_param(value, self.dialect)
            return and_(self._kind("number"), COMPARISONS[op](number, operand))
        text = jsonsql.string_value(self.ref, self.dialect)
        return and_(self._kind("string"), COMPARISONS[op](text, value))

    def exists(self, flag: bool) -> ColumnElement[bool]:
        missing = self._kind("missing")
        return not_(missing) if flag else missing

    def regex(self, pattern: str) -> ColumnElement[bool]:
        text = jsonsql.string_value(self.ref, self.dialect)
        return and_(self._kind("string"), jsonsql.regex_match(text, pattern, self.dialect))


_ValueCondition = Callable[[Any], ColumnElement[bool]]  # over `run_values` columns (alias.c)


class ValueField(Field):
    """A config/summary value read from `run_values` (a path `values.indexed` accepts).

    At most one row exists per (run, source, key), so "no row matching C" is "missing, or a
    value not satisfying C": negations and `$eq: null` (null or missing) need one NOT EXISTS.
    """

    def __init__(
        self, label: str, dialect: str, where: str, source: int, path: tuple[str, ...],
        json: JsonField,
    ) -> None:  # fmt: skip
        super().__init__(label, dialect, where)
        self.source = source
        self.key = v.key_text(path)
        self.json = json  # the same value in JSON text, for what the table cannot answer

    def has(self, condition: _ValueCondition | None = None) -> ColumnElement[bool]:
        """EXISTS the run's row for this key (satisfying `condition`), found by primary key.

        Correlated to `runs` only, so it stays right inside queries reading `run_values` too.
        """
        rv = t.run_values.c
        where = [rv.run_id == t.runs.c.id, rv.source == self.source, rv.key == self.key]
        if condition is not None:
            where.append(condition(rv))
        return exists().where(*where).correlate(t.runs)

    def _none_but(self, condition: _ValueCondition) -> ColumnElement[bool]:
        """Missing, or a value satisfying `condition` (which must be two-valued)."""
        return not_(self.has(lambda c: not_(condition(c))))

    @staticmethod
    def _kinds(c: Any, kinds: set[str]) -> ColumnElement[bool]:
        terms: list[ColumnElement[bool]] = []
        flags = [flag for flag in (False, True) if ("true" if flag else "false") in kinds]
        if len(flags) == 1:
            terms.append(and_(c.kind == v.KIND_BOOLEAN, c.number == int(flags[0])))
        codes = [v.KIND_BOOLEAN] if len(flags) == 2 else []
        codes += [code for name, code in _KIND_CODES.items() if name in kinds]
        if codes:
            terms.append(c.kind == codes[0] if len(codes) == 1 else c.kind.in_(sorted(codes)))
        return or_(false(), *terms)

    def _kind(self, *kinds: str) -> ColumnElement[bool]:
        wanted = set(kinds)
        if "missing" in wanted:
            wanted.discard("missing")
            return self._none_but(lambda c: self._kinds(c, wanted))
        return self.has(lambda c: self._kinds(c, wanted)) if wanted else false()

    def eq(self, value: Any) -> ColumnElement[bool]:
        return self.in_([value])

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        kinds = {_BOOL_KINDS[x] for x in values if x is None or isinstance(x, bool)}
        numbers = [
            jsonsql.number_param(x, self.dialect)
            for x in values
            if isinstance(x, int | float) and not isinstance(x, bool)
        ]
        strings = [x for x in values if isinstance(x, str)]
        structured = [x for x in values if isinstance(x, list | Mapping)]
        texts = sorted({v.struct_text(x) for x in structured})
        short = [text for text in texts if not text.endswith(v.TRUNCATED)]
        long = [x for x in structured if v.struct_text(x).endswith(v.TRUNCATED)]

        def match(c: Any) -> ColumnElement[bool]:
            terms = [self._kinds(c, kinds)] if kinds else []
            if numbers:
                number = c.number == numbers[0] if len(numbers) == 1 else c.number.in_(numbers)
                terms.append(and_(c.kind == v.KIND_NUMBER, number))
            if strings:
                text = c.text == strings[0] if len(strings) == 1 else c.text.in_(strings)
                terms.append(and_(c.kind == v.KIND_STRING, text))
            if short:  # a cut text never equals a whole one
                terms.append(and_(c.kind.in_([v.KIND_ARRAY, v.KIND_OBJECT]), c.text.in_(short)))
            return or_(false(), *terms)

        if not (kinds or numbers or strings or short):
            found: ColumnElement[bool] = false()
        elif "null" in kinds:  # MongoDB: `$eq: null` also matches a missing field
            found = self._none_but(match)
        else:
            found = self.has(match)
        if long:  # operands longer than the stored text: compare the JSON documents
            found = or_(found, jsonsql.structured_equals(self.json.ref, long, self.dialect))
        return found

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        if value is None:
            return self._null_compare(op)
        if isinstance(value, bool):
            kinds = _boolean_kinds(op, value)
            return self._kind(*kinds) if kinds else false()
        if isinstance(value, int | float):
            operand = jsonsql.number_param(value, self.dialect)
            return self.has(
                lambda c: and_(c.kind == v.KIND_NUMBER, COMPARISONS[op](c.number, operand))
            )
        return self.has(lambda c: and_(c.kind == v.KIND_STRING, COMPARISONS[op](c.text, value)))

    def exists(self, flag: bool) -> ColumnElement[bool]:
        return self.has() if flag else not_(self.has())

    def regex(self, pattern: str) -> ColumnElement[bool]:
        return self.has(
            lambda c: and_(
                c.kind == v.KIND_STRING, jsonsql.regex_match(c.text, pattern, self.dialect)
            )
        )


_KIND_CODES: Final = {
    "number": v.KIND_NUMBER,
    "string": v.KIND_STRING,
    "array": v.KIND_ARRAY,
    "object": v.KIND_OBJECT,
    "null": v.KIND_NULL,
    "nan": v.KIND_NAN,
}


class ColumnField(Field):
    """A text column of `runs`; NULL counts as missing, and only strings ever match."""

    def __init__(
        self, label: str, dialect: str, where: str, column: Any, *, timestamp: bool
    ) -> None:
        super().__init__(label, dialect, where)
        self.column = column
        self.timestamp = timestamp

    @property
    def nullable(self) -> bool:
        return bool(self.column.nullable)

    def _null(self) -> ColumnElement[bool]:
        return self.column.is_(None) if self.nullable else false()

    def _present(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """`condition` on the column, made two-valued where the column is NULL."""
        return and_(self.column.is_not(None), condition) if self.nullable else condition

    def _operand(self, value: str) -> str:
        return _timestamp(value, self.where) if self.timestamp else value

    def eq(self, value: Any) -> ColumnElement[bool]:
        return self.in_([value])

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        strings = [self._operand(v) for v in values if isinstance(v, str)]
        terms = [self._null()] if any(v is None for v in values) else []
        if strings:
            col = self.column
            terms.append(
                self._present(col == strings[0] if len(strings) == 1 else col.in_(strings))
            )
        return or_(false(), *terms)

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        if value is None:
            return self._null_compare(op)
        if not isinstance(value, str):
            return false()  # type bracketing: a text column never compares with a number
        return self._present(COMPARISONS[op](self.column, self._operand(value)))

    def exists(self, flag: bool) -> ColumnElement[bool]:
        return not_(self._null()) if flag else self._null()

    def regex(self, pattern: str) -> ColumnElement[bool]:
        return self._present(jsonsql.regex_match(self.column, pattern, self.dialect))


class UsernameField(ColumnField):
    """The run's user, via an uncorrelated `runs.user_id IN (SELECT users.id ...)`."""

    def __init__(self, label: str, dialect: str, where: str) -> None:
        super().__init__(label, dialect, where, t.users.c.username, timestamp=False)

    def _null(self) -> ColumnElement[bool]:
        return t.runs.c.user_id.is_(None)

    def _present(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        user_id = t.runs.c.user_id
        return and_(user_id.is_not(None), user_id.in_(select(t.users.c.id).where(condition)))


class TagsField(Field):
    """`runs.tags`: a scalar operand means membership; a list operand means the whole list."""

    operators = TAG_OPS

    def __init__(self, label: str, dialect: str, where: str) -> None:
        super().__init__(label, dialect, where)
        self.column = t.runs.c.tags

    def eq(self, value: Any) -> ColumnElement[bool]:
        return self.in_([value])

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        strings = [v for v in values if isinstance(v, str)]
        lists = [v for v in values if isinstance(v, list)]
        terms = [jsonsql.array_has_any(self.column, strings, self.dialect)] if strings else []
        if lists:
            ref = JsonRef(self.column, ())
            terms.append(jsonsql.structured_equals(ref, lists, self.dialect))
        return or_(false(), *terms)

    def all_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        if not all(isinstance(v, str) for v in values):
            raise FilterError(
                f"$all at {self.where} expects a list of strings, got {short(values)}"
            )
        if not values:
            return false()  # MongoDB: `$all: []` matches nothing
        return and_(*(jsonsql.array_has_any(self.column, [v], self.dialect) for v in values))

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        raise FilterError(unknown_op(op, self.where, self.operators))

    def exists(self, flag: bool) -> ColumnElement[bool]:
        return true() if flag else false()  # every run has a (possibly empty) tag list

    def regex(self, pattern: str) -> ColumnElement[bool]:
        return jsonsql.array_has_regex(self.column, pattern, self.dialect)


def resolve_field(
    name: str, dialect: str = "sqlite", where: str | None = None, *, side_table: bool = True
) -> Field:
    """The field a filter key (or order key) names; FilterError listing valid ones if none.

    Config/summary keys are `ValueField`s when `run_values` holds them (and `side_table`),
    else `JsonField`s reading the JSON text.
    """
    where = where or name
    head, dot, rest = name.partition(".")
    if head in JSON_PREFIXES:
        if not dot:
            raise FilterError(f'"{name}" needs a key: use {head}.KEY (e.g. {head}.lr) at {where}')
        keys = split_path(rest, name)
        if head == "config":
            # config.KEY and config.KEY.value both mean the unwrapped value.
            tail = keys[1:]
            path = (keys[0], *(tail[1:] if tail[:1] == ("value",) else tail))
            keys = (path[0], "value", *path[1:])
            doc, source = t.runs.c.config, v.CONFIG
        else:
            path = keys
            doc, source = t.runs.c.summary, v.SUMMARY
        field = JsonField(name, dialect, where, JsonRef(doc, keys))
        if side_table and v.indexed(path):
            return ValueField(name, dialect, where, source, path, field)
        return field
    if name in _COLUMNS:
        column = _COLUMNS[name]
        return ColumnField(name, dialect, where, column, timestamp=column.name in _TIMESTAMPS)
    if name == "username":
        return UsernameField(name, dialect, where)
    if name == "tags":
        return TagsField(name, dialect, where)
    raise FilterError(
        f'unknown field "{name}" at {where}; use config.KEY, summary_metrics.KEY or one of: '
        + ", ".join(_FIELD_NAMES)
    )


def _timestamp(value: str, where: str) -> str:
    """An ISO-8601 operand in the store's format (UTC, microseconds)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FilterError(
            f'invalid timestamp "{value}" at {where}; use ISO-8601 such as '
            '"2024-01-31T12:00:00Z" or "2024-01-31"'
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed.isoformat(timespec="microseconds")
