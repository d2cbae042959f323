"""Line streams other than history: `output.log` (console) and `wandb-events.jsonl`
(system metrics), one row per line. A retried chunk overwrites the lines it already wrote."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, select

from . import tables as t
from .bulk import insert_rows

EVENTS_FILE = "wandb-events.jsonl"
OUTPUT_FILE = "output.log"


def write_stream(
    conn: Connection, run_id: int, file: str, offset: int, lines: Sequence[str]
) -> int:
    """Store lines of a non-history stream at `offset`; returns the new end line."""
    end = offset + len(lines)
    conn.execute(
        delete(t.stream_lines).where(
            t.stream_lines.c.run_id == run_id,
            t.stream_lines.c.file == file,
            t.stream_lines.c.line >= offset,
            t.stream_lines.c.line < end,
        )
    )
    insert_rows(
        conn,
        t.stream_lines,
        ("run_id", "file", "line", "content"),
        [(run_id, file, offset + i, line) for i, line in enumerate(lines)],
    )
    return end


def stream_lines(conn: Connection, run_id: int, file: str) -> list[str]:
    rows = conn.execute(
        select(t.stream_lines.c.content)
        .where(t.stream_lines.c.run_id == run_id, t.stream_lines.c.file == file)
        .order_by(t.stream_lines.c.line)
    )
    return [r[0] for r in rows]
