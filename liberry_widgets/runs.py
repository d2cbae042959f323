"""`Runs`: the run table widget, W&B's runs table inside any notebook.

    display(liberry.widgets.Runs("entity/project"))

Everything is server-side: the view asks for one page at a time (`page`), the match count of
the text being typed (`count`), the project's keys for the column chooser (`keys`), one run's
details (`run`) and a history chart (`chart`). The kernel answers each from `liberry.Api`;
nothing loads all runs. Mirrors `js/runs/`.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import traitlets

from ._base import LiberryWidget, static_css, static_module
from ._rpc import Handler, RpcError, handling_request, json_safe, received_at, waited_ms
from .query import KeyContext, QuerySyntaxError, format_query, parse_query

if TYPE_CHECKING:
    import pandas as pd

    from liberry import Api, Run
    from liberry import Runs as RunsQuery

__all__ = ["Runs"]

#: Columns every run has, in the order the chooser lists them.
META_COLUMNS = ("name", "id", "state", "created_at", "heartbeat_at", "tags", "group", "job_type",
                "sweep", "notes")  # fmt: skip
MAX_PAGE = 500
#: How many config keys and summary metrics the default view shows at most.
DEFAULT_CONFIG_COLUMNS = 6
DEFAULT_SUMMARY_COLUMNS = 6
#: Summary keys W&B adds to every run; shown in the chooser only when useful.
HIDDEN_SUMMARY = ("_timestamp", "_wandb")
#: A run count this recent answers a first page in another order (the count does not depend
#: on the order), sparing the server a count over the whole project on each sort change.
COUNT_REUSE_S = 10.0
#: The `_snapshot` trait is as big as a page: set it this long after the last first page a
#: view asked for, so its sync never reaches the browser while the browser paints that page.
SNAPSHOT_DELAY_S = 1.0


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
    #: Bumped by `refresh()`; views reload when it changes.
    _refresh = traitlets.Int(0).tag(sync=True)
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
        self._queries: OrderedDict[tuple[str, str, int], RunsQuery] = OrderedDict()
        self._keys: tuple[list[str], list[str]] | None = None
        self._where: tuple[str, str] | None = None
        self._seen: tuple[dict[str, None], dict[str, None]] = ({}, {})
        self._served = False
        # Pages served but not yet read for nested keys (`_remember_keys`).
        self._unread: deque[Sequence[Run]] = deque()
        #: Filters (JSON) -> (run count, when it was counted), see `COUNT_REUSE_S`.
        self._counts: dict[str, tuple[int, float]] = {}
        #: First pages served to views, by (filters, order), until `_store_snapshot` picks one.
        self._first_pages: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._snapshot_timer: threading.Timer | None = None
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
            self.query = format_query(self.filters, self._key_context(fetch=False))

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
        for row in result["rows"]:
            record: dict[str, Any] = {"id": row["id"]}
            for column in result["columns"]:
                record[column] = row["values"].get(column, row.get(column))
            records.append(record)
        frame = pd.DataFrame.from_records(records, columns=["id", *result["columns"]])
        return frame.set_index("id")

    def refresh(self) -> None:
        """Reload from the server, keeping the page position and the selection."""
        with self._lock:
            self._queries.clear()
            self._counts.clear()
            self._keys = None
        self._refresh += 1

    def close(self) -> None:
        with self._lock:
            timer, self._snapshot_timer = self._snapshot_timer, None
        if timer is not None:
            timer.cancel()
        super().close()

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
                parse_query(text, self._key_context(fetch=False))
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
        self.filters = parse_query(change["new"], self._key_context(fetch=True))

    @traitlets.observe("filters")
    def _filters_changed(self, change: dict[str, Any]) -> None:
        if self._from_view("filters"):
            return
        self.offset = 0
        keys = self._key_context(fetch=False)
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

    def _from_view(self, name: str) -> bool:
        """True while ipywidgets applies a change that came from a view (it locks the trait)."""
        return name in getattr(self, "_property_lock", {})

    # -- requests from the view ----------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "page": self._handle_page,
            "count": self._handle_count,
            "keys": self._handle_keys,
            "run": self._handle_run,
            "chart": self._handle_chart,
        }

    def _handle_page(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("fresh"):  # the view's Refresh: kept cursors and counts predate new runs
            with self._lock:
                self._queries.clear()
                self._counts.clear()
        filters = _filters_param(params)
        order = str(params.get("order") or "-created_at")
        offset = max(0, _int(params.get("offset"), 0))
        limit = max(1, min(MAX_PAGE, _int(params.get("limit"), self.per_page)))
        columns = params.get("columns")
        if not isinstance(columns, list) or not columns:
            columns = None
        return self._page(filters, order, offset, limit, columns)

    def _handle_count(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = _filters_param(params)
        # A fresh query each time: a kept one would answer its first count for ever.
        return {"total": len(self._query(filters, "-created_at", 1, keep=False))}

    def _handle_keys(self, _params: dict[str, Any]) -> dict[str, Any]:
        config, summary = self._run_keys()
        return {"config": config, "summary": summary}

    def _handle_run(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self._load_run(params)
        summary = _flat(run.summary, skip=HIDDEN_SUMMARY)
        return {
            **_identity(run),
            "notes": run.notes,
            "url": run.url,
            "config": _flat(run.config),
            "summary": summary,
            "metrics": plottable_metrics(run.history_keys),
            "history_rows": run.history_line_count,
        }

    def _handle_chart(self, params: dict[str, Any]) -> dict[str, Any]:
        run = self._load_run(params)
        raw_metrics = params.get("metrics")
        metrics = [str(m) for m in raw_metrics] if isinstance(raw_metrics, list) else []
        if not metrics:
            metrics = plottable_metrics(run.history_keys)[:3]
        if not metrics:
            return {"spec": None, "metrics": [], "points": 0}
        from .charts import history_chart  # Altair loads only when a chart is first asked for

        x = str(params.get("x") or "_step")
        samples = max(10, min(2000, _int(params.get("samples"), 500)))
        rows = run.history(samples=samples, keys=metrics, x_axis=x, pandas=False)
        assert isinstance(rows, list)
        chart = history_chart(rows, metrics, x=x)
        spec = chart.to_dict()
        points = len(spec.get("data", {}).get("values", []))
        return {"spec": spec, "metrics": metrics, "points": points}

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
        query = self._query(filters, order, limit)
        known = self._recent_count(filters) if offset == 0 else None
        runs = query.page(offset, limit, count=known is None)
        total = len(query) if known is None else known
        if known is None:
            self._note_count(filters, total)
        api_ms = (time.perf_counter() - started) * 1e3
        if columns is None:
            self._remember_keys(runs)
            columns = self.columns or self._default_columns(runs, *self._run_keys())
            if not self.columns:
                self.columns = columns
        else:
            self._remember_keys(runs)
        rows = [_row(run, columns) for run in runs]
        result = {"rows": rows, "total": total, "offset": offset, "limit": limit,
                  "columns": columns}  # fmt: skip
        if offset == 0:
            snapshot = {**result, "filters": filters or {}, "order": order,
                        "taken_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
            self._keep_snapshot(snapshot)
        # Where the time went (the view shows it in its `data-timing` for benchmarks).
        timing = {"api_ms": round(api_ms, 1),
                  "kernel_ms": round((time.perf_counter() - started) * 1e3, 1)}  # fmt: skip
        waited, received = waited_ms(), received_at()
        if waited is not None:
            timing["queued_ms"] = round(waited, 1)
        if received is not None:  # epoch ms: the view splits the round trip with its clock
            timing["received_at"] = round(received, 1)
            timing["sent_at"] = round(time.time() * 1e3, 1)
        result["timing"] = timing
        return result

    def _recent_count(self, filters: dict[str, Any] | None) -> int | None:
        key = json.dumps(filters or {}, sort_keys=True)
        with self._lock:
            found = self._counts.get(key)
        if found is None or time.monotonic() - found[1] > COUNT_REUSE_S:
            return None
        return found[0]

    def _note_count(self, filters: dict[str, Any] | None, total: int) -> None:
        key = json.dumps(filters or {}, sort_keys=True)
        with self._lock:
            self._counts[key] = (total, time.monotonic())
            while len(self._counts) > 16:
                del self._counts[next(iter(self._counts))]

    def _keep_snapshot(self, snapshot: dict[str, Any]) -> None:
        """Make a first page the `_snapshot` when it is what the traits show: at once outside
        a request (display, exports); for a view's requests, `SNAPSHOT_DELAY_S` after the
        last first page served, since the view syncs its traits only after painting (and
        fetches first pages of orders it may switch to)."""
        key = _view_key(snapshot["filters"], snapshot["order"])
        if not handling_request():
            if key == _view_key(self.filters, self.order):
                self._snapshot = json_safe(snapshot)
            return
        timer = threading.Timer(SNAPSHOT_DELAY_S, self._store_snapshot)
        timer.daemon = True
        with self._lock:
            self._first_pages[key] = snapshot
            self._first_pages.move_to_end(key)
            while len(self._first_pages) > 8:
                self._first_pages.popitem(last=False)
            if self._snapshot_timer is not None:
                self._snapshot_timer.cancel()
            self._snapshot_timer = timer
        timer.start()

    def _store_snapshot(self) -> None:
        with self._lock:
            found = self._first_pages.get(_view_key(self.filters, self.order))
            self._first_pages.clear()
            self._snapshot_timer = None
        if found is not None:
            self._snapshot = json_safe(found)

    def _query(
        self, filters: dict[str, Any] | None, order: str, per_page: int, keep: bool = True
    ) -> RunsQuery:
        """A `liberry.Runs` per (filters, order, page size), kept so paging reuses its cursors
        (`Runs.page` itself always asks the server, so kept ones never serve stale rows)."""
        from liberry.runs import Runs as RunsQuery

        key = (json.dumps(filters or {}, sort_keys=True), order, per_page)
        with self._lock:
            found = self._queries.get(key) if keep else None
            if found is not None:
                self._queries.move_to_end(key)
                return found
        entity, project = self._entity_project()
        try:
            made = RunsQuery(self.api, entity, project, filters or None, order, per_page)
        except ValueError as exc:  # FilterError: say what is wrong, not where in liberry
            raise RpcError(str(exc)) from None
        if not keep:
            return made
        with self._lock:
            self._queries[key] = made
            while len(self._queries) > 8:
                self._queries.popitem(last=False)
        return made

    def _entity_project(self) -> tuple[str, str]:
        if self._where is None:
            runs = self.api.runs(self.path, per_page=1)
            self._where = (runs.entity, runs.project)
        return self._where

    def _project_path(self) -> str:
        entity, project = self._entity_project()
        return f"{entity}/{project}"

    def _run_keys(self) -> tuple[list[str], list[str]]:
        if not self._served:
            # Learn the project's nested keys from a first page (see `_remember_keys`).
            self._remember_keys(self._query(None, "-created_at", self.per_page).page(0))
        if self._keys is None:
            config, summary = self.api.run_keys(self._project_path())
            summary = [k for k in summary if not k.startswith(HIDDEN_SUMMARY)]
            self._keys = (sorted(config, key=_key_order), sorted(summary, key=_key_order))
        config, summary = self._keys
        self._read_keys()
        return _expand(config, self._seen[0]), _expand(summary, self._seen[1])

    def _remember_keys(self, runs: Sequence[Run]) -> None:
        """Keep served runs to note the dotted keys of their nested values (a server may list
        only the top-level key, `model`, for `model.depth`). They are read when the keys are
        next asked for: reading them now would hold the GIL while the page's reply is sent."""
        self._served = True
        self._unread.append(runs)
        if len(self._unread) > 32:
            self._read_keys()

    def _read_keys(self) -> None:
        while True:
            try:
                runs = self._unread.popleft()
            except IndexError:
                return
            for run in runs:
                self._seen[0].update(dict.fromkeys(k for k in _flat(run.config) if "." in k))
                summary = _flat(run.summary, skip=HIDDEN_SUMMARY)
                self._seen[1].update(dict.fromkeys(k for k in summary if "." in k))

    def _key_context(self, fetch: bool) -> KeyContext:
        if self._keys is None and fetch:
            try:
                self._run_keys()
            except Exception:  # no server yet: bare keys default to config
                return KeyContext()
        config, summary = self._keys or ([], [])
        return KeyContext(config=config, summary=summary)

    def _load_run(self, params: dict[str, Any]) -> Run:
        from liberry.runs import Run as RunObject

        run_id = params.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise RpcError("no run id given")
        entity, project = self._entity_project()
        return RunObject(self.api, entity, project, run_id).load()

    @staticmethod
    def _default_columns(runs: Sequence[Run], config: list[str], summary: list[str]) -> list[str]:
        """Name, state, created; tags and group when used; config keys whose values differ
        between the shown runs that set them (all of them for a single run: a run without the
        key, such as a data-preparation run among training runs, makes no column of it); then
        the summary metrics."""
        columns = ["name", "state", "created_at"]
        if any(run.tags for run in runs):
            columns.append("tags")
        if any(run.group for run in runs):
            columns.append("group")
        configs = [_flat(run.config) for run in runs]
        varying = [
            key
            for key in config
            if len(configs) <= 1
            or len({json.dumps(c[key], sort_keys=True) for c in configs if key in c}) > 1
        ]
        columns += [f"config.{k}" for k in varying[:DEFAULT_CONFIG_COLUMNS]]
        summaries = [_flat(run.summary, skip=HIDDEN_SUMMARY) for run in runs]
        metrics = [
            key
            for key in summary
            if not key.startswith("_")
            and (not summaries or any(_is_number(s.get(key)) for s in summaries))
        ]
        columns += [f"summary.{k}" for k in metrics[:DEFAULT_SUMMARY_COLUMNS]]
        return columns

    # -- display ---------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus an HTML table of the first page for hosts without widgets
        (nbconvert without widget state, GitHub, an untrusted notebook)."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if not isinstance(bundle, tuple):
            return bundle
        data, metadata = bundle
        return {**data, "text/html": self._snapshot_html()}, metadata

    def _snapshot_html(self) -> str:
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


# -- helpers ---------------------------------------------------------------------------------------


def _view_key(filters: Mapping[str, Any] | None, order: str) -> str:
    return json.dumps([filters or {}, order], sort_keys=True)


def _filters_param(params: Mapping[str, Any]) -> dict[str, Any] | None:
    filters = params.get("filters")
    if filters is None or filters == {}:
        return None
    if not isinstance(filters, dict):
        raise RpcError("filters must be an object")
    return filters


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def plottable_metrics(history_keys: Mapping[str, Any]) -> list[str]:
    """The history keys logged as numbers (at least once), not W&B's own (`_step`, ...)."""
    keys = history_keys.get("keys")
    found = [
        name
        for name, entry in (keys.items() if isinstance(keys, Mapping) else ())
        if not name.startswith("_")
        and isinstance(entry, Mapping)
        and any(
            isinstance(tc, Mapping) and tc.get("type") == "number" and tc.get("count", 1)
            for tc in entry.get("typeCounts") or ()
        )
    ]
    return sorted(found, key=str.lower)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _key_order(key: str) -> tuple[bool, str]:
    return (key.startswith("_"), key.lower())


def _expand(keys: list[str], dotted: Mapping[str, None]) -> list[str]:
    """`keys`, with a top-level key replaced by the dotted keys seen under it."""
    out: list[str] = []
    for key in keys:
        nested = sorted((k for k in dotted if k.startswith(key + ".")), key=_key_order)
        out.extend(nested or [key])
    return out


def _flat(mapping: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    """Nested dicts as dotted keys (`optimizer.lr`), as `Api.run_keys` names them."""
    from liberry.runs import flatten

    kept = {k: v for k, v in mapping.items() if not (skip and k.startswith(tuple(skip)))}
    return {k[1:]: v for k, v in flatten("", kept).items()}


def _identity(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "created_at": run.created_at,
        "heartbeat_at": run.heartbeat_at,
        "tags": run.tags,
        "group": run.group,
        "job_type": run.job_type,
        "sweep": run.sweep_name,
    }


def _row(run: Run, columns: Sequence[str]) -> dict[str, Any]:
    """One table row: the run's identity, and `values` for its config / summary columns."""
    values: dict[str, Any] = {}
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    for column in columns:
        if column.startswith("config."):
            config = config if config is not None else _flat(run.config)
            values[column] = config.get(column[len("config.") :])
        elif column.startswith("summary."):
            summary = summary if summary is not None else _flat(run.summary)
            values[column] = summary.get(column[len("summary.") :])
    return {**_identity(run), "notes": run.notes if "notes" in columns else None,
            "values": values}  # fmt: skip


def snapshot_table(path: str, snapshot: Mapping[str, Any]) -> str:
    """A plain HTML table of a snapshot: what a host without widget support shows."""
    rows = snapshot.get("rows") or []
    columns = [c for c in snapshot.get("columns") or ["name", "state", "created_at"]]
    total = int(snapshot.get("total") or 0)
    head = "".join(f"<th>{html.escape(_label(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get("values", {}).get(column) if "." in column else row.get(column)
            cells.append(f"<td>{html.escape(_cell_text(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    shown = f"1\u2013{len(rows)} of {total:,}" if rows else f"0 of {total:,}"  # en dash
    return (
        f'<div class="liberry-runs-snapshot"><p><b>{html.escape(path)}</b>: showing {shown} '
        f"runs (snapshot; run the notebook for the interactive table)</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _label(column: str) -> str:
    if column.startswith("config."):
        return column[len("config.") :]
    if column.startswith("summary."):
        return column[len("summary.") :]
    return {"created_at": "created", "job_type": "job type", "heartbeat_at": "heartbeat"}.get(
        column, column
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)[:80]
    return str(value)
