"""The kernel side of the one request/response channel every liberry widget uses.

Mirrors `js/rpc.ts`. A view sends `{"type": "request", "id", "kind", "params"}` through
anywidget's custom messages; the channel runs the handler registered for `kind` and answers
`{"type": "reply", "id", "ok": True, "result"}` or `{"type": "reply", "id", "ok": False,
"error": {"type", "message"}}`. A `{"type": "cancel", "id"}` drops a request that has not
started yet (a stale page the user already scrolled past).

Handlers run on a small thread pool when the kernel can send from threads (ipykernel), so a
slow history query does not hold up the next page. Elsewhere (marimo, plain Python) they run
inline. Exceptions never escape: they become error replies, with the traceback in the log.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

__all__ = [
    "Handler",
    "RpcChannel",
    "RpcError",
    "handling_request",
    "json_safe",
    "received_at",
    "waited_ms",
]

log = logging.getLogger(__name__)

#: A handler takes the request's params and returns something JSON-serialisable.
Handler = Callable[[dict[str, Any]], Any]


class RpcError(Exception):
    """An error whose message is meant for the user as is (no exception type prefix)."""


_current = threading.local()


def handling_request() -> bool:
    """True while a request's handler runs (on this thread)."""
    return getattr(_current, "waited_ms", None) is not None


def waited_ms() -> float | None:
    """How long the request being handled waited between reaching the kernel and its handler
    starting (a busy thread pool, the GIL); None outside a request."""
    waited: float | None = getattr(_current, "waited_ms", None)
    return waited


def received_at() -> float | None:
    """When the request being handled reached the kernel, in ms since the epoch (the view
    compares it with its own clock to split a round trip into its legs); None outside one."""
    return getattr(_current, "received_ms", None)


class _Messenger(Protocol):
    """What the channel needs from a widget: ipywidgets' `on_msg` and `send`."""

    def on_msg(self, callback: Callable[..., Any], remove: bool = False) -> None: ...

    def send(self, content: Any, buffers: Any = None) -> None: ...


def _threads_supported() -> bool:
    """True inside ipykernel, whose IOPub socket accepts messages from any thread."""
    if "marimo" in sys.modules:
        try:
            import marimo

            if marimo.running_in_notebook():
                return False
        except Exception:  # pragma: no cover - marimo without the helper
            return False
    if "ipykernel" not in sys.modules:
        return False
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython import get_ipython

    # isinstance, not the class name: Colab's and VS Code's shells are subclasses.
    return isinstance(get_ipython(), ZMQInteractiveShell)


def json_safe(value: Any) -> Any:
    """`value` with non-finite floats as strings ("NaN", "Infinity"): JSON has no such numbers,
    and the browser's JSON.parse rejects the bare tokens Python would write."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return json_safe(item())
        except (TypeError, ValueError):
            pass
    isoformat = getattr(value, "isoformat", None)  # datetimes
    if callable(isoformat):
        return isoformat()
    return str(value)


class RpcChannel:
    """Dispatches a widget's custom messages to handlers and sends their replies."""

    def __init__(
        self,
        widget: _Messenger,
        handlers: Mapping[str, Handler] | None = None,
        *,
        threaded: bool | None = None,
        max_workers: int = 2,
    ) -> None:
        self._widget = widget
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._threaded = _threads_supported() if threaded is None else threaded
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[None]] = {}
        self._lock = threading.Lock()
        self._closed = False
        widget.on_msg(self._on_msg)

    @property
    def threaded(self) -> bool:
        """True when handlers run on the thread pool (ipykernel), False when inline."""
        return self._threaded

    def register(self, kind: str, handler: Handler) -> None:
        """Answer requests of `kind` with `handler(params)`."""
        self._handlers[kind] = handler

    def emit(self, name: str, data: Any = None) -> None:
        """Push an event to every view (`rpc.onEvent(name, ...)` in JS)."""
        self._send({"type": "event", "name": name, "data": json_safe(data)})

    def close(self) -> None:
        """Stop answering; requests still queued are dropped."""
        self._closed = True
        self._widget.on_msg(self._on_msg, remove=True)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    # -- incoming ------------------------------------------------------------------------------

    def _on_msg(self, _widget: Any, content: Any, _buffers: Any = None) -> None:
        if self._closed or not isinstance(content, Mapping):
            return
        kind = content.get("type")
        request_id = content.get("id")
        if not isinstance(request_id, str):
            return
        if kind == "cancel":
            with self._lock:
                future = self._futures.pop(request_id, None)
            if future is not None:
                future.cancel()  # only stops a request that has not started
            return
        if kind != "request":
            return
        params = content.get("params")
        self._submit(
            request_id, str(content.get("kind")), params if isinstance(params, dict) else {}
        )

    def _submit(self, request_id: str, kind: str, params: dict[str, Any]) -> None:
        received = time.perf_counter()
        if not self._threaded:
            self._run(request_id, kind, params, received)
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="liberry-rpc")
        future = self._pool.submit(self._run, request_id, kind, params, received)
        with self._lock:
            self._futures[request_id] = future
        future.add_done_callback(lambda _f: self._forget(request_id))

    def _forget(self, request_id: str) -> None:
        with self._lock:
            self._futures.pop(request_id, None)

    def _run(
        self, request_id: str, kind: str, params: dict[str, Any], received: float
    ) -> None:
        outer = getattr(_current, "waited_ms", None), getattr(_current, "received_ms", None)
        waited = (time.perf_counter() - received) * 1e3
        _current.waited_ms, _current.received_ms = waited, time.time() * 1e3 - waited
        try:
            self._answer(request_id, kind, params)
        finally:
            _current.waited_ms, _current.received_ms = outer

    def _answer(self, request_id: str, kind: str, params: dict[str, Any]) -> None:
        handler = self._handlers.get(kind)
        if handler is None:
            known = ", ".join(sorted(self._handlers)) or "none"
            self._reply_error(
                request_id, "UnknownRequest", f"unknown request {kind!r} (known: {known})"
            )
            return
        try:
            result = handler(params)
        except RpcError as exc:
            self._reply_error(request_id, type(exc).__name__, str(exc))
        except Exception as exc:
            log.debug("liberry widget request %r failed", kind, exc_info=True)
            self._reply_error(request_id, type(exc).__name__, _describe(exc))
        else:
            self._send({"type": "reply", "id": request_id, "ok": True, "result": _safe(result)})

    # -- outgoing ------------------------------------------------------------------------------

    def _reply_error(self, request_id: str, error_type: str, message: str) -> None:
        self._send(
            {
                "type": "reply",
                "id": request_id,
                "ok": False,
                "error": {"type": error_type, "message": message},
            }
        )

    def _send(self, content: dict[str, Any]) -> None:
        if self._closed:
            return
        try:
            self._widget.send(content)
        except Exception:  # a closed comm: nobody is listening any more
            log.debug("liberry widget could not send a reply", exc_info=True)


def _safe(value: Any) -> Any:
    """`json_safe(value)`, skipping its walk when the C encoder finds nothing to change
    (the usual page of plain values: a few ms of the kernel's answer saved)."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return json_safe(value)
    return value


def _describe(exc: Exception) -> str:
    """One line a notebook user can act on. liberry's own errors are written for users and
    go as they are; anything else keeps its type, since `KeyError: 'x'` means more than `'x'`."""
    message = str(exc).strip()
    first = message.splitlines()[0] if message else ""
    if not type(exc).__module__.startswith("liberry"):
        first = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return first if len(first) <= 500 else first[:497] + "..."
