"""`runs/query/fields.py`: what a key as typed means, how values are typed."""

from __future__ import annotations

import re

from liberry_widgets.runs.query.fields import (
    escape_regex,
    parse_scalar,
    resolve_key,
    unescape_regex,
)
from tests.widgets.runs.query.cases import KEYS


def test_bare_keys_prefer_config_then_summary() -> None:
    assert resolve_key("lr", KEYS) == "config.lr"
    assert resolve_key("loss", KEYS) == "summary_metrics.loss"
    assert resolve_key("acc", KEYS) == "config.acc"  # in both: config wins
    assert resolve_key("anything") == "config.anything"


def test_run_fields_and_prefixes() -> None:
    assert resolve_key("State") == "state"
    assert resolve_key("tag") == "tags"
    assert resolve_key("c.lr") == "config.lr"
    assert resolve_key("s.loss") == "summary_metrics.loss"
    assert resolve_key("summary.loss") == "summary_metrics.loss"


def test_scalars_are_typed_like_javascript_numbers() -> None:
    assert parse_scalar("3") == 3 and isinstance(parse_scalar("3"), int)
    assert parse_scalar("1e-3") == 0.001
    assert parse_scalar(".5") == 0.5
    assert parse_scalar("TRUE") is True and parse_scalar("none") is None
    assert parse_scalar("1.2.3") == "1.2.3"


def test_escaped_regex_matches_the_text_and_unescapes_back() -> None:
    text = "a.b*(c)+[d]$"
    pattern = escape_regex(text)
    assert re.fullmatch(pattern, text)
    assert unescape_regex(pattern) == text
    assert unescape_regex("a.*") is None  # real regex syntax: not plain text
