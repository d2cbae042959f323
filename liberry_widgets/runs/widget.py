"""`Runs`: the run table widget, W&B's runs table inside any notebook.

    display(liberry.widgets.Runs("entity/project"))

Everything is server-side: the view asks for one page at a time (`page`), the match count of
the text being typed (`count`), the project's keys for the column chooser (`keys`), one run's
details (`run`) and a history chart (`chart`). The kernel answers each from `liberry.Api`;
nothing loads all runs. Mirrors `js/runs/index.ts`.
"""

from __future__ import annotations

import datetime as dt
import html
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from .._base import LiberryWidget, int_param, static_css, static_module
from .._rpc import Handler, RpcError, json_safe
from .columns import ProjectKeys, default_columns
from .detail import chart_reply, run_details
from .paging import MAX_PAGE, RunPager, timing
from .query import QuerySyntaxError, format_query, parse_query
from .rows import row
from .snapshot import snapshot_table, view_key

if TYPE_CHECKING:
    import pandas as pd

    from liberry import Api, Run
    from liberry import Runs as RunsQuery

__all__ = ["Runs"]

#: First pages a view was served are kept this many at most until one becomes the snapshot.
KEPT_FIRST_PAGES = 8


class Runs(LiberryWidget):
    """The runs of a project as an interactive table.

    Args:
        path: `entity/project` (or `project`, with the Api's default entity).
        filters: a MongoDB-style filter, as `liberry.Api.runs` takes (or set `query`).
        order: `-created_at`, `+summary_metrics.loss`, `config.lr`, ...
        columns: column ids to show, in order: `name`, `state`, `created_at`, `tags`,
            `group`, `job_type`, `config.<key>`, `summary.<key>`. Defaults to the name,
            state, creation time, the config keys that vary and the summary metrics.
        per_page: rows per page.
        api: the `liberry.Api` to ask; `liberry.Api()` by default.

    The traits below are what the user controls in the view; read or set them from Python.
    """

    _esm = static_module("runs")
    _css = static_css("runs")

    #: The MongoDB-style filter the table shows (the search box's compiled text).
    filters = traitlets.Dict().tag(sync=True)
    #: Sort order: `+` or `-` and a field.
    order = traitlets.Unicode("-created_at").tag(sync=True)
    #: Visible column ids, in display order.
    columns = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: Column ids kept at the left while scrolling sideways.
    pinned = traitlets.List(traitlets.Unicode(), default_value=["name"]).tag(sync=True)
    #: The search box's text; setting it from Python sets `filters`.
    query = traitlets.Unicode("").tag(sync=True)
    #: Ids of the runs whose checkboxes are ticked.
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: Index of the first row shown (the page position).
    offset = traitlets.Int(0).tag(sync=True)
    per_page = traitlets.Int(50).tag(sync=True)
    #: Reload the page every `refresh_interval` seconds while a shown run is running.
    auto_refresh = traitlets.Bool(False).tag(sync=True)
    refresh_interval = traitlets.Float(10.0).tag(sync=True)
    #: The first page as last served, so saved notebooks and exports show rows without a kernel.
    _snapshot = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        path: str,
        filters: Mapping[str, Any] | None = None,
        order: str = "-created_at",
        columns: Sequence[str] | None = None,
        per_page: int = 50,
        api: Api | None = None,
        **kwargs: Any,
    ) -> None:
        self._lock = threading.Lock()
        self._where: tuple[str, str] | None = None
        self._pager = RunPager(lambda: self.api, self._entity_project)
        self._keys = ProjectKeys(
            lambda: self.api.run_keys(self._project_path()),
            lambda: self._pager.query(None, "-created_at", self.per_page).page(0),
        )
        #: First pages served to views, by (filters, order), until `_store_snapshot` picks one.
        self._first_pages: OrderedDict[str, dict[str, Any]] = OrderedDict()
        super().__init__(
            api=api,
            path=path,
            filters=dict(filters or {}),
            order=order,
            columns=list(columns or []),
            per_page=per_page,
            **kwargs,
        )
        if self.filters and not self.query:
            self.query = format_query(self.filters, self._keys.context(fetch=False))

    # -- Python API ----------------------------------------------------------------------------

    @property
    def runs(self) -> RunsQuery:
        """The runs matching the current filters, in the current order: a lazy `liberry.Runs`,
        new on each access so it never answers from before a refresh."""
        from liberry.runs import Runs as RunsQuery

        entity, project = self._entity_project()
        return RunsQuery(self.api, entity, project, self.filters or None, self.order, self.per_page)

    @property
    def selected_runs(self) -> list[Run]:
        """The `liberry.Run` objects whose checkboxes are ticked, in selection order."""
        entity, project = self._entity_project()
        return [self.api.run(f"{entity}/{project}/{run_id}") for run_id in self.selected]

    @property
    def page(self) -> int:
        """The current page number, from 0."""
        return self.offset // max(1, self.per_page)

    @page.setter
    def page(self, number: int) -> None:
        self.offset = max(0, int(number)) * max(1, self.per_page)

    def to_pandas(self) -> pd.DataFrame:
        """The rows the table shows now (this page, these columns), indexed by run id."""
        import pandas as pd

        result = self._page(self.filters or None, self.order, self.offset, self.per_page,
                            list(self.columns) or None)  # fmt: skip
        records = []
        for shown in result["rows"]:
            record: dict[str, Any] = {"id": shown["id"]}
            for column in result["columns"]:
                record[column] = shown["values"].get(column, shown.get(column))
            records.append(record)
        frame = pd.DataFrame.from_records(records, columns=["id", *result["columns"]])
        return frame.set_index("id")

    def _reload(self) -> None:
        """`refresh()` keeps the page position and the selection; kept cursors, counts and
        keys predate new runs."""
        self._pager.clear()
        self._keys.clear()

    def __repr__(self) -> str:
        return f"Runs({self.path!r}, query={self.query!r}, order={self.order!r})"

    # -- trait rules ---------------------------------------------------------------------------

    @traitlets.validate("filters")
    def _check_filters(self, proposal: dict[str, Any]) -> dict[str, Any]:
        from liberry.filters import validate_filters

        try:
            return validate_filters(proposal["value"]) or {}
        except ValueError as exc:
            raise traitlets.TraitError(str(exc)) from None

    @traitlets.validate("query")
    def _check_query(self, proposal: dict[str, Any]) -> str:
        text = str(proposal["value"])
        if not self._from_view("query"):
            try:
                parse_query(text, self._keys.context(fetch=False))
            except QuerySyntaxError as exc:
                raise traitlets.TraitError(
                    f"{exc.message} (at column {exc.start + 1} of {text!r})"
                ) from None
        return text

    @traitlets.validate("per_page")
    def _check_per_page(self, proposal: dict[str, Any]) -> int:
        return max(1, min(MAX_PAGE, int(proposal["value"])))

    @traitlets.observe("query")
    def _query_changed(self, change: dict[str, Any]) -> None:
        if self._from_view("query"):
            return  # the view sends the filter it compiled along with the text
        self.filters = parse_query(change["new"], self._keys.context(fetch=True))

    @traitlets.observe("filters")
    def _filters_changed(self, change: dict[str, Any]) -> None:
        if self._from_view("filters"):
            return
        self.offset = 0
        keys = self._keys.context(fetch=False)
        try:
            same = parse_query(self.query, keys) == change["new"]
        except QuerySyntaxError:
            same = False
        if not same:
            self.query = format_query(change["new"], keys)

    @traitlets.observe("order")
    def _order_changed(self, _change: dict[str, Any]) -> None:
        if not self._from_view("order"):
            self.offset = 0

    # -- requests from the view ----------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "page": self._handle_page,
            "count": self._handle_count,
            "keys": self._handle_keys,
            "run": lambda params: run_details(self._load_run(params)),
            "chart": lambda params: chart_reply(self._load_run(params), params),
        }

    def _handle_page(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("fresh"):  # the view's Refresh: kept cursors and counts predate new runs
            self._pager.clear()
        filters = _filters_param(params)
        order = str(params.get("order") or "-created_at")
        offset = max(0, int_param(params.get("offset"), 0))
        limit = max(1, min(MAX_PAGE, int_param(params.get("limit"), self.per_page)))
        columns = params.get("columns")
        if not isinstance(columns, list) or not columns:
            columns = None
        return self._page(filters, order, offset, limit, columns)

    def _handle_count(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"total": self._pager.count(_filters_param(params))}

    def _handle_keys(self, _params: dict[str, Any]) -> dict[str, Any]:
        config, summary = self._keys.lists()
        return {"config": config, "summary": summary}

    # -- data ------------------------------------------------------------------------------------

    def _page(
        self,
        filters: dict[str, Any] | None,
        order: str,
        offset: int,
        limit: int,
        columns: list[str] | None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        runs, total = self._pager.page(filters, order, offset, limit)
        api_ms = (time.perf_counter() - started) * 1e3
        self._keys.remember(runs)
        if columns is None:
            columns = self.columns or default_columns(runs, *self._keys.lists())
            if not self.columns:
                self.columns = columns
        result = {"rows": [row(run, columns) for run in runs], "total": total, "offset": offset,
                  "limit": limit, "columns": columns}  # fmt: skip
        if offset == 0:
            taken = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self._keep_first_page({**result, "filters": filters or {}, "order": order,
                                   "taken_at": taken})  # fmt: skip
        result["timing"] = timing(started, api_ms)
        return result

    def _keep_first_page(self, snapshot: dict[str, Any]) -> None:
        """Keep a first page served; the one the traits show becomes the `_snapshot`."""
        key = view_key(snapshot["filters"], snapshot["order"])
        with self._lock:
            self._first_pages[key] = snapshot
            self._first_pages.move_to_end(key)
            while len(self._first_pages) > KEPT_FIRST_PAGES:
                self._first_pages.popitem(last=False)
        self._snapshot_later()

    def _store_snapshot(self) -> None:
        with self._lock:
            found = self._first_pages.get(view_key(self.filters, self.order))
            self._first_pages.clear()
        if found is not None:
            self._snapshot = json_safe(found)

    def _entity_project(self) -> tuple[str, str]:
        if self._where is None:
            runs = self.api.runs(self.path, per_page=1)
            self._where = (runs.entity, runs.project)
        return self._where

    def _project_path(self) -> str:
        entity, project = self._entity_project()
        return f"{entity}/{project}"

    def _load_run(self, params: dict[str, Any]) -> Run:
        from liberry.runs import Run as RunObject

        run_id = params.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise RpcError("no run id given")
        entity, project = self._entity_project()
        return RunObject(self.api, entity, project, run_id).load()

    # -- display ---------------------------------------------------------------------------------

    def _fallback_html(self) -> str:
        """The first page as a table (loaded now when no view has asked for it yet)."""
        if not self._snapshot:
            try:
                self._page(self.filters or None, self.order, 0, self.per_page,
                           list(self.columns) or None)  # fmt: skip
            except Exception as exc:
                return (
                    f"<p><b>liberry runs table</b> for <code>{html.escape(self.path)}</code>: "
                    f"could not load the first page ({html.escape(str(exc))}).</p>"
                )
        return snapshot_table(self.path, self._snapshot)


def _filters_param(params: Mapping[str, Any]) -> dict[str, Any] | None:
    filters = params.get("filters")
    if filters is None or filters == {}:
        return None
    if not isinstance(filters, dict):
        raise RpcError("filters must be an object")
    return filters
