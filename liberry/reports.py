"""Reports: one `Report` (title, description, spec, blocks) and a project's `Reports`.

A report is W&B's "view" of type `runs`, as `wandb_workspaces.reports.v2.Report.save()`
writes it. Query budget: listing is one request per page and its reports need nothing more;
`Api.report(url)` is one request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from functools import cached_property
from typing import Any
from urllib.parse import quote, urlsplit

from ._repr import html_table
from .errors import NotFoundError, UsageError
from .paging import Page, Paginator
from .queries import reports as q
from .report_blocks import Block, read_blocks
from .session import Session, SessionOwner, session_of

__all__ = ["Report", "Reports", "parse_report_ref", "report_url"]

#: `.../entity/project/reports/Title--ID` (a report's web page, with or without the host).
_REPORT_PATH = re.compile(r"^/?(?P<e>[^/]+)/(?P<p>[^/]+)/reports/(?P<slug>[^/?#]+)/?$")


def report_url(app_url: str, entity: str, project: str, title: str | None, id: str) -> str:
    """A report's web page, as W&B's app and `wandb.Api`'s `BetaReport.url` spell it:
    the title with non-word characters as `-`, then `--`, then the id without padding."""
    slug = re.sub(r"-+", "-", re.sub(r"\W", "-", title or "Untitled")).strip("-") or "Untitled"
    return f"{app_url.rstrip('/')}/{entity}/{project}/reports/{quote(slug)}--{id.rstrip('=')}"


def parse_report_ref(ref: str) -> tuple[str, str, str] | None:
    """(entity, project, report id) from a report URL or its path; None when `ref` is not
    one. The id is the part after the last `--`, padded back to base64."""
    path = urlsplit(ref.strip()).path if "://" in ref else ref.strip()
    match = _REPORT_PATH.match(path)
    if match is None:
        return None
    slug = match["slug"]
    if "--" not in slug:
        raise UsageError(
            f"report URL {ref!r} has no id: its last part should end in `--<id>` as the URLs "
            "that Report.url and wandb.Api().reports() give"
        )
    opaque = slug.rsplit("--", 1)[1]
    return match["e"], match["p"], opaque + "=" * (-len(opaque) % 4)


class Report:
    """A W&B report: `title`, `description`, the `spec` W&B's report tools wrote, and its
    `blocks` read as Python (`Block.type`, `.text`, `.panels`, `.runsets`)."""

    def __init__(
        self, session: Session | SessionOwner, entity: str, project: str, attrs: Mapping[str, Any]
    ) -> None:
        self._session = session_of(session)
        self.entity = entity
        self.project = project
        self._attrs = dict(attrs)

    @property
    def id(self) -> str:
        return str(self._attrs["id"])

    @property
    def name(self) -> str | None:
        """The report's short slug (`Api.reports(path, name=...)` finds it by this)."""
        return self._attrs.get("name")

    @property
    def display_name(self) -> str | None:
        return self._attrs.get("displayName")

    title = display_name

    @property
    def description(self) -> str | None:
        return self._attrs.get("description")

    @property
    def spec_text(self) -> str:
        """The spec exactly as it was saved (JSON text)."""
        raw = self._attrs.get("spec")
        return raw if isinstance(raw, str) else json.dumps(raw or {})

    @cached_property
    def spec(self) -> dict[str, Any]:
        """The spec as a dict (`version`, `blocks`, `width`, `panelSettings`, ...)."""
        value = json.loads(self.spec_text or "{}")
        return value if isinstance(value, dict) else {}

    @cached_property
    def blocks(self) -> list[Block]:
        """Headings, text, lists, code and panel grids, in order (padding paragraphs left
        out, as `wandb_workspaces` does)."""
        return read_blocks(self.spec)

    @property
    def user(self) -> dict[str, Any] | None:
        """Who saved it: `{"username", "name", "email"}`."""
        return self._attrs.get("user")

    @property
    def created_at(self) -> str | None:
        return self._attrs.get("createdAt")

    @property
    def updated_at(self) -> str | None:
        return self._attrs.get("updatedAt")

    @property
    def url(self) -> str:
        return report_url(self._session.app_url, self.entity, self.project, self.title, self.id)

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    def __repr__(self) -> str:
        return f"<Report {self.path} {self.title!r}>"


def _not_found_project(session: Session, entity: str, project: str) -> NotFoundError:
    return NotFoundError(
        f"project {entity}/{project} not found at {session.client.base_url}; check the entity and "
        f"project (api.projects({entity!r}) lists them)"
    )


class Reports(Paginator[Report]):
    """The reports of one project, newest first, lazily paged. With `name`, only the report
    of that name (none: empty, as `wandb.Api().reports` answers)."""

    def __init__(
        self,
        session: Session | SessionOwner,
        entity: str,
        project: str,
        name: str | None = None,
        per_page: int = 50,
    ) -> None:
        super().__init__(per_page)
        self._session = session_of(session)
        self.entity = entity
        self.project = project
        self.name = name

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}"

    def _fetch(self, cursor: str | None, first: int, with_count: bool) -> Page[Report]:
        data = self._session.client.execute(
            q.GET_REPORTS,
            {"entity": self.entity, "project": self.project, "cursor": cursor,
             "perPage": first, "name": self.name},
        )  # fmt: skip
        project = data.get("project")
        if project is None:
            raise _not_found_project(self._session, self.entity, self.project)
        return Page.of(
            project.get("allViews"), lambda n: Report(self._session, self.entity, self.project, n)
        )

    def __repr__(self) -> str:
        return f"<Reports {self.path}>"

    def _repr_html_(self) -> str:
        shown = self[:50]
        rows = [(r.name, r.title, r.description, r.updated_at) for r in shown]
        return html_table(("name", "title", "description", "updated_at"), rows,
                          caption=f"reports of {self.path}")  # fmt: skip


def get_report(session: Session, ref: str) -> Report:
    """One report by URL (`https://host/e/p/reports/Title--ID`), URL path, or
    `entity/project/name`; `NotFoundError` when there is none."""
    parsed = parse_report_ref(ref)
    if parsed is not None:
        entity, project, opaque = parsed
        try:
            data = session.client.execute(q.GET_REPORT, {"id": opaque})
        except NotFoundError:
            data = {}
        node = data.get("view")
        if not node:
            raise NotFoundError(f"report {ref!r} not found at {session.base_url}: it may have been "
                                "deleted, or the URL is from another server")  # fmt: skip
        where = node.get("project") or {}
        return Report(
            session, where.get("entityName") or entity, where.get("name") or project, node
        )
    parts = [p for p in ref.strip().strip("/").split("/")]
    if len(parts) != 3 or not all(parts):
        raise UsageError(
            f"invalid report reference {ref!r}: pass the report's URL or 'entity/project/name'"
        )
    entity, project, name = parts
    found = Reports(session, entity, project, name=name, per_page=1)[:1]
    if not found:
        raise NotFoundError(
            f"no report named {name!r} in {entity}/{project}; api.reports('{entity}/{project}') "
            "lists them"
        )
    return found[0]
