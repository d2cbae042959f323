"""Relay-style connections (edges/pageInfo) as W&B returns them."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ..store.errors import StoreError

T = TypeVar("T")

MAX_PAGE = 10_000
#: `first` for a cursor skip: a query that selects only `pageInfo { endCursor hasNextPage }`
#: returns no rows, so it may reach this far in one request (see DEEP_SKIP_FEATURE).
MAX_SKIP = 100_000_000
DEEP_SKIP_FEATURE = "LIBERRY_RUNS_DEEP_SKIP"


def page_size(first: int | None, default: int = 50, limit: int = MAX_PAGE) -> int:
    if first is None:
        return default
    if first < 0:
        raise StoreError(f"`first` must be >= 0, got {first}")
    if first > limit:
        raise StoreError(f"`first` is {first}; the limit is {limit} per page (page with `after`)")
    return first


def id_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode()


def parse_id_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        kind, _, value = raw.partition(":")
        if kind == "id":
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise StoreError(f"malformed cursor {cursor!r}: pass back an endCursor the server returned")


def keyset_page(
    first: int | None,
    after: str | None,
    fetch: Callable[[int, int | None], Sequence[T]],
    default: int = 50,
) -> tuple[list[T], bool]:
    """One page of rows in id order: `fetch(limit, after_id)` is asked for one row more than
    the page holds, which tells whether there is a next page without counting."""
    size = page_size(first, default)
    rows = list(fetch(size + 1, parse_id_cursor(after)))
    return rows[:size], len(rows) > size


def by_id(row: Any) -> str:
    """The cursor of a row paged by its primary key."""
    return id_cursor(row["id"])


def connection(
    items: Sequence[T],
    has_next: bool,
    cursor: Callable[[T], str],
    node: Callable[[T], Any],
    total: Callable[[], int] | None = None,
) -> dict[str, Any]:
    # Built only if the query selects them (the resolver calls the lambdas): skipping ahead
    # asks for pageInfo alone, and most clients never read an edge's cursor.
    def edges(_info: Any) -> list[dict[str, Any]]:
        return [
            {"node": node(item), "cursor": lambda _info, item=item: cursor(item)} for item in items
        ]

    return {
        "edges": edges,
        "pageInfo": {
            "startCursor": cursor(items[0]) if items else None,
            "endCursor": cursor(items[-1]) if items else None,
            "hasNextPage": has_next,
            "hasPreviousPage": False,
        },
        # Resolved lazily: counting is a query of its own, only run when asked for.
        "totalCount": (lambda _info: total()) if total else None,
    }
