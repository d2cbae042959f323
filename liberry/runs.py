"""`Runs`: the lazily paged, filtered collection of runs, with table exports (`Run`, one run, is
`run.py`'s; the config/summary helpers are `run_values.py`'s, re-exported here).

Query budget, the point of this module: iterating `Runs` costs one request per page (`per_page`
runs, then twice as many per request up to 1000) and asks only for what `repr` shows; reading
any other attribute, `config` or `summary` of a run that came from iteration costs one request
for its whole page, never one per run; `to_pandas`/`to_arrow`/`to_columns` cost one request on a
liberry server (its Arrow bulk export) and one per 1000 runs elsewhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from . import bulk_export, queries
from ._repr import html_table, short
from .errors import NotFoundError
from .filters import validate_filters, validate_order
from .operation import Operation
from .paging import Page, Paginator
from .run import Run
from .run_frame import RunColumns
from .run_values import flatten, json_dumps, unwrap_config, wrap_config
from .session import Session, SessionOwner, session_of

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "EXPORT_PAGE_SIZE",
    "Run",
    "Runs",
    "cached_runs",
    "flatten",
    "json_dumps",
    "unwrap_config",
    "wrap_config",
]

#: Runs per request for exports: large pages, since an export wants every run anyway.
EXPORT_PAGE_SIZE = 1000
# Largest `first` a cursor jump asks for: servers cap page sizes (liberry at 10,000).
MAX_SKIP = 5_000
#: A liberry server that lists this feature skips any distance in one cursor request.
DEEP_SKIP_FEATURE = "LIBERRY_RUNS_DEEP_SKIP"
#: Exports of more runs than this show a progress bar (unless `progress=False`).
_PROGRESS_THRESHOLD = 5000


# -- many runs ---------------------------------------------------------------------------------


def _record(run: Run) -> dict[str, Any]:
    """One export row: identity columns, then flattened config and summary."""
    row: dict[str, Any] = {
        "id": run.id,
        "name": run._attrs.get("displayName") or run.id,
        "state": run._attrs.get("state"),
        "created_at": run._attrs.get("createdAt"),
    }
    flatten("config", run._config or {}, row)
    summary = {k: v for k, v in (run._summary or {}).items() if k != "_wandb"}
    flatten("summary", summary, row)
    return row


class _Connection:
    """The result of one `runs` query: nodes, their cursors, where it ends, the count."""

    def __init__(
        self, project: dict[str, Any] | None, entity: str, name: str, base_url: str
    ) -> None:
        if project is None:
            raise NotFoundError(
                f"project {entity}/{name} not found at {base_url}; check the entity and project "
                f"(api.projects({entity!r}) lists them)"
            )
        conn = project.get("runs") or {}
        edges = conn.get("edges") or []
        self.nodes: list[dict[str, Any]] = [e["node"] for e in edges if e.get("node")]
        info = conn.get("pageInfo") or {}
        self.end_cursor: str | None = info.get("endCursor")
        self.has_next: bool = bool(info.get("hasNextPage"))
        count = project.get("runCount")
        self.total: int | None = int(count) if count is not None else None


class Runs(Paginator[Run]):
    """The runs of a project that match `filters`, in `order`: lazy, cached, indexable.

    `len()` is the server's count (capped by `limit`); iteration and indexing fetch pages as
    needed: `per_page` runs first, then twice as many per request, up to 1000.
    `page(offset, limit)` fetches one page with config and summary (the run table's view);
    `to_pandas()` / `to_arrow()` export every run's attributes, config and summary in pages
    of 1000.
    """

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        per_page: int = 50,
        limit: int | None = None,
    ) -> None:
        super().__init__(per_page, limit)
        self.max_page_size = max(per_page, EXPORT_PAGE_SIZE)
        self._session = session_of(session)
        self.entity = entity
        self.project = project
        self.filters = validate_filters(filters)
        self.order = validate_order(order)
        self._filters_json = json.dumps(self.filters) if self.filters else None
        # offset -> the `after` cursor that starts a page there (random access for `page`).
        self._cursors: dict[int, str | None] = {0: None}

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}"

    # -- requests ------------------------------------------------------------------------------

    def _query(
        self, operation: Operation, cursor: str | None, first: int, with_count: bool
    ) -> _Connection:
        variables: dict[str, Any] = {
            "entity": self.entity,
            "project": self.project,
            "filters": self._filters_json,
            "order": self.order,
            "cursor": cursor,
            "perPage": first,
            "withCount": with_count,
        }
        data = self._session.client.execute(operation, variables)
        return _Connection(
            data.get("project"), self.entity, self.project, self._session.client.where
        )

    def _record_cursor(self, offset: int, conn: _Connection) -> None:
        """Remember where the page that ends at `offset + len(nodes)` ends, for `page()`."""
        if conn.nodes and conn.end_cursor is not None:
            self._cursors[offset + len(conn.nodes)] = conn.end_cursor

    def _runs(self, conn: _Connection, cursor: str | None) -> list[Run]:
        """Run objects for a page that started after `cursor`, sharing one page hydrator."""
        runs = [Run(self._session, self.entity, self.project, n["name"], n) for n in conn.nodes]
        hydrate = self._page_hydrator(cursor, runs)
        for run in runs:
            run._hydrate = hydrate
        return runs

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Run]:
        conn = self._query(queries.RUNS, cursor, first, with_count)
        self._record_cursor(len(self._items), conn)
        return Page(self._runs(conn, cursor), conn.end_cursor, conn.has_next, conn.total)

    def _page_hydrator(self, cursor: str | None, runs: list[Run]) -> Callable[[], None]:
        """Fills in every attribute, config and summary of a page's runs with one request."""
        done = False

        def hydrate() -> None:
            nonlocal done
            if done:
                return
            done = True
            conn = self._query(queries.RUNS_TABLE, cursor, len(runs), False)
            by_name = {n["name"]: n for n in conn.nodes}
            for run in runs:
                run._hydrate = None
                if (node := by_name.get(run.id)) is not None:
                    run._fill(node)

        return hydrate

    def _cursor_at(self, offset: int) -> tuple[bool, str | None]:
        """The `after` cursor that starts at `offset`; False when `offset` is past the end."""
        if offset in self._cursors:
            return True, self._cursors[offset]
        # A copy: a table's kernel may fetch two pages of one listing at once (threads).
        base = max(o for o in list(self._cursors) if o <= offset)
        # Skip ahead in steps no server caps (W&B limits `first`; a liberry server says when
        # it does not), remembering each step's cursor so later jumps start closer.
        deep = DEEP_SKIP_FEATURE in self._session.features()
        while base < offset:
            step = offset - base if deep else min(offset - base, MAX_SKIP)
            data = self._session.client.execute(
                queries.RUNS_CURSOR,
                {
                    "entity": self.entity,
                    "project": self.project,
                    "filters": self._filters_json,
                    "order": self.order,
                    "cursor": self._cursors[base],
                    "count": step,
                },
            )
            project = data.get("project")
            if project is None:
                _Connection(project, self.entity, self.project, self._session.client.where)
            info = ((project or {}).get("runs") or {}).get("pageInfo") or {}
            if not info.get("hasNextPage") or info.get("endCursor") is None:
                return False, None
            base += step
            self._cursors[base] = info["endCursor"]
        return True, self._cursors[offset]

    # -- one page, for tables ------------------------------------------------------------------

    def page(self, offset: int = 0, limit: int | None = None, *, count: bool = True) -> list[Run]:
        """Runs `offset` .. `offset + limit` (default `per_page`), with config and summary.

        One request when the page follows one already fetched (or starts at 0), two for a
        jump. Always fresh from the server, and it refreshes `len()`; `count=False` spares the
        server the count (for a caller that knows it, such as a table re-sorting the same
        runs), and then neither refreshes `len()` nor checks that cursors kept from earlier
        pages still hold.
        """
        if offset < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        size = self.per_page if limit is None else limit
        if self.limit is not None:
            size = min(size, self.limit - offset)
        if size <= 0:
            return []
        found, cursor = self._cursor_at(offset)
        if not found:
            return []
        known_total = self._total
        conn = self._query(queries.RUNS_TABLE, cursor, size, count)
        if count and conn.total is not None:
            self._total = conn.total
            if known_total is not None and conn.total != known_total and offset > 0:
                # Runs were added or removed: the saved offset -> cursor map is stale, so
                # this page would start at the wrong run. Find the offset again.
                self._cursors = {0: None}
                found, cursor = self._cursor_at(offset)
                if not found:
                    return []
                conn = self._query(queries.RUNS_TABLE, cursor, size, True)
        self._record_cursor(offset, conn)
        return [Run(self._session, self.entity, self.project, n["name"], n) for n in conn.nodes]

    # -- exports -------------------------------------------------------------------------------

    def _export_pages(self, progress: bool | None) -> Iterator[list[Run]]:
        """Every matching run with config and summary, page by page.

        The next page is requested while the current one is parsed.
        """
        from tqdm.auto import tqdm

        page_size = max(self.per_page, EXPORT_PAGE_SIZE)
        remaining = math.inf if self.limit is None else self.limit
        offset = 0
        bar: Any = None

        def fetch(cursor: str | None, first: int) -> tuple[str | None, _Connection]:
            return cursor, self._query(queries.RUNS_EXPORT, cursor, first, cursor is None)

        with ThreadPoolExecutor(max_workers=1) as pool:
            first = int(min(page_size, remaining))
            future: Future[tuple[str | None, _Connection]] | None = pool.submit(fetch, None, first)
            try:
                while future is not None:
                    cursor, conn = future.result()
                    if conn.total is not None:
                        self._total = conn.total
                        total = int(min(conn.total, remaining))
                        show = total > _PROGRESS_THRESHOLD if progress is None else progress
                        bar = tqdm(total=total, unit="run", desc=self.path, disable=not show)
                    self._record_cursor(offset, conn)
                    offset += len(conn.nodes)
                    more = conn.has_next and bool(conn.nodes) and offset < remaining
                    first = int(min(page_size, remaining - offset))
                    future = pool.submit(fetch, conn.end_cursor, first) if more else None
                    runs = self._runs(conn, cursor)
                    if bar is not None:
                        bar.update(len(runs))
                    yield runs
            finally:
                if bar is not None:
                    bar.close()

    def _export(self, progress: bool | None) -> list[Run]:
        runs: list[Run] = []
        for page in self._export_pages(progress):
            runs.extend(page)
        # The export is a complete, fresher listing: reuse it for iteration and indexing.
        self._items = runs
        self._more = False
        return runs

    def to_records(self, progress: bool | None = None) -> list[dict[str, Any]]:
        """Every matching run as a flat dict: id, name, state, created_at, config.*, summary.*."""
        return [_record(run) for run in self._export(progress)]

    def _columns(self, progress: bool | None, bulk: bool) -> RunColumns:
        """Every matching run in export columns: one Arrow request on a liberry server (when
        `bulk`), GraphQL pages of 1000 elsewhere; the same columns either way."""
        if bulk and bulk_export.supported(self._session):
            columns = bulk_export.fetch_columns(
                self._session,
                self.entity,
                self.project,
                filters_json=self._filters_json,
                order=self.order,
                limit=self.limit,
            )
            if self.limit is None:
                self._total = columns.rows
            return columns
        runs = self._export(progress)
        columns = RunColumns()
        columns.add(
            [run.id for run in runs],
            [run._attrs.get("displayName") for run in runs],
            [run._attrs.get("state") for run in runs],
            [run._attrs.get("createdAt") for run in runs],
            [run._config_raw for run in runs],
            [run._summary for run in runs],
        )
        return columns

    def to_columns(
        self, progress: bool | None = None, *, bulk: bool = True
    ) -> dict[str, list[Any]]:
        """Every matching run as plain columns: `{"id": [...], "name": [...], "state": [...],
        "created_at": [...] (W&B's text), "config.<key>": [...], "summary.<key>": [...]}`,
        None where a run has no such key. What `to_pandas` is built from, without pandas; one
        request on a liberry server, as `to_pandas`."""
        return self._columns(progress, bulk).columns()

    def to_pandas(self, progress: bool | None = None, *, bulk: bool = True) -> pd.DataFrame:
        """Every matching run as a DataFrame row.

        Columns: `id`, `name` (display name), `state`, `created_at` (UTC datetime), then the
        flattened config as `config.<key>` and summary as `summary.<key>` (see `run_frame`).
        On a liberry server this is one request (its Arrow bulk export); elsewhere, or with
        `bulk=False`, one GraphQL request per 1000 runs. The frame is the same either way.
        """
        return self._columns(progress, bulk).to_pandas()

    def to_arrow(self, progress: bool | None = None, *, bulk: bool = True) -> pa.Table:
        """Every matching run as a `pyarrow.Table` with the columns of `to_pandas`.

        A key whose values differ in type between runs becomes a text column (JSON).
        """
        return self._columns(progress, bulk).to_arrow()

    # -- display -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        extra = ""
        if self.filters:
            extra += f" filters={json.dumps(self.filters)}"
        if self.order != "-created_at":
            extra += f" order={self.order}"
        if self.limit is not None:
            extra += f" limit={self.limit}"
        if self._total is not None:
            n = len(self)
            extra += f" ({n:,} run{'s' if n != 1 else ''})"
        return f"<Runs {self.path}{extra}>"

    def _repr_html_(self) -> str:
        shown = self[:20]
        rows = [(r.id, r.name, r.state, r.created_at, ", ".join(r.tags)) for r in shown]
        footer = f"{len(shown)} of {len(self):,} runs" + (
            " — iterate for more" if len(self) > 20 else ""
        )
        return html_table(
            ("id", "name", "state", "created_at", "tags"),
            rows,
            caption=short(repr(self), 120),
            footer=footer,
        )


def cached_runs(
    session: Session,
    entity: str,
    project: str,
    filters: Mapping[str, Any] | None = None,
    order: str = "-created_at",
    per_page: int = 50,
    limit: int | None = None,
) -> Runs:
    """`Runs` of `entity/project`, the same object for the same arguments until the session's
    cache is cleared (`Api.flush`); `filters` and `order` are checked here, before sending."""
    checked = validate_filters(filters)
    key = (
        "runs",
        entity,
        project,
        json.dumps(checked, sort_keys=True),
        validate_order(order),
        per_page,
        limit,
    )
    cached = session.cache.get(key)
    if not isinstance(cached, Runs):
        made = Runs(session, entity, project, checked, order, per_page, limit)
        cached = session.cache[key] = made
    return cached
