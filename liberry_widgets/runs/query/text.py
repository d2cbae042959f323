"""A filter written back in the search syntax, so filters set from Python show up in the
search box; JSON when the syntax cannot say it. Mirrors `js/runs/query/text.ts`."""

from __future__ import annotations

import json
import re
from typing import Any

from .fields import (
    COMPARISON,
    FIELD_NAMES,
    FIELDS,
    Filter,
    KeyContext,
    parse_scalar,
    resolve_key,
    unescape_regex,
)
from .lexer import QuerySyntaxError
from .parser import combine, parse_query

__all__ = ["format_query", "normalize"]

COMPARISON_TEXT = {v: k for k, v in COMPARISON.items()}


class _Unsupported(Exception):
    pass


def format_query(filters: Filter | None, keys: KeyContext | None = None) -> str:
    """The search text for a filter; JSON when the syntax cannot say it (the box accepts both)."""
    keys = keys or KeyContext()
    if not filters:
        return ""
    try:
        text = _format_node(filters, keys, "top")
        try:
            again = parse_query(text, keys)
        except QuerySyntaxError:
            again = None
        if again is not None and normalize(again) == normalize(filters):
            return text
    except _Unsupported:
        pass
    return json.dumps(filters, separators=(",", ":"), ensure_ascii=False)


def _format_node(node: Filter, keys: KeyContext, ctx: str) -> str:
    if not node:
        raise _Unsupported
    if len(node) > 1:
        parts = [_format_node({k: v}, keys, "and") for k, v in node.items()]
        return _wrap(" ".join(parts), ctx, "and")
    key, value = next(iter(node.items()))
    if key in ("$and", "$or"):
        if not isinstance(value, list) or not value:
            raise _Unsupported
        own = "and" if key == "$and" else "or"
        parts = [_format_node(_as_filter(p), keys, own) for p in value]
        return _wrap((" " if own == "and" else " OR ").join(parts), ctx, own)
    if key == "$nor":
        if not isinstance(value, list) or len(value) != 1:
            raise _Unsupported
        return "NOT " + _format_node(_as_filter(value[0]), keys, "not")
    if key.startswith("$"):
        raise _Unsupported
    return _format_field(key, value, keys, ctx)


def _format_field(field: str, value: Any, keys: KeyContext, ctx: str) -> str:
    name = _key_text(field, keys)
    if not isinstance(value, dict):
        return f"{name}:{_value_text(value)}"
    if not value:
        raise _Unsupported
    if len(value) > 1:
        parts = [_format_field(field, {op: v}, keys, "and") for op, v in value.items()]
        return _wrap(" ".join(parts), ctx, "and")
    op, operand = next(iter(value.items()))
    if op == "$regex" and isinstance(operand, str):
        plain = unescape_regex(operand)
        if field == "display_name" and plain:
            bare = re.fullmatch(r"""[^\s()"'<>=!:~-][^\s()"'<>=!:~]*""", plain)
            return plain if bare and not _is_keyword(plain) else f"name:{_quote(plain)}"
        return f"{name}~{_quote(operand)}"
    if op in ("$in", "$nin"):
        if not isinstance(operand, list) or not operand:
            raise _Unsupported
        if len(operand) == 1 and field != "tags":
            raise _Unsupported
        items = ",".join(_value_text(v, in_list=True) for v in operand)
        return f"{name}{':' if op == '$in' else '!='}{items}"
    if op == "$ne":
        return f"{name}!={_value_text(operand)}"
    cmp = COMPARISON_TEXT.get(op)
    if cmp is None:
        raise _Unsupported
    return f"{name}{cmp}{_value_text(operand)}"


def _wrap(text: str, ctx: str, own: str) -> str:
    if ctx == "not" or (ctx == "and" and own == "or"):
        return f"({text})"
    return text


def _key_text(field: str, keys: KeyContext) -> str:
    named = FIELD_NAMES.get(field)
    if named is not None:
        return named
    short = None
    if field.startswith("config."):
        short = field[len("config.") :]
    elif field.startswith("summary_metrics."):
        short = field[len("summary_metrics.") :]
    if short is not None and _safe_word(short) and resolve_key(short, keys) == field:
        return short
    if (
        short is not None
        and field.startswith("summary_metrics.")
        and _safe_word("summary." + short)
    ):
        return "summary." + short
    if _safe_word(field):
        return field
    raise _Unsupported


def _safe_word(text: str) -> bool:
    return (
        re.fullmatch(r"""[^\s()"'<>=!:~,-][^\s()"'<>=!:~,]*""", text) is not None
        and not _is_keyword(text)
        and text.lower() not in FIELDS
    )


def _is_keyword(text: str) -> bool:
    return text.upper() in ("AND", "OR", "NOT")


def _value_text(value: Any, in_list: bool = False) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
            raise _Unsupported
        return _number_text(value)
    if not isinstance(value, str):
        raise _Unsupported
    if in_list:
        if re.fullmatch(r"""[^\s(),"']+""", value) and parse_scalar(value) == value:
            return value
        raise _Unsupported
    plain = re.fullmatch(r"""[^\s()"'][^\s()]*""", value) is not None
    if plain and "," not in value and parse_scalar(value) == value:
        return value
    return _quote(value)


def _number_text(value: float) -> str:
    """Numbers as JavaScript's String() writes them, so both sides print the same text."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e21):
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _as_filter(value: Any) -> Filter:
    if not isinstance(value, dict):
        raise _Unsupported
    return value


def normalize(filters: Filter) -> Filter:
    """A canonical form for comparing filters (explicit, flattened `$and` / `$or` lists)."""
    parts: list[Filter] = []
    for key, value in filters.items():
        if key in ("$and", "$or", "$nor") and isinstance(value, list):
            children = [normalize(c) if isinstance(c, dict) else c for c in value]
            parts.append({"$nor": children} if key == "$nor" else combine(key, children))
        elif (
            not key.startswith("$")
            and isinstance(value, dict)
            and len(value) > 1
            and all(str(op).startswith("$") for op in value)
        ):
            parts.extend({key: {op: operand}} for op, operand in value.items())
        else:
            parts.append({key: value})
    return parts[0] if len(parts) == 1 else combine("$and", parts)
