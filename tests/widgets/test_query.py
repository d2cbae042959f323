"""The Python search-syntax parser agrees with the TypeScript one on the shared cases."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from liberry_widgets.query import (
    KeyContext,
    QuerySyntaxError,
    format_query,
    normalize,
    parse_query,
    resolve_key,
)

CASES: dict[str, Any] = json.loads((Path(__file__).parent / "query_cases.json").read_text())
KEYS = KeyContext(config=CASES["keys"]["config"], summary=CASES["keys"]["summary"])


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


@pytest.mark.parametrize("case", CASES["format"], ids=lambda c: json.dumps(c["filter"]))
def test_format(case: dict[str, Any]) -> None:
    assert format_query(case["filter"], KEYS) == case["text"]


@pytest.mark.parametrize("case", CASES["parse"], ids=lambda c: c["text"])
def test_round_trip(case: dict[str, Any]) -> None:
    text = format_query(case["filter"], KEYS)
    assert normalize(parse_query(text, KEYS)) == normalize(case["filter"])


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


def test_resolve_key() -> None:
    assert resolve_key("lr", KEYS) == "config.lr"
    assert resolve_key("loss", KEYS) == "summary_metrics.loss"
    assert resolve_key("acc", KEYS) == "config.acc"
    assert resolve_key("anything") == "config.anything"
    assert resolve_key("State") == "state"
