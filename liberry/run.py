"""`Run`: one W&B run (attributes, config, summary, history, files, artifacts), fetched with one
request on first use; a run that came from a `Runs` listing fills in its whole page at once."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import queries
from ._repr import html_table
from .artifacts import RunArtifacts
from .errors import NotFoundError
from .files import File, Files, get_file, upload_file
from .history import sampled_history, scan_history
from .lineage import Lineage, run_lineage
from .paths import RunPath, SweepPath
from .resource import ProjectResource
from .run_frame import loads_object as _loads_object
from .run_values import flatten, json_dumps, unwrap_config, wrap_config
from .session import Session, SessionOwner, session_of

if TYPE_CHECKING:
    import pandas as pd

    from .sweeps import Sweep

__all__ = ["Run", "create_run", "load_run"]


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
        session: Session | SessionOwner,
        entity: str,
        project: str,
        run_id: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._session = session_of(session)
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
        data = self._session.client.execute(
            queries.RUN, {"entity": self.entity, "project": self.project, "name": self.id}
        )
        node = (data.get("project") or {}).get("run")
        if data.get("project") is None:
            raise NotFoundError(
                f"project {self.entity}/{self.project} not found at {self._session.client.where}; "
                f"check the entity and project (api.projects({self.entity!r}) lists them)"
            )
        if node is None:
            raise NotFoundError(
                f"run {self.path_str} not found at {self._session.client.where}; check the run id "
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
            return self._session.links.sweep(
                self._session, SweepPath(self.entity, self.project, self.sweep_name)
            )
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
        data = self._session.client.execute(
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
        self._session.client.execute(operation, {"id": self.storage_id})
        self._session.forget_run(self.entity, self.project, self.id)

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
        return sampled_history(
            self._session.client, self.run_path, samples=samples, keys=keys, x_axis=x_axis,
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
        return scan_history(
            self._session.client, self.run_path, keys=keys, page_size=page_size,
            min_step=min_step, max_step=max_step,
        )  # fmt: skip

    def files(self, names: list[str] | None = None, per_page: int = 50) -> Files:
        """The run's files (lazily paged); `names` restricts to those names."""
        return Files(self._session, self.run_path, names=names, per_page=per_page)

    def file(self, name: str) -> File:
        """One file by name; raises `NotFoundError` when the run has no such file."""
        return get_file(self._session, self.run_path, name)

    def logged_artifacts(self, per_page: int = 50) -> RunArtifacts:
        """The artifact versions this run logged (lazily paged)."""
        return RunArtifacts(self._session, self.run_path, "output", per_page)

    def used_artifacts(self, per_page: int = 50) -> RunArtifacts:
        """The artifact versions this run used as inputs (lazily paged)."""
        return RunArtifacts(self._session, self.run_path, "input", per_page)

    def lineage(self, depth: int | None = None, direction: str = "both") -> Lineage:
        """The artifact versions and runs around this run, in one request: `depth` 1 is the
        versions it used and logged, each further step one more run and version out (all
        when None). See `Artifact.lineage`."""
        return run_lineage(self._session, self.run_path, depth, direction)

    def upload_file(self, path: str | Path, root: str | Path = ".") -> File:
        """Upload a local file; its name in the run is `path` relative to `root`."""
        return upload_file(self._session, self.run_path, Path(path), Path(root))

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


def load_run(session: Session, path: RunPath, attrs: Mapping[str, Any] | None = None) -> Run:
    """The run at `path`, kept in the session's cache until `Api.flush()`: built from `attrs`
    (every `RunFull` field, read by the caller's own query) or fetched now (one request;
    `NotFoundError` when it does not exist)."""
    key = ("run", *path)
    cached = session.cache.get(key)
    if not isinstance(cached, Run):
        if attrs is None:
            cached = Run(session, *path).load()
        else:
            cached = Run(session, *path)
            cached._set_attrs(attrs, full=True)
        session.cache[key] = cached
    return cached


def create_run(
    session: Session,
    entity: str,
    project: str,
    run_id: str,
    *,
    display_name: str | None = None,
    config: Mapping[str, Any] | None = None,
    summary: Mapping[str, Any] | None = None,
    tags: list[str] | None = None,
    notes: str | None = None,
    group: str | None = None,
    job_type: str | None = None,
    state: str = "running",
    sweep: str | None = None,
) -> Run:
    """Create (or, as W&B's upsert does for an existing id, update) a run: one request. The
    run is cached as `load_run` would."""
    variables = {
        "entity": entity,
        "project": project,
        "name": run_id,
        "displayName": display_name,
        "config": json_dumps(wrap_config(config, None)) if config is not None else None,
        "summaryMetrics": json_dumps(dict(summary)) if summary is not None else None,
        "tags": list(tags) if tags is not None else None,
        "notes": notes,
        "groupName": group,
        "jobType": job_type,
        "state": state,
        "sweep": sweep,
    }
    data = session.client.execute(
        queries.CREATE_RUN, {k: v for k, v in variables.items() if v is not None}
    )
    bucket = (data.get("upsertBucket") or {}).get("bucket") or {}
    where = bucket.get("project") or {}
    run = Run(
        session,
        (where.get("entity") or {}).get("name") or entity,
        where.get("name") or project,
        bucket.get("name") or run_id,
        bucket,
    )
    run._full = True
    session.cache[("run", *run.path)] = run
    return run
