"""The `file_stream` endpoint's write path, exactly as W&B's client sends it.

Body: `{"files": {name: {"offset": line, "content": [lines]}}, "complete"?, "exitcode"?,
"uploaded"?, "preempting"?}`. Each chunk is applied in one transaction: a chunk is either
stored whole or not at all, and a retried chunk overwrites the lines it already wrote.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import update

from .store import Store, history, projects, runs, streams
from .store import tables as t
from .store.errors import NotFound, StoreError
from .store.util import now_iso
from .store.values import index_run_values

MAX_LINES_PER_CHUNK = 1_000_000


def _validate(body: Any) -> dict[str, tuple[int, list[str]]]:
    if not isinstance(body, dict):
        raise StoreError("file_stream body must be a JSON object with a `files` object")
    files = body.get("files", {})
    if not isinstance(files, dict):
        raise StoreError("file_stream `files` must be an object of {name: {offset, content}}")
    out: dict[str, tuple[int, list[str]]] = {}
    for name, chunk in files.items():
        if not isinstance(chunk, dict):
            raise StoreError(
                f"file_stream files[{name!r}] must be an object with offset and content"
            )
        offset = chunk.get("offset", 0)
        content = chunk.get("content", [])
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise StoreError(f"file_stream files[{name!r}].offset must be a non-negative integer")
        if not isinstance(content, list) or not set(map(type, content)) <= {str}:
            raise StoreError(f"file_stream files[{name!r}].content must be a list of strings")
        if len(content) > MAX_LINES_PER_CHUNK:
            raise StoreError(
                f"file_stream files[{name!r}] has {len(content)} lines; send at most "
                f"{MAX_LINES_PER_CHUNK} per request"
            )
        out[name] = (offset, content)
    exitcode = body.get("exitcode")
    if exitcode is not None and (isinstance(exitcode, bool) or not isinstance(exitcode, int)):
        raise StoreError("file_stream `exitcode` must be an integer")
    for flag in ("complete", "preempting"):
        if flag in body and not isinstance(body[flag], bool | None):
            raise StoreError(f"file_stream `{flag}` must be a boolean")
    return out


def apply_chunk(
    store: Store, entity: str, project: str, run_name: str, body: Any
) -> dict[str, Any]:
    chunks = _validate(body)
    complete = bool(body.get("complete"))
    exitcode = body.get("exitcode")
    # Only this run's rows change, under its row lock: file_streams of different runs commit
    # side by side (PostgreSQL), each chunk still all or nothing.
    with store.run_write() as conn:
        proj = projects.get_project(conn, entity, project)
        run = runs.get_run(conn, proj["id"], run_name, for_update=True) if proj else None
        if run is None:
            raise NotFound(
                f"run {entity}/{project}/{run_name} not found: create it with upsertBucket first"
            )
        values: dict[str, Any] = {"heartbeat_at": now_iso(), "updated_at": now_iso()}
        for name, (offset, lines) in chunks.items():
            if not lines:
                continue
            if name == history.HISTORY_FILE:
                values.update(history.write_history(conn, run, offset, lines))
            elif name == history.SUMMARY_FILE:
                try:
                    summary = json.loads(lines[-1])
                except json.JSONDecodeError:
                    raise StoreError(f"{name} is not valid JSON") from None
                if not isinstance(summary, dict):
                    raise StoreError(f"{name} must be a JSON object")
                values["summary"] = lines[-1]
                index_run_values(conn, run["id"], run["project_id"], summary=lines[-1])
            else:
                end = streams.write_stream(conn, run["id"], name, offset, lines)
                if name == streams.OUTPUT_FILE:
                    values["log_line_count"] = max(run["log_line_count"], end)
                elif name == streams.EVENTS_FILE:
                    values["events_line_count"] = max(run["events_line_count"], end)
        if complete:
            code = exitcode if exitcode is not None else 0
            values["state"] = "finished" if code == 0 else "failed"
            values["exitcode"] = code
        elif body.get("preempting"):
            values["state"] = "preempting"
        else:
            # A live chunk means the process is alive: a resumed or wrongly-crashed run runs again.
            values["state"] = "running"
        conn.execute(update(t.runs).where(t.runs.c.id == run["id"]).values(**values))
    return {"exitcode": None, "limits": {}}
