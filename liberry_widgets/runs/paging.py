"""The kernel's side of paging through runs (mirrors `js/runs/paging.ts`): a `liberry.Runs`
kept per (filters, order, page size) so the next page reuses its cursor, and run counts
reused across orders, so a sort change costs the server one page, not a count as well."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._rpc import RpcError, received_at, waited_ms

if TYPE_CHECKING:
    from liberry import Api, Run
    from liberry import Runs as RunsQuery

__all__ = ["COUNT_REUSE_S", "MAX_PAGE", "RunPager", "timing"]

MAX_PAGE = 500
#: A run count this recent answers a first page in another order (the count does not depend
#: on the order), sparing the server a count over the whole project on each sort change.
COUNT_REUSE_S = 10.0
#: How many `liberry.Runs` (each with its cursors) and counts are kept.
KEPT_QUERIES = 8
KEPT_COUNTS = 16

Filters = dict[str, Any] | None


class RunPager:
    """Pages of a project's runs for any filters and order.

    Args:
        api: the `liberry.Api` (asked for when first needed).
        where: the project as (entity, project).
    """

    def __init__(self, api: Callable[[], Api], where: Callable[[], tuple[str, str]]) -> None:
        self._api = api
        self._where = where
        self._lock = threading.Lock()
        self._queries: OrderedDict[tuple[str, str, int], RunsQuery] = OrderedDict()
        #: Filters (JSON) -> (run count, when it was counted), see `COUNT_REUSE_S`.
        self._counts: dict[str, tuple[int, float]] = {}

    def page(
        self, filters: Filters, order: str, offset: int, limit: int
    ) -> tuple[Sequence[Run], int]:
        """The runs at `offset`, and how many match (a recent count for a first page)."""
        query = self.query(filters, order, limit)
        known = self._recent_count(filters) if offset == 0 else None
        runs = query.page(offset, limit, count=known is None)
        if known is not None:
            return runs, known
        total = len(query)
        self._note_count(filters, total)
        return runs, total

    def count(self, filters: Filters) -> int:
        """How many runs match, asked now (a kept query would answer its first count for ever)."""
        return len(self.query(filters, "-created_at", 1, keep=False))

    def query(self, filters: Filters, order: str, per_page: int, keep: bool = True) -> RunsQuery:
        """A `liberry.Runs` per (filters, order, page size), kept so paging reuses its cursors
        (`Runs.page` itself always asks the server, so kept ones never serve stale rows)."""
        from liberry.runs import Runs as RunsQuery

        key = (json.dumps(filters or {}, sort_keys=True), order, per_page)
        with self._lock:
            found = self._queries.get(key) if keep else None
            if found is not None:
                self._queries.move_to_end(key)
                return found
        entity, project = self._where()
        try:
            made = RunsQuery(self._api(), entity, project, filters or None, order, per_page)
        except ValueError as exc:  # FilterError: say what is wrong, not where in liberry
            raise RpcError(str(exc)) from None
        if not keep:
            return made
        with self._lock:
            self._queries[key] = made
            while len(self._queries) > KEPT_QUERIES:
                self._queries.popitem(last=False)
        return made

    def clear(self) -> None:
        """Forget kept cursors and counts: they predate runs created since."""
        with self._lock:
            self._queries.clear()
            self._counts.clear()

    def _recent_count(self, filters: Filters) -> int | None:
        key = json.dumps(filters or {}, sort_keys=True)
        with self._lock:
            found = self._counts.get(key)
        if found is None or time.monotonic() - found[1] > COUNT_REUSE_S:
            return None
        return found[0]

    def _note_count(self, filters: Filters, total: int) -> None:
        key = json.dumps(filters or {}, sort_keys=True)
        with self._lock:
            self._counts[key] = (total, time.monotonic())
            while len(self._counts) > KEPT_COUNTS:
                del self._counts[next(iter(self._counts))]


def timing(started: float, api_ms: float) -> dict[str, float]:
    """Where a page's time went in the kernel (the view shows it in its `data-timing` for
    benchmarks): the Api's request, the whole handler, the wait for a handler thread, and
    when the request arrived and the reply left (epoch ms, for the view to split the round
    trip with its own clock)."""
    result = {"api_ms": round(api_ms, 1),
              "kernel_ms": round((time.perf_counter() - started) * 1e3, 1)}  # fmt: skip
    waited, received = waited_ms(), received_at()
    if waited is not None:
        result["queued_ms"] = round(waited, 1)
    if received is not None:
        result["received_at"] = round(received, 1)
        result["sent_at"] = round(time.time() * 1e3, 1)
    return result
