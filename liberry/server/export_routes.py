"""`GET /api/runs.arrow`: a project's filtered, ordered runs in one Arrow IPC stream.

liberry only (W&B has no such route): `liberry.Api`'s `Runs.to_pandas()` / `to_arrow()` use it
when the server lists ARROW_EXPORT_FEATURE in `serverInfo.features`, and page through GraphQL
otherwise. Query parameters:

- `entity` (default: the caller's own entity), `project` (required);
- `filters`: W&B's filter document as JSON text, as GraphQL's `runs(filters:)` takes it;
- `order`: as GraphQL's `runs(order:)` (default `-created_at`);
- `limit`: at most this many runs;
- `compression`: `lz4` or `zstd` compresses the record batches' buffers (Arrow IPC's own
  compression, cheaper than HTTP gzip); none by default.

Authenticated like `/graphql` (HTTP Basic `api:<key>` or a bearer key; 401 otherwise). The
answer is `application/vnd.apache.arrow.stream` with the columns of `store.export.SCHEMA`,
streamed a record batch at a time; errors are JSON as on the other routes: 400 (bad filters,
order or parameters), 404 (no such project).
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Generator
from typing import Any, Final

import orjson
import pyarrow as pa
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .access import Access
from .gate import Gate
from .store import Store
from .store.errors import NotFound, StoreError
from .store.export import SCHEMA, run_batches

__all__ = ["ARROW_EXPORT_FEATURE", "ARROW_EXPORT_PATH", "ARROW_MEDIA_TYPE", "export_routes"]

#: The `serverInfo.features` name that tells clients this route exists.
ARROW_EXPORT_FEATURE: Final = "LIBERRY_ARROW_EXPORT"
ARROW_EXPORT_PATH: Final = "/api/runs.arrow"
ARROW_MEDIA_TYPE: Final = "application/vnd.apache.arrow.stream"
_COMPRESSIONS: Final = ("lz4", "zstd")


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}], "error": message}, status, headers=headers
    )


class _Drain(io.RawIOBase):
    """A sink for Arrow's stream writer whose bytes are taken out after every batch."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        return len(chunk)

    def take(self) -> bytes:
        out, self._chunks = b"".join(self._chunks), []
        return out


def _parse_filters(text: str | None) -> Any:
    if not text:
        return None
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise StoreError(f"filters is not valid JSON: {exc}") from None
    if doc is not None and not isinstance(doc, dict):
        raise StoreError("filters must be a JSON object, as GraphQL's runs(filters:) takes it")
    return doc


def _ipc_chunks(
    store: Store, user: dict[str, Any], params: dict[str, str]
) -> Generator[bytes, None, None]:
    """The stream's bytes: schema, then one chunk per record batch, then the end marker.

    Everything that can be refused (project, filters, order, parameters) is checked before
    the first chunk, so a caller that takes it first can still answer with an error status.
    """
    project_name = params.get("project")
    if not project_name:
        raise StoreError("the `project` parameter is required")
    entity = params.get("entity") or str(user["username"])
    limit_text = params.get("limit")
    if limit_text is not None and not limit_text.isdigit():
        raise StoreError(f"limit must be a whole number >= 0, got {limit_text!r}")
    compression = params.get("compression") or None
    if compression is not None and compression not in _COMPRESSIONS:
        raise StoreError(f"compression must be one of {', '.join(_COMPRESSIONS)}")
    filters = _parse_filters(params.get("filters"))
    with store.read() as conn:
        # The one access check: a project the caller may not see is "not found", as in GraphQL.
        project = Access(conn, user).project(entity, project_name)
        if project is None:
            raise NotFound(f"project {entity}/{project_name} not found")
        batches = run_batches(
            conn,
            project["id"],
            filters=filters or None,
            order=params.get("order") or None,
            limit=int(limit_text) if limit_text is not None else None,
        )
        first = next(batches, None)  # raises FilterError for a bad filter or order
        sink = _Drain()
        options = pa.ipc.IpcWriteOptions(compression=compression)
        with pa.ipc.new_stream(sink, SCHEMA, options=options) as writer:
            if first is not None:
                writer.write_batch(first)
            yield sink.take()
            for batch in batches:
                writer.write_batch(batch)
                yield sink.take()
        yield sink.take()


async def _stream(chunks: Generator[bytes, None, None]) -> AsyncIterator[bytes]:
    """Each next chunk read in a worker thread (they query the database); the generator is
    closed there too, also when the client goes away, so its connection is returned."""
    try:
        while True:
            chunk = await run_in_threadpool(next, chunks, None)
            if chunk is None:
                return
            yield chunk
    finally:
        await run_in_threadpool(chunks.close)


def export_routes(store: Store, gate: Gate) -> list[Route]:
    async def runs_arrow(request: Request) -> Response:
        user = await gate.user(request)  # the key, as for /graphql (401 and rate limit)
        if isinstance(user, Response):
            return user
        chunks = _ipc_chunks(store, user, dict(request.query_params))
        try:
            head = await run_in_threadpool(next, chunks)
        except NotFound as exc:
            return _error(404, str(exc))
        except StoreError as exc:  # FilterError too: bad filters, order or parameters
            return _error(400, str(exc))

        async def body() -> AsyncIterator[bytes]:
            yield head
            async for chunk in _stream(chunks):
                yield chunk

        # `identity` keeps the gzip middleware off whatever the client accepts: Arrow IPC has
        # its own (cheaper) compression, asked for with `compression`.
        headers = {"Content-Encoding": "identity"}
        return StreamingResponse(body(), media_type=ARROW_MEDIA_TYPE, headers=headers)

    return [Route(ARROW_EXPORT_PATH, runs_arrow, methods=["GET"])]
