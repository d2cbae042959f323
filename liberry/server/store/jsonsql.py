"""Dialect-specific SQL for values inside JSON text columns; the only module that knows it.

`filters.py` and `ordering.py` speak in terms of a `JsonRef` (a TEXT column holding a JSON
document plus a key path) and of value *kinds*; this module turns those into SQL for one
dialect. Each public function dispatches on `dialect`, so adding a dialect means adding one
branch per function here and nothing elsewhere.

Most config/summary keys are no longer read here: `filters.py` and `ordering.py` answer them
from the `run_values` side table (`values.py`, plain SQL on both dialects). JSON text is still
read for what that table does not hold (paths deeper than `values.MAX_DEPTH`, keys under
`_wandb`, array/object operands longer than `values.STRUCT_TEXT_LIMIT`), for `tags`, and by
`side_table=False` compiles. `canonical_json` also defines the side table's array/object text,
and the sort groups (RANK_*) its `grp` column, so both paths order and compare alike.

Kinds are the portable vocabulary for JSON types: "number", "string", "true", "false",
"null", "array", "object", "missing" (the key is absent), and "nan" (a NaN number, which the
W&B client writes into summaries; it is not comparable and sorts with null).

SQLite notes (3.38+, where the JSON functions are built in; tested with 3.40):
- `json_extract` returns 1/0 for true/false, so kinds come from `json_type`, never from values.
- A path label is compared with the document's *raw* (still escaped) key text, and a quoted
  label ends at the first `"`. Keys that are plain printable ASCII without `"` or `\\` use a
  fast `json_extract` path; any other key is looked up with `json_each`, whose keys are
  decoded, so the result does not depend on how the writer escaped the document.
- Before 3.42 the JSON functions reject NaN/Infinity ("malformed JSON") and would fail the
  whole query, so every lookup is guarded by `json_valid(doc)`; documents that fail it are
  read by a Python function (`liberry_json_type` / `liberry_json_value`) instead. Call
  `install_sqlite_functions` on every connection.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB

__all__ = [
    "DIALECTS",
    "KINDS",
    "JsonRef",
    "array_has_any",
    "array_has_regex",
    "canonical_json",
    "check_dialect",
    "install_sqlite_functions",
    "is_kind",
    "number_param",
    "number_value",
    "regex_match",
    "sort_keys",
    "string_value",
    "structured_equals",
]

DIALECTS: Final = ("sqlite", "postgresql")
KINDS: Final = frozenset(
    {"number", "string", "true", "false", "null", "array", "object", "missing", "nan"}
)

# Sort groups, always ascending whatever the direction: numbers, strings, booleans,
# arrays/objects, then null and NaN, then missing. Direction only orders values in a group.
RANK_NUMBER, RANK_STRING, RANK_BOOL, RANK_STRUCT, RANK_NULL, RANK_MISSING = range(6)

_SQLITE_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "number": ("integer", "real"),
    "string": ("text",),
    "true": ("true",),
    "false": ("false",),
    "null": ("null",),
    "array": ("array",),
    "object": ("object",),
    "nan": ("nan",),  # only produced by liberry_json_type
    "missing": (),
}
_PG_TYPES: Final[dict[str, tuple[str, ...]]] = {
    "number": ("number",),
    "string": ("string",),
    "null": ("null",),
    "array": ("array",),
    "object": ("object",),
    "nan": (),  # jsonb cannot hold NaN
    "missing": (),
}
# Printable ASCII minus `"` and `\`: safe inside a quoted SQLite JSON path label.
_SIMPLE_KEY = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")


@dataclass(frozen=True)
class JsonRef:
    """The value at `keys` (object keys from the root) of the JSON document in `doc`."""

    doc: ColumnElement[Any]
    keys: tuple[str, ...]


def check_dialect(dialect: str) -> str:
    """`dialect` if supported, else ValueError naming the supported ones."""
    if dialect not in DIALECTS:
        raise ValueError(f"unsupported SQL dialect {dialect!r}; supported: {', '.join(DIALECTS)}")
    return dialect


def _sql_string(text: str) -> ColumnElement[str]:
    """A string literal rendered inline (doubling quotes), so identical expressions in SELECT
    and ORDER BY stay textually identical and expression indexes can match them."""
    if "\x00" in text:
        raise ValueError("NUL characters are not allowed in JSON keys")
    return literal_column("'" + text.replace("'", "''") + "'", String)


# --------------------------------------------------------------------------- canonical JSON


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float):
        # 1.0 == 1 as numbers; render integral floats as ints so the texts agree too.
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**63:
            return int(value)
        return value
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Key-sorted compact JSON with integral floats as ints: equal values, equal text."""
    return json.dumps(_canonical(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- SQLite functions


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _sqlite_regexp(pattern: str | None, value: Any) -> int | None:
    """`value REGEXP pattern` with Python `re.search` semantics (unanchored)."""
    if pattern is None or value is None:
        return None
    return 1 if _compiled(pattern).search(str(value)) else 0


def _sqlite_canon(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return canonical_json(json.loads(text))
    except (ValueError, TypeError):
        return None


_MISSING: Final = object()


@lru_cache(maxsize=64)
def _loads_cached(text: str) -> Any:
    # Several liberry_json_* calls per row read the same document; parse it once.
    return json.loads(text)


def _lookup(doc: str | None, keys_json: str) -> Any:
    if doc is None:
        return _MISSING
    try:
        node = _loads_cached(doc)
    except ValueError:
        return _MISSING
    for key in json.loads(keys_json):
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _sqlite_json_type(doc: str | None, keys_json: str) -> str | None:
    """Like json_type(doc, path), for documents SQLite cannot parse (NaN, Infinity)."""
    node = _lookup(doc, keys_json)
    if node is _MISSING:
        return None
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        return "integer"
    if isinstance(node, float):
        return "nan" if math.isnan(node) else "real"
    if isinstance(node, str):
        return "text"
    return "array" if isinstance(node, list) else "object"


def _sqlite_json_value(doc: str | None, keys_json: str) -> Any:
    """Like json_extract(doc, path), for documents SQLite cannot parse (NaN, Infinity)."""
    node = _lookup(doc, keys_json)
    if node is _MISSING or node is None:
        return None
    if isinstance(node, bool):
        return int(node)
    if isinstance(node, int):
        return node if -(2**63) <= node < 2**63 else float(node)
    if isinstance(node, float):
        return None if math.isnan(node) else node
    if isinstance(node, str):
        return node
    return canonical_json(node)


def install_sqlite_functions(dbapi_connection: Any) -> None:
    """Register the SQL functions this module's SQLite expressions call.

    Call it on every new DB-API connection (e.g. from the engine's "connect" event).
    """
    conn: sqlite3.Connection = dbapi_connection
    conn.create_function("regexp", 2, _sqlite_regexp, deterministic=True)
    conn.create_function("liberry_json_canon", 1, _sqlite_canon, deterministic=True)
    conn.create_function("liberry_json_type", 2, _sqlite_json_type, deterministic=True)
    conn.create_function("liberry_json_value", 2, _sqlite_json_value, deterministic=True)


# --------------------------------------------------------------------------- SQLite lookups


def _sqlite_path(keys: Sequence[str]) -> str:
    return "$" + "".join(f'."{key}"' for key in keys)


def _sqlite_parsed(doc: ColumnElement[Any], keys: tuple[str, ...]) -> tuple[Any, Any]:
    """(json_type, json_extract) of `keys` in `doc`, which SQLite must be able to parse."""
    complex_at = next((i for i, k in enumerate(keys) if not _SIMPLE_KEY.fullmatch(k)), None)
    if complex_at is None:
        path = _sql_string(_sqlite_path(keys))
        return func.json_type(doc, path), func.json_extract(doc, path)
    parent = _sql_string(_sqlite_path(keys[:complex_at]))
    key, rest = keys[complex_at], keys[complex_at + 1 :]
    each = func.json_each(doc, parent).table_valued("key", "value", "type").alias()
    # json_each over a scalar yields the scalar itself, labelled with its own key.
    where = [each.c.key == key, func.json_type(doc, parent) == "object"]
    if not rest:
        type_, value = each.c.type, each.c.value
    else:
        where.append(each.c.type == "object")  # each.value is JSON text only for containers
        type_, value = _sqlite_parsed(each.c.value, rest)
    return (
        select(type_).where(*where).limit(1).scalar_subquery(),
        select(value).where(*where).limit(1).scalar_subquery(),
    )


def _sqlite_node(ref: JsonRef) -> tuple[Any, Any]:
    """(type, value) SQL for `ref` in SQLite, tolerant of documents holding NaN/Infinity."""
    fast_type, fast_value = _sqlite_parsed(ref.doc, ref.keys)
    keys_json = _sql_string(json.dumps(list(ref.keys)))
    valid = func.json_valid(ref.doc) == 1
    return (
        case((valid, fast_type), else_=func.liberry_json_type(ref.doc, keys_json)),
        case((valid, fast_value), else_=func.liberry_json_value(ref.doc, keys_json)),
    )


# --------------------------------------------------------------------------- PostgreSQL lookups


def _pg_node(ref: JsonRef) -> ColumnElement[Any]:
    """The jsonb node at `ref` (SQL NULL when missing)."""
    doc = cast(ref.doc, JSONB)
    if not ref.keys:
        return doc
    parts = ",".join('"' + k.replace("\\", "\\\\").replace('"', '\\"') + '"' for k in ref.keys)
    return doc.op("#>")(_sql_string("{" + parts + "}"))


def _pg_text(node: ColumnElement[Any]) -> ColumnElement[Any]:
    # Code-point order, as SQLite and Python compare, whatever the database's locale.
    return node.op("#>>", return_type=String)(literal_column("'{}'")).collate("C")


# --------------------------------------------------------------------------- public predicates


def is_kind(ref: JsonRef, kinds: Iterable[str], dialect: str) -> ColumnElement[bool]:
    """True where the value at `ref` is of one of `kinds`; never NULL."""
    wanted = set(kinds)
    if unknown := wanted - KINDS:
        raise ValueError(f"unknown JSON kinds {sorted(unknown)}")
    if check_dialect(dialect) == "sqlite":
        type_, _ = _sqlite_node(ref)
        names = sorted({n for kind in wanted for n in _SQLITE_TYPES[kind]})
        if "missing" in wanted:  # json_type is NULL exactly when the key is missing
            return or_(type_.is_(None), type_.in_(names) if names else false())
        # COALESCE keeps the result two-valued where the key is missing.
        return func.coalesce(type_, "missing").in_(names) if names else false()
    node = _pg_node(ref)
    type_ = func.jsonb_typeof(node)
    terms: list[ColumnElement[bool]] = []
    if names := sorted({n for kind in wanted for n in _PG_TYPES.get(kind, ())}):
        terms.append(func.coalesce(type_, "missing").in_(names))
    for flag in ("true", "false"):
        if flag in wanted:
            terms.append(func.coalesce(node == cast(literal_column(f"'{flag}'"), JSONB), False))
    if "missing" in wanted:
        terms.append(node.is_(None))
    return or_(false(), *terms)


def number_value(ref: JsonRef, dialect: str) -> ColumnElement[Any]:
    """The value as an SQL number; meaningful only where `is_kind(ref, {"number"})`."""
    if check_dialect(dialect) == "sqlite":
        return _sqlite_node(ref)[1]
    node = _pg_node(ref)
    return case((func.jsonb_typeof(node) == "number", cast(_pg_text(node), Float)))


def number_param(value: float, dialect: str) -> Any:
    """A number operand for comparing with `number_value` (float8 on PostgreSQL, where the
    driver would otherwise pick int2/int4/int8 per value and mix types in one IN list)."""
    if check_dialect(dialect) == "sqlite":
        return value  # SQLite compares integers and reals exactly
    return literal(float(value), Float)


def string_value(ref: JsonRef, dialect: str) -> ColumnElement[Any]:
    """The value as SQL text; meaningful only where `is_kind(ref, {"string"})`."""
    if check_dialect(dialect) == "sqlite":
        return _sqlite_node(ref)[1]
    return _pg_text(_pg_node(ref))


def structured_equals(ref: JsonRef, values: Sequence[Any], dialect: str) -> ColumnElement[bool]:
    """True where the value at `ref` is an array/object equal to one of `values`.

    Objects compare regardless of key order and numbers by value (1.0 equals 1).
    """
    if not values:
        return false()
    canon = sorted({canonical_json(v) for v in values})
    kind = is_kind(ref, {"array", "object"}, dialect)
    if dialect == "sqlite":
        text = func.liberry_json_canon(_sqlite_node(ref)[1])
        return and_(kind, text.in_(canon))
    node = _pg_node(ref)
    return and_(kind, or_(*(node == cast(_sql_string(c), JSONB) for c in canon)))


def regex_match(expr: ColumnElement[Any], pattern: str, dialect: str) -> ColumnElement[bool]:
    """`expr` matches `pattern` somewhere (SQLite: Python `re.search`; PostgreSQL: `~`)."""
    if check_dialect(dialect) == "sqlite":
        return func.regexp(pattern, expr) == 1
    return expr.op("~", is_comparison=True)(pattern)  # POSIX, not Python, syntax


def _array_elements(col: ColumnElement[Any], dialect: str) -> Any:
    if check_dialect(dialect) == "sqlite":
        return func.json_each(col).table_valued("value", "type").alias()
    return func.jsonb_array_elements_text(cast(col, JSONB)).table_valued("value").alias()


def array_has_any(
    col: ColumnElement[Any], strings: Sequence[str], dialect: str
) -> ColumnElement[bool]:
    """True where the JSON array of strings in `col` contains one of `strings`."""
    if not strings:
        return false()
    elements = _array_elements(col, dialect)
    match = elements.c.value == strings[0] if len(strings) == 1 else elements.c.value.in_(strings)
    where = [match] if dialect != "sqlite" else [elements.c.type == "text", match]
    return exists(select(literal_column("1")).select_from(elements).where(*where))


def array_has_regex(col: ColumnElement[Any], pattern: str, dialect: str) -> ColumnElement[bool]:
    """True where some string in the JSON array in `col` matches `pattern`."""
    elements = _array_elements(col, dialect)
    where = [regex_match(elements.c.value, pattern, dialect)]
    if dialect == "sqlite":
        where.insert(0, elements.c.type == "text")
    return exists(select(literal_column("1")).select_from(elements).where(*where))


def sort_keys(ref: JsonRef, dialect: str) -> list[ColumnElement[Any]]:
    """Expressions to sort by: a group rank (always ascending) then values within a group.

    A value key is NULL exactly for the groups that have no value (null, NaN, missing), so
    equal ranks imply values of one SQL type, which keyset comparisons rely on.
    """
    if check_dialect(dialect) == "sqlite":
        type_, value = _sqlite_node(ref)

        def lit(text: str) -> ColumnElement[Any]:
            return literal_column(f"'{text}'")

        rank = case(
            {
                lit("integer"): RANK_NUMBER,
                lit("real"): RANK_NUMBER,
                lit("text"): RANK_STRING,
                lit("true"): RANK_BOOL,
                lit("false"): RANK_BOOL,
                lit("array"): RANK_STRUCT,
                lit("object"): RANK_STRUCT,
                lit("null"): RANK_NULL,
                lit("nan"): RANK_NULL,
            },
            value=type_,
            else_=RANK_MISSING,
        )
        # Arrays/objects sort by canonical text, not by however the writer spelled them.
        structured = type_.in_([lit("array"), lit("object")])
        return [rank, case((structured, func.liberry_json_canon(value)), else_=value)]
    node = _pg_node(ref)
    type_ = func.jsonb_typeof(node)
    rank = case(
        (type_ == "number", RANK_NUMBER),
        (type_ == "string", RANK_STRING),
        (type_ == "boolean", RANK_BOOL),
        (type_.in_(["array", "object"]), RANK_STRUCT),
        (type_ == "null", RANK_NULL),
        else_=RANK_MISSING,
    )
    number = case(
        (type_ == "number", cast(_pg_text(node), Float)),
        (type_ == "boolean", case((_pg_text(node) == "true", 1.0), else_=0.0)),
    )
    text = case(
        (type_ == "string", _pg_text(node)),
        (type_.in_(["array", "object"]), cast(node, String).collate("C")),
    )
    return [rank, number, text]
