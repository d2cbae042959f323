"""The search text as a MongoDB-style filter (recursive descent over `lexer.lex`'s tokens).
Mirrors `js/runs/query/parser.ts`."""

from __future__ import annotations

import json
import re

from .fields import (
    COMPARISON,
    RUN_STATES,
    Filter,
    KeyContext,
    escape_regex,
    parse_scalar,
    resolve_key,
)
from .lexer import QuerySyntaxError, Token, lex

__all__ = ["combine", "negate", "parse_query"]


class _Parser:
    """or := and (OR and)* ; and := unary (AND? unary)* ; unary := NOT unary | atom"""

    def __init__(self, tokens: list[Token], keys: KeyContext, length: int) -> None:
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

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("Unexpected end of the query", self.length, self.length)
        self.pos += 1
        return token

    @staticmethod
    def starts_term(token: Token | None) -> bool:
        return token is not None and token.type in ("word", "string", "lparen", "not")

    def parse_or(self) -> Filter:
        parts = [self.parse_and()]
        while (token := self.peek()) is not None and token.type == "or":
            op = self.next()
            if not self.starts_term(self.peek()):
                raise QuerySyntaxError(f'Expected a term after "{op.text}"', op.start, op.end)
            parts.append(self.parse_and())
        return combine("$or", parts)

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
        return combine("$and", parts)

    def parse_unary(self) -> Filter:
        token = self.peek()
        if token is not None and token.type == "not":
            self.next()
            if not self.starts_term(self.peek()):
                raise QuerySyntaxError(
                    f'Expected a term after "{token.text}"', token.start, token.end
                )
            return negate(self.parse_unary())
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

    def term(self, key_token: Token, op_token: Token, value_token: Token) -> Filter:
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
            return match if op == "~" else negate(match)
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


def combine(op: str, parts: list[Filter]) -> Filter:
    """`{op: parts}`, with nested lists of the same `op` flattened and one part as itself."""
    flat: list[Filter] = []
    for part in parts:
        inner = part.get(op)
        if len(part) == 1 and isinstance(inner, list):
            flat.extend(inner)
        else:
            flat.append(part)
    return flat[0] if len(flat) == 1 else {op: flat}


def negate(value: Filter) -> Filter:
    """`{"$nor": [value]}`; NOT NOT x is x."""
    inner = value.get("$nor")
    if len(value) == 1 and isinstance(inner, list) and len(inner) == 1:
        return dict(inner[0])
    return {"$nor": [value]}


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
    return _Parser(lex(text), keys, len(text)).parse()
