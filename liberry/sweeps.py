"""Sweeps: one `Sweep` (a hyperparameter search and its runs) and a project's `Sweeps`.

Query budget, as in `runs.py`: `Api.sweep` costs one request; `Sweep.runs` is a `Runs`
listing (one request per page, nothing until iterated); `best_run()` is one request for one
run, with its config and summary; listing `Sweeps` is one request per page and its sweeps
need nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import yaml

from . import queries
from ._repr import html_table, short
from .errors import FilterError, NotFoundError, UsageError
from .filters import validate_order
from .paging import Page, Paginator
from .paths import SweepPath
from .resource import ProjectResource
from .runs import Runs, cached_runs, flatten
from .session import Session, SessionOwner, session_of

if TYPE_CHECKING:
    from .run import Run

__all__ = ["SWEEP_RUNS_ORDER", "Sweep", "SweepRuns", "Sweeps", "load_sweep"]

#: The order of `Sweep.runs`: oldest first, as `wandb.Api`'s `Sweep.runs`.
SWEEP_RUNS_ORDER = "+created_at"


def _not_found_project(session: Session, entity: str, project: str) -> NotFoundError:
    return NotFoundError(
        f"project {entity}/{project} not found at {session.client.where}; check the entity and "
        f"project (api.projects({entity!r}) lists them)"
    )


def _parse_config(text: Any) -> dict[str, Any]:
    """The sweep config: W&B stores the YAML text the client sent (JSON is valid YAML)."""
    if isinstance(text, dict):
        return text
    if not text:
        return {}
    parsed = yaml.safe_load(text)
    return parsed if isinstance(parsed, dict) else {}


def _order(order: str) -> str:
    """An explicit `best_run` order: `Api.runs`' form, or `wandb.Api`'s shorthand of a bare
    metric name (`"-accuracy"` for `"-summary_metrics.accuracy"`), so ported code works."""
    try:
        return str(validate_order(order))
    except FilterError:
        sign, key = (order[0], order[1:]) if order[:1] in ("+", "-") else ("-", order)
        if not key or "." in key:
            raise
        return str(validate_order(f"{sign}summary_metrics.{key}"))


class SweepRuns(Runs):
    """A sweep's runs, oldest first: lazily paged like `Api.runs`, with the same exports.

    Iterate it, index it, `len()` it, `to_pandas()` it; or call it for another view of the
    same runs: `sweep.runs(order="-summary_metrics.acc", filters={"state": "finished"})`.
    """

    def __init__(
        self, session: Session | SessionOwner, sweep: SweepPath, per_page: int = 50
    ) -> None:
        only = {"sweep": sweep.sweep_id}
        super().__init__(session, sweep.entity, sweep.project, only, SWEEP_RUNS_ORDER, per_page)
        self.sweep = sweep

    def __call__(
        self,
        filters: Mapping[str, Any] | None = None,
        order: str = SWEEP_RUNS_ORDER,
        per_page: int = 50,
        limit: int | None = None,
    ) -> Runs:
        """The sweep's runs that also match `filters`, in `order`; see `Api.runs`."""
        only = {"sweep": self.sweep.sweep_id}
        combined = {"$and": [only, dict(filters)]} if filters else only
        return cached_runs(
            self._session, self.entity, self.project, combined, order, per_page, limit
        )

    def __repr__(self) -> str:
        count = ""
        if self._total is not None:
            count = f" ({self._total:,} run{'s' if self._total != 1 else ''})"
        return f"<Runs of sweep {self.sweep}{count}>"


class Sweep(ProjectResource):
    """A W&B sweep: its config, state, progress and runs.

    `id` is the sweep id users type (the last part of `entity/project/abc123`); `name` is the
    display name, else the config's `name`, else the id, as in `wandb.Api`. `runs` lists the
    sweep's runs; `best_run()` finds the best of them by the config's metric. Attributes are
    fetched with one request on first use (`Api.sweep` fetches them at once).
    """

    URL_SEGMENT = "sweeps"

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        sweep_id: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._session = session_of(session)
        self.entity = entity
        self.project = project
        self.id = sweep_id
        self._attrs: dict[str, Any] = dict(attrs or {})
        self._config: dict[str, Any] | None = None
        self._runs: SweepRuns | None = None

    # -- loading -------------------------------------------------------------------------------

    @property
    def _loaded(self) -> bool:
        return "name" in self._attrs

    def load(self, force: bool = False) -> Sweep:
        """Fetch every attribute (one request); with `force`, even when already fetched."""
        if self._loaded and not force:
            return self
        data = self._session.client.execute(
            queries.GET_SWEEP, {"entity": self.entity, "project": self.project, "name": self.id}
        )
        if data.get("project") is None:
            raise _not_found_project(self._session, self.entity, self.project)
        node = data["project"].get("sweep")
        if node is None:
            raise NotFoundError(
                f"sweep {self.path_str} not found at {self._session.client.where}; check the "
                f"sweep id (api.sweeps({self.entity + '/' + self.project!r}) lists the "
                "project's sweeps)"
            )
        self._attrs = dict(node)
        self._config = None
        return self

    def refresh(self) -> Sweep:
        """Fetch the sweep again: its state, run count and best loss change as it runs.

        `runs` is fetched afresh on its next use too.
        """
        self._runs = None
        return self.load(force=True)

    def _get(self, key: str) -> Any:
        if key not in self._attrs and not self._loaded:
            self.load()
        return self._attrs.get(key)

    # -- identity ------------------------------------------------------------------------------

    @property
    def sweep_path(self) -> SweepPath:
        return SweepPath(self.entity, self.project, self.id)

    # -- attributes ----------------------------------------------------------------------------

    @property
    def config(self) -> dict[str, Any]:
        """The sweep configuration (method, metric, parameters, ...) as a dict."""
        if self._config is None:
            self._config = _parse_config(self._get("config"))
        return self._config

    @property
    def name(self) -> str:
        """The display name, else the config's `name`, else the id (as `wandb.Api`)."""
        name = self._get("displayName") or self.config.get("name")
        return str(name) if name else self.id

    @property
    def state(self) -> str | None:
        """`RUNNING`, `PAUSED`, `CANCELED` or `FINISHED` (W&B also reports `PENDING`)."""
        state: str | None = self._get("state")
        return state

    @property
    def method(self) -> str | None:
        """`grid`, `random` or `bayes` (from the config when the server does not say)."""
        method = self._get("method") or self.config.get("method")
        return str(method) if method else None

    @property
    def description(self) -> str | None:
        description: str | None = self._get("description")
        return description

    @property
    def metric(self) -> str | None:
        """The name of the metric the sweep optimizes (`metric.name` in its config)."""
        spec = self.config.get("metric")
        name = spec.get("name") if isinstance(spec, dict) else None
        return str(name) if name else None

    @property
    def goal(self) -> str | None:
        """`minimize` or `maximize` (W&B's default is `minimize`); None without a metric."""
        if self.metric is None:
            return None
        goal = self.config["metric"].get("goal") or "minimize"
        return str(goal).lower()

    @property
    def best_loss(self) -> float | None:
        """The best value of the metric so far, as the server reports it."""
        value = self._get("bestLoss")
        return float(value) if value is not None else None

    @property
    def run_count(self) -> int:
        """How many runs the sweep has (as of the last fetch)."""
        return int(self._get("runCount") or 0)

    @property
    def expected_run_count(self) -> int | None:
        """How many runs the sweep will make (a grid's size, or `run_cap`); None when it has
        no end."""
        value = self._get("runCountExpected")
        return int(value) if value is not None else None

    @property
    def created_at(self) -> str | None:
        """ISO-8601 UTC text, as W&B sends it."""
        created: str | None = self._get("createdAt")
        return created

    @property
    def updated_at(self) -> str | None:
        updated: str | None = self._get("updatedAt")
        return updated

    # -- runs ----------------------------------------------------------------------------------

    @property
    def runs(self) -> SweepRuns:
        """The sweep's runs, oldest first, lazily paged (nothing is sent until used).

        Call it for another order or a narrower set: `sweep.runs(order="-summary_metrics.acc")`.
        """
        if self._runs is None:
            self._runs = SweepRuns(self._session, self.sweep_path)
        return self._runs

    def best_run(self, order: str | None = None) -> Run | None:
        """The sweep's best run, with its config and summary (one request); None when no run
        has the metric.

        By default the best by the config's metric and goal (`+summary_metrics.<metric>` when
        minimizing). `order` overrides it, in `Api.runs`' form (`"-summary_metrics.acc"`) or
        `wandb.Api`'s shorthand (`"-acc"`). Runs that never logged the key ordered by are left
        out: servers differ on where they sort them, and they cannot be the best.
        """
        if order is None:
            if self.metric is None:
                raise UsageError(
                    f"sweep {self.path_str} has no metric in its config, so there is no best "
                    "run by default; pass an order, e.g. "
                    "best_run(order='-summary_metrics.accuracy')"
                )
            sign = "-" if self.goal == "maximize" else "+"
            order = _order(f"{sign}summary_metrics.{self.metric}")
        else:
            order = _order(order)
        key = order.lstrip("+-")
        filters: dict[str, Any] = {"sweep": self.id}
        if key.startswith(("config.", "summary_metrics.", "summaryMetrics.")):
            filters = {"$and": [filters, {key: {"$exists": True}}]}
        runs = Runs(self._session, self.entity, self.project, filters, order, per_page=1, limit=1)
        # `page` asks for the run table's fields without a count: the one run, complete.
        found = runs.page(0, 1, count=False)
        return found[0] if found else None

    # -- display -------------------------------------------------------------------------------

    def _safe_name(self) -> str | None:
        """The name for `repr`, without a request, None when it is just the id."""
        try:
            name = self._attrs.get("displayName") or _parse_config(self._attrs.get("config")).get(
                "name"
            )
        except yaml.YAMLError:
            name = self._attrs.get("displayName")
        return str(name) if name and str(name) != self.id else None

    def __repr__(self) -> str:
        parts = [f"<Sweep {self.path_str}"]
        if name := self._safe_name():
            parts.append(json.dumps(name, ensure_ascii=False))
        details = [str(self._attrs[k]) for k in ("state", "method") if self._attrs.get(k)]
        if self._attrs.get("runCount") is not None:
            n = int(self._attrs["runCount"])
            details.append(f"{n:,} run{'s' if n != 1 else ''}")
        if details:
            parts.append(f"({', '.join(details)})")
        return " ".join(parts) + ">"

    def _repr_html_(self) -> str:
        expected = self.expected_run_count
        rows: list[tuple[str, Any]] = [
            ("path", self.path_str),
            ("name", self.name),
            ("state", self.state),
            ("method", self.method),
            ("metric", f"{self.goal} {self.metric}" if self.metric else None),
            ("best_loss", self.best_loss),
            ("runs", f"{self.run_count} of {expected}" if expected else self.run_count),
            ("created_at", self.created_at),
            ("updated_at", self.updated_at),
            ("url", self.url),
        ]
        parameters = self.config.get("parameters")
        if isinstance(parameters, dict):
            rows += list(flatten("parameters", parameters).items())
        return html_table(("field", "value"), rows, caption=short(repr(self), 120))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sweep) and other.path == self.path

    def __hash__(self) -> int:
        return hash(tuple(self.path))


class Sweeps(Paginator[Sweep]):
    """The sweeps of one project, lazily paged; `len()` is the server's count."""

    def __init__(
        self, session: Session | SessionOwner, entity: str, project: str, per_page: int = 50
    ) -> None:
        super().__init__(per_page)
        self._session = session_of(session)
        self.entity = entity
        self.project = project

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}"

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Sweep]:
        data = self._session.client.execute(
            queries.GET_SWEEPS,
            {
                "entity": self.entity,
                "project": self.project,
                "cursor": cursor,
                "perPage": first,
                "withCount": with_count,
            },
        )
        project = data.get("project")
        if project is None:
            raise _not_found_project(self._session, self.entity, self.project)
        # The listing selects every field `Sweep` shows: its sweeps need no request of their own.
        return Page.of(
            project.get("sweeps"),
            lambda n: Sweep(self._session, self.entity, self.project, n["name"], n),
            project.get("totalSweeps"),
        )

    def __repr__(self) -> str:
        count = ""
        if self._total is not None:
            count = f" ({self._total:,} sweep{'s' if self._total != 1 else ''})"
        return f"<Sweeps {self.path}{count}>"

    def _repr_html_(self) -> str:
        shown = self[:50]
        rows = [
            (s.id, s.name, s.state, s.method, s.run_count, s.best_loss, s.created_at) for s in shown
        ]
        return html_table(
            ("id", "name", "state", "method", "runs", "best_loss", "created_at"),
            rows,
            caption=f"sweeps of {self.path}",
            footer=f"{len(shown)} of {len(self):,} sweeps",
        )


def load_sweep(session: Session, path: SweepPath) -> Sweep:
    """The sweep at `path`, fetched now (one request; `NotFoundError` when it does not exist)
    and kept in the session's cache until `Api.flush()`."""
    key = ("sweep", *path)
    cached = session.cache.get(key)
    if not isinstance(cached, Sweep):
        cached = session.cache[key] = Sweep(session, *path).load()
    return cached
