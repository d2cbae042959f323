"""Compile W&B run filters (MongoDB-style JSON, as `wandb.Api().runs(filters=...)` sends them)
into SQLAlchemy conditions over `tables.runs`.

Grammar: a filter is an object; several keys are ANDed. Keys are `$and`/`$or`/`$nor` (a
non-empty list of filters), `$not` (a filter), or a field. A field maps to a bare value
(`$eq`) or to an object of operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists $regex`
(+ `$options`, letters of "imsx"), `$not` (operators), and `$all` for `tags`.

Fields (`config.KEY`, `summary_metrics.KEY`, run columns, `tags`) are `filter_fields.py`'s.

Semantics follow MongoDB: comparisons only match values of the operand's type (numbers with
numbers, strings with strings, booleans with booleans; `true` never equals 1); `$eq: null`
matches null or missing; `$ne`/`$nin`/`$not` match runs where the field is missing; arrays
and objects compare by canonical JSON (key order ignored, 1.0 == 1). Unlike MongoDB, a
scalar never matches *inside* a config/summary array (only `tags` has membership
semantics). A NULL run column counts as missing. Timestamp operands are parsed as ISO-8601
(naive = UTC) and compared in the stored format. `$regex` uses Python `re.search` on SQLite.

Every condition built here is two-valued (never SQL NULL) so that negation is exact.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import ColumnElement, and_, not_, or_, true

from . import jsonsql
from .errors import FilterError
from .filter_fields import COMPARISONS, Field, resolve_field, short, unknown_op
from .jsonsql import install_sqlite_functions

__all__ = [
    "MAX_FILTER_VALUES",
    "MAX_REGEX_CHARS",
    "FilterError",
    "check_filter_size",
    "compile_filters",
    "install_sqlite_functions",
    "parse_filters",
]


LOGICAL_OPS: Final = ("$and", "$or", "$nor", "$not")
_REGEX_FLAGS: Final = "imsx"
_LEADING_FLAGS: Final = re.compile(r"\(\?([a-zA-Z]+)\)")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "boolean", int: "number", float: "number", str: "string", list: "list"}
    return names.get(type(value), "object" if isinstance(value, Mapping) else type(value).__name__)


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


# --------------------------------------------------------------------------- compiling


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
    raise FilterError(f"{op} at {where}: {short(value)} is not a JSON value")


class _Compiler:
    def __init__(self, dialect: str, side_table: bool) -> None:
        self.dialect = dialect
        self.side_table = side_table

    def filter(self, doc: Any, where: str) -> ColumnElement[bool]:
        if not isinstance(doc, Mapping):
            raise FilterError(
                f"expected a filter object at {where}, got {_describe(doc)} {short(doc)}"
            )
        terms: list[ColumnElement[bool]] = []
        for key, operand in doc.items():
            if not isinstance(key, str):
                raise FilterError(f"filter keys must be strings, got {short(key)} at {where}")
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
            raise FilterError(unknown_op(op, where, LOGICAL_OPS))
        if not isinstance(operand, list) or not operand:
            raise FilterError(
                f"{op} at {where} expects a non-empty list of filter objects, "
                f"got {_describe(operand)} {short(operand)}"
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
                    f"{where} mixes operators and plain keys in {short(operand)}; use only "
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
            raise FilterError(unknown_op(op, where, field.operators))
        if op in ("$eq", "$ne"):
            match = field.eq(_check_value(value, where, op))
            return match if op == "$eq" else not_(match)
        if op in COMPARISONS:
            value = _check_value(value, where, op)
            if isinstance(value, list | Mapping):
                raise FilterError(
                    f"{op} at {where} expects a number, string, boolean or null, "
                    f"got {_describe(value)} {short(value)}"
                )
            return field.compare(op, value)
        if op in ("$in", "$nin", "$all"):
            if not isinstance(value, list):
                raise FilterError(
                    f"{op} at {where} expects a list, got {_describe(value)} {short(value)}"
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
                    f"{short(value)}"
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
                f"got {_describe(value)} {short(value)}"
            )
        if not all(str(k).startswith("$") for k in value):
            raise FilterError(
                f'$not at {where} expects operators such as {{"$gt": 1}}, got {short(value)}; '
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
            f"$regex at {where} expects a string, got {_describe(pattern)} {short(pattern)}"
        )
    if options is not None and (
        not isinstance(options, str) or any(c not in _REGEX_FLAGS for c in options)
    ):
        raise FilterError(
            f'$options at {where} must be a string of the letters "{_REGEX_FLAGS}", '
            f"got {short(options)}"
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
            f"$regex at {where} repeats a repeated group ({short(pattern)}), which can take "
            "exponential time; rewrite it without nested quantifiers, e.g. (a+)+ as a+"
        )
    try:
        re.compile(full)
    except re.error as exc:
        raise FilterError(f"invalid $regex at {where}: {exc} in {short(pattern)}") from None
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
