"""The base every liberry widget stands on: the Api, the RPC channel, the shipped front end.

A widget subclasses `LiberryWidget`, names its built bundle with `static_module("runs")`, and
returns its request handlers from `_handlers()`. The `liberry.Api` object (and so the API key)
stays in the kernel: no trait ever holds it, so saved notebooks never contain it.
"""

from __future__ import annotations

import base64
import functools
import gzip
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._rpc import Handler, RpcChannel, RpcError

if TYPE_CHECKING:
    from liberry import Api

__all__ = ["STATIC", "LiberryWidget", "static_css", "static_module"]

#: Where `npm run build` writes the bundles (shipped in the wheel).
STATIC = Path(__file__).parent / "static"

#: Bundles a view may ask for after it starts (`js/assets.ts`), loaded only when needed.
ASSETS = {"vega": "vega.js"}

_NOT_BUILT = """
export default {
  render({ el }) {
    const box = document.createElement("pre");
    box.dataset.testid = "liberry-not-built";
    box.textContent = "The liberry widgets' front end is not built. From the source tree run:\\n"
      + "  npm ci && npm run build\\n(or reinstall the package with pip, which builds it).";
    el.append(box);
  },
};
"""


def api_of(resource: Any) -> Api:
    """The `liberry.Api` over the session a `Run`, `Sweep` or `Artifact` came from (same
    server, key and cache)."""
    from liberry import Api

    return Api.from_session(resource._session)


def static_module(name: str) -> Path | str:
    """The built ES module `static/<name>.js`, or a stand-in that says how to build it."""
    path = STATIC / f"{name}.js"
    return path if path.is_file() else _NOT_BUILT


def static_css(name: str) -> Path | str:
    """The built stylesheet `static/<name>.css`, or nothing before the build."""
    path = STATIC / f"{name}.css"
    return path if path.is_file() else ""


@functools.lru_cache(maxsize=4)
def _compressed(filename: str) -> str:
    data = (STATIC / filename).read_bytes()
    return base64.b64encode(gzip.compress(data, compresslevel=6, mtime=0)).decode("ascii")


class LiberryWidget(anywidget.AnyWidget):
    """Shared plumbing: Api resolution, the request channel, lazily loaded assets."""

    #: Project path `entity/project`, as given (no secret: the Api holds the credentials).
    path = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, api: Api | None = None, **traits: Any) -> None:
        super().__init__(**traits)
        self._api = api
        self._rpc = RpcChannel(self)
        self._rpc.register("asset", self._handle_asset)
        for kind, handler in self._handlers().items():
            self._rpc.register(kind, handler)

    @property
    def api(self) -> Api:
        """The `liberry.Api` this widget asks; `liberry.Api()` (from the environment) by default."""
        if self._api is None:
            from liberry import Api

            self._api = Api()
        return self._api

    def _handlers(self) -> dict[str, Handler]:
        """Request kinds this widget answers, by name; subclasses extend it."""
        return {}

    def close(self) -> None:
        """Close the widget's views and stop its request handlers."""
        self._rpc.close()
        super().close()

    # -- requests every widget answers -----------------------------------------------------------

    def _handle_asset(self, params: dict[str, Any]) -> dict[str, Any]:
        """A shipped bundle, gzipped and base64-encoded, for `js/assets.ts` to import.

        The kernel serves it because anywidget gives the front end no URL for package files:
        the only path from the wheel to the browser that works in every host is this channel.
        """
        name = str(params.get("name", ""))
        filename = ASSETS.get(name)
        if filename is None:
            raise RpcError(f"unknown asset {name!r}")
        if not (STATIC / filename).is_file():
            raise RpcError(
                f"{filename} is missing from liberry_widgets/static: run `npm run build`"
            )
        if params.get("gzip") is False:  # a browser without DecompressionStream
            raw = base64.b64encode((STATIC / filename).read_bytes()).decode("ascii")
            return {"name": name, "encoding": "base64", "data": raw}
        return {"name": name, "encoding": "gzip+base64", "data": _compressed(filename)}
