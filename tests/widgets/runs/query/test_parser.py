"""`runs/query/parser.py` agrees with `js/runs/query/parser.ts` on the shared cases."""

from __future__ import annotations

import random
from typing import Any

import pytest

from liberry_widgets.runs.query import QuerySyntaxError, format_query, normalize, parse_query
from tests.widgets.runs.query.cases import CASES, KEYS


@pytest.mark.parametrize("case", CASES["parse"], ids=lambda c: c["text"])
def test_parse(case: dict[str, Any]) -> None:
    assert parse_query(case["text"], KEYS) == case["filter"]


@pytest.mark.parametrize("case", CASES["errors"], ids=lambda c: c["text"])
def test_errors(case: dict[str, Any]) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(case["text"], KEYS)
    assert case["message"] in info.value.message
    assert info.value.start == case["start"]
    assert info.value.end >= info.value.start


def test_random_text_never_crashes_and_round_trips() -> None:
    alphabet = ["a", "1", " ", "(", ")", ":", ">", "=", "!", "~", "-", '"', "'", ",", "{", "OR",
                "NOT", "."]  # fmt: skip
    rng = random.Random(7)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
        try:
            parsed = parse_query(text, KEYS)
        except QuerySyntaxError as exc:
            assert 0 <= exc.start <= len(text)
            continue
        again = parse_query(format_query(parsed, KEYS), KEYS)
        assert normalize(again) == normalize(parsed), text
