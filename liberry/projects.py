"""Projects: one `Project` and the lazily paged `Projects` of an entity."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import queries
from ._repr import html_table
from .paging import Page, Paginator
from .runs import Runs, cached_runs
from .session import Session, SessionOwner, session_of
from .sweeps import Sweeps

__all__ = ["Project", "Projects"]


class Project:
    """A project of an entity; `runs()` lists its runs, `sweeps()` its sweeps."""

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        name: str,
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        self._session = session_of(session)
        self.entity = entity
        self.name = name
        self._attrs: dict[str, Any] = dict(attrs or {})

    @property
    def id(self) -> str | None:
        """The server's opaque id (None for a project made locally with `Api.project`)."""
        value: str | None = self._attrs.get("id")
        return value

    @property
    def created_at(self) -> str | None:
        value: str | None = self._attrs.get("createdAt")
        return value

    @property
    def path(self) -> list[str]:
        return [self.entity, self.name]

    @property
    def url(self) -> str:
        return f"{self._session.app_url}/{self.entity}/{self.name}"

    def runs(
        self,
        filters: Mapping[str, Any] | None = None,
        order: str = "-created_at",
        per_page: int = 50,
        limit: int | None = None,
    ) -> Runs:
        """The project's runs; see `Api.runs`."""
        return cached_runs(self._session, self.entity, self.name, filters, order, per_page, limit)

    def sweeps(self, per_page: int = 50) -> Sweeps:
        """The project's sweeps; see `Api.sweeps`."""
        return Sweeps(self._session, self.entity, self.name, per_page)

    def __repr__(self) -> str:
        return f"<Project {self.entity}/{self.name}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Project) and other.path == self.path

    def __hash__(self) -> int:
        return hash(tuple(self.path))


class Projects(Paginator[Project]):
    """The projects of one entity, lazily paged."""

    def __init__(self, session: Session | SessionOwner, entity: str, per_page: int = 200) -> None:
        super().__init__(per_page)
        self._session = session_of(session)
        self.entity = entity

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Project]:
        data = self._session.client.execute(
            queries.GET_PROJECTS, {"entity": self.entity, "cursor": cursor, "perPage": first}
        )
        return Page.of(
            data.get("models"),
            lambda n: Project(self._session, n.get("entityName") or self.entity, n["name"], n),
        )

    def __repr__(self) -> str:
        return f"<Projects of {self.entity}>"

    def _repr_html_(self) -> str:
        rows = [(p.name, p.created_at) for p in self]
        return html_table(("name", "created_at"), rows, caption=f"projects of {self.entity}")
