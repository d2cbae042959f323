"""Compile W&B run filters (MongoDB-style JSON, as `wandb.Api().runs(filters=...)` sends them)
into SQLAlchemy conditions over `tables.runs`.

Grammar: a filter is an object; several keys are ANDed. Keys are `$and`/`$or`/`$nor` (a
non-empty list of filters), `$not` (a filter), or a field. A field maps to a bare value
(`$eq`) or to an object of operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists $regex`
(+ `$options`, letters of "imsx"), `$not` (operators), and `$all` for `tags`.

Fields:
- `config.KEY[.value][.SUB...]`: the unwrapped config value (`$.KEY.value.SUB`).
- `summary_metrics.KEY[.SUB...]` (or `summaryMetrics.KEY`): the run summary.
  In both, `\\.` is a literal dot in a key.
- run columns: name, displayName, state, createdAt, heartbeatAt, updatedAt, group, jobType,
  sweep, notes, host, username (and snake_case spellings); `tags` (a list of strings).

Semantics follow MongoDB: comparisons only match values of the operand's type (numbers with
numbers, strings with strings, booleans with booleans; `true` never equals 1); `$eq: null`
matches null or missing; `$ne`/`$nin`/`$not` match runs where the field is missing; arrays
and objects compare by canonical JSON (key order ignored, 1.0 == 1). Unlike MongoDB, a
scalar never matches *inside* a config/summary array (only `tags` has membership
semantics). A NULL run column counts as missing. Timestamp operands are parsed as ISO-8601
(naive = UTC) and compared in the stored format. `$regex` uses Python `re.search` on SQLite.

Every condition built here is two-valued (never SQL NULL) so that negation is exact.

Config and summary keys are read from the `run_values` side table (`values.py`): each field
becomes an EXISTS over the run's row for that key, found by its primary key (run, source,
key). Paths the table does not hold (deeper than `values.MAX_DEPTH`, or under `_wandb`) are
read from the JSON text by `jsonsql`, with the same semantics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, exists, false, not_, or_, select, true

from . import jsonsql
from . import tables as t
from . import values as v
from .errors import StoreError
from .jsonsql import JsonRef, install_sqlite_functions

__all__ = [
    "FilterError",
    "compile_filters",
    "install_sqlite_functions",
    "parse_filters",
    "resolve_field",
]


class FilterError(StoreError):
    """A filter, order or cursor that cannot be used; the message says where and what to do."""


LOGICAL_OPS: Final = ("$and", "$or", "$nor", "$not")
FIELD_OPS: Final = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$options",
    "$not",
)  # fmt: skip
TAG_OPS: Final = ("$eq", "$ne", "$in", "$nin", "$all", "$exists", "$regex", "$options", "$not")
_COMPARISONS: Final = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_REGEX_FLAGS: Final = "imsx"
_BOOL_KINDS: Final = {None: "null", True: "true", False: "false"}
_LEADING_FLAGS: Final = re.compile(r"\(\?([a-zA-Z]+)\)")

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


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    return names.get(type(value), "object" if isinstance(value, Mapping) else type(value).__name__)


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- parsing


def parse_filters(text: str | None) -> dict[str, Any] | None:
    """The GraphQL `filters` argument (a JSON string) as a dict; None for none/empty/null."""
    if text is None or not text.strip():
        return None
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(
            f"filters is {len(text)} characters long; the limit is {MAX_FILTER_CHARS}"
        )
    try:
        value = json.loads(text)
    except RecursionError:
        raise FilterError(
            f"filters nest too deeply; the limit is {MAX_FILTER_DEPTH} levels"
        ) from None
    except json.JSONDecodeError as exc:
        raise FilterError(
            f"filters is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno} "
            f"(character {exc.pos}); send a JSON object such as "
            '{"config.lr": {"$gt": 0.01}}'
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise FilterError(f"filters hold a value this server cannot read: {exc}") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise FilterError(
            f'filters must be a JSON object, got a {_describe(value)}; e.g. {{"state": "finished"}}'
        )
    check_filter_size(value)
    return value


#: Bounds on a client's filter, so compiling and running it is bounded work.
MAX_FILTER_CHARS: Final = 1_000_000
MAX_FILTER_DEPTH: Final = 64  # JSON levels: each $and/$or level is two (object, list)
MAX_FILTER_VALUES: Final = 10_000


def check_filter_size(doc: Any) -> None:
    """FilterError when `doc` nests deeper than MAX_FILTER_DEPTH or holds more than
    MAX_FILTER_VALUES keys and values (a huge `$in` list, thousands of `$or` branches)."""
    count = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_FILTER_VALUES:
            raise FilterError(
                f"filters hold more than {MAX_FILTER_VALUES} keys and values (a long $in "
                f"list?); the limit is {MAX_FILTER_VALUES}"
            )
        if depth > MAX_FILTER_DEPTH:
            raise FilterError(f"filters nest too deeply; the limit is {MAX_FILTER_DEPTH} levels")
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)


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


# --------------------------------------------------------------------------- fields


def _boolean_kinds(op: str, value: bool) -> list[str]:
    """The JSON kinds ("false", "true") that satisfy `x op value`, with false < true."""
    return ["true" if b else "false" for b in (False, True) if _COMPARISONS[op](b, value)]


class Field:
    """One filterable thing; every method returns a two-valued condition."""

    operators: tuple[str, ...] = FIELD_OPS

    def __init__(self, label: str, dialect: str, where: str) -> None:
        self.label = label  # the field as written
        self.dialect = dialect
        self.where = where  # its location in the filter, for messages

    def eq(self, value: Any) -> ColumnElement[bool]:
        raise NotImplementedError

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        raise NotImplementedError

    def in_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        return or_(false(), *(self.eq(v) for v in values))

    def exists(self, flag: bool) -> ColumnElement[bool]:
        raise NotImplementedError

    def regex(self, pattern: str) -> ColumnElement[bool]:
        raise NotImplementedError

    def all_(self, values: Sequence[Any]) -> ColumnElement[bool]:
        raise FilterError(_unknown_op("$all", self.where, self.operators))

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
            return and_(self._kind("number"), _COMPARISONS[op](number, operand))
        text = jsonsql.string_value(self.ref, self.dialect)
        return and_(self._kind("string"), _COMPARISONS[op](text, value))

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
                lambda c: and_(c.kind == v.KIND_NUMBER, _COMPARISONS[op](c.number, operand))
            )
        return self.has(lambda c: and_(c.kind == v.KIND_STRING, _COMPARISONS[op](c.text, value)))

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
        return self._present(_COMPARISONS[op](self.column, self._operand(value)))

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
                f"$all at {self.where} expects a list of strings, got {_short(values)}"
            )
        if not values:
            return false()  # MongoDB: `$all: []` matches nothing
        return and_(*(jsonsql.array_has_any(self.column, [v], self.dialect) for v in values))

    def compare(self, op: str, value: Any) -> ColumnElement[bool]:
        raise FilterError(_unknown_op(op, self.where, self.operators))

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


# --------------------------------------------------------------------------- compiling


def _unknown_op(op: str, where: str, supported: Sequence[str]) -> str:
    return f'unknown operator "{op}" at {where}; supported: {", ".join(supported)}'


def _check_value(value: Any, where: str, op: str) -> Any:
    """`value` if it is JSON data usable as an operand; FilterError otherwise."""
    if isinstance(value, float) and math.isnan(value):
        raise FilterError(f"{op} at {where}: NaN cannot be compared; use a number")
    if (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not _INT64_MIN <= value <= _INT64_MAX
    ):
        # Beyond what the database binds as an integer: compared as the nearest float, the
        # way stored numbers that large are kept (±inf past float range).
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_check_value(v, where, op) for v in value]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _check_value(v, where, op) for k, v in value.items()}
    raise FilterError(f"{op} at {where}: {_short(value)} is not a JSON value")


class _Compiler:
    def __init__(self, dialect: str, side_table: bool) -> None:
        self.dialect = dialect
        self.side_table = side_table

    def filter(self, doc: Any, where: str) -> ColumnElement[bool]:
        if not isinstance(doc, Mapping):
            raise FilterError(
                f"expected a filter object at {where}, got {_describe(doc)} {_short(doc)}"
            )
        terms: list[ColumnElement[bool]] = []
        for key, operand in doc.items():
            if not isinstance(key, str):
                raise FilterError(f"filter keys must be strings, got {_short(key)} at {where}")
            if key.startswith("$"):
                terms.append(self.logical(key, operand, where))
            else:
                at = key if where == "top level" else f"{where}.{key}"
                field = resolve_field(key, self.dialect, at, side_table=self.side_table)
                terms.append(self.condition(field, operand, at))
        return and_(*terms) if terms else true()

    def logical(self, op: str, operand: Any, where: str) -> ColumnElement[bool]:
        at = op if where == "top level" else f"{where}.{op}"
        if op == "$not":
            return not_(self.filter(operand, at))
        if op not in LOGICAL_OPS:
            raise FilterError(_unknown_op(op, where, LOGICAL_OPS))
        if not isinstance(operand, list) or not operand:
            raise FilterError(
                f"{op} at {where} expects a non-empty list of filter objects, "
                f"got {_describe(operand)} {_short(operand)}"
            )
        parts = [self.filter(part, f"{at}[{i}]") for i, part in enumerate(operand)]
        if op == "$and":
            return and_(*parts)
        either = or_(*parts)
        return either if op == "$or" else not_(either)

    def condition(self, field: Field, operand: Any, where: str) -> ColumnElement[bool]:
        if isinstance(operand, Mapping) and any(str(k).startswith("$") for k in operand):
            if not all(str(k).startswith("$") for k in operand):
                raise FilterError(
                    f"{where} mixes operators and plain keys in {_short(operand)}; use only "
                    '"$" operators, or only plain keys to match a whole object'
                )
            return and_(*(self.operator(field, op, v, operand, where) for op, v in operand.items()))
        return field.eq(_check_value(operand, where, "$eq"))

    def operator(
        self, field: Field, op: str, value: Any, siblings: Mapping[str, Any], where: str
    ) -> ColumnElement[bool]:
        if op not in field.operators:
            if op in LOGICAL_OPS:
                raise FilterError(
                    f"{op} is only allowed at the top of a filter, not inside {where}; "
                    f'write {{"{op}": [{{"{field.label}": ...}}, ...]}}'
                )
            raise FilterError(_unknown_op(op, where, field.operators))
        if op in ("$eq", "$ne"):
            match = field.eq(_check_value(value, where, op))
            return match if op == "$eq" else not_(match)
        if op in _COMPARISONS:
            value = _check_value(value, where, op)
            if isinstance(value, list | Mapping):
                raise FilterError(
                    f"{op} at {where} expects a number, string, boolean or null, "
                    f"got {_describe(value)} {_short(value)}"
                )
            return field.compare(op, value)
        if op in ("$in", "$nin", "$all"):
            if not isinstance(value, list):
                raise FilterError(
                    f"{op} at {where} expects a list, got {_describe(value)} {_short(value)}"
                )
            values = _check_value(value, where, op)
            if op == "$all":
                return field.all_(values)
            match = field.in_(values)
            return match if op == "$in" else not_(match)
        if op == "$exists":
            if not isinstance(value, bool):
                raise FilterError(
                    f"$exists at {where} expects true or false, got {_describe(value)} "
                    f"{_short(value)}"
                )
            return field.exists(value)
        if op == "$regex":
            return field.regex(_regex(value, siblings.get("$options"), where))
        if op == "$options":
            if "$regex" not in siblings:
                raise FilterError(f"$options at {where} needs a $regex next to it")
            return true()  # applied by $regex
        # $not: negate operators on the same field.
        if not isinstance(value, Mapping) or not value:
            raise FilterError(
                f'$not at {where} expects operators such as {{"$gt": 1}}, '
                f"got {_describe(value)} {_short(value)}"
            )
        if not all(str(k).startswith("$") for k in value):
            raise FilterError(
                f'$not at {where} expects operators such as {{"$gt": 1}}, got {_short(value)}; '
                "to exclude one value use $ne"
            )
        return not_(self.condition(field, value, where))


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
MAX_REGEX_CHARS: Final = 1000
# A group that contains a quantifier and is itself quantified: `(a+)+`, `(x*y)*`, `(a|b+){2,}`.
_NESTED_QUANTIFIER = re.compile(
    r"\((?:[^()\\]|\\.)*?(?:[+*]|\{\d*,\d*\})(?:[^()\\]|\\.)*\)\s*(?:[+*]|\{\d*,\d*\})"
)


def _regex(pattern: Any, options: Any, where: str) -> str:
    """A Python regex with `$options` folded in as inline flags; FilterError if invalid."""
    if not isinstance(pattern, str):
        raise FilterError(
            f"$regex at {where} expects a string, got {_describe(pattern)} {_short(pattern)}"
        )
    if options is not None and (
        not isinstance(options, str) or any(c not in _REGEX_FLAGS for c in options)
    ):
        raise FilterError(
            f'$options at {where} must be a string of the letters "{_REGEX_FLAGS}", '
            f"got {_short(options)}"
        )
    flags = set(options or "")
    if leading := _LEADING_FLAGS.match(pattern):
        # Merge into the pattern's own flag group: PostgreSQL allows only one, at the start.
        flags |= set(leading.group(1))
        pattern = pattern[leading.end() :]
    full = f"(?{''.join(sorted(flags))}){pattern}" if flags else pattern
    if len(pattern) > MAX_REGEX_CHARS:
        raise FilterError(
            f"$regex at {where} is {len(pattern)} characters; the limit is {MAX_REGEX_CHARS}"
        )
    if _NESTED_QUANTIFIER.search(pattern):
        # SQLite runs $regex with Python's backtracking `re`, which has no time limit:
        # `(a+)+$` against a long name would hold a worker for minutes.
        raise FilterError(
            f"$regex at {where} repeats a repeated group ({_short(pattern)}), which can take "
            "exponential time; rewrite it without nested quantifiers, e.g. (a+)+ as a+"
        )
    try:
        re.compile(full)
    except re.error as exc:
        raise FilterError(f"invalid $regex at {where}: {exc} in {_short(pattern)}") from None
    return full


def compile_filters(
    filters: Mapping[str, Any] | None, dialect: str = "sqlite", *, side_table: bool = True
) -> ColumnElement[bool]:
    """A WHERE condition over `tables.runs` for W&B-style `filters` (`true()` for none).

    `side_table=False` reads every config/summary key from JSON text (the slow path, kept
    for keys the side table does not hold; benchmarks and tests compare the two).
    """
    try:
        jsonsql.check_dialect(dialect)
    except ValueError as exc:
        raise FilterError(str(exc)) from None
    if not filters:
        return true()
    return _Compiler(dialect, side_table).filter(filters, "top level")
