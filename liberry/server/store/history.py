"""Run history rows and other line streams: the file_stream write path and sampled reads.

`line` is the file_stream offset of a row; a retried chunk overwrites the same lines, so
retries never duplicate rows. Reads are deterministic: the same request picks the same rows.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, and_, delete, func, or_, select

from . import tables as t
from .bulk import insert_rows
from .errors import StoreError

HISTORY_FILE = "wandb-history.jsonl"
SUMMARY_FILE = "wandb-summary.json"
EVENTS_FILE = "wandb-events.jsonl"
OUTPUT_FILE = "output.log"

_MAX_BINDS = 900  # stay far below SQLite's bound-parameter limit in IN lists / bulk writes


_SIMPLE_TYPES = {float: "number", int: "number", str: "string", bool: "boolean", type(None): "nil"}


def _value_type(value: Any) -> str:
    simple = _SIMPLE_TYPES.get(type(value))
    if simple is not None:
        return simple
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "nil"
    if isinstance(value, dict):
        kind = value.get("_type")
        return str(kind) if isinstance(kind, str) else "map"
    return "list"


def parse_history_lines(lines: Sequence[str]) -> list[dict[str, Any]]:
    """Each line as a JSON object; a line that is not one is an error naming it."""
    try:
        # One C-level parse of the whole chunk is several times faster than a call per line.
        rows = orjson.loads("[" + ",".join(lines) + "]")
        if len(rows) == len(lines) and all(type(r) is dict for r in rows):
            return rows
    except (orjson.JSONDecodeError, TypeError):
        pass
    # Slow path: W&B's client writes NaN/Infinity/-Infinity (which orjson refuses) for
    # non-finite metrics, and those rows must be kept; otherwise find the offending line.
    parsed: list[dict[str, Any]] = []
    for index, line in enumerate(lines):
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, TypeError):
            problem = f"{HISTORY_FILE} line {index} of the chunk is not valid JSON"
            raise StoreError(problem) from None
        if not isinstance(row, dict):
            raise StoreError(f"{HISTORY_FILE} line {index} of the chunk is not a JSON object")
        parsed.append(row)
    return parsed


def _step_of(row: dict[str, Any]) -> int | None:
    step = row.get("_step")
    if isinstance(step, int | float) and not isinstance(step, bool) and math.isfinite(step):
        return int(step)
    return None


def write_history(
    conn: Connection,
    run: dict[str, Any],
    offset: int,
    lines: Sequence[str],
) -> dict[str, Any]:
    """Store history lines at `offset`; returns the run columns to update."""
    parsed = parse_history_lines(lines)
    steps: list[int | None] = [row.get("_step") for row in parsed]
    if not all(type(step) is int for step in steps):  # fast path: W&B always sends ints
        steps = [_step_of(row) for row in parsed]
    run_id = run["id"]
    end = offset + len(parsed)
    conn.execute(
        delete(t.history).where(
            t.history.c.run_id == run_id, t.history.c.line >= offset, t.history.c.line < end
        )
    )
    insert_rows(
        conn,
        t.history,
        ("run_id", "line", "step", "data"),
        [(run_id, offset + i, steps[i], lines[i]) for i in range(len(lines))],
    )

    keys_doc = json.loads(run["history_keys"])
    key_counts: dict[str, Any] = keys_doc.setdefault("keys", {})
    # Count types only for lines never seen before, so retried chunks don't double-count.
    # Rows of one run nearly always share keys and types: count those signatures first.
    old_count = int(run["history_line_count"])
    fresh = parsed[max(0, old_count - offset) :]
    signatures = Counter((tuple(row), tuple(map(_value_type, row.values()))) for row in fresh)
    for (keys, kinds), times in signatures.items():
        for key, kind in zip(keys, kinds, strict=True):
            entry = key_counts.setdefault(key, {"typeCounts": []})
            for tc in entry["typeCounts"]:
                if tc["type"] == kind:
                    tc["count"] += times
                    break
            else:
                entry["typeCounts"].append({"type": kind, "count": times})
    known = [s for s in steps if s is not None]
    if known and max(known) > keys_doc.get("lastStep", -1):
        keys_doc["lastStep"] = max(known)
    return {
        "history_line_count": max(old_count, end),
        "history_keys": json.dumps(keys_doc, separators=(",", ":")),
    }


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


def even_positions(count: int, samples: int) -> list[int]:
    """`samples` positions spread evenly over range(count), always keeping first and last."""
    if samples <= 0 or count <= 0:
        return []
    if count <= samples:
        return list(range(count))
    if samples == 1:
        return [count - 1]
    return sorted({round(i * (count - 1) / (samples - 1)) for i in range(samples)})


def _rows_for_lines(conn: Connection, run_id: int, lines: list[int]) -> list[str]:
    out: list[str] = []
    for start in range(0, len(lines), _MAX_BINDS):
        chunk = lines[start : start + _MAX_BINDS]
        out.extend(
            r[0]
            for r in conn.execute(
                select(t.history.c.data)
                .where(t.history.c.run_id == run_id, t.history.c.line.in_(chunk))
                .order_by(t.history.c.line)
            )
        )
    return out


def _step_range(min_step: int | None, max_step: int | None) -> list[Any]:
    cond: list[Any] = []
    if min_step is not None:
        cond.append(t.history.c.step >= min_step)
    if max_step is not None:
        cond.append(t.history.c.step < max_step)
    return cond


def sample_history(
    conn: Connection,
    run: dict[str, Any],
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[str]:
    """Up to `samples` rows (JSON text) spread evenly over the run, or over a step range."""
    run_id = run["id"]
    if samples <= 0:
        return []
    if min_step is None and max_step is None:
        count = int(run["history_line_count"])
        if count <= samples:
            return [
                r[0]
                for r in conn.execute(
                    select(t.history.c.data)
                    .where(t.history.c.run_id == run_id)
                    .order_by(t.history.c.line)
                )
            ]
        return _rows_for_lines(conn, run_id, even_positions(count, samples))
    cond = [t.history.c.run_id == run_id, *_step_range(min_step, max_step)]
    window = conn.execute(
        select(t.history.c.data)
        .where(*cond)
        .order_by(t.history.c.step, t.history.c.line)
        .limit(samples + 1)
    ).all()
    if len(window) <= samples:
        return [r[0] for r in window]
    lines = [
        r[0]
        for r in conn.execute(
            select(t.history.c.line).where(*cond).order_by(t.history.c.step, t.history.c.line)
        )
    ]
    return _rows_for_lines(conn, run_id, [lines[p] for p in even_positions(len(lines), samples)])


def _json_key_like(key: str) -> str:
    # A portable prefilter: the serialized row contains `"key":`. Confirmed in Python after.
    escaped = json.dumps(key).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}:%"


def sampled_history(
    conn: Connection,
    run: dict[str, Any],
    keys: Sequence[str],
    samples: int,
    min_step: int | None = None,
    max_step: int | None = None,
) -> list[dict[str, Any]]:
    """Rows having any of `keys` (besides `_step`), projected to `keys`, evenly sampled.

    Keys logged at different steps are outer-joined: a row lacking some keys is kept with
    the keys it has. Deterministic, and first and last matching rows are always included.
    """
    run_id = run["id"]
    wanted = list(dict.fromkeys(keys))
    data_keys = [k for k in wanted if k != "_step"] or wanted
    counts = json.loads(run["history_keys"]).get("keys", {})
    total = int(run["history_line_count"])
    everywhere = all(
        sum(tc["count"] for tc in counts.get(k, {}).get("typeCounts", [])) >= total
        for k in data_keys
    )
    cond: list[Any] = [t.history.c.run_id == run_id, *_step_range(min_step, max_step)]
    if not everywhere:
        cond.append(
            or_(*[t.history.c.data.like(_json_key_like(k), escape="\\") for k in data_keys])
        )
    if everywhere and min_step is None and max_step is None:
        texts = sample_history(conn, run, samples)
    else:
        lines = [
            r[0]
            for r in conn.execute(
                select(t.history.c.line)
                .where(and_(*cond))
                .order_by(t.history.c.step, t.history.c.line)
            )
        ]
        texts = _rows_for_lines(
            conn, run_id, [lines[p] for p in even_positions(len(lines), samples)]
        )
    out: list[dict[str, Any]] = []
    for text in texts:
        row = json.loads(text)
        if not any(k in row for k in data_keys):
            continue
        out.append({k: row[k] for k in wanted if k in row})
    return out


def live_data(conn: Connection, run_id: int, keys: Iterable[str]) -> list[dict[str, Any]]:
    """Every row projected to `keys` (W&B's parquetHistory.liveData)."""
    keys = list(keys)
    if keys == ["_step"]:
        return [
            {"_step": r[0]}
            for r in conn.execute(
                select(t.history.c.step)
                .where(t.history.c.run_id == run_id, t.history.c.step.is_not(None))
                .order_by(t.history.c.line)
            )
        ]
    out = []
    for (text,) in conn.execute(
        select(t.history.c.data).where(t.history.c.run_id == run_id).order_by(t.history.c.line)
    ):
        row = json.loads(text)
        out.append({k: row[k] for k in keys if k in row})
    return out


def history_tail(conn: Connection, run_id: int, n: int = 1) -> list[str]:
    rows = conn.execute(
        select(t.history.c.data)
        .where(t.history.c.run_id == run_id)
        .order_by(t.history.c.line.desc())
        .limit(n)
    ).all()
    return [r[0] for r in reversed(rows)]


def history_count(conn: Connection, run_id: int) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(t.history).where(t.history.c.run_id == run_id)
        ).scalar_one()
    )
