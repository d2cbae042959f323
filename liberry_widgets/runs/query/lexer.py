"""The search text as tokens (words, strings, operators, parentheses, AND / OR / NOT), with
the position of each for error marks. Mirrors `js/runs/query/lexer.ts`."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["OPERATORS", "QuerySyntaxError", "Token", "lex"]

OPERATORS = (">=", "<=", "!=", "!~", "==", ">", "<", "=", ":", "~")
_WORD_STOP = re.compile(r"""[\s()"'<>=!:~]""")


class QuerySyntaxError(ValueError):
    """The text does not parse; `start`/`end` locate the problem in it."""

    def __init__(self, message: str, start: int, end: int) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end


@dataclass
class Token:
    type: str  # word string op lparen rparen and or not
    text: str
    start: int
    end: int


def lex(text: str) -> list[Token]:
    """The tokens of `text`; raises `QuerySyntaxError` at the first one that cannot be."""
    tokens: list[Token] = []
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
                value, end = read_string(text, i)
                tokens.append(Token("string", value, i, end))
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
            tokens.append(Token("word", text[i:j], i, j))
            i = j
            continue
        if ch in "()":
            tokens.append(Token("lparen" if ch == "(" else "rparen", ch, i, i + 1))
            i += 1
            continue
        if ch in "\"'":
            value, end = read_string(text, i)
            tokens.append(Token("string", value, i, end))
            i = end
            continue
        if text.startswith("&&", i) or text.startswith("||", i):
            tokens.append(Token("and" if ch == "&" else "or", text[i : i + 2], i, i + 2))
            i += 2
            continue
        op = next((o for o in OPERATORS if text.startswith(o, i)), None)
        if op is not None:
            if not tokens or tokens[-1].type not in ("word", "string"):
                raise QuerySyntaxError(
                    f'"{op}" needs a key before it, as in lr{op}0.1', i, i + len(op)
                )
            tokens.append(Token("op", op, i, i + len(op)))
            i += len(op)
            after_op = True
            continue
        if ch == "!":
            tokens.append(Token("not", ch, i, i + 1))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not (text[i + 1].isspace() or text[i + 1] in "()"):
            tokens.append(Token("not", ch, i, i + 1))
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
        tokens.append(Token(kind, word, i, j))
        i = j
    if after_op:
        op_token = tokens[-1]
        raise QuerySyntaxError(
            f'Expected a value after "{op_token.text}"', op_token.start, op_token.end
        )
    return tokens


def read_string(text: str, start: int) -> tuple[str, int]:
    """The quoted string starting at `start` (backslash escapes), and where it ends."""
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
