"""The search syntax's vocabulary: run fields, run states, operators, values, and which of
the project's keys a bare key means. Mirrors `js/runs/query/fields.ts`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FIELDS", "FIELD_NAMES", "RUN_STATES", "Filter", "KeyContext", "escape_regex",
           "parse_scalar", "resolve_key", "unescape_regex"]  # fmt: skip

Filter = dict[str, Any]

#: Run fields with a name of their own in the syntax (left) and in the filter (right).
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
#: The preferred spelling of each field when turning a filter back into text.
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
#: Run states the server knows; a typo in `state:` is caught while typing.
RUN_STATES = (
    "running", "finished", "failed", "crashed", "killed", "preempting", "preempted", "pending",
)  # fmt: skip
COMPARISON = {">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte"}
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_REGEX_SPECIAL = set(".*+?^${}()|[]\\")


@dataclass(frozen=True)
class KeyContext:
    """The project's keys: decides whether `lr` means `config.lr` or `summary_metrics.lr`."""

    config: Sequence[str] = ()
    summary: Sequence[str] = ()


def escape_regex(text: str) -> str:
    """Escape exactly the characters `escapeRegex` escapes in JS (not Python's wider set)."""
    return "".join("\\" + c if c in _REGEX_SPECIAL else c for c in text)


def unescape_regex(pattern: str) -> str | None:
    """The inverse of `escape_regex`, or None when the pattern uses regex syntax."""
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
