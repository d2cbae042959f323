"""The ASGI app: GraphQL, file_stream, signed storage URLs and a health check."""

from __future__ import annotations

import gzip
import logging
import mimetypes
import threading
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .._version import __version__
from .artifact_routes import artifact_routes
from .auth import AuthError, authenticate
from .blobs import Blobs
from .export_routes import export_routes
from .filestream import apply_chunk
from .graphql import BadRequest, GraphQLService
from .store import Store, runs
from .store.errors import NotFound, StoreError
from .store.filters import FilterError

log = logging.getLogger("liberry.server")

MAX_JSON_BODY = 256 * 1024 * 1024
MAX_UPLOAD = 5 * 1024 * 1024 * 1024


def _dumps(result: Any) -> bytes:
    # orjson: ~10x faster than the json module; non-finite floats were already encoded as
    # W&B's strings by the JSON scalar (a bare NaN would become null here, not invalid JSON).
    return orjson.dumps(result)


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}], "error": message}, status, headers=headers
    )


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body too large ({declared} bytes; the limit is {limit})")
    body = await request.body()
    if len(body) > limit:
        raise BadRequest(f"request body too large (the limit is {limit} bytes)")
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error):
            raise BadRequest("body says Content-Encoding: gzip but is not valid gzip") from None
    elif encoding not in ("", "identity"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; send plain or gzip")
    return body


async def _read_json(request: Request) -> Any:
    body = await _read_body(request, MAX_JSON_BODY)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def create_app(store: Store, blobs: Blobs, *, heartbeat_timeout_s: float = 300.0) -> Starlette:
    gql = GraphQLService(store, blobs)

    async def authed(request: Request) -> dict[str, Any]:
        return await run_in_threadpool(authenticate, store, request.headers.get("authorization"))

    async def graphql_endpoint(request: Request) -> Response:
        try:
            body = await _read_json(request)
            authorization = request.headers.get("authorization")

            def answer() -> bytes:
                # One worker-thread trip for the key, the query and the encoding (a 1,000-run
                # page is ~1 MB of JSON: encoding it on the event loop would stall the rest).
                user = authenticate(store, authorization)
                return _dumps(gql.execute(body, user, str(request.base_url)))

            encoded = await run_in_threadpool(answer)
        except AuthError as exc:
            return _error(401, str(exc), **{"WWW-Authenticate": 'Basic realm="liberry"'})
        except BadRequest as exc:
            return _error(400, str(exc))
        return Response(encoded, media_type="application/json")

    async def file_stream(request: Request) -> Response:
        p = request.path_params
        try:
            await authed(request)
            body = await _read_json(request)
            result = await run_in_threadpool(
                apply_chunk, store, p["entity"], p["project"], p["run"], body
            )
        except AuthError as exc:
            return _error(401, str(exc), **{"WWW-Authenticate": 'Basic realm="liberry"'})
        except NotFound as exc:
            return _error(404, str(exc))
        except (BadRequest, StoreError, FilterError) as exc:
            return _error(400, str(exc))
        return JSONResponse(result)

    def _check_signature(request: Request, method: str) -> Response | None:
        problem = blobs.verify(
            method,
            request.url.path,
            request.query_params.get("exp"),
            request.query_params.get("sig"),
        )
        return _error(403, problem) if problem else None

    async def storage_put(request: Request) -> Response:
        denied = _check_signature(request, "PUT")
        if denied:
            return denied
        run_pk = int(request.path_params["run_pk"])
        name = request.path_params["name"]
        try:
            data = await _read_body(request, MAX_UPLOAD)
            await run_in_threadpool(_store_upload, store, blobs, run_pk, name, data)
        except NotFound as exc:
            return _error(404, str(exc))
        except (BadRequest, StoreError) as exc:
            return _error(400, str(exc))
        return Response(status_code=200, headers={"ETag": '"ok"'})

    async def storage_get(request: Request) -> Response:
        denied = _check_signature(request, "GET")
        if denied:
            return denied
        try:
            path = blobs.run_file_path(
                int(request.path_params["run_pk"]), request.path_params["name"]
            )
        except StoreError as exc:
            return _error(400, str(exc))
        if not path.is_file():
            return _error(404, "file not found: it was never uploaded, or its run was deleted")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def index(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return PlainTextResponse(
            f"liberry server {__version__}: a W&B-compatible tracking server.\n"
            f"GraphQL at {base}/graphql; log to it with WANDB_BASE_URL={base}\n"
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        stop = threading.Event()
        watcher = threading.Thread(
            target=_crash_watcher,
            args=(store, heartbeat_timeout_s, stop),
            daemon=True,
            name="liberry-crash-watcher",
        )
        watcher.start()
        try:
            yield
        finally:
            stop.set()
            watcher.join(timeout=5)

    routes = [
        Route("/graphql", graphql_endpoint, methods=["POST"]),
        Route("/files/{entity}/{project}/{run}/file_stream", file_stream, methods=["POST"]),
        Route("/storage/runs/{run_pk:int}/{name:path}", storage_put, methods=["PUT"]),
        Route("/storage/runs/{run_pk:int}/{name:path}", storage_get, methods=["GET"]),
        *artifact_routes(store, blobs),
        *export_routes(store),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        # Level 1: a 7 MB history response costs 30 ms instead of 500 ms at the default 9.
        middleware=[Middleware(GZipMiddleware, minimum_size=2048, compresslevel=1)],
        lifespan=lifespan,
    )


def _store_upload(store: Store, blobs: Blobs, run_pk: int, name: str, data: bytes) -> None:
    from .store import files as run_files

    with store.read() as conn:
        if runs.get_run_by_pk(conn, run_pk) is None:
            raise NotFound("the run of this upload URL no longer exists")
    size, md5 = blobs.write(run_pk, name, data)
    with store.write() as conn:
        run_files.record_upload(conn, run_pk, name, size, md5, mimetypes.guess_type(name)[0])


def _crash_watcher(store: Store, timeout_s: float, stop: threading.Event) -> None:
    """Mark runs whose heartbeat stopped as crashed, as W&B does."""
    interval = max(0.2, min(30.0, timeout_s / 4))
    while not stop.wait(interval):
        cutoff = (datetime.now(UTC) - timedelta(seconds=timeout_s)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        try:
            with store.write() as conn:
                count = runs.mark_crashed(conn, cutoff)
            if count:
                log.info(
                    "marked %d run(s) crashed after %.0f s without heartbeat", count, timeout_s
                )
        except Exception:  # keep watching: a locked DB now is fine a moment later
            log.exception("crash watcher failed")
            time.sleep(interval)
