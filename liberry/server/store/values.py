"""Run values: the keys of each run's config and summary, one row each in `run_values`.

Run filters and orders (`filters.py`, `ordering.py`) read this table instead of parsing JSON
text for every run. This module owns the encoding, shared by the writer below and the
compilers, so the two cannot disagree:

- `source`: CONFIG (the *unwrapped* config: `config.KEY` is `config[KEY]["value"]`; entries
  without a `value` are not values) or SUMMARY.
- `key`: the path of object keys from the source's root, each key escaped (`\\` -> `\\\\`,
  `.` -> `\\.`) and joined with `.`, the dotted form filters use: `model.depth` for
  `config.model.value.depth`. `key_text` makes it from a key tuple.
- Paths of up to MAX_DEPTH keys are stored, except those under `_wandb` (the client's own
  bookkeeping, about as many keys as a typical config). `indexed(path)` says whether a path is
  answered here; the compilers read JSON text for the others.
- `kind` (KIND_*), the exact JSON kind; `grp`, the sort group (`jsonsql.RANK_*`: numbers,
  strings, booleans, arrays/objects, null/NaN; a missing key has no row).
- `number`: numbers, booleans as 0/1 (false < true); `text`: strings, and arrays/objects as
  canonical JSON (`jsonsql.canonical_json`: key order ignored, 1.0 == 1). A canonical text
  longer than STRUCT_TEXT_LIMIT is cut there and ends with `~`, which no canonical array or
  object ends with: it still sorts exactly against every other value, except that two long
  values sharing their first STRUCT_TEXT_LIMIT characters tie (and fall back to run order);
  equality with a long operand is answered from the JSON text.

Writers call `index_run_values` in the transaction that changes a run's config or summary.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import orjson
from sqlalchemy import Connection, bindparam, select

from . import tables as t
from .bulk import insert_rows
from .jsonsql import (
    RANK_BOOL,
    RANK_NULL,
    RANK_NUMBER,
    RANK_STRING,
    RANK_STRUCT,
    canonical_json,
)

__all__ = [
    "CONFIG",
    "MAX_DEPTH",
    "SUMMARY",
    "delete_run_values",
    "index_run_values",
    "indexed",
    "key_text",
    "reindex_runs",
    "struct_text",
]

log = logging.getLogger(__name__)

CONFIG: Final = 0
SUMMARY: Final = 1
SOURCES: Final = {"config": CONFIG, "summary": SUMMARY}

MAX_DEPTH: Final = 5  # keys in a stored path; `run_keys` lists nested keys as deep
SKIPPED_ROOT: Final = "_wandb"
STRUCT_TEXT_LIMIT: Final = 128  # characters of canonical JSON kept for arrays/objects
TRUNCATED: Final = "~"

KIND_NUMBER, KIND_STRING, KIND_BOOLEAN, KIND_ARRAY, KIND_OBJECT, KIND_NULL, KIND_NAN = range(7)
GROUP_OF_KIND: Final = {
    KIND_NUMBER: RANK_NUMBER,
    KIND_STRING: RANK_STRING,
    KIND_BOOLEAN: RANK_BOOL,
    KIND_ARRAY: RANK_STRUCT,
    KIND_OBJECT: RANK_STRUCT,
    KIND_NULL: RANK_NULL,
    KIND_NAN: RANK_NULL,
}

COLUMNS: Final = ("run_id", "source", "key", "project_id", "grp", "number", "text", "kind")
_INT64: Final = 2**63

Row = tuple[int, int, str, int, int, Any, str | None, int]


def indexed(path: tuple[str, ...]) -> bool:
    """True when `run_values` holds the value at `path` (keys from a source's root)."""
    return 0 < len(path) <= MAX_DEPTH and path[0] != SKIPPED_ROOT and "\x00" not in "".join(path)


def key_text(path: Iterable[str]) -> str:
    """The `key` column for a path of keys: escaped keys joined with `.`."""
    return ".".join(k.replace("\\", "\\\\").replace(".", "\\.") for k in path)


def struct_text(value: Any) -> str:
    """The `text` column for an array/object: canonical JSON, cut at STRUCT_TEXT_LIMIT."""
    text = canonical_json(value)
    return text if len(text) <= STRUCT_TEXT_LIMIT else text[:STRUCT_TEXT_LIMIT] + TRUNCATED


def _encode(value: Any) -> tuple[int, Any, str | None, int]:
    """(grp, number, text, kind) for one JSON value."""
    if value is None:
        return RANK_NULL, None, None, KIND_NULL
    if isinstance(value, bool):
        return RANK_BOOL, int(value), None, KIND_BOOLEAN
    if isinstance(value, int):
        if -_INT64 <= value < _INT64:
            return RANK_NUMBER, value, None, KIND_NUMBER
        try:  # as SQLite's json_extract reads integers beyond 64 bits
            return RANK_NUMBER, float(value), None, KIND_NUMBER
        except OverflowError:
            return RANK_NUMBER, math.inf if value > 0 else -math.inf, None, KIND_NUMBER
    if isinstance(value, float):
        if math.isnan(value):
            return RANK_NULL, None, None, KIND_NAN
        return RANK_NUMBER, value, None, KIND_NUMBER
    if isinstance(value, str):
        return RANK_STRING, None, value, KIND_STRING
    if isinstance(value, list):
        return RANK_STRUCT, None, struct_text(value), KIND_ARRAY
    return RANK_STRUCT, None, struct_text(value), KIND_OBJECT


def _parse(text: str | bytes | None) -> dict[str, Any]:
    """A stored JSON object; {} (nothing indexed) for anything else, as the JSON path reads it."""
    if not text:
        return {}
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:  # NaN/Infinity, integers beyond 64 bits
            doc = json.loads(text)
        except ValueError:
            log.warning("run_values: skipping a document that is not valid JSON")
            return {}
    return doc if isinstance(doc, dict) else {}


def _roots(source: int, doc: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in doc.items():
        if key == SKIPPED_ROOT:
            continue
        if source == CONFIG:
            if isinstance(value, dict) and "value" in value:
                yield key, value["value"]
        else:
            yield key, value


def value_rows(run_id: int, project_id: int, source: int, doc: Mapping[str, Any]) -> list[Row]:
    """The `run_values` rows of one parsed config (W&B-wrapped) or summary."""
    rows: list[Row] = []

    def walk(key: str, value: Any, depth: int) -> None:
        if "\x00" in key:
            return  # no filter can name it (and PostgreSQL text cannot hold it)
        rows.append((run_id, source, key, project_id, *_encode(value)))
        if depth < MAX_DEPTH and isinstance(value, dict):
            for sub, child in value.items():
                walk(f"{key}.{key_text((sub,))}", child, depth + 1)

    for root, value in _roots(source, doc):
        walk(key_text((root,)), value, 1)
    return rows


def _same(old: tuple[Any, ...], new: Row) -> bool:
    # Numbers compare by value: SQLite may hand back 3 for a stored 3.0.
    return old[0] == new[4] and old[1] == new[5] and old[2] == new[6] and old[3] == new[7]


_EXISTING = select(
    t.run_values.c.key,
    t.run_values.c.grp,
    t.run_values.c.number,
    t.run_values.c.text,
    t.run_values.c.kind,
).where(
    t.run_values.c.run_id == bindparam("run_id"),
    t.run_values.c.source == bindparam("source"),
)
_DELETE_KEY = t.run_values.delete().where(
    t.run_values.c.run_id == bindparam("b_run_id"),
    t.run_values.c.source == bindparam("b_source"),
    t.run_values.c.key == bindparam("b_key"),
)
_DELETE_SOURCE = t.run_values.delete().where(
    t.run_values.c.run_id == bindparam("b_run_id"),
    t.run_values.c.source == bindparam("b_source"),
)
# The same, straight to the driver (as bulk.py does): this runs on every summary update.
_RAW = {
    marker: (
        f'SELECT "key", grp, number, text, kind FROM run_values '
        f"WHERE run_id = {marker} AND source = {marker}",
        f"DELETE FROM run_values WHERE run_id = {marker} AND source = {marker} "
        f'AND "key" = {marker}',
        f"DELETE FROM run_values WHERE run_id = {marker} AND source = {marker}",
    )
    for marker in ("?", "%s")
}
_MARKERS: Final = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _existing(conn: Connection, run_id: int, source: int) -> dict[str, tuple[Any, ...]]:
    marker = _MARKERS.get(conn.dialect.paramstyle)
    if marker is None:
        rows = conn.execute(_EXISTING, {"run_id": run_id, "source": source})
    else:
        rows = conn.exec_driver_sql(_RAW[marker][0], (run_id, source))
    return {row[0]: tuple(row[1:]) for row in rows}


def _delete(conn: Connection, run_id: int, source: int, keys: list[str] | None) -> None:
    """Delete the run's rows of `source` with one of `keys` (None: all of them)."""
    marker = _MARKERS.get(conn.dialect.paramstyle)
    if marker is None:
        if keys is None:
            conn.execute(_DELETE_SOURCE, {"b_run_id": run_id, "b_source": source})
        else:
            params = [{"b_run_id": run_id, "b_source": source, "b_key": k} for k in keys]
            conn.execute(_DELETE_KEY, params)
    elif keys is None:
        conn.exec_driver_sql(_RAW[marker][2], (run_id, source))
    else:
        conn.exec_driver_sql(_RAW[marker][1], [(run_id, source, k) for k in keys])


def index_run_values(
    conn: Connection,
    run_id: int,
    project_id: int,
    *,
    config: str | None = None,
    summary: str | None = None,
) -> None:
    """Make the run's value rows follow its new `config` and/or `summary` JSON text.

    A source given as None is left alone. Only keys whose value changed are rewritten, so an
    unchanged config costs one indexed read.
    """
    if config is None and summary is None:
        return
    if conn.dialect.name != "sqlite":
        # Two requests for one run must not both diff against the same old rows (SQLite's
        # writers are serialized already by BEGIN IMMEDIATE).
        conn.execute(select(t.runs.c.id).where(t.runs.c.id == run_id).with_for_update())
    for source, text in ((CONFIG, config), (SUMMARY, summary)):
        if text is None:
            continue
        new = {row[2]: row for row in value_rows(run_id, project_id, source, _parse(text))}
        old = _existing(conn, run_id, source)
        stale = [k for k, v in old.items() if k not in new or not _same(v, new[k])]
        if stale:
            _delete(conn, run_id, source, None if len(stale) == len(old) else stale)
        fresh = [row for k, row in new.items() if k not in old or not _same(old[k], row)]
        insert_rows(conn, t.run_values, COLUMNS, fresh)


def delete_run_values(conn: Connection, run_id: int) -> None:
    conn.execute(t.run_values.delete().where(t.run_values.c.run_id == run_id))


def reindex_runs(conn: Connection, *, project_id: int | None = None, batch: int = 2000) -> int:
    """Rebuild the value rows of every run (of one project, if given) from its stored config
    and summary; for migrations and for tools that write `runs` directly. Returns the runs."""
    runs = t.runs.c
    done = 0
    last = 0
    while True:
        stmt = select(runs.id, runs.project_id, runs.config, runs.summary).where(runs.id > last)
        if project_id is not None:
            stmt = stmt.where(runs.project_id == project_id)
        chunk = conn.execute(stmt.order_by(runs.id).limit(batch)).all()
        if not chunk:
            return done
        ids = [row[0] for row in chunk]
        conn.execute(t.run_values.delete().where(t.run_values.c.run_id.in_(ids)))
        rows: list[Row] = []
        for run_id, pid, config, summary in chunk:
            rows += value_rows(run_id, pid, CONFIG, _parse(config))
            rows += value_rows(run_id, pid, SUMMARY, _parse(summary))
        insert_rows(conn, t.run_values, COLUMNS, rows)
        done += len(chunk)
        last = ids[-1]
