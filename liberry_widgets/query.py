"""The run table's search syntax, compiled to a MongoDB-style filter.

Mirrors `js/runs/query.ts` (the search box parses as you type; this side lets Python set
`widget.query` with no view open). Both are checked against `tests/widgets/query_cases.json`.

    lr>=0.01 optimizer:adam state:finished tag:baseline
    (state:crashed OR state:failed) NOT tag:debug
    resnet                      bare words search the run name
    state:running,finished      a comma list means "any of"
    {"config.lr": 0.1}          text starting with "{" is a raw JSON filter

Terms side by side are ANDed; AND binds tighter than OR; NOT (or a leading "-") negates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["KeyContext", "QuerySyntaxError", "format_query", "parse_query", "resolve_key"]

Filter = dict[str, Any]

FIELDS = {
    "name": "display_name",
    "display_name": "display_name",
    "id": "name",
    "state": "state",
    "tag": "tags",
    "tags": "tags",
    "group": "group",
    "job_type": "jobType",
    "jobtype": "jobType",
    "sweep": "sweep",
    "created": "created_at",
    "created_at": "created_at",
    "updated": "updated_at",
    "heartbeat": "heartbeat_at",
    "user": "username",
    "username": "username",
}
FIELD_NAMES = {
    "display_name": "name",
    "name": "id",
    "state": "state",
    "tags": "tag",
    "group": "group",
    "jobType": "job_type",
    "sweep": "sweep",
    "created_at": "created",
    "updated_at": "updated",
    "heartbeat_at": "heartbeat",
    "username": "user",
}
RUN_STATES = (
    "running", "finished", "failed", "crashed", "killed", "preempting", "preempted", "pending",
)  # fmt: skip
COMPARISON = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
COMPARISON_TEXT = {v: k for k, v in COMPARISON.items()}
OPERATORS = (">=", "<=", "!=", "!~", "==", ">", "<", "=", ":", "~")
_WORD_STOP = re.compile(r"""[\s()"'<>=!:~]""")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_REGEX_SPECIAL = set(".*+?^${}()|[]\\")


@dataclass(frozen=True)
class KeyContext:
    """The project's keys: decides whether `lr` means `config.lr` or `summary_metrics.lr`."""

    config: Sequence[str] = ()
    summary: Sequence[str] = ()


class QuerySyntaxError(ValueError):
    """The text does not parse; `start`/`end` locate the problem in it."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


@dataclass
class _Token:
    type: str  # word string op lparen rparen and or not
    text: str
    start: int
    end: int


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    after_op = False
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if after_op:
            # A value: a quoted string, or everything up to whitespace or a parenthesis.
            after_op = False
            if ch in "\"'":
                value, end = _read_string(text, i)
                tokens.append(_Token("string", value, i, end))
                i = end
                continue
            j = i
            while j < n and not (text[j].isspace() or text[j] in "()"):
                j += 1
            if j == i:
                last = tokens[-1]
                raise QuerySyntaxError(
                    f'Expected a value after "{last.text}"', last.start, last.end
                )
            tokens.append(_Token("word", text[i:j], i, j))
            i = j
            continue
        if ch in "()":
            tokens.append(_Token("lparen" if ch == "(" else "rparen", ch, i, i + 1))
            i += 1
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(_Token("string", value, i, end))
            i = end
            continue
        if text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(_Token("and" if ch == "&" else "or", text[i : i + 2], i, i + 2))
            i += 2
            continue
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            if not tokens or tokens[-1].type not in ("word", "string"):
                raise QuerySyntaxError(
                    f'"{op}" needs a key before it, as in lr{op}0.1', i, i + len(op)
                )
            tokens.append(_Token("op", op, i, i + len(op)))
            i += len(op)
            after_op = True
            continue
        if ch == "!":
            tokens.append(_Token("not", ch, i, i + 1))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not (text[i + 1].isspace() or text[i + 1] in "()"):
            tokens.append(_Token("not", ch, i, i + 1))
            i += 1
            continue
        j = i
        while j < n and not _WORD_STOP.match(text[j]):
            j += 1
        if j == i:
            raise QuerySyntaxError(f'Unexpected "{ch}"', i, i + 1)
        word = text[i:j]
        upper = word.upper()
        kind = {"AND": "and", "OR": "or", "NOT": "not"}.get(upper, "word")
        tokens.append(_Token(kind, word, i, j))
        i = j
    if after_op:
        op_token = tokens[-1]
        raise QuerySyntaxError(
            f'Expected a value after "{op_token.text}"', op_token.start, op_token.end
        )
    return tokens


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise QuerySyntaxError("Unterminated string: add the closing quote", start, len(text))


class _Parser:
    """or := and (OR and)* ; and := unary (AND? unary)* ; unary := NOT unary | atom"""

    def __init__(self, tokens: list[_Token], keys: KeyContext, length: int) -> None:
        self.tokens = tokens
        self.keys = keys
        self.length = length
        self.pos = 0

    def parse(self) -> Filter:
        if not self.tokens:
            return {}
        result = self.parse_or()
        extra = self.peek()
        if extra is not None:
            if extra.type == "rparen":
                raise QuerySyntaxError('Unmatched ")"', extra.start, extra.end)
            raise QuerySyntaxError(f'Unexpected "{extra.text}"', extra.start, extra.end)
        return result

    def peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("Unexpected end of the query", self.length, self.length)
        self.pos += 1
        return token

    @staticmethod
    def starts_term(token: _Token | None) -> bool:
        return token is not None and token.type in ("word", "string", "lparen", "not")

    def parse_or(self) -> Filter:
        parts = [self.parse_and()]
        while (token := self.peek()) is not None and token.type == "or":
            op = self.next()
            if not self.starts_term(self.peek()):
                raise QuerySyntaxError(f'Expected a term after "{op.text}"', op.start, op.end)
            parts.append(self.parse_and())
        return _combine("$or", parts)

    def parse_and(self) -> Filter:
        parts = [self.parse_unary()]
        while True:
            token = self.peek()
            if token is not None and token.type == "and":
                self.next()
                if not self.starts_term(self.peek()):
                    raise QuerySyntaxError(
                        f'Expected a term after "{token.text}"', token.start, token.end
                    )
                parts.append(self.parse_unary())
            elif self.starts_term(token):
                parts.append(self.parse_unary())
            else:
                break
        return _combine("$and", parts)

    def parse_unary(self) -> Filter:
        token = self.peek()
        if token is not None and token.type == "not":
            self.next()
            if not self.starts_term(self.peek()):
                raise QuerySyntaxError(
                    f'Expected a term after "{token.text}"', token.start, token.end
                )
            return _negate(self.parse_unary())
        return self.parse_atom()

    def parse_atom(self) -> Filter:
        token = self.next()
        if token.type == "lparen":
            following = self.peek()
            if following is not None and following.type == "rparen":
                close = self.next()
                raise QuerySyntaxError("Empty parentheses", token.start, close.end)
            inner = self.parse_or()
            close_token = self.peek()
            if close_token is None or close_token.type != "rparen":
                raise QuerySyntaxError('Unclosed "(": add a ")"', token.start, token.end)
            self.next()
            return inner
        if token.type in ("word", "string"):
            op = self.peek()
            if op is not None and op.type == "op":
                self.next()
                value = self.next()
                return self.term(token, op, value)
            return _name_contains(token.text)
        if token.type == "rparen":
            raise QuerySyntaxError('Unmatched ")"', token.start, token.end)
        raise QuerySyntaxError(f'Unexpected "{token.text}"', token.start, token.end)

    def term(self, key_token: _Token, op_token: _Token, value_token: _Token) -> Filter:
        key = resolve_key(key_token.text, self.keys)
        if key == "":
            raise QuerySyntaxError("Empty key", key_token.start, key_token.end)
        op = op_token.text
        quoted = value_token.type == "string"
        values = [value_token.text] if quoted else value_token.text.split(",")
        if any(v == "" for v in values):
            raise QuerySyntaxError("Empty item in a comma list", value_token.start, value_token.end)
        parsed = [v if quoted else parse_scalar(v) for v in values]
        if key == "state" and op in (":", "=", "==", "!="):
            bad = next((v for v in parsed if not isinstance(v, str) or v not in RUN_STATES), _NO)
            if bad is not _NO:
                raise QuerySyntaxError(
                    f"Unknown state {json.dumps(bad)}: states are {', '.join(RUN_STATES)}",
                    value_token.start,
                    value_token.end,
                )
        single = parsed[0] if len(parsed) == 1 else None
        if op in (":", "=", "=="):
            if key == "display_name" and op == ":" and len(parsed) == 1 and isinstance(single, str):
                return _name_contains(single)
            if key == "tags" or len(parsed) > 1:
                return {key: {"$in": parsed}}
            return {key: single}
        if op == "!=":
            if key == "tags" or len(parsed) > 1:
                return {key: {"$nin": parsed}}
            return {key: {"$ne": single}}
        if len(parsed) > 1:
            raise QuerySyntaxError(
                'A comma list only works with ":" , "=" or "!="',
                value_token.start,
                value_token.end,
            )
        if op in ("~", "!~"):
            pattern = values[0]
            if not _valid_regex(pattern):
                raise QuerySyntaxError(
                    "Not a valid regular expression", value_token.start, value_token.end
                )
            match: Filter = {key: {"$regex": pattern}}
            return match if op == "~" else _negate(match)
        mongo = COMPARISON.get(op)
        if mongo is None:
            raise QuerySyntaxError(f'Unknown operator "{op}"', op_token.start, op_token.end)
        if single is None or isinstance(single, bool):
            raise QuerySyntaxError(
                f'"{op}" needs a number, date or text', value_token.start, value_token.end
            )
        return {key: {mongo: single}}


_NO = object()


def _valid_regex(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True


def _name_contains(text: str) -> Filter:
    return {"display_name": {"$regex": escape_regex(text)}}


def _combine(op: str, parts: list[Filter]) -> Filter:
    flat: list[Filter] = []
    for part in parts:
        inner = part.get(op)
        if len(part) == 1 and isinstance(inner, list):
            flat.extend(inner)
        else:
            flat.append(part)
    return flat[0] if len(flat) == 1 else {op: flat}


def _negate(value: Filter) -> Filter:
    inner = value.get("$nor")
    if len(value) == 1 and isinstance(inner, list) and len(inner) == 1:
        return dict(inner[0])
    return {"$nor": [value]}


def escape_regex(text: str) -> str:
    """Escape exactly the characters `escapeRegex` escapes in JS (not Python's wider set)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def _unescape_regex(pattern: str) -> str | None:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            following = pattern[i + 1] if i + 1 < len(pattern) else ""
            if following == "" or following not in _REGEX_SPECIAL:
                return None
            out.append(following)
            i += 2
            continue
        if ch in _REGEX_SPECIAL:
            return None
        out.append(ch)
        i += 1
    return "".join(out)


def parse_scalar(text: str) -> Any:
    """Numbers, booleans and null are typed; everything else stays text."""
    if _NUMBER.fullmatch(text):
        number = float(text)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    lower = text.lower()
    if lower == "true":
        return True
    if lower == "false":
        return False
    if lower in ("null", "none"):
        return None
    return text


def resolve_key(key: str, keys: KeyContext | None = None) -> str:
    """Map a key as typed to the filter's field: run fields, `config.x`, `summary_metrics.x`."""
    keys = keys or KeyContext()
    field = FIELDS.get(key.lower())
    if field is not None:
        return field
    for prefix in ("config.", "c."):
        if key.startswith(prefix):
            return "config." + key[len(prefix) :]
    for prefix in ("summary_metrics.", "summary.", "s."):
        if key.startswith(prefix):
            return "summary_metrics." + key[len(prefix) :]
    in_config = key in keys.config
    in_summary = key in keys.summary
    return f"summary_metrics.{key}" if in_summary and not in_config else f"config.{key}"


def parse_query(text: str, keys: KeyContext | None = None) -> Filter:
    """The filter for the search text; raises `QuerySyntaxError` saying where it fails."""
    keys = keys or KeyContext()
    if text.strip().startswith("{"):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise QuerySyntaxError(f"Invalid JSON filter: {exc.msg}", 0, len(text)) from None
        if not isinstance(value, dict):
            raise QuerySyntaxError("A JSON filter must be an object", 0, len(text))
        return value
    return _Parser(_lex(text), keys, len(text)).parse()


# -- filter -> text ------------------------------------------------------------------------------


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
        plain = _unescape_regex(operand)
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
            parts.append({"$nor": children} if key == "$nor" else _combine(key, children))
        elif (
            not key.startswith("$")
            and isinstance(value, dict)
            and len(value) > 1
            and all(str(op).startswith("$") for op in value)
        ):
            parts.extend({key: {op: operand}} for op, operand in value.items())
        else:
            parts.append({key: value})
    return parts[0] if len(parts) == 1 else _combine("$and", parts)
