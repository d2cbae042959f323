"""The base every liberry widget stands on (mirrored by `js/widget.ts`): the Api, the RPC
channel, the shipped front end, `refresh()`, the snapshot a saved notebook keeps, and the
HTML shown by hosts without widgets.

A widget subclasses `LiberryWidget`, names its built bundle with `static_module("runs")`,
returns its request handlers from `_handlers()`, and fills in the hooks it needs:
`_reload()` (what `refresh()` drops), `_store_snapshot()` (the trait a saved notebook shows)
and `_fallback_html()`. The `liberry.Api` object (and so the API key) stays in the kernel:
no trait ever holds it, so saved notebooks never contain it.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anywidget
import traitlets

from ._rpc import Handler, RpcChannel, RpcError, handling_request

if TYPE_CHECKING:
    from liberry import Api

__all__ = [
    "SNAPSHOT_DELAY_S",
    "STATIC",
    "LiberryWidget",
    "int_param",
    "static_css",
    "static_module",
]

#: Where `npm run build` writes the bundles (shipped in the wheel).
STATIC = Path(__file__).parent / "static"

#: A snapshot trait is as big as what a view just drew: set it this long after the last
#: reply a view asked for, so its sync never reaches the browser while the browser draws the
#: same data from the reply (and a view asking again meanwhile only moves the moment).
SNAPSHOT_DELAY_S = 1.0

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


def int_param(value: Any, default: int) -> int:
    """A request parameter as an int, `default` when it is missing or not a number."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class LiberryWidget(anywidget.AnyWidget):
    """Shared plumbing: Api resolution, the request channel, lazily loaded assets, refresh,
    the delayed snapshot and the HTML fallback."""

    #: What the widget shows, as given (no secret: the Api holds the credentials).
    path = traitlets.Unicode("").tag(sync=True)
    #: Bumped by `refresh()`; views reload when it changes.
    _refresh = traitlets.Int(0).tag(sync=True)

    def __init__(self, *, api: Api | None = None, **traits: Any) -> None:
        self._snapshot_lock = threading.Lock()
        self._snapshot_timer: threading.Timer | None = None
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

    @property
    def _threaded(self) -> bool:
        """True when requests run on threads (ipykernel): slow work may go to a thread too."""
        return self._rpc.threaded

    def _handlers(self) -> dict[str, Handler]:
        """Request kinds this widget answers, by name; subclasses extend it."""
        return {}

    def refresh(self) -> None:
        """Reload from the server; every view shows what is there now."""
        self._reload()
        self._refresh += 1

    def _reload(self) -> None:
        """Drop what `refresh()` must not answer from (kept queries, counts, objects)."""

    def close(self) -> None:
        """Close the widget's views and stop its request handlers."""
        self._cancel_snapshot()
        rpc = getattr(self, "_rpc", None)
        if rpc is None:
            return  # __init__ refused its arguments: nothing was opened
        rpc.close()
        super().close()

    def _from_view(self, name: str) -> bool:
        """True while ipywidgets applies a change that came from a view (it locks the trait)."""
        return name in getattr(self, "_property_lock", {})

    # -- the snapshot a saved notebook keeps ------------------------------------------------------

    def _snapshot_later(self) -> None:
        """Call `_store_snapshot` now outside a request (display, Python), and
        `SNAPSHOT_DELAY_S` after the last call inside one: a view syncs its traits only after
        painting, and may fetch data it does not show (a prefetched order)."""
        if not handling_request():
            self._store_snapshot()
            return
        timer = threading.Timer(SNAPSHOT_DELAY_S, self._snapshot_due)
        timer.daemon = True
        with self._snapshot_lock:
            if self._snapshot_timer is not None:
                self._snapshot_timer.cancel()
            self._snapshot_timer = timer
        timer.start()

    def _snapshot_due(self) -> None:
        with self._snapshot_lock:
            self._snapshot_timer = None
        self._store_snapshot()

    def _cancel_snapshot(self) -> None:
        lock = getattr(self, "_snapshot_lock", None)
        if lock is None:
            return
        with lock:
            timer, self._snapshot_timer = self._snapshot_timer, None
        if timer is not None:
            timer.cancel()

    def _store_snapshot(self) -> None:
        """Set the snapshot trait from what the views were served (nothing by default)."""

    # -- display ---------------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget view, plus `_fallback_html()` for hosts without widgets (nbconvert
        without widget state, GitHub, an untrusted notebook)."""
        self._before_display()
        bundle = super()._repr_mimebundle_(**kwargs)
        if not isinstance(bundle, tuple):
            return bundle
        data, metadata = bundle
        return {**data, "text/html": self._fallback_html()}, metadata

    def _before_display(self) -> None:
        """Bring the synced state up to date before it goes into the output."""

    def _fallback_html(self) -> str:
        """What a host without widget support shows."""
        return f"<p><b>{html.escape(type(self).__name__)}</b> ({html.escape(self.path)})</p>"

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
