"""Client-side validation of run filters (MongoDB-style) and orders.

Checked before anything is sent, so a typo fails fast with the exact location of the bad part
(`filters["$or"][1]["config.lr"]["$gtt"]`) instead of an opaque server error or, worse, an
empty result. `validate_filters` also returns the filter in a JSON-safe form (datetimes as ISO
text, numpy scalars as Python numbers), otherwise unchanged.

The grammar is W&B's: a filter is an object whose keys are ANDed. A key is a logical operator
(`$and`, `$or`, `$nor`: a non-empty list of filters; `$not`: a filter) or a field. A field maps
to a value (equality; lists and objects compare whole) or to an object of operators:
`$eq $ne $gt $gte $lt $lte $in $nin $exists $regex $options $not`, and `$all` for `tags`.
Fields are `config.KEY` (or `config.KEY.value`), `summary_metrics.KEY`, or a run attribute.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .errors import FilterError

__all__ = [
    "FIELD_OPERATORS",
    "LOGICAL_OPERATORS",
    "RUN_FIELDS",
    "RUN_STATES",
    "validate_filters",
    "validate_order",
]

LOGICAL_OPERATORS = ("$and", "$or", "$nor", "$not")
FIELD_OPERATORS = (
    "$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex", "$options",
    "$not",
)  # fmt: skip
TAG_OPERATORS = ("$eq", "$ne", "$in", "$nin", "$all", "$exists", "$regex", "$options", "$not")
#: Prefixes of user keys: `config.lr` (or W&B's UI form `config.lr.value`), `summary_metrics.loss`.
KEY_PREFIXES = ("config.", "summary_metrics.", "summaryMetrics.")
#: Run attributes a filter may name (W&B's camelCase and snake_case spellings).
RUN_FIELDS = (
    "name", "displayName", "display_name", "state", "tags", "group", "jobType", "job_type",
    "sweep", "notes", "host", "username", "createdAt", "created_at", "heartbeatAt",
    "heartbeat_at", "updatedAt", "updated_at",
)  # fmt: skip
_TIME_FIELDS = frozenset(
    {"createdAt", "created_at", "heartbeatAt", "heartbeat_at", "updatedAt", "updated_at"}
)
RUN_STATES = (
    "running", "finished", "failed", "crashed", "killed", "preempting", "preempted", "pending",
)  # fmt: skip
_ORDER_FIELDS = (
    "created_at", "createdAt", "heartbeat_at", "heartbeatAt", "updated_at", "updatedAt",
    "name", "display_name", "displayName", "state", "group", "job_type", "jobType", "sweep",
    "host", "notes",
)  # fmt: skip
_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
_REGEX_FLAGS = "imsx"


def _loc(location: str, key: str | int) -> str:
    return f"{location}[{json.dumps(key) if isinstance(key, str) else key}]"


def _suggest(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _json_value(value: Any, location: str) -> Any:
    """`value` as JSON data: datetimes become ISO text, numpy scalars Python numbers."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f"{value!r} cannot be compared; use a finite number", location)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(v, _loc(location, i)) for i, v in enumerate(value)]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _json_value(v, _loc(location, k)) for k, v in value.items()}
    raise FilterError(f"{type(value).__name__} {value!r} is not a JSON value", location)


def _check_field(field: Any, location: str) -> None:
    if not isinstance(field, str) or not field:
        raise FilterError("field names must be non-empty strings", location)
    prefix = next((p for p in KEY_PREFIXES if field.startswith(p)), None)
    if prefix is not None:
        keys = field[len(prefix) :].split(".")
        if "" in keys:
            raise FilterError(
                f"{field!r} has an empty key; write '{prefix}KEY' or '{prefix}A.B'", location
            )
        return
    if field in RUN_FIELDS:
        return
    head = field.split(".", 1)[0]
    if head in ("config", "summary_metrics", "summaryMetrics"):
        hint = f" (needs a key, e.g. '{head}.lr')"
    elif head == "summary":
        hint = f" (use 'summary_metrics.{field.partition('.')[2] or 'KEY'}')"
    else:
        hint = _suggest(field, RUN_FIELDS)
    raise FilterError(
        f"unknown field {field!r}{hint}; filter on 'config.KEY', 'summary_metrics.KEY' or one "
        f"of: {', '.join(RUN_FIELDS)}",
        location,
    )


def _check_operand(field: str, value: Any, location: str) -> Any:
    """An equality operand: any JSON value; times and states of run attributes are checked."""
    value = _json_value(value, location)
    if field in _TIME_FIELDS and isinstance(value, str):
        try:
            dt.datetime.fromisoformat(value)
        except ValueError:
            raise FilterError(
                f"{value!r} is not an ISO-8601 time such as '2024-01-31T12:00:00Z' or '2024-01-31'",
                location,
            ) from None
    if field == "state" and isinstance(value, str) and value not in RUN_STATES:
        raise FilterError(
            f"unknown run state {value!r}{_suggest(value, RUN_STATES)}; states are "
            f"{', '.join(RUN_STATES)}",
            location,
        )
    return value


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def _check_operators(field: str, ops: Mapping[str, Any], location: str) -> dict[str, Any]:
    if not all(str(k).startswith("$") for k in ops):
        raise FilterError(
            f"mixes operators and plain keys in {list(ops)!r}; use only '$' operators, or only "
            f"plain keys to match a whole object (nested keys: '{field}.KEY')",
            location,
        )
    allowed = TAG_OPERATORS if field == "tags" else FIELD_OPERATORS
    out: dict[str, Any] = {}
    for op, arg in ops.items():
        where = _loc(location, op)
        if op not in allowed:
            if op in LOGICAL_OPERATORS:
                raise FilterError(
                    f"{op} belongs at the top of a filter: {{'{op}': [{{'{field}': ...}}, ...]}}",
                    where,
                )
            raise FilterError(
                f"unknown operator {op!r}{_suggest(op, allowed)} for {field!r}; supported: "
                f"{', '.join(allowed)}",
                where,
            )
        if op in ("$in", "$nin", "$all"):
            if not isinstance(arg, list | tuple | set | frozenset):
                raise FilterError(f"{op} takes a list, got {type(arg).__name__} {arg!r}", where)
            out[op] = [_check_operand(field, v, _loc(where, i)) for i, v in enumerate(arg)]
            if op == "$all" and not all(isinstance(v, str) for v in out[op]):
                raise FilterError("$all takes a list of tag strings", where)
        elif op in _COMPARISONS:
            value = _check_operand(field, arg, where)
            if isinstance(value, list | dict):
                raise FilterError(
                    f"{op} compares a number, string, boolean or null, not {value!r}", where
                )
            out[op] = value
        elif op == "$regex":
            out[op] = _check_regex(arg, ops.get("$options"), where)
        elif op == "$options":
            if "$regex" not in ops:
                raise FilterError("$options needs a $regex next to it", where)
            if not isinstance(arg, str) or any(c not in _REGEX_FLAGS for c in arg):
                raise FilterError(f"$options is a string of the letters 'imsx', got {arg!r}", where)
            out[op] = arg
        elif op == "$exists":
            if not isinstance(arg, bool):
                raise FilterError(f"$exists takes True or False, got {arg!r}", where)
            out[op] = arg
        elif op == "$not":
            if not _is_operator_object(arg):
                raise FilterError(
                    "$not takes operators, e.g. {'$not': {'$gt': 1}}; to exclude one value use $ne",
                    where,
                )
            out[op] = _check_operators(field, arg, where)
        else:  # $eq, $ne
            out[op] = _check_operand(field, arg, where)
    return out


def _check_regex(pattern: Any, options: Any, location: str) -> str:
    if not isinstance(pattern, str):
        raise FilterError(f"$regex takes a string, got {type(pattern).__name__}", location)
    # Bad letters in $options are reported at $options itself.
    flags = "".join(sorted(set(options) & set(_REGEX_FLAGS))) if isinstance(options, str) else ""
    try:
        re.compile(f"(?{flags}){pattern}" if flags else pattern)
    except (re.error, ValueError) as exc:
        raise FilterError(f"invalid regular expression {pattern!r}: {exc}", location) from None
    return pattern


def _check_document(doc: Any, location: str) -> dict[str, Any]:
    if not isinstance(doc, Mapping):
        raise FilterError(
            f"expected an object like {{'config.lr': 0.1}}, got {type(doc).__name__} {doc!r}",
            location,
        )
    out: dict[str, Any] = {}
    for key, value in doc.items():
        where = _loc(location, key)
        if isinstance(key, str) and key.startswith("$"):
            if key == "$not":
                out[key] = _check_document(value, where)
            elif key in LOGICAL_OPERATORS:
                if not isinstance(value, list | tuple) or not value:
                    raise FilterError(f"{key} takes a non-empty list of filter objects", where)
                out[key] = [_check_document(sub, _loc(where, i)) for i, sub in enumerate(value)]
            else:
                hint = _suggest(key, LOGICAL_OPERATORS)
                if key in FIELD_OPERATORS or key == "$all":
                    hint = f" ({key} goes inside a field: {{'config.lr': {{'{key}': ...}}}})"
                raise FilterError(
                    f"unknown logical operator {key!r}{hint}; use {', '.join(LOGICAL_OPERATORS)}",
                    where,
                )
            continue
        _check_field(key, where)
        if _is_operator_object(value):
            out[key] = _check_operators(key, value, where)
        else:
            out[key] = _check_operand(key, value, where)
    return out


def validate_filters(filters: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Check a MongoDB-style run filter and return it JSON-safe (None or `{}`: no filter).

    Raises `FilterError` naming the first bad part: an unknown field or operator, a value of
    the wrong type, an invalid regular expression or time, an unknown run state.
    """
    if filters is None:
        return None
    return _check_document(filters, "filters")


def validate_order(order: str | None) -> str | None:
    """Check an order: `+` (ascending) or `-` (descending, the default) and a field.

    Fields: `created_at`, `heartbeat_at`, `updated_at`, `name`, `display_name`, `state`,
    `group`, `job_type`, `sweep`, `host`, `notes`, `config.KEY`, `summary_metrics.KEY`.
    """
    if order is None:
        return None
    if not isinstance(order, str) or not order.strip("+- "):
        raise FilterError(f"expected a string such as '-created_at', got {order!r}", "order")
    field = order[1:] if order[0] in "+-" else order
    if field in _ORDER_FIELDS:
        return order
    prefix = next((p for p in KEY_PREFIXES if field.startswith(p)), None)
    if prefix is not None and "" not in field[len(prefix) :].split("."):
        return order
    hint = _suggest(field, list(_ORDER_FIELDS))
    if field.startswith("summary."):
        hint = f" (use 'summary_metrics.{field.split('.', 1)[1]}')"
    raise FilterError(
        f"cannot order by {field!r}{hint}; use '+' or '-' then one of "
        f"{', '.join(_ORDER_FIELDS)}, 'config.KEY' or 'summary_metrics.KEY'",
        "order",
    )
