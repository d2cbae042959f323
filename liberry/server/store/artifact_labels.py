"""An artifact version's tags and time to live, as W&B's client sets them.

`createArtifact` carries `tags` and `ttlDurationSeconds`; `updateArtifact` carries
`tagsToAdd`, `tagsToDelete` and `ttlDurationSeconds`. W&B's codes for the TTL: -1 inherit
(the collection's, here none), -2 disabled, a positive number of seconds. The TTL is stored
and answered, not enforced: the server deletes nothing when it runs out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, update

from . import tables as t
from .errors import StoreError

__all__ = ["DISABLED", "INHERIT", "apply_labels", "tag_names", "ttl_answer"]

INHERIT = -1
DISABLED = -2
# W&B's own rule (wandb.sdk.artifacts._validators.TAG_REGEX), checked here too so a tag
# sent by another client is refused with the same words.
_TAG = re.compile(r"^[-\w]+( +[-\w]+)*$")
MAX_TAG = 128


def _names(items: Iterable[Any] | None, field: str) -> list[str]:
    names: list[str] = []
    for item in items or []:
        name = item.get("tagName") if isinstance(item, dict) else item
        if not isinstance(name, str) or not _TAG.match(name) or len(name) > MAX_TAG:
            raise StoreError(
                f"{field}: invalid tag {name!r}: tags are letters, digits, '-' and '_', words "
                f"separated by single spaces, at most {MAX_TAG} characters"
            )
        if name not in names:
            names.append(name)
    return names


def _ttl(value: Any) -> int | None:
    """The stored form of a `ttlDurationSeconds` (NULL: inherit)."""
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < DISABLED:
        raise StoreError(
            f"ttlDurationSeconds must be a positive number of seconds, -1 (inherit) or -2 "
            f"(no TTL), got {value!r}"
        )
    return None if value == INHERIT else value


def tag_names(row: dict[str, Any]) -> list[str]:
    return list(json.loads(row.get("tags") or "[]"))


def ttl_answer(row: dict[str, Any]) -> tuple[int, bool]:
    """(ttlDurationSeconds, ttlIsInherited) as W&B answers them: -2 when there is no TTL."""
    ttl = row.get("ttl_seconds")
    return (ttl if ttl and ttl > 0 else DISABLED), ttl is None


def apply_labels(
    conn: Connection,
    row: dict[str, Any],
    *,
    ttl: Any = None,
    add: Iterable[Any] | None = None,
    remove: Iterable[Any] | None = None,
) -> dict[str, Any]:
    """Set the TTL (None: unchanged) and add/remove tags on an artifact row; returns the row
    as it now is. Everything is checked before anything is written."""
    adding, removing = _names(add, "tagsToAdd"), set(_names(remove, "tagsToDelete"))
    values: dict[str, Any] = {}
    if ttl is not None:
        values["ttl_seconds"] = _ttl(ttl)
    if adding or removing:
        kept = [n for n in tag_names(row) if n not in removing]
        values["tags"] = json.dumps(kept + [n for n in adding if n not in kept])
    if not values:
        return row
    conn.execute(update(t.artifacts).where(t.artifacts.c.id == row["id"]).values(**values))
    return {**row, **values}
