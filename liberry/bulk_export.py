"""liberry's Arrow bulk export, client side: a whole filtered, ordered run set in one request.

A liberry server answers `GET /api/runs.arrow` with an Arrow IPC stream (see
`liberry/server/export_routes.py`); W&B's servers have no such route. `supported` asks the
server once per `Api` (its `serverInfo.features` names ARROW_EXPORT_FEATURE) and remembers the
answer; `Runs.to_pandas()` / `to_arrow()` then use `fetch_columns` there and GraphQL pages
everywhere else, filling the same `RunColumns`, so both ways give the same table.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ServerError
from .run_frame import RunColumns
from .run_frame_arrow import ExportDecoder
from .session import Session, SessionOwner, session_of

__all__ = ["ARROW_EXPORT_FEATURE", "fetch_columns", "supported"]

ARROW_EXPORT_FEATURE: Final = "LIBERRY_ARROW_EXPORT"
ARROW_EXPORT_PATH: Final = "/api/runs.arrow"
ARROW_MEDIA_TYPE: Final = "application/vnd.apache.arrow.stream"
_LOOPBACK: Final = ("localhost", "127.0.0.1", "::1")

#: The stream's columns `RunColumns.add` takes, in its argument order (`tags` is not one).
_COLUMNS: Final = ("id", "display_name", "state", "created_at", "config", "summary")


def supported(owner: Session | SessionOwner) -> bool:
    """Whether the server has the Arrow export (asked once per Api, with its other features)."""
    return ARROW_EXPORT_FEATURE in session_of(owner).features()


def fetch_columns(
    api: Session,
    entity: str,
    project: str,
    *,
    filters_json: str | None,
    order: str | None,
    limit: int | None,
) -> RunColumns:
    """Every matching run, decoded a record batch at a time as the stream arrives (so the
    server reads the next batch while this one is decoded)."""
    import pyarrow as pa

    params: dict[str, Any] = {"entity": entity, "project": project}
    if filters_json:
        params["filters"] = filters_json
    if order:
        params["order"] = order
    if limit is not None:
        params["limit"] = limit
    if urlsplit(api.client.base_url).hostname not in _LOOPBACK:
        # Over a network the bytes cost more than zstd does; on this machine they are free.
        params["compression"] = "zstd"
    response = api.client.request(
        "GET",
        api.client.base_url + ARROW_EXPORT_PATH,
        params=params,
        # Arrow's own compression (or none): HTTP gzip would cost more than it saves.
        headers={"Accept-Encoding": "identity"},
        stream=True,
        what=f"Arrow export of {entity}/{project}",
    )
    # Counted with the GraphQL operations, which tests and benchmarks read (one export, one
    # request); exports run one at a time, so the Counter needs no lock here.
    api.client.operation_counts["RunsArrow"] += 1
    decoder = ExportDecoder()
    with response:
        kind = response.headers.get("Content-Type", "")
        if not kind.startswith(ARROW_MEDIA_TYPE):
            raise ServerError(
                f"Arrow export of {entity}/{project}: expected {ARROW_MEDIA_TYPE} from "
                f"{api.client.base_url}, got {kind or 'no Content-Type'}",
                status=response.status_code,
                url=response.url,
            )
        response.raw.decode_content = True
        with pa.ipc.open_stream(response.raw) as reader:
            for batch in reader:
                decoder.add(batch)
    return decoder.finish()
