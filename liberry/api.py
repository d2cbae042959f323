"""`Api`: the entry point, shaped like `wandb.Api`, for a liberry or W&B server."""

from __future__ import annotations

import netrc
import os
import secrets
import string
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from . import queries
from ._version import __version__
from .errors import NotFoundError, UnknownFieldError, UsageError
from .operation import Operation
from .paths import parse_project_path, parse_run_path, parse_sweep_path
from .projects import Project, Projects
from .run import Run, create_run, load_run
from .runs import Runs, cached_runs, flatten
from .session import Links, Session
from .sweeps import Sweep, Sweeps, load_sweep
from .transport import Transport

if TYPE_CHECKING:
    from .artifacts import (
        Artifact,
        ArtifactCollections,
        ArtifactType,
        ArtifactTypes,
        ArtifactVersions,
    )
    from .reports import Report, Reports
    from .tensorboard import SyncResult

__all__ = ["DEFAULT_BASE_URL", "Api", "netrc_api_key", "resolve_api_key", "resolve_base_url"]

DEFAULT_BASE_URL = "https://api.wandb.ai"
_RUN_ID_ALPHABET = string.ascii_lowercase + string.digits
#: How a run reaches its sweep and an artifact its run: the loaders `Api.run` and `Api.sweep`
#: use, so those objects share the cache.
_LINKS = Links(run=load_run, sweep=load_sweep)


def _env(*names: str) -> str | None:
    for name in names:
        if value := os.environ.get(name, "").strip():
            return value
    return None


def resolve_base_url(overrides: Mapping[str, Any]) -> str:
    """`overrides["base_url"]`, else `LIBERRY_BASE_URL`, else `WANDB_BASE_URL`, else W&B cloud."""
    url = str(
        overrides.get("base_url") or _env("LIBERRY_BASE_URL", "WANDB_BASE_URL") or DEFAULT_BASE_URL
    ).strip()
    if not url.startswith(("http://", "https://")) or not urlsplit(url).netloc:
        raise UsageError(
            f"base_url {url!r} must be an http:// or https:// URL, e.g. 'http://127.0.0.1:8080'"
        )
    return url.rstrip("/")


def netrc_api_key(base_url: str) -> str | None:
    """The password stored for the server's host in `$NETRC` or `~/.netrc`, as `wandb login`
    writes it (`machine <host[:port]> login user password <key>`)."""
    path = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    try:
        entries = netrc.netrc(str(path))
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return None
    parts = urlsplit(base_url)
    for machine in dict.fromkeys([parts.netloc, parts.hostname or ""]):
        if machine and (creds := entries.authenticators(machine)) and creds[2]:
            return creds[2]
    return None


def resolve_api_key(base_url: str, overrides: Mapping[str, Any], api_key: str | None) -> str | None:
    """`api_key`, `overrides["api_key"]`, `LIBERRY_API_KEY`, `WANDB_API_KEY`, then `.netrc`."""
    key = (
        api_key
        or overrides.get("api_key")
        or _env("LIBERRY_API_KEY", "WANDB_API_KEY")
        or netrc_api_key(base_url)
    )
    return str(key).strip() if key else None


class Api:
    """Query and update runs on a liberry or W&B server.

    ```python
    api = liberry.Api(overrides={"base_url": "http://127.0.0.1:8080", "entity": "me"})
    df = api.runs("me/mnist", filters={"config.lr": {"$gte": 0.01}}).to_pandas()
    ```

    `overrides` may set `base_url`, `api_key`, and the defaults `entity`, `project` and
    `run` used to complete short paths. The base URL and key otherwise come from
    `LIBERRY_BASE_URL` / `LIBERRY_API_KEY`, then `WANDB_BASE_URL` / `WANDB_API_KEY`, then
    (key only) `~/.netrc`; default entity and project from `LIBERRY_ENTITY` / `WANDB_ENTITY`
    and `LIBERRY_PROJECT` / `WANDB_PROJECT`. Nothing is sent until a method needs it.

    The Api parses paths and hands out resources; their state (transport, defaults, cache)
    is one `Session` (`api.session`) that every returned object shares.
    """

    #: The operation that identifies the API key's user (and its default entity).
    VIEWER_QUERY: ClassVar[Operation] = queries.VIEWER

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        api_key: str | None = None,
        *,
        max_retries: int | None = None,
    ) -> None:
        overrides = dict(overrides or {})
        base_url = resolve_base_url(overrides)
        self.settings: dict[str, Any] = {
            "base_url": base_url,
            "entity": overrides.get("entity") or _env("LIBERRY_ENTITY", "WANDB_ENTITY"),
            "project": overrides.get("project") or _env("LIBERRY_PROJECT", "WANDB_PROJECT"),
            "run": overrides.get("run"),
        }
        #: The API key sent as HTTP Basic `api:<key>` (None: send no credentials).
        self.api_key: str | None = resolve_api_key(base_url, overrides, api_key)
        self.user_agent: str = f"W&B Public Client {__version__} (liberry)"
        #: The transport: `client.execute(operation, variables)` sends GraphQL.
        self.client = Transport(
            base_url,
            self.api_key,
            user_agent=self.user_agent,
            timeout=timeout if timeout is not None else overrides.get("timeout"),
            max_retries=max_retries,
        )
        #: What every returned object holds: the transport, `settings` and the cache.
        self.session = Session(self.client, self.settings, _LINKS)

    @classmethod
    def from_session(cls, session: Session) -> Api:
        """The Api over an existing session (e.g. `run._session`): same server, key, defaults
        and cache; nothing is read from the environment."""
        api = cls.__new__(cls)
        api.session, api.settings, api.client = session, session.settings, session.client
        api.api_key, api.user_agent = session.client.api_key, session.client.user_agent
        return api

    # -- identity ------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self.session.base_url

    @property
    def app_url(self) -> str:
        """Where the web pages of runs live (`https://wandb.ai` for W&B cloud)."""
        return self.session.app_url

    @property
    def viewer(self) -> dict[str, Any]:
        """The user the API key belongs to (`id`, `entity`, `username`, `email`, `teams`)."""
        return self.session.viewer

    @property
    def default_entity(self) -> str | None:
        """The API key user's own entity, as the server reports it (one request, cached)."""
        entity: str | None = self.viewer.get("entity")
        return entity

    def _entity(self) -> str | None:
        # Paths without an entity use overrides/env first, the viewer's entity last.
        return self.session.default_entity()

    # -- projects ------------------------------------------------------------------------------

    def projects(self, entity: str | None = None, per_page: int = 200) -> Projects:
        """The projects of `entity` (default: the default entity), lazily paged."""
        entity = entity or self._entity()
        if not entity:
            raise UsageError(
                "no entity: pass api.projects('my-entity') or set a default with "
                "Api(overrides={'entity': ...}) or LIBERRY_ENTITY"
            )
        return Projects(self.session, entity, per_page)

    def project(self, name: str, entity: str | None = None) -> Project:
        """A project by name (no request; it is not checked to exist)."""
        path = parse_project_path(name if entity is None else f"{entity}/{name}",
                                  entity=self._entity, project=None)  # fmt: skip
        return Project(self.session, path.entity, path.project)

    def create_project(
        self, name: str, entity: str | None = None, description: str | None = None
    ) -> Project:
        """Create a project (or return the existing one of that name)."""
        path = parse_project_path(name if entity is None else f"{entity}/{name}",
                                  entity=self._entity, project=None)  # fmt: skip
        data = self.client.execute(
            queries.CREATE_PROJECT,
            {"entity": path.entity, "name": path.project, "description": description},
        )
        node = (data.get("upsertModel") or {}).get("project") or {}
        entity_name = node.get("entityName") or path.entity
        return Project(self.session, entity_name, node.get("name") or name, node)

    # -- runs ----------------------------------------------------------------------------------

    def runs(
        self,
        path: str = "",
        filters: Mapping[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        limit: int | None = None,
    ) -> Runs:
        """The runs of project `path` (`entity/project` or `project`) matching `filters`.

        `filters` is a MongoDB-style query on `config.<key>`, `summary_metrics.<key>` and run
        attributes (`state`, `tags`, `createdAt`, ...) with `$and $or $nor $not` and
        `$eq $ne $gt $gte $lt $lte $in $nin $exists $regex $options` (`$all` for tags); it is
        checked here, before sending, and a `FilterError` names the bad part. `order` is
        `+`/`-` and `created_at`, `heartbeat_at`, `config.<key>` or `summary_metrics.<key>`.
        `per_page` is the size of the first request; iterating further doubles it per
        request, up to 1000 runs.
        `limit` caps the number of runs. The result is cached per (path, filters, order,
        per_page, limit) until `flush()`.
        """
        project = parse_project_path(path, entity=self._entity, project=self.settings["project"])
        return cached_runs(
            self.session, project.entity, project.project, filters, order, per_page, limit
        )

    def run(self, path: str = "") -> Run:
        """One run: `entity/project/run_id`, `project/run_id` or `run_id` (with defaults).

        Fetched now (one request), so a wrong path raises `NotFoundError` here. Cached until
        `flush()`.
        """
        rp = parse_run_path(
            path, entity=self._entity, project=self.settings["project"], run=self.settings["run"]
        )
        return load_run(self.session, rp)

    def create_run(
        self,
        *,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
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
        """Create a run (one request) and return it.

        `run_id` defaults to a random 8-character id; `project` and `entity` to the
        defaults. As with W&B's upsert, an existing `run_id` is updated rather than duplicated.
        """
        path = parse_project_path(project or "", entity=entity or self._entity,
                                  project=self.settings["project"])  # fmt: skip
        run_id = run_id or "".join(secrets.choice(_RUN_ID_ALPHABET) for _ in range(8))
        return create_run(
            self.session, path.entity, path.project, run_id, display_name=display_name,
            config=config, summary=summary, tags=tags, notes=notes, group=group,
            job_type=job_type, state=state, sweep=sweep,
        )  # fmt: skip

    def run_keys(self, path: str = "") -> tuple[list[str], list[str]]:
        """(config keys, summary keys) used by any run of project `path`, for column pickers.

        One request on liberry (`project.runKeys`); other servers lack that field, so the keys
        are collected from every run's config and summary instead (one request per 1000
        runs). Nested keys are dotted (`optimizer.lr`), as in `Runs.to_pandas` columns.
        """
        project = parse_project_path(path, entity=self._entity, project=self.settings["project"])
        try:
            data = self.client.execute(
                queries.RUN_KEYS, {"entity": project.entity, "project": project.project}
            )
        except UnknownFieldError:
            return self._run_keys_by_scan(project.entity, project.project)
        if data.get("project") is None:
            raise NotFoundError(
                f"project {project} not found at {self.client.where}; check the entity and project"
            )
        keys = data["project"].get("runKeys") or {}
        return list(keys.get("config") or []), list(keys.get("summary") or [])

    def _run_keys_by_scan(self, entity: str, project: str) -> tuple[list[str], list[str]]:
        # The same answer as liberry's runKeys: dotted keys, without W&B's `_wandb`.
        config: set[str] = set()
        summary: set[str] = set()
        runs = Runs(self.session, entity, project, order="-created_at", per_page=1000)
        for page in runs._export_pages(progress=None):
            for run in page:
                raw = run._config_raw or {}
                values = {k: v["value"] if isinstance(v, dict) and "value" in v else v
                          for k, v in raw.items() if not k.startswith("_wandb")}  # fmt: skip
                config.update(flatten("", values))
                metrics = {k: v for k, v in (run._summary or {}).items() if k != "_wandb"}
                summary.update(flatten("", metrics))
        return sorted(k[1:] for k in config), sorted(k[1:] for k in summary)

    # -- sweeps --------------------------------------------------------------------------------

    def sweep(self, path: str = "") -> Sweep:
        """One sweep: `entity/project/sweep_id`, `project/sweep_id` or `sweep_id` (with
        defaults), or its web page's URL (`https://host/entity/project/sweeps/sweep_id`).

        Fetched now (one request), so a wrong path raises `NotFoundError` here. Its runs
        (`sweep.runs`) are fetched only when used. Cached until `flush()`.
        """
        sp = parse_sweep_path(path, entity=self._entity, project=self.settings["project"])
        return load_sweep(self.session, sp)

    def sweeps(self, path: str = "", per_page: int = 50) -> Sweeps:
        """The sweeps of project `path` (`entity/project` or `project`), lazily paged.

        `len()` is the project's sweep count; each sweep comes with every attribute, so
        reading them sends nothing more.
        """
        project = parse_project_path(path, entity=self._entity, project=self.settings["project"])
        return Sweeps(self.session, project.entity, project.project, per_page)

    # -- reports (issue #18) --------------------------------------------------------------------

    def reports(self, path: str = "", name: str | None = None, per_page: int = 50) -> Reports:
        """The reports of project `path` (`entity/project` or `project`), newest first,
        lazily paged; with `name`, only the report of that name (an empty list when there is
        none, as `wandb.Api().reports`). Each comes with its spec: reading one sends nothing.
        """
        from .reports import Reports

        project = parse_project_path(path, entity=self._entity, project=self.settings["project"])
        return Reports(self.session, project.entity, project.project, name=name, per_page=per_page)

    def report(self, ref: str) -> Report:
        """One report: its URL (`Report.url`, `wandb_workspaces`' `report.url`), or
        `entity/project/name`. One request; `NotFoundError` when it does not exist."""
        from .reports import get_report

        return get_report(self.session, ref)

    # -- TensorBoard (issue #18) ---------------------------------------------------------------

    def sync_tensorboard(
        self,
        root_dir: str | Path,
        run_id: str | None = None,
        project: str | None = None,
        entity: str | None = None,
        *,
        progress: bool = True,
    ) -> list[SyncResult]:
        """Create or extend one run per TensorBoard log directory under `root_dir`: scalars
        as history (step = TensorBoard step, keys = tags), histograms as W&B histograms,
        hparams and text as config. Idempotent; a re-sync appends only new steps. Needs
        `pip install 'liberry-widgets[tensorboard]'`. See `liberry.tensorboard`."""
        from .tensorboard import sync_tensorboard

        return sync_tensorboard(self.session, root_dir, run_id, project, entity, progress=progress)

    # -- cache ---------------------------------------------------------------------------------

    # -- artifacts (issue #14) ------------------------------------------------------------------

    def artifact(self, name: str, type: str | None = None) -> Artifact:
        """One artifact version: `entity/project/name:alias`, `project/name:vN` or
        `name[:alias]` (default entity/project; `latest` when no alias). `type`, when given,
        must match. One request; `NotFoundError` names what is missing."""
        from .artifacts import get_artifact

        path = parse_run_path(name, entity=self._entity, project=self.settings["project"])
        return get_artifact(self.session, path.entity, path.project, path.run_id, type)

    def artifact_type(self, type_name: str, project: str | None = None) -> ArtifactType:
        """An artifact type of `project` (`entity/project` or `project`)."""
        from .artifacts import ArtifactType
        from .queries import artifacts as q

        p = parse_project_path(project or "", entity=self._entity,
                               project=self.settings["project"])  # fmt: skip
        data = self.client.execute(
            q.ARTIFACT_TYPE, {"entity": p.entity, "project": p.project, "type": type_name}
        )
        node = (data.get("project") or {}).get("artifactType")
        if node is None:
            raise NotFoundError(f"no artifact type {type_name!r} in {p.entity}/{p.project}")
        return ArtifactType(self.session, p.entity, p.project, node)

    def artifact_types(self, project: str | None = None, per_page: int = 50) -> ArtifactTypes:
        """The artifact types of `project`, lazily paged."""
        from .artifacts import ArtifactTypes

        p = parse_project_path(project or "", entity=self._entity,
                               project=self.settings["project"])  # fmt: skip
        return ArtifactTypes(self.session, p.entity, p.project, per_page)

    def artifact_collections(
        self, project_name: str, type_name: str, per_page: int = 50
    ) -> ArtifactCollections:
        """The artifacts (collections) of one type in a project, lazily paged."""
        from .artifacts import ArtifactCollections

        p = parse_project_path(project_name, entity=self._entity,
                               project=self.settings["project"])  # fmt: skip
        return ArtifactCollections(self.session, p.entity, p.project, type_name, per_page)

    def artifact_versions(
        self, type_name: str, name: str, per_page: int = 50
    ) -> ArtifactVersions:
        """The committed versions of `entity/project/name`, newest first, lazily paged."""
        from .artifacts import ArtifactVersions

        path = parse_run_path(name, entity=self._entity, project=self.settings["project"])
        if ":" in path.run_id:
            raise UsageError(
                f"artifact_versions wants a name without a version or alias, got {name!r}"
            )
        return ArtifactVersions(
            self.session, path.entity, path.project, type_name, path.run_id, per_page
        )

    artifacts = artifact_versions

    def flush(self) -> None:
        """Forget cached `Runs`, `Run` and `Sweep` objects, so the next call fetches fresh
        data."""
        self.session.cache.clear()

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        entity = f" entity={self.settings['entity']}" if self.settings["entity"] else ""
        return f"<liberry.Api {self.base_url}{entity}>"
