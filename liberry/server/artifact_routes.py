"""HTTP routes for artifact bytes: PUT files and manifests, GET blobs (signed URLs only).

Bodies are streamed to the object store chunk by chunk (see ArtifactStorage.receive), and
back out the same way, so a 5 GB file costs the server a few MiB of buffers, not 5 GB.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .access import Access
from .artifact_storage import (
    DigestMismatch,
    UploadTooLarge,
    download_key,
    manifest_key,
    storage_for,
    upload_key,
)
from .blob_response import BlobResponse
from .blobs import Blobs
from .gate import Gate
from .store import Store
from .store import artifacts as artifact_store
from .store.errors import NotFound, StoreError

log = logging.getLogger("liberry.server")

MAX_ARTIFACT_UPLOAD = 64 * 1024**3


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message}], "error": message}, status)


def artifact_routes(store: Store, blobs: Blobs, gate: Gate) -> list[Route]:
    storage = storage_for(blobs)

    async def denied(
        request: Request, method: str, key: str, check: Callable[[Access], object]
    ) -> Response | None:
        return await gate.storage(request, method, key, storage.verify, check)

    def blob_check(md5_hex: str) -> Callable[[Access], object]:
        def check(access: Access) -> None:
            if not access.artifact_blob(md5_hex):
                raise NotFound("artifact file not found: its artifact was deleted")

        return check

    def pending_check(pk: int) -> Callable[[Access], object]:
        """Reach the artifact, and it still takes files: both in the gate's one read
        transaction (one thread hop and one transaction per PUT, not two)."""

        def check(access: Access) -> None:
            if access.artifact_state(pk) != artifact_store.PENDING:
                raise StoreError("this artifact is already committed: its files cannot change")

        return check

    async def receive(request: Request, expected: str | None) -> tuple[str, int] | Response:
        encoding = request.headers.get("content-encoding", "").lower()
        if encoding not in ("", "identity"):
            return _error(400, f"unsupported Content-Encoding {encoding!r} for artifact files")
        chunks: AsyncIterator[bytes] = request.stream()
        try:
            return await storage.receive(chunks, expected, MAX_ARTIFACT_UPLOAD)
        except DigestMismatch as exc:
            return _error(400, str(exc))
        except UploadTooLarge as exc:
            return _error(413, str(exc))
        except ClientDisconnect:
            log.info("artifact upload interrupted by the client; nothing was stored")
            return _error(400, "upload interrupted before the body was complete")

    async def put_file(request: Request) -> Response:
        pk = int(request.path_params["pk"])
        md5 = request.path_params["md5"]
        refused = await denied(request, "PUT", upload_key(pk, md5), pending_check(pk))
        if refused:
            return refused
        got = await receive(request, md5)
        if isinstance(got, Response):
            return got
        return Response(status_code=200, headers={"ETag": f'"{got[0]}"'})

    async def put_manifest(request: Request) -> Response:
        pk = int(request.path_params["pk"])
        expected = request.path_params["md5"]
        key = manifest_key(pk, None if expected == "any" else expected)
        refused = await denied(request, "PUT", key, pending_check(pk))
        if refused:
            return refused
        got = await receive(request, None if expected == "any" else expected)
        if isinstance(got, Response):
            return got

        def record() -> None:
            with store.write() as conn:
                artifact_store.set_manifest(conn, pk, got[0])

        try:
            await run_in_threadpool(record)
        except StoreError as exc:
            return _error(409, str(exc))
        return Response(status_code=200, headers={"ETag": f'"{got[0]}"'})

    async def get_blob(request: Request) -> Response:
        md5 = request.path_params["md5"]
        refused = await denied(request, "GET", download_key(md5), blob_check(md5))
        if refused:
            return refused
        try:
            key = storage.blob_key(md5)
        except ValueError as exc:
            return _error(400, str(exc))
        # `identity` keeps the gzip middleware off: compressing GBs of (mostly already
        # compressed) model and data files would cost CPU and gain nothing.
        headers = {"Content-Encoding": "identity"}
        path = storage.objects.local_path(key)
        if path is not None:
            if not path.is_file():
                return _error(404, "artifact file not found: its artifact was deleted")
            return BlobResponse(path, media_type="application/octet-stream", headers=headers)
        found = await storage.objects.open_stream(key)
        if found is None:
            return _error(404, "artifact file not found: its artifact was deleted")
        headers["Content-Length"] = str(found.size)
        return StreamingResponse(
            found.chunks, media_type="application/octet-stream", headers=headers
        )

    return [
        Route("/storage/artifacts/{pk:int}/files/{md5}/{name:path}", put_file, methods=["PUT"]),
        Route("/storage/artifacts/{pk:int}/manifest/{md5}", put_manifest, methods=["PUT"]),
        Route("/storage/artifact-blobs/{md5}/{name:path}", get_blob, methods=["GET"]),
    ]
