"""`runs/query/lexer.py`: tokens and where each one is."""

from __future__ import annotations

import pytest

from liberry_widgets.runs.query.lexer import QuerySyntaxError, lex


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.type, t.text) for t in lex(text)]


def test_terms_operators_and_keywords() -> None:
    assert kinds('lr>=0.1 AND (name:"a b" || -tag:x)') == [
        ("word", "lr"), ("op", ">="), ("word", "0.1"), ("and", "AND"), ("lparen", "("),
        ("word", "name"), ("op", ":"), ("string", "a b"), ("or", "||"), ("not", "-"),
        ("word", "tag"), ("op", ":"), ("word", "x"), ("rparen", ")"),
    ]  # fmt: skip


def test_a_value_runs_to_whitespace_and_keeps_operator_characters() -> None:
    assert kinds("url:http://x:8080") == [("word", "url"), ("op", ":"),
                                          ("word", "http://x:8080")]  # fmt: skip


def test_positions_point_into_the_text() -> None:
    tokens = lex("  a:'x\\'y'")
    assert [(t.start, t.end) for t in tokens] == [(2, 3), (3, 4), (4, 10)]
    assert tokens[2].text == "x'y"


@pytest.mark.parametrize(
    ("text", "message", "start"),
    [
        ("a:'open", "Unterminated string", 2),
        (":x", "needs a key", 0),
        ("a>=", "Expected a value", 1),
    ],
)
def test_errors_say_what_and_where(text: str, message: str, start: int) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        lex(text)
    assert message in info.value.message
    assert info.value.start == start
