"""`Paginator`: the one lazy, cached walk over a GraphQL connection that every listing
(`Runs`, `Projects`, `Sweeps`, `Files`, `Reports`, the artifact listings) builds on, and
`Page`, one page of it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

__all__ = ["Page", "Paginator"]


T = TypeVar("T")


@dataclass
class Page(Generic[T]):
    """One page of a connection: its items, where it ends, and the total when known."""

    items: list[T]
    end_cursor: str | None
    has_next: bool
    total: int | None = None

    @classmethod
    def of(
        cls,
        connection: Mapping[str, Any] | None,
        make: Callable[[dict[str, Any]], T],
        total: Any = None,
    ) -> Page[T]:
        """A page read from a GraphQL connection (`edges { node }`, `pageInfo`): `make`
        turns each node into an item; `total` defaults to the connection's `totalCount`."""
        conn = connection or {}
        info = conn.get("pageInfo") or {}
        items = [make(e["node"]) for e in conn.get("edges") or [] if e.get("node")]
        total = conn.get("totalCount") if total is None else total
        return cls(
            items,
            info.get("endCursor"),
            bool(info.get("hasNextPage")),
            int(total) if total is not None else None,
        )


class Paginator(ABC, Generic[T]):
    """A lazily fetched, cached sequence over a GraphQL connection.

    Pages are fetched on demand while iterating or indexing and kept, so a second pass sends
    nothing. The first request asks for `per_page` items; when `max_page_size` is set, each
    later request asks for twice as many as the one before, up to it, so a full pass costs
    few round trips while `x[0]` still costs one small one. `limit` caps the number of items
    (and requests) overall.
    """

    #: Largest page the doubling may reach (None: every page is `per_page`).
    max_page_size: int | None = None

    def __init__(self, per_page: int, limit: int | None = None) -> None:
        if per_page < 1:
            raise ValueError(f"per_page must be at least 1, got {per_page}")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        self.per_page = per_page
        self.limit = limit
        self._items: list[T] = []
        self._cursor: str | None = None
        self._more = limit != 0
        self._total: int | None = None
        self._fetches = 0

    @abstractmethod
    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[T]:
        """Fetch `first` items after `cursor`; include the total when `with_count`."""

    def _next_page_size(self) -> int:
        if self.max_page_size is None or self.per_page >= self.max_page_size:
            return self.per_page
        return min(self.per_page << min(self._fetches, 20), self.max_page_size)

    def _load_next(self) -> None:
        first = self._next_page_size()
        self._fetches += 1
        if self.limit is not None:
            first = min(first, self.limit - len(self._items))
            if first <= 0:
                self._more = False
                return
        page = self._fetch(self._cursor, first, self._total is None)
        self._items.extend(page.items)
        if page.total is not None:
            self._total = page.total
        self._cursor = page.end_cursor
        self._more = page.has_next and bool(page.items) and page.end_cursor is not None
        if self.limit is not None and len(self._items) >= self.limit:
            del self._items[self.limit :]
            self._more = False

    def _load_all(self) -> None:
        while self._more:
            self._load_next()

    @property
    def loaded(self) -> int:
        """How many items have been fetched so far."""
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        i = 0
        while True:
            while i < len(self._items):
                yield self._items[i]
                i += 1
            if not self._more:
                return
            self._load_next()

    def __len__(self) -> int:
        if self._total is None and self._more:
            self._load_next()
        if self._total is None:
            self._load_all()
            return len(self._items)
        return self._total if self.limit is None else min(self._total, self.limit)

    def __bool__(self) -> bool:
        if not self._items and self._more:
            self._load_next()
        return bool(self._items)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> list[T]: ...
    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            start, stop = index.start, index.stop
            if any(x is not None and x < 0 for x in (start, stop)) or stop is None:
                self._load_all()
            else:
                while self._more and len(self._items) < stop:
                    self._load_next()
            return self._items[index]
        if index < 0:
            self._load_all()
        else:
            while self._more and len(self._items) <= index:
                self._load_next()
        return self._items[index]
