"""`Session`: what every resource holds instead of the `Api` facade.

The transport, the defaults that complete short paths, the cache of fetched runs and sweeps,
and the two links that point up the resource modules (a run's sweep, an artifact's run),
which the facade wires to `sweeps.load_sweep` and `run.load_run`. With it, resource modules
import only each other, downwards, and never `liberry.api`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from . import queries
from .errors import NotFoundError, ServerError
from .transport import Transport

if TYPE_CHECKING:
    from .paths import RunPath, SweepPath
    from .run import Run
    from .sweeps import Sweep

__all__ = ["Links", "Session", "SessionOwner", "session_of"]


@dataclass(frozen=True)
class Links:
    """Loaders for the resources a lower resource module returns but cannot import: `run`
    (for `Artifact.logged_by` / `used_by`: built from the attributes the caller's query read,
    else fetched) and `sweep` (for `Run.sweep`). Each caches in the session, as `Api.run` and
    `Api.sweep` do."""

    run: Callable[[Session, RunPath, Mapping[str, Any] | None], Run]
    sweep: Callable[[Session, SweepPath], Sweep]


class Session:
    """One connection's state, shared by the `Api` and every object it returns.

    `client` is the `Transport` (the same object as `Api.client`); `settings` holds
    `base_url` and the default `entity`, `project` and `run`; `cache` holds fetched `Run`,
    `Runs` and `Sweep` objects by path until `Api.flush()`.
    """

    def __init__(self, client: Transport, settings: dict[str, Any], links: Links) -> None:
        self.client = client
        self.settings = settings
        self.links = links
        self.cache: dict[tuple[Any, ...], Any] = {}
        self._viewer: dict[str, Any] | None = None
        self._features: frozenset[str] | None = None

    @property
    def base_url(self) -> str:
        return str(self.settings["base_url"])

    @property
    def app_url(self) -> str:
        """Where the web pages of runs live (`https://wandb.ai` for W&B cloud)."""
        host = urlsplit(self.base_url).netloc
        return "https://wandb.ai" if host == "api.wandb.ai" else self.base_url

    @property
    def viewer(self) -> dict[str, Any]:
        """The user the API key belongs to (one request, then kept)."""
        if self._viewer is None:
            viewer = self.client.execute(queries.VIEWER).get("viewer")
            if viewer is None:
                raise NotFoundError(
                    f"the server at {self.base_url} does not know this API key's user; set "
                    "LIBERRY_API_KEY (or WANDB_API_KEY) to a valid key"
                )
            self._viewer = viewer
        return self._viewer

    def features(self) -> frozenset[str]:
        """The enabled names in the server's `serverInfo.features` (one request, then kept):
        how a liberry server announces its extensions (the Arrow export, deep cursor skips).
        Empty when the server cannot say, so the client keeps to W&B's protocol."""
        if self._features is None:
            try:
                info = self.client.execute(queries.SERVER_FEATURES).get("serverInfo") or {}
            except ServerError:
                info = {}
            self._features = frozenset(
                f["name"] for f in info.get("features") or [] if f and f.get("isEnabled")
            )
        return self._features

    def default_entity(self) -> str | None:
        """The entity for paths without one: the configured one, else the key user's own."""
        entity: str | None = self.settings["entity"] or self.viewer.get("entity")
        return entity

    def forget_run(self, entity: str, project: str, run_id: str) -> None:
        """Drop a cached run, so the next `load_run` fetches it afresh."""
        self.cache.pop(("run", entity, project, run_id), None)


class SessionOwner(Protocol):
    """Anything that holds a session: the `Api` (so `Runs(api, ...)` keeps working)."""

    @property
    def session(self) -> Session: ...


def session_of(owner: Session | SessionOwner) -> Session:
    """The session itself, or the one its owner (an `Api`) holds."""
    return owner if isinstance(owner, Session) else owner.session
