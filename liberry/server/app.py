"""The ASGI app: GraphQL, file_stream, signed storage URLs and a health check."""

from __future__ import annotations

import base64
import logging
import mimetypes
import threading
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from .._version import __version__
from .access import Access
from .artifact_routes import artifact_routes
from .auth import Authenticator
from .blobs import Blobs
from .export_routes import export_routes
from .filestream import apply_chunk
from .gate import Gate
from .graphql import BadRequest, GraphQLService
from .objectstore import UploadTooLarge
from .ratelimit import LoginLimiter
from .report_page import find_report, render_report, vega_bundle
from .store import Store, runs
from .store import files as run_files
from .store.errors import NotFound, StoreError
from .store.filters import FilterError
from .timings import timing_middleware

log = logging.getLogger("liberry.server")

#: file_stream chunks (a long run's final chunk can hold every line it logged).
MAX_JSON_BODY = 256 * 1024 * 1024
#: GraphQL requests: the largest legitimate one is a run's config or summary (a few MB).
MAX_GRAPHQL_BODY = 32 * 1024 * 1024
#: A run file PUT (streamed into the object store, never held in memory whole).
MAX_UPLOAD = 5 * 1024 * 1024 * 1024


def _dumps(result: Any) -> bytes:
    # orjson: ~10x faster than the json module; non-finite floats were already encoded as
    # W&B's strings by the JSON scalar (a bare NaN would become null here, not invalid JSON).
    return orjson.dumps(result)


def _error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message}], "error": message}, status, headers=headers
    )


class BodyTooLarge(BadRequest):
    """A body over its route's limit (HTTP 413)."""


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body too large ({declared} bytes; the limit is {limit})")
    # Streamed with a running total: a client that lies about (or omits) Content-Length is
    # cut off at the limit instead of filling memory.
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body too large (the limit is {limit} bytes)")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding == "gzip":
        try:
            body = _gunzip(body, limit)
        except (OSError, EOFError, zlib.error):
            raise BadRequest("body says Content-Encoding: gzip but is not valid gzip") from None
    elif encoding not in ("", "identity"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; send plain or gzip")
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    """Decompress at most `limit` bytes: a small gzip bomb must not become gigabytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge(f"request body too large once decompressed (the limit is {limit} bytes)")
    if not inflater.eof:
        raise EOFError("truncated gzip")
    return out


async def _upload_chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    """A PUT body as it arrives, gunzipped on the fly when it says Content-Encoding: gzip
    (each piece at most 1 MiB, so a small gzip bomb never becomes one large buffer)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body too large ({declared} bytes; the limit is {limit})")
    encoding = request.headers.get("content-encoding", "").lower()
    if encoding in ("", "identity"):
        async for chunk in request.stream():
            yield chunk
        return
    if encoding != "gzip":
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}; send plain or gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        async for chunk in request.stream():
            data = chunk
            while data:
                out = inflater.decompress(data, 1 << 20)
                data = inflater.unconsumed_tail
                if out:
                    yield out
        if not inflater.eof:
            raise BadRequest("body says Content-Encoding: gzip but the gzip stream is truncated")
    except zlib.error:
        raise BadRequest("body says Content-Encoding: gzip but is not valid gzip") from None


async def _read_json(request: Request, limit: int) -> Any:
    body = await _read_body(request, limit)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def create_app(
    store: Store,
    blobs: Blobs,
    *,
    heartbeat_timeout_s: float = 300.0,
    limiter: LoginLimiter | None = None,
) -> Starlette:
    gql = GraphQLService(store, blobs)
    gate = Gate(store, Authenticator(store, limiter))

    async def graphql_endpoint(request: Request) -> Response:
        # The key first: a request without a valid one is refused before its body is read.
        user = await gate.user(request)
        if isinstance(user, Response):
            return user
        try:
            body = await _read_json(request, MAX_GRAPHQL_BODY)

            def answer() -> bytes:
                # One worker-thread trip for the query and the encoding (a 1,000-run page is
                # ~1 MB of JSON: encoding it on the event loop would stall the rest).
                return _dumps(gql.execute(body, user, str(request.base_url)))

            encoded = await run_in_threadpool(answer)
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        except BadRequest as exc:
            return _error(400, str(exc))
        return Response(encoded, media_type="application/json")

    async def file_stream(request: Request) -> Response:
        p = request.path_params
        user = await gate.user(request)
        if isinstance(user, Response):
            return user
        try:
            await run_in_threadpool(
                _check_run_path, store, user, p["entity"], p["project"], p["run"]
            )
            body = await _read_json(request, MAX_JSON_BODY)
            result = await run_in_threadpool(
                apply_chunk, store, p["entity"], p["project"], p["run"], body
            )
        except NotFound as exc:
            return _error(404, str(exc))
        except BodyTooLarge as exc:
            return _error(413, str(exc))
        except (BadRequest, StoreError, FilterError) as exc:
            return _error(400, str(exc))
        return JSONResponse(result)

    def run_check(run_pk: int) -> Callable[[Access], object]:
        return lambda access: access.run(run_pk)

    async def storage_put(request: Request) -> Response:
        run_pk = int(request.path_params["run_pk"])
        name = request.path_params["name"]
        refused = await gate.storage(
            request, "PUT", request.url.path, blobs.verify, run_check(run_pk)
        )
        if refused:
            return refused
        try:
            await run_in_threadpool(_require_run, store, run_pk)
            key = blobs.run_key(run_pk, name)
            # Streamed: the body goes to the object store in chunks as it arrives.
            stored = await blobs.objects.put_stream(
                key, _upload_chunks(request, MAX_UPLOAD), limit=MAX_UPLOAD
            )
            md5 = base64.b64encode(bytes.fromhex(stored.md5_hex)).decode()

            def record() -> None:
                with store.run_write() as conn:  # this run's rows only, under its row lock
                    run_files.record_upload(
                        conn, run_pk, name, stored.size, md5, mimetypes.guess_type(name)[0]
                    )

            await run_in_threadpool(record)
        except NotFound as exc:
            return _error(404, str(exc))
        except (BodyTooLarge, UploadTooLarge) as exc:
            return _error(413, str(exc))
        except (BadRequest, StoreError) as exc:
            return _error(400, str(exc))
        except ClientDisconnect:
            log.info("run file upload interrupted by the client; nothing was stored")
            return _error(400, "upload interrupted before the body was complete")
        return Response(status_code=200, headers={"ETag": '"ok"'})

    async def storage_get(request: Request) -> Response:
        run_pk = int(request.path_params["run_pk"])
        refused = await gate.storage(
            request, "GET", request.url.path, blobs.verify, run_check(run_pk)
        )
        if refused:
            return refused
        name = request.path_params["name"]
        try:
            key = blobs.run_key(run_pk, name)
        except StoreError as exc:
            return _error(400, str(exc))
        missing = "file not found: it was never uploaded, or its run was deleted"
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        path = blobs.objects.local_path(key)
        if path is not None:
            if not path.is_file():
                return _error(404, missing)
            return FileResponse(path, media_type=media)
        found = await blobs.objects.open_stream(key)
        if found is None:
            return _error(404, missing)
        return StreamingResponse(
            found.chunks, media_type=media, headers={"Content-Length": str(found.size)}
        )

    async def report_page(request: Request) -> Response:
        p = request.path_params

        # A browser asks for the key with its own login prompt (the gate's 401 says Basic).
        user = await gate.user(request)
        if isinstance(user, Response):
            return user

        def page() -> str | None:
            with store.read() as conn:
                access = Access(conn, user)
                found = find_report(access, p["entity"], p["project"], p["slug"])
                return render_report(access, *found) if found else None

        text = await run_in_threadpool(page)
        if text is None:
            return PlainTextResponse(
                f"report {p['slug']!r} not found in {p['entity']}/{p['project']}: it may have "
                "been deleted, or the link is from another server",
                status_code=404,
            )
        return HTMLResponse(text)

    async def vega_js(request: Request) -> Response:
        # The widgets' chart bundle, for report pages (public: the same file ships in the wheel).
        path = vega_bundle()
        if path is None:
            return PlainTextResponse("chart bundle not built (npm run build)", status_code=404)
        return FileResponse(path, media_type="text/javascript")

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
        *artifact_routes(store, blobs, gate),
        *export_routes(store, gate),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/static/liberry/vega.js", vega_js, methods=["GET"]),
        Route("/{entity}/{project}/reports/{slug}", report_page, methods=["GET"]),
        Route("/", index, methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        # Level 1: a 7 MB history response costs 30 ms instead of 500 ms at the default 9.
        middleware=[
            *timing_middleware(),  # LIBERRY_TIMINGS=path only: per-request durations
            Middleware(GZipMiddleware, minimum_size=2048, compresslevel=1),
        ],
        lifespan=lifespan,
    )


def _check_run_path(
    store: Store, user: dict[str, Any], entity: str, project: str, run: str
) -> None:
    """NotFound unless `user` reaches `entity/project` (file_stream writes to its runs), with
    the message file_stream gives for a run that does not exist: the two must not differ."""
    with store.read() as conn:
        if Access(conn, user).project(entity, project) is None:
            raise NotFound(
                f"run {entity}/{project}/{run} not found: create it with upsertBucket first"
            )


def _require_run(store: Store, run_pk: int) -> None:
    with store.read() as conn:
        if runs.get_run_by_pk(conn, run_pk) is None:
            raise NotFound("the run of this upload URL no longer exists")


def _crash_watcher(store: Store, timeout_s: float, stop: threading.Event) -> None:
    """Mark runs whose heartbeat stopped as crashed, as W&B does."""
    interval = max(0.2, min(30.0, timeout_s / 4))
    while not stop.wait(interval):
        cutoff = (datetime.now(UTC) - timedelta(seconds=timeout_s)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        try:
            with store.read() as conn:  # usually none: no write lock every interval
                if not runs.any_stale(conn, cutoff):
                    continue
            with store.write() as conn:
                count = runs.mark_crashed(conn, cutoff)
            if count:
                log.info(
                    "marked %d run(s) crashed after %.0f s without heartbeat", count, timeout_s
                )
        except Exception:  # keep watching: a locked DB now is fine a moment later
            log.exception("crash watcher failed")
            time.sleep(interval)
