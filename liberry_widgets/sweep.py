"""`Sweep`: the sweep explorer, W&B's sweep page inside any notebook.

    display(liberry.widgets.Sweep("entity/project/sweep_id"))   # or Sweep(api.sweep(...))

The kernel reads the sweep and all its runs through `liberry.Api` (one request per 1,000
runs), turns them into columns (`sweep_data.py`) and hands the view one binary buffer (the
`_data` trait): parallel coordinates, the metric over time and the best runs are all drawn
from it in the browser, so brushing never waits for the kernel. The kernel answers what needs
Python: parameter importance for a brushed selection (`importance`), a reload (`refresh`)
and a double-clicked run (`open`). Mirrors `js/sweep/`.
"""

from __future__ import annotations

import base64
import html
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import traitlets

from ._base import LiberryWidget, api_of, static_css, static_module
from ._rpc import Handler, RpcError
from .importance import compute_importance
from .sweep_data import SweepTable, axes_from_config, build_table, pack

if TYPE_CHECKING:
    import pandas as pd

    from liberry import Api, Run
    from liberry.sweeps import Sweep as SweepObject

__all__ = ["Sweep"]

#: Never refresh more often than this (the view's timer and the button share it).
MIN_REFRESH_S = 2.0


class Sweep(LiberryWidget):
    """A sweep's runs as parallel coordinates, parameter importance, the metric over time and
    the best runs.

    Args:
        sweep: `entity/project/sweep_id` (or `project/sweep_id`, a sweep URL), or a
            `liberry.Sweep` from `api.sweep(...)` (its Api is used).
        metric: the metric to explore; the sweep config's `metric.name` by default.
        goal: `minimize` or `maximize`; the config's goal by default.
        top_n: how many best runs the table lists.
        api: the `liberry.Api` to ask; `liberry.Api()` by default.

    Brush an axis (drag along it) to keep the runs in a range; brushes on several axes
    combine. The traits below are what the user does in the view; read or set them.
    """

    _esm = static_module("sweep")
    _css = static_css("sweep")

    #: Every run as columns, packed (`sweep_data.pack`); also the saved notebook's snapshot.
    _data = traitlets.Bytes(b"").tag(sync=True)
    #: The sweep itself: name, state, method, metric, goal, url, run counts, loaded_at.
    info = traitlets.Dict().tag(sync=True)
    #: Why there is nothing to draw (a missing sweep, a server that does not answer).
    error = traitlets.Unicode("").tag(sync=True)
    #: Something the user should know, drawn above the plots (no runs yet, metric not logged).
    notice = traitlets.Unicode("").tag(sync=True)
    #: Importance and correlation of each parameter over all runs, most important first.
    importance = traitlets.List(traitlets.Dict()).tag(sync=True)
    #: Brushes by axis key: `[low, high]` for a number axis (the metric too), a list of
    #: category labels for a category axis. Runs inside every brush are selected.
    brushes = traitlets.Dict().tag(sync=True)
    #: Ids of the runs inside the brushes (empty when nothing is brushed).
    selected = traitlets.List(traitlets.Unicode()).tag(sync=True)
    #: The run last double-clicked in the view (its id).
    opened = traitlets.Unicode("").tag(sync=True)
    top_n = traitlets.Int(10).tag(sync=True)
    #: Reload every `refresh_interval` seconds while the sweep is running and a view shows it.
    auto_refresh = traitlets.Bool(True).tag(sync=True)
    refresh_interval = traitlets.Float(10.0).tag(sync=True)

    def __init__(
        self,
        sweep: str | SweepObject,
        metric: str | None = None,
        goal: str | None = None,
        top_n: int = 10,
        api: Api | None = None,
        **kwargs: Any,
    ) -> None:
        from liberry.sweeps import Sweep as SweepObject

        self._sweep: SweepObject | None = None
        if isinstance(sweep, SweepObject):
            self._sweep = sweep
            api = api or api_of(sweep)
            path = sweep.path_str
        else:
            path = str(sweep)
        self._metric = metric
        self._goal = goal.lower() if goal else None
        self._table: SweepTable | None = None
        self._version = 0
        self._load_lock = threading.Lock()
        self._loaded_at = 0.0
        self._open_callbacks: list[Callable[[Run], Any]] = []
        super().__init__(api=api, path=path, top_n=top_n, **kwargs)
        self._load()

    # -- Python API ----------------------------------------------------------------------------

    @property
    def sweep(self) -> SweepObject | None:
        """The `liberry.Sweep` shown (None when it could not be loaded)."""
        return self._sweep

    @property
    def selected_runs(self) -> list[Run]:
        """The runs inside the brushes, as `liberry.Run` objects (each fetched on first use)."""
        from liberry.runs import Run as RunObject

        if self._sweep is None:
            return []
        entity, project = self._sweep.entity, self._sweep.project
        return [RunObject(self.api, entity, project, run_id) for run_id in self.selected]

    @property
    def opened_run(self) -> Run | None:
        """The run last double-clicked in the view."""
        from liberry.runs import Run as RunObject

        if not self.opened or self._sweep is None:
            return None
        return RunObject(self.api, self._sweep.entity, self._sweep.project, self.opened)

    def on_open(self, callback: Callable[[Run], Any]) -> None:
        """Call `callback(run)` when a run is double-clicked in the view, e.g.
        `w.on_open(lambda run: display(liberry.widgets.Runs(...)))`."""
        self._open_callbacks.append(callback)

    def to_pandas(self) -> pd.DataFrame:
        """Every run as a row: id, name, state, created_at, the parameters and the metric,
        with a `selected` column (inside the brushes)."""
        import pandas as pd

        table = self._table
        if table is None:
            return pd.DataFrame(columns=["id", "name", "state", "created_at", "selected"])
        columns: dict[str, Any] = {
            "id": table.ids,
            "name": table.names,
            "state": table.states,
            "created_at": pd.to_datetime(table.created, unit="ms", utc=True),
        }
        for axis, values in zip(table.axes, table.values, strict=True):
            if axis.kind == "category":
                columns[axis.key] = [
                    None if math.isnan(v) else axis.categories[int(v)] for v in values
                ]
            else:
                columns[axis.key] = values
        if self.info.get("metric"):
            columns[str(self.info["metric"])] = table.metric
        chosen = set(self.selected)
        columns["selected"] = [i in chosen for i in table.ids]
        return pd.DataFrame(columns).set_index("id")

    def _reload(self) -> None:
        """`refresh()` fetches the sweep and its runs again (new runs reach every view
        through `_data`)."""
        self._load()

    def __repr__(self) -> str:
        runs, metric = len(self._table or ()), self.info.get("metric")
        return f"Sweep({self.path!r}, runs={runs}, metric={metric!r})"

    # -- loading -------------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the sweep and every run, and set the traits the view draws from.

        Errors become the `error` trait (the view shows it), never an exception out of the
        constructor: a wrong path should read as a message in the notebook, not a traceback.
        """
        with self._load_lock:
            try:
                self._load_locked()
            except Exception as exc:
                from liberry.errors import LiberryError

                message = (
                    str(exc) if isinstance(exc, LiberryError) else f"{type(exc).__name__}: {exc}"
                )
                with self.hold_sync():
                    self.error = f"Could not load sweep {self.path}: {message}"
                    if self._table is None:
                        self.info = {"path": self.path}
            self._loaded_at = time.monotonic()

    def _load_locked(self) -> None:
        if self._sweep is None:
            self._sweep = self.api.sweep(self.path)
        else:
            self._sweep.refresh()
        sweep = self._sweep
        metric = self._metric or sweep.metric
        goal = self._goal or sweep.goal or "minimize"
        # One request on a liberry server (its Arrow bulk export), pages elsewhere.
        columns = sweep.runs.to_columns(progress=False)
        axes = axes_from_config(sweep.config)
        table = build_table(columns, axes, metric)
        notice = _notice(sweep.path_str, sweep.state, table, metric)
        data = pack(table, metric=metric, goal=goal, version=self._version)
        changed = data != self._data
        if changed:
            self._version += 1
            data = pack(table, metric=metric, goal=goal, version=self._version)
        fresh_importance = changed or self._table is None
        info = {
            "path": sweep.path_str,
            "name": sweep.name,
            "state": sweep.state,
            "method": sweep.method,
            "metric": metric,
            "goal": goal,
            "url": sweep.url,
            "runs": len(table),
            "expected_runs": sweep.expected_run_count,
        }
        self._table = table
        with self.hold_sync():  # one message to the views
            self.error = ""
            self.notice = notice
            if info != self.info:
                self.info = info
            if fresh_importance:
                # In ipykernel the forest grows on a thread (some 200 ms for 10,000 runs), so
                # the runs reach the view and are drawn meanwhile (it says "computing");
                # elsewhere (marimo, scripts) traits are set on the caller's thread, inline.
                self.importance = [] if self._threaded else self._importance(table)
            if changed:
                self._data = data
            self._keep_selection(table)
        if fresh_importance and self._threaded:
            threading.Thread(
                target=self._importance_later, args=(table,), name="liberry-importance",
                daemon=True,
            ).start()  # fmt: skip

    def _importance_later(self, table: SweepTable) -> None:
        found = self._importance(table)
        if self._table is table:  # not superseded by a newer load
            self.importance = found

    def _keep_selection(self, table: SweepTable) -> None:
        """Drop selected ids that are no longer runs of the sweep (a deleted run)."""
        known = set(table.ids)
        kept = [i for i in self.selected if i in known]
        if kept != list(self.selected):
            self.selected = kept

    @staticmethod
    def _importance(table: SweepTable, rows: np.ndarray | None = None) -> list[dict[str, Any]]:
        if not table.axes or table.logged == 0:
            return []
        metric = table.metric if rows is None else table.metric[rows]
        return [imp.as_dict() for imp in compute_importance(table.features(rows), metric)]

    # -- requests from the view ----------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "importance": self._handle_importance,
            "refresh": self._handle_refresh,
            "open": self._handle_open,
        }

    def _handle_importance(self, params: dict[str, Any]) -> dict[str, Any]:
        """Importance for the runs a bitmask picks (bit i, little-endian, is row i of the
        data whose `data_version` the view names)."""
        table = self._table
        if table is None:
            raise RpcError("the sweep is not loaded")
        if params.get("version") != self._version:
            raise RpcError("the sweep's runs changed; asking again")
        rows = _mask(params.get("mask"), len(table))
        started = time.perf_counter()
        found = self._importance(table, rows)
        return {
            "importance": found,
            "count": int(rows.sum()),
            "version": self._version,
            "kernel_ms": round((time.perf_counter() - started) * 1e3, 1),
        }

    def _handle_refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        """Reload (the button, or the view's timer while the sweep runs); the runs arrive in
        the `_data` trait, this reply only says whether they changed."""
        before = self._version
        quiet = bool(params.get("auto"))
        if not (quiet and time.monotonic() - self._loaded_at < MIN_REFRESH_S):
            self._load()
        if self.error:
            raise RpcError(self.error)
        return {"changed": self._version != before, "runs": len(self._table or ())}

    def _handle_open(self, params: dict[str, Any]) -> dict[str, Any]:
        """A double-clicked run: the `opened` trait, `on_open` callbacks, and its path for
        the view to show."""
        run_id = params.get("id")
        table = self._table
        if not isinstance(run_id, str) or table is None or run_id not in table.ids:
            raise RpcError(f"no run {run_id!r} in this sweep")
        assert self._sweep is not None
        self.opened = run_id
        run = self.opened_run
        assert run is not None
        for callback in list(self._open_callbacks):
            callback(run)
        entity, project = self._sweep.entity, self._sweep.project
        return {
            "path": f"{entity}/{project}/{run_id}",
            "url": f"{self.api.app_url}/{entity}/{project}/runs/{run_id}",
        }

    # -- display -------------------------------------------------------------------------------

    def _fallback_html(self) -> str:
        """A one-line summary: the sweep, its runs, the best one."""
        if self.error:
            return f"<p><b>liberry sweep</b>: {html.escape(self.error)}</p>"
        info, table = self.info, self._table
        text = (
            f"<p><b>{html.escape(str(info.get('name')))}</b> ({html.escape(self.path)}): "
            f"{len(table or ())} runs, {html.escape(str(info.get('state')))}"
        )
        if table is not None and table.logged:
            values = table.metric
            best = np.nanargmax(values) if info.get("goal") == "maximize" else np.nanargmin(values)
            text += (
                f"; best {html.escape(str(info.get('metric')))} {values[best]:.4g} "
                f"({html.escape(table.names[best])})"
            )
        return text + " (run the notebook for the interactive explorer)</p>"


def _notice(path: str, state: str | None, table: SweepTable, metric: str | None) -> str:
    if not table.axes:
        return f"Sweep {path} sweeps no parameters (its config has no `parameters` to explore)."
    if len(table) == 0:
        where = f" (it is {state.lower()})" if state else ""
        return f"Sweep {path} has no runs yet{where}: runs appear here as agents start them."
    if metric is None:
        return (
            f"Sweep {path} names no metric in its config: pass one, e.g. "
            "liberry.widgets.Sweep(path, metric='val_loss')."
        )
    if table.logged == 0:
        plural = "s" if len(table) != 1 else ""
        return (
            f"None of the {len(table)} run{plural} of sweep {path} has logged the metric "
            f"{metric!r} yet; lines are drawn without it."
        )
    return ""


def _mask(value: Any, n: int) -> np.ndarray:
    """A base64 bitmask (bit i of byte i // 8, least significant first) as n booleans."""
    if not isinstance(value, str):
        raise RpcError("importance needs a selection mask")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        raise RpcError("the selection mask is not base64") from None
    if len(raw) * 8 < n:
        raise RpcError(f"the selection mask has {len(raw) * 8} bits for {n} runs")
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), bitorder="little")
    return bits[:n].astype(bool)
