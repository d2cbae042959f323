"""Parsing `entity/project/run_id`-style paths, with defaults for the missing parts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .errors import UsageError

__all__ = [
    "ProjectPath",
    "RunPath",
    "SweepPath",
    "parse_project_path",
    "parse_run_path",
    "parse_sweep_path",
]

#: A default entity, or a function that finds it (the viewer's entity costs a request, so it
#: is looked up only when a path leaves the entity out).
EntityDefault = str | None | Callable[[], str | None]

_URL_RUN = re.compile(r"^https?://[^/]+/(?P<e>[^/]+)/(?P<p>[^/]+)/runs/(?P<r>[^/?#]+)")
_URL_SWEEP = re.compile(
    r"^https?://[^/]+/(?P<e>[^/]+)/(?P<p>[^/]+)/sweeps/(?P<s>[^/?#]+)/?(?:[?#].*)?$"
)


class ProjectPath(NamedTuple):
    entity: str
    project: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}"


class SweepPath(NamedTuple):
    entity: str
    project: str
    sweep_id: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.sweep_id}"


class RunPath(NamedTuple):
    entity: str
    project: str
    run_id: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


def _entity(entity: EntityDefault) -> str | None:
    return entity() if callable(entity) else entity


def _parts(path: str | list[str] | tuple[str, ...]) -> list[str]:
    if isinstance(path, list | tuple):
        return [str(p) for p in path]
    path = path.strip()
    if match := _URL_RUN.match(path):  # a run URL copied from the browser
        return [match["e"], match["p"], match["r"]]
    path = path.strip("/")
    return path.split("/") if path else []


def parse_project_path(
    path: str | list[str] | tuple[str, ...] | None,
    *,
    entity: EntityDefault,
    project: str | None,
) -> ProjectPath:
    """`entity/project`, `project` (default entity) or `""` (both defaults)."""
    parts = _parts(path or "")
    if any(not p for p in parts) or len(parts) > 2:
        raise UsageError(
            f"invalid project path {path!r}: use 'entity/project', or 'project' with a default "
            "entity"
        )
    if len(parts) == 2:
        return ProjectPath(parts[0], parts[1])
    if len(parts) == 1:
        project = parts[0]
    if not project:
        raise UsageError(
            f"no project in path {path!r}: pass 'entity/project', or set a default with "
            "Api(overrides={'project': ...}) or LIBERRY_PROJECT / WANDB_PROJECT"
        )
    entity = _entity(entity)
    if not entity:
        raise UsageError(
            f"no entity for project {project!r}: pass 'entity/project', or set a default with "
            "Api(overrides={'entity': ...}) or LIBERRY_ENTITY / WANDB_ENTITY"
        )
    return ProjectPath(entity, project)


def parse_run_path(
    path: str | list[str] | tuple[str, ...],
    *,
    entity: EntityDefault,
    project: str | None,
    run: str | None = None,
) -> RunPath:
    """`entity/project/run_id`, `project/run_id`, `run_id`, or a run URL.

    `entity/project/runs/run_id` (the URL path) is accepted too.
    """
    parts = _parts(path or "")
    if len(parts) == 4 and parts[2] == "runs":
        parts = [parts[0], parts[1], parts[3]]
    if any(not p for p in parts) or len(parts) > 3:
        raise UsageError(
            f"invalid run path {path!r}: use 'entity/project/run_id', 'project/run_id' or 'run_id'"
        )
    if len(parts) == 3:
        return RunPath(*parts)
    if len(parts) == 0:
        if not run:
            raise UsageError(
                "no run given: pass 'entity/project/run_id' or set Api(overrides={'run': ...})"
            )
        parts = [run]
    if len(parts) == 2:
        project = parts[0]
    if not project:
        raise UsageError(
            f"run path {path!r} has no project: use 'entity/project/run_id', or set a default "
            "with Api(overrides={'project': ...}) or LIBERRY_PROJECT / WANDB_PROJECT"
        )
    entity = _entity(entity)
    if not entity:
        raise UsageError(
            f"run path {path!r} has no entity: use 'entity/project/run_id', or set a default "
            "with Api(overrides={'entity': ...}) or LIBERRY_ENTITY / WANDB_ENTITY"
        )
    return RunPath(entity, project, parts[-1])


_SWEEP_FORMS = "use 'entity/project/sweep_id', 'project/sweep_id' or 'sweep_id'"


def parse_sweep_path(
    path: str | list[str] | tuple[str, ...],
    *,
    entity: EntityDefault,
    project: str | None,
) -> SweepPath:
    """`entity/project/sweep_id`, `project/sweep_id`, `sweep_id`, or a sweep URL.

    The web app's forms are accepted too: `entity/project/sweeps/sweep_id` and
    `https://host/entity/project/sweeps/sweep_id` (a `?workspace=...` query is ignored).
    """
    if isinstance(path, list | tuple):
        parts = [str(p) for p in path]
    else:
        text = (path or "").strip()
        if match := _URL_SWEEP.match(text):  # a sweep URL copied from the browser
            parts = [match["e"], match["p"], match["s"]]
        elif text.startswith(("http://", "https://")):
            raise UsageError(
                f"invalid sweep path {path!r}: a sweep URL looks like "
                "'https://host/entity/project/sweeps/sweep_id'; or "
                + _SWEEP_FORMS.removeprefix("use ")
            )
        else:
            text = text.strip("/")
            parts = text.split("/") if text else []
    if len(parts) == 4 and parts[2] == "sweeps":
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) == 4 and parts[2] == "runs":
        raise UsageError(
            f"{path!r} is a run's path (api.run reads it), not a sweep's: {_SWEEP_FORMS}"
        )
    # Stray spaces inside a path ("e / p / id") are a paste error, never part of a name; an
    # id with whitespace would only come back as "not found", so it is refused here.
    if (
        not parts
        or len(parts) > 3
        or any(not p or p != p.strip() for p in parts)
        or any(c.isspace() for c in parts[-1])
    ):
        what = "no sweep given" if not parts else f"invalid sweep path {path!r}"
        raise UsageError(f"{what}: {_SWEEP_FORMS}")
    if len(parts) == 3:
        return SweepPath(*parts)
    if len(parts) == 2:
        project = parts[0]
    if not project:
        raise UsageError(
            f"sweep path {path!r} has no project: use 'entity/project/sweep_id', or set a "
            "default with Api(overrides={'project': ...}) or LIBERRY_PROJECT / WANDB_PROJECT"
        )
    entity = _entity(entity)
    if not entity:
        raise UsageError(
            f"sweep path {path!r} has no entity: use 'entity/project/sweep_id', or set a "
            "default with Api(overrides={'entity': ...}) or LIBERRY_ENTITY / WANDB_ENTITY"
        )
    return SweepPath(entity, project, parts[-1])
