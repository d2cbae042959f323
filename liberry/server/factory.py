"""The app as an import string, for `liberry server --workers N`.

uvicorn starts each worker process by importing `liberry.server.factory:make_app` and calling
it: an app object cannot cross the process boundary. The CLI passes its settings in the
environment (`LIBERRY_DATA_DIR`, `LIBERRY_DATABASE_URL`, `LIBERRY_STORAGE`,
`LIBERRY_HEARTBEAT_TIMEOUT`), opens
the data dir first (migration, first-run admin and key), then starts the workers.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .app import create_app
from .datadir import DataDir

__all__ = ["WORKER_HEADER", "make_app", "worker_env"]

# Each response names the process that served it: load balancing across workers is then
# visible from outside (the multi-worker test checks that every worker served).
WORKER_HEADER = b"x-liberry-worker"


def worker_env(
    data_dir: Path,
    database_url: str | None,
    heartbeat_timeout_s: float,
    storage_url: str | None = None,
) -> None:
    """Put the settings `make_app` reads into this process's environment (workers inherit it)."""
    os.environ["LIBERRY_DATA_DIR"] = str(data_dir)
    if database_url:
        os.environ["LIBERRY_DATABASE_URL"] = database_url
    # Always set (empty = files under the data dir): every worker uses the parent's storage.
    os.environ["LIBERRY_STORAGE"] = storage_url or ""
    os.environ["LIBERRY_HEARTBEAT_TIMEOUT"] = repr(heartbeat_timeout_s)


def make_app() -> ASGIApp:
    """One worker's app: its own engine and pool over the shared database and files."""
    data = DataDir.attach(
        Path(os.environ["LIBERRY_DATA_DIR"]),
        os.environ.get("LIBERRY_DATABASE_URL") or None,
        os.environ.get("LIBERRY_STORAGE") or None,
    )
    timeout = float(os.environ.get("LIBERRY_HEARTBEAT_TIMEOUT", "300"))
    return _TagWorker(create_app(data.store, data.blobs, heartbeat_timeout_s=timeout))


class _TagWorker:
    """ASGI wrapper adding `X-Liberry-Worker: <pid>` to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((WORKER_HEADER, self.pid))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, tagged)
