"""Runs: a single `Run`, and `Runs`, the lazily paged, filtered collection with table exports.

Query budget, the point of this module: iterating `Runs` costs one request per page (`per_page`
runs, then twice as many per request up to 1000) and asks only for what `repr` shows; reading
any other attribute, `config` or `summary` of a run that came from iteration costs one request
for its whole page, never one per run; `to_pandas`/`to_arrow` cost one request per 1000 runs.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import bulk_export, queries
from ._repr import html_table, short
from .errors import NotFoundError
from .filters import validate_filters, validate_order
from .paths import RunPath
from .queries import Operation
from .resource import ProjectResource
from .run_frame import RunColumns
from .run_frame import loads_object as _loads_object
from .transport import Page, Paginator

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from .api import Api
    from .artifacts import RunArtifacts
    from .files import File, Files
    from .lineage import Lineage
    from .sweeps import Sweep

__all__ = [
    "EXPORT_PAGE_SIZE",
    "Run",
    "Runs",
    "flatten",
    "json_dumps",
    "unwrap_config",
    "wrap_config",
]

#: Runs per request for exports: large pages, since an export wants every run anyway.
EXPORT_PAGE_SIZE = 1000
# Largest `first` a cursor jump asks for: servers cap page sizes (liberry at 10,000).
MAX_SKIP = 5_000
#: Exports of more runs than this show a progress bar (unless `progress=False`).
_PROGRESS_THRESHOLD = 5000


# -- JSON helpers ------------------------------------------------------------------------------


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored as JSON")


def json_dumps(value: Any) -> str:
    """JSON text for config/summary values; numpy values and datetimes are converted."""
    return json.dumps(value, default=_default, separators=(",", ":"), allow_nan=True)


def unwrap_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """W&B stores config as `{"lr": {"value": 0.1}}`; users see `{"lr": 0.1}`.

    Internal keys (`_wandb`, ...) are left out, as `wandb.Api` does.
    """
    return {
        k: v["value"] if isinstance(v, dict) and "value" in v else v
        for k, v in raw.items()
        if not k.startswith("_")
    }


def wrap_config(config: Mapping[str, Any], raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inverse of `unwrap_config`, keeping the internal keys of the stored config."""
    wrapped = {k: v for k, v in (raw or {}).items() if k.startswith("_")}
    wrapped.update({k: {"value": v} for k, v in config.items()})
    return wrapped


def flatten(
    prefix: str, value: Mapping[str, Any], out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`{"opt": {"lr": 1}}` → `{"<prefix>.opt.lr": 1}`; W&B media objects (`_type`) stay whole."""
    out = {} if out is None else out
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if isinstance(item, dict) and item and "_type" not in item:
            flatten(name, item, out)
        else:
            out[name] = item
    return out


# -- one run -----------------------------------------------------------------------------------


class Run(ProjectResource):
    """One W&B run: attributes, config, summary, history, files.

    `id` is the run's short id (the last part of its path, `3kz9x1`); `name` is its display
    name, as in `wandb.Api`. Attributes are fetched with one request on first use. Assign to
    `name`, `notes`, `tags`, `group`, `job_type`, `description`, or change `config` /
    `summary` in place, then call `update()` to save.
    """

    URL_SEGMENT = "runs"

    def __init__(
        self,
        api: Api,
        entity: str,
        project: str,
        run_id: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._api = api
        self.entity = entity
        self.project = project
        self.id = run_id
        self._attrs: dict[str, Any] = {}
        self._config_raw: dict[str, Any] | None = None
        self._config: dict[str, Any] | None = None
        self._summary: dict[str, Any] | None = None
        self._full = False
        #: Set by `Runs`: loads config/summary for this run's whole page in one request.
        self._hydrate: Callable[[], None] | None = None
        if attrs:
            self._set_attrs(attrs)

    # -- loading -------------------------------------------------------------------------------

    def _set_attrs(self, attrs: Mapping[str, Any], *, full: bool = False) -> None:
        self._attrs.update(attrs)
        if "config" in attrs:
            self._config_raw = _loads_object(attrs["config"])
            self._config = unwrap_config(self._config_raw)
        if "summaryMetrics" in attrs:
            self._summary = _loads_object(attrs["summaryMetrics"])
        self._full = self._full or full

    def load(self, force: bool = False) -> Run:
        """Fetch every attribute (one request); with `force`, discard unsaved changes."""
        if self._full and not force:
            return self
        data = self._api.client.execute(
            queries.RUN, {"entity": self.entity, "project": self.project, "name": self.id}
        )
        node = (data.get("project") or {}).get("run")
        if data.get("project") is None:
            raise NotFoundError(
                f"project {self.entity}/{self.project} not found at {self._api.client.where}; "
                f"check the entity and project (api.projects({self.entity!r}) lists them)"
            )
        if node is None:
            raise NotFoundError(
                f"run {self.path_str} not found at {self._api.client.where}; check the run id "
                f"(api.runs({self.entity + '/' + self.project!r}) lists the project's runs)"
            )
        self._config = self._summary = None
        self._set_attrs(node, full=True)
        return self

    def _fill(self, attrs: Mapping[str, Any]) -> None:
        """Add attributes from a page query without overwriting unsaved local changes."""
        self._set_attrs({k: v for k, v in attrs.items() if k not in self._attrs})
        if self._config is None and "config" in attrs:
            self._set_attrs({"config": attrs["config"]})
        if self._summary is None and "summaryMetrics" in attrs:
            self._set_attrs({"summaryMetrics": attrs["summaryMetrics"]})

    def _hydrate_page(self) -> None:
        if self._hydrate is not None:
            hydrate, self._hydrate = self._hydrate, None
            hydrate()

    def _get(self, key: str) -> Any:
        if key not in self._attrs and not self._full:
            # A run from a listing: fill in its whole page in one request, then, only for
            # fields no listing has (description, user, ...), fetch this run alone.
            self._hydrate_page()
            if key not in self._attrs:
                self.load()
        return self._attrs.get(key)

    # -- identity ------------------------------------------------------------------------------

    @property
    def run_path(self) -> RunPath:
        return RunPath(self.entity, self.project, self.id)

    # -- attributes ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The display name (W&B's `displayName`; the id when none was set)."""
        return self._get("displayName") or self.id

    @name.setter
    def name(self, value: str) -> None:
        self._attrs["displayName"] = value

    display_name = name

    @property
    def state(self) -> str | None:
        """`running`, `finished`, `failed`, `crashed`, `killed`, ..."""
        state: str | None = self._get("state")
        return state

    @property
    def tags(self) -> list[str]:
        tags = self._get("tags")
        if tags is None:
            tags = self._attrs["tags"] = []
        return list(tags) if not isinstance(tags, list) else tags

    @tags.setter
    def tags(self, value: list[str]) -> None:
        self._attrs["tags"] = list(value)

    @property
    def group(self) -> str | None:
        group: str | None = self._get("group")
        return group

    @group.setter
    def group(self, value: str | None) -> None:
        self._attrs["group"] = value

    @property
    def job_type(self) -> str | None:
        job_type: str | None = self._get("jobType")
        return job_type

    @job_type.setter
    def job_type(self, value: str | None) -> None:
        self._attrs["jobType"] = value

    @property
    def notes(self) -> str | None:
        notes: str | None = self._get("notes")
        return notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._attrs["notes"] = value

    @property
    def description(self) -> str | None:
        description: str | None = self._get("description")
        return description

    @description.setter
    def description(self, value: str | None) -> None:
        self._attrs["description"] = value

    @property
    def sweep_name(self) -> str | None:
        sweep: str | None = self._get("sweepName")
        return sweep

    @property
    def sweep(self) -> Sweep | None:
        """The `Sweep` that made this run (one request, then cached by the Api), or None.

        None too when the sweep was deleted but the run kept.
        """
        if not self.sweep_name:
            return None
        try:
            return self._api.sweep(f"{self.entity}/{self.project}/{self.sweep_name}")
        except NotFoundError:
            return None

    @property
    def created_at(self) -> str | None:
        """ISO-8601 UTC text, as W&B sends it."""
        created: str | None = self._get("createdAt")
        return created

    @property
    def heartbeat_at(self) -> str | None:
        """When the run last reported, ISO-8601 UTC text."""
        heartbeat: str | None = self._get("heartbeatAt")
        return heartbeat

    @property
    def history_line_count(self) -> int:
        """How many history rows the run has logged."""
        return int(self._get("historyLineCount") or 0)

    @property
    def history_keys(self) -> dict[str, Any]:
        """What the run's history holds, as W&B reports it: `{"lastStep": n, "keys": {name:
        {"typeCounts": [{"type": "number", "count": n}, ...]}}}`."""
        keys = self._get("historyKeys")
        if isinstance(keys, str):  # some servers send it as JSON text
            keys = _loads_object(keys)
        return keys if isinstance(keys, dict) else {"lastStep": -1, "keys": {}}

    @property
    def user(self) -> dict[str, Any] | None:
        user: dict[str, Any] | None = self._get("user")
        return user

    def _ensure_config_summary(self) -> None:
        if self._config is not None and self._summary is not None:
            return
        self._hydrate_page()
        if self._config is None or self._summary is None:
            self.load(force=True) if self._full else self.load()

    @property
    def config(self) -> dict[str, Any]:
        """Hyperparameters, unwrapped from W&B's `{"value": ...}` (mutable; see `update`)."""
        self._ensure_config_summary()
        assert self._config is not None
        return self._config

    @config.setter
    def config(self, value: Mapping[str, Any]) -> None:
        self._ensure_config_summary()
        self._config = dict(value)

    @property
    def summary(self) -> dict[str, Any]:
        """Final (or latest) metrics, including `_step`, `_runtime`, `_timestamp`."""
        self._ensure_config_summary()
        assert self._summary is not None
        return self._summary

    @summary.setter
    def summary(self, value: Mapping[str, Any]) -> None:
        self._ensure_config_summary()
        self._summary = dict(value)

    # -- changes -------------------------------------------------------------------------------

    def update(self) -> Run:
        """Save display name, notes, description, tags, group, job type, config and summary.

        Config and summary are sent only when they differ from what was loaded.
        """
        variables: dict[str, Any] = {
            "id": self.storage_id,
            "displayName": self._attrs.get("displayName"),
            "notes": self._attrs.get("notes"),
            "description": self._attrs.get("description"),
            "tags": self._attrs.get("tags"),
            "groupName": self._attrs.get("group"),
            "jobType": self._attrs.get("jobType"),
        }
        # Only what changed since loading (`_attrs` keeps the loaded JSON text): renaming a
        # running run must not write back a summary it is still updating.
        loaded_config = unwrap_config(_loads_object(self._attrs.get("config")))
        if self._config is not None and self._config != loaded_config:
            variables["config"] = json_dumps(wrap_config(self._config, self._config_raw))
        loaded_summary = _loads_object(self._attrs.get("summaryMetrics"))
        if self._summary is not None and self._summary != loaded_summary:
            variables["summaryMetrics"] = json_dumps(self._summary)
        data = self._api.client.execute(
            queries.UPDATE_RUN, {k: v for k, v in variables.items() if v is not None}
        )
        bucket = (data.get("upsertBucket") or {}).get("bucket")
        if bucket:
            self._config = self._summary = None
            self._set_attrs(bucket, full=True)
        return self

    def delete(self, delete_artifacts: bool = False) -> None:
        """Delete the run on the server (and, optionally, the artifacts it logged)."""
        operation = queries.DELETE_RUN_AND_ARTIFACTS if delete_artifacts else queries.DELETE_RUN
        self._api.client.execute(operation, {"id": self.storage_id})
        self._api._forget_run(self)

    # -- history and files ---------------------------------------------------------------------

    def history(
        self,
        samples: int = 500,
        keys: list[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
    ) -> pd.DataFrame | list[dict[str, Any]]:
        """Up to `samples` history rows, evenly sampled by the server, sorted by `x_axis`.

        With `keys`, each key is sampled on its own and the results are outer-joined on the
        step, so keys logged at different steps all appear (W&B's single-spec query would
        silently drop rows missing any key). Returns a DataFrame, or a list of dicts.
        """
        from .history import sampled_history

        return sampled_history(
            self._api.client, self.run_path, samples=samples, keys=keys, x_axis=x_axis,
            pandas=pandas,
        )  # fmt: skip

    def scan_history(
        self,
        keys: list[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every history row (unsampled) in step order, fetched `page_size` steps at a time.

        With `keys`, rows are projected to `_step` plus those keys, and rows having none of
        them are skipped.
        """
        from .history import scan_history

        return scan_history(
            self._api.client, self.run_path, keys=keys, page_size=page_size,
            min_step=min_step, max_step=max_step,
        )  # fmt: skip

    def files(self, names: list[str] | None = None, per_page: int = 50) -> Files:
        """The run's files (lazily paged); `names` restricts to those names."""
        from .files import Files

        return Files(self._api, self.run_path, names=names, per_page=per_page)

    def file(self, name: str) -> File:
        """One file by name; raises `NotFoundError` when the run has no such file."""
        from .files import get_file

        return get_file(self._api, self.run_path, name)

    def logged_artifacts(self, per_page: int = 50) -> RunArtifacts:
        """The artifact versions this run logged (lazily paged)."""
        from .artifacts import RunArtifacts

        return RunArtifacts(self._api, self.run_path, "output", per_page)

    def used_artifacts(self, per_page: int = 50) -> RunArtifacts:
        """The artifact versions this run used as inputs (lazily paged)."""
        from .artifacts import RunArtifacts

        return RunArtifacts(self._api, self.run_path, "input", per_page)

    def lineage(self, depth: int | None = None, direction: str = "both") -> Lineage:
        """The artifact versions and runs around this run, in one request: `depth` 1 is the
        versions it used and logged, each further step one more run and version out (all
        when None). See `Artifact.lineage`."""
        from .lineage import fetch_lineage

        return fetch_lineage(self._api, self, depth, direction)

    def upload_file(self, path: str | Path, root: str | Path = ".") -> File:
        """Upload a local file; its name in the run is `path` relative to `root`."""
        from .files import upload_file

        return upload_file(self._api, self.run_path, Path(path), Path(root))

    # -- display -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        parts = [f"<Run {self.path_str}"]
        if self._attrs.get("displayName"):
            parts.append(json.dumps(self._attrs["displayName"], ensure_ascii=False))
        if self._attrs.get("state"):
            parts.append(f"({self._attrs['state']})")
        return " ".join(parts) + ">"

    def _repr_html_(self) -> str:
        rows: list[tuple[str, Any]] = [
            ("path", self.path_str),
            ("name", self.name),
            ("state", self.state),
            ("created_at", self.created_at),
            ("tags", ", ".join(self.tags)),
            ("group", self.group),
            ("job_type", self.job_type),
        ]
        summary = {k: v for k, v in self.summary.items() if k != "_wandb"}
        rows += list(flatten("config", self.config).items())
        rows += list(flatten("summary", summary).items())
        return html_table(("field", "value"), rows)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(tuple(self.path))


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
        api: Api,
        entity: str,
        project: str,
        filters: Mapping[str, Any] | None = None,
        order: str | None = "-created_at",
        per_page: int = 50,
        limit: int | None = None,
    ) -> None:
        super().__init__(per_page, limit)
        self.max_page_size = max(per_page, EXPORT_PAGE_SIZE)
        self._api = api
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
        data = self._api.client.execute(operation, variables)
        return _Connection(
            data.get("project"), self.entity, self.project, self._api.client.where
        )

    def _record_cursor(self, offset: int, conn: _Connection) -> None:
        """Remember where the page that ends at `offset + len(nodes)` ends, for `page()`."""
        if conn.nodes and conn.end_cursor is not None:
            self._cursors[offset + len(conn.nodes)] = conn.end_cursor

    def _runs(self, conn: _Connection, cursor: str | None) -> list[Run]:
        """Run objects for a page that started after `cursor`, sharing one page hydrator."""
        runs = [Run(self._api, self.entity, self.project, n["name"], n) for n in conn.nodes]
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
        # Skip ahead in steps no server caps (liberry and W&B limit `first`), remembering
        # each step's cursor so later jumps start closer.
        while base < offset:
            step = min(offset - base, MAX_SKIP)
            data = self._api.client.execute(
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
                _Connection(project, self.entity, self.project, self._api.client.where)
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
        return [Run(self._api, self.entity, self.project, n["name"], n) for n in conn.nodes]

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
        if bulk and bulk_export.supported(self._api):
            columns = bulk_export.fetch_columns(
                self._api,
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
