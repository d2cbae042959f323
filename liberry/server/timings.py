"""Opt-in per-request timings for load tests: `LIBERRY_TIMINGS=PATH`.

With the variable set, every HTTP request a server process answers appends one line to PATH:

    <start, epoch s>\t<duration s>\t<status>\t<method>\t<path>\t<request bytes>\t<pid>

The duration runs from the moment the app is handed the request until its last response
byte is handed back to uvicorn: queueing for a thread, reading the body, the transaction and
the reply, as the server sees them (what a client such as wandb-core, which cannot be
instrumented, waited for, minus the network). Each line is one `os.write` to a file opened
with O_APPEND, so the processes of `--workers N` can share one file. Unset (the default),
the middleware is not installed at all: it costs nothing.
"""

from __future__ import annotations

import os
import time

from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TIMINGS_ENV", "RequestTimings", "timing_middleware"]

TIMINGS_ENV = "LIBERRY_TIMINGS"


def timing_middleware() -> list[Middleware]:
    """`[RequestTimings]` when `LIBERRY_TIMINGS` names a file, else nothing."""
    path = os.environ.get(TIMINGS_ENV, "").strip()
    return [Middleware(RequestTimings, path=path)] if path else []


class RequestTimings:
    """ASGI middleware appending a line per HTTP request to `path` (see the module doc)."""

    def __init__(self, app: ASGIApp, path: str) -> None:
        self.app = app
        self.path = path
        self.pid = os.getpid()
        self._fd: int | None = None

    def _write(self, line: str) -> None:
        # Opened on first use, by the process that serves: each worker holds its own descriptor.
        if self._fd is None or self.pid != os.getpid():
            self.pid = os.getpid()
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._fd, line.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started_wall = time.time()
        started = time.perf_counter()
        status = 0

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            took = time.perf_counter() - started
            size = dict(scope.get("headers", ())).get(b"content-length", b"-").decode()
            self._write(
                f"{started_wall:.6f}\t{took:.6f}\t{status}\t{scope.get('method', '')}\t"
                f"{scope.get('path', '')}\t{size}\t{self.pid}\n"
            )
