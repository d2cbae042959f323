"""`BlobResponse`: a stored file as a download body, cheap for the many small files of an
artifact.

Starlette's `FileResponse` spends four worker-thread hops on every file (stat, open, read,
close) and, under ASGI 2.3 as uvicorn speaks it, a task group that watches for the client
going away. For a file that fits in one read that is most of the server's time per request
(an artifact of 1,000 files of 1 MB: 1,000 requests). A plain GET of such a file is answered
here with one hop (open, fstat, read, close) and one body message; larger files, HEAD and
Range requests are left to `FileResponse` (1 MiB reads, not its 64 KiB), whose task group
stops a long body when the client disconnects.
"""

from __future__ import annotations

import os
import stat

import anyio.to_thread
from starlette.responses import FileResponse
from starlette.types import Receive, Scope, Send

__all__ = ["BlobResponse"]


class BlobResponse(FileResponse):
    """`FileResponse` with a one-hop path for files of at most `chunk_size` bytes."""

    # Reads of 1 MiB, not Starlette's 64 KiB: a 1 GB file is 1,000 thread hops, not 16,000.
    chunk_size = 1 << 20

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        plain_get = (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and self.status_code == 200
            and self.stat_result is None
            and not any(name == b"range" for name, _ in scope["headers"])
        )
        body = await anyio.to_thread.run_sync(self._read_whole) if plain_get else None
        if body is None:  # large, HEAD or Range: the stat (if taken) is reused
            await super().__call__(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})
        if self.background is not None:
            await self.background()

    def _read_whole(self) -> bytes | None:
        """The file's bytes if it fits in one read (its stat headers set); else None."""
        with open(self.path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise RuntimeError(f"File at path {self.path} is not a file.")
            self.stat_result = info
            self.set_stat_headers(info)
            if info.st_size > self.chunk_size:
                return None
            body = fh.read(info.st_size + 1)
        # A blob never changes in place (new bytes get a new name), but never send a body
        # that disagrees with the Content-Length already set.
        return body if len(body) == info.st_size else None
