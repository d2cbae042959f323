"""`runs/query/text.py` writes filters as `js/runs/query/text.ts` does, and they parse back."""

from __future__ import annotations

import json
from typing import Any

import pytest

from liberry_widgets.runs.query import format_query, normalize, parse_query
from tests.widgets.runs.query.cases import CASES, KEYS


@pytest.mark.parametrize("case", CASES["format"], ids=lambda c: json.dumps(c["filter"]))
def test_format(case: dict[str, Any]) -> None:
    assert format_query(case["filter"], KEYS) == case["text"]


@pytest.mark.parametrize("case", CASES["parse"], ids=lambda c: c["text"])
def test_round_trip(case: dict[str, Any]) -> None:
    text = format_query(case["filter"], KEYS)
    assert normalize(parse_query(text, KEYS)) == normalize(case["filter"])


def test_what_the_syntax_cannot_say_is_json() -> None:
    odd = {"config.lr": {"$exists": True}}
    assert json.loads(format_query(odd, KEYS)) == odd
    assert format_query({}, KEYS) == "" and format_query(None) == ""
