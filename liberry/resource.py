"""What a project's resources (runs, sweeps) share: an `entity/project/id` path and a page."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from .session import Session


class ProjectResource(ABC):
    """A resource named `entity/project/id`; subclasses say where its web page lives and how
    an attribute is fetched (`_get`)."""

    #: The URL segment of the resource's page: `{app}/{entity}/{project}/<segment>/{id}`.
    URL_SEGMENT: ClassVar[str]

    _session: Session
    entity: str
    project: str
    id: str

    @abstractmethod
    def _get(self, key: str) -> Any:
        """An attribute of the resource as the server named it (fetched on first use)."""

    @property
    def path(self) -> list[str]:
        """`[entity, project, id]`, as in `wandb.Api`."""
        return [self.entity, self.project, self.id]

    @property
    def path_str(self) -> str:
        """`entity/project/id`: what `Api` methods and W&B's command line take."""
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def storage_id(self) -> str:
        """The server's opaque id (what mutations take)."""
        return str(self._get("id"))

    @property
    def url(self) -> str:
        """The page in the web app."""
        return f"{self._session.app_url}/{self.entity}/{self.project}/{self.URL_SEGMENT}/{self.id}"
