"""Parsing `entity/project/run_id`-style paths, with defaults for the missing parts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from .errors import UsageError

__all__ = ["ProjectPath", "RunPath", "parse_project_path", "parse_run_path"]

#: A default entity, or a function that finds it (the viewer's entity costs a request, so it
#: is looked up only when a path leaves the entity out).
EntityDefault = str | None | Callable[[], str | None]

_URL_RUN = re.compile(r"^https?://[^/]+/(?P<e>[^/]+)/(?P<p>[^/]+)/runs/(?P<r>[^/?#]+)")


class ProjectPath(NamedTuple):
    entity: str
    project: str

    def __str__(self) -> str:
        return f"{self.entity}/{self.project}"


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
