"""liberry server: an open-source, W&B-wire-compatible tracking server.

From Python (notebooks, tests)::

    with liberry.server.start(data_dir=None, port=0) as srv:
        print(srv.url, srv.api_key)

From a shell: ``liberry server --data-dir DIR --host 127.0.0.1 --port 8080``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

import uvicorn

from .app import create_app
from .datadir import DataDir

__all__ = ["ServerHandle", "start"]


class ServerHandle:
    """A server running in a background thread of this process."""

    def __init__(
        self,
        data_dir: DataDir,
        host: str,
        port: int,
        *,
        temporary: bool,
        heartbeat_timeout_s: float,
        log_level: str,
    ) -> None:
        self.data = data_dir
        self._temporary = temporary
        app = create_app(data_dir.store, data_dir.blobs, heartbeat_timeout_s=heartbeat_timeout_s)
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            lifespan="on",
            timeout_keep_alive=30,
        )
        self._server = uvicorn.Server(config)
        # uvicorn installs signal handlers only in the main thread: Ctrl-C stays the host's.
        self._thread = threading.Thread(target=self._server.run, name="liberry-server", daemon=True)
        self.host = host
        self.port = port

    def _start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(
                    f"liberry server failed to start on {self.host}:{self.port} (port in use?)"
                )
            if time.monotonic() > deadline:
                raise RuntimeError("liberry server did not start within 30 s")
            time.sleep(0.01)
        sockets = self._server.servers[0].sockets
        self.port = sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8080`` (use as WANDB_BASE_URL)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def api_key(self) -> str:
        """The admin API key (HTTP Basic password; WANDB_API_KEY)."""
        return self.data.api_key

    @property
    def data_dir(self) -> Path:
        return self.data.path

    def stop(self) -> None:
        """Finish in-flight requests, stop, and close the database."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.data.store.close()
        if self._temporary:
            shutil.rmtree(self.data.path, ignore_errors=True)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<liberry server {self.url} data_dir={str(self.data.path)!r}>"


def start(
    data_dir: str | Path | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    heartbeat_timeout_s: float = 300.0,
    log_level: str = "warning",
    database_url: str | None = None,
    storage_url: str | None = None,
) -> ServerHandle:
    """Start a server in a background thread and return once it accepts connections.

    Args:
        data_dir: where the database and files live; a temporary directory (deleted on
            stop) when None.
        host: interface to bind; keep 127.0.0.1 unless you mean to expose it.
        port: TCP port; 0 picks a free one (read it back from ``.url``).
        heartbeat_timeout_s: a running run silent for this long is marked ``crashed``.
        database_url: keep the database there (``postgresql://...``) instead of SQLite in
            the data dir; the data dir still holds the files, secrets and admin key.
        storage_url: keep run files and artifact blobs in an S3-compatible bucket
            (``s3://bucket/prefix``; endpoint and credentials from the ``AWS_*``
            environment variables) instead of under the data dir.
    """
    temporary = data_dir is None
    path = Path(tempfile.mkdtemp(prefix="liberry-")) if data_dir is None else Path(data_dir)
    logging.getLogger("liberry").setLevel(log_level.upper())
    handle = ServerHandle(
        DataDir.open(path, database_url, storage_url),
        host,
        port,
        temporary=temporary,
        heartbeat_timeout_s=heartbeat_timeout_s,
        log_level=log_level,
    )
    handle._start()
    return handle
