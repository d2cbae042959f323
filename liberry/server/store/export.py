"""Bulk export: every run of a filtered, ordered set as Arrow record batches.

What `GET /api/runs.arrow` streams (see `server/export_routes.py`). One row per run:

| column | type | what |
| --- | --- | --- |
| `id` | string | the run id (W&B's `name`) |
| `display_name` | string | as stored (null when none was set; clients show the id then) |
| `state` | string | `running`, `finished`, ... |
| `created_at` | string | W&B's DateTime text (UTC, seconds), as GraphQL's `createdAt` |
| `tags` | list<string> | |
| `config` | string | the stored JSON text, W&B-wrapped (`{"lr": {"value": 0.1}}`) |
| `summary` | string | the stored JSON text |

Config and summary go out as the JSON text the store holds, not expanded into a column per
key: the client decodes them with the code that decodes GraphQL's `config` and
`summaryMetrics` (`liberry/run_frame.py`), so both paths give the same table, NaN, nested
keys and mixed types included, and the server spends no time on what it would only re-encode.

Runs are read with the keyset pages of `OrderSpec.fetch_rows` (the same order as GraphQL's `runs`),
FIRST_BATCH_ROWS first, then twice as many per batch up to BATCH_ROWS: one query per batch,
never one per run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Connection, select

from . import tables as t
from .filters import compile_filters
from .ordering import compile_order

__all__ = ["BATCH_ROWS", "FIRST_BATCH_ROWS", "SCHEMA", "run_batches"]

#: Runs in the first record batch: small, so the client has bytes to decode within a few
#: milliseconds; each later batch is twice as large, up to BATCH_ROWS, so that per-query costs
#: vanish while the client decodes one batch as the server reads the next.
FIRST_BATCH_ROWS: Final = 250
BATCH_ROWS: Final = 4_000

_TAGS: Final = pa.list_(pa.string())
SCHEMA: Final = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("state", pa.string()),
        pa.field("created_at", pa.string()),
        pa.field("tags", _TAGS),
        pa.field("config", pa.string()),
        pa.field("summary", pa.string()),
    ]
)

_COLUMNS: Final = (
    t.runs.c.name,
    t.runs.c.display_name,
    t.runs.c.state,
    t.runs.c.created_at,
    t.runs.c.tags,
    t.runs.c.config,
    t.runs.c.summary,
)


def _tags(texts: Sequence[str | None]) -> pa.Array:
    """Each run's tags (stored as JSON text). Runs share a few tag sets: each distinct text is
    parsed once, and Arrow repeats its list for the runs that have it."""
    encoded = pa.array(texts, pa.string()).fill_null("[]").dictionary_encode()
    parsed = [_tags_of(text) for text in encoded.dictionary.to_pylist()]
    lists = pa.array([tags if isinstance(tags, list) else [] for tags in parsed], _TAGS)
    return lists.take(encoded.indices)


def _tags_of(text: str | None) -> Any:
    try:
        return orjson.loads(text or "[]")
    except orjson.JSONDecodeError:
        return []


def _batch(keys: list[str], rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    """The rows (tuples, as the driver gave them) as one record batch, a column at a time."""
    columns = dict(zip(keys, zip(*rows, strict=True), strict=True))
    created = pa.array(columns["created_at"], pa.string())
    return pa.record_batch(
        [
            pa.array(columns["name"], pa.string()),
            pa.array(columns["display_name"], pa.string()),
            pa.array(columns["state"], pa.string()),
            # W&B's DateTime text, as `iso_to_wandb` makes it: the first 19 characters.
            pc.utf8_slice_codeunits(created, 0, 19),
            _tags(columns["tags"]),
            pa.array(columns["config"], pa.string()),
            pa.array(columns["summary"], pa.string()),
        ],
        schema=SCHEMA,
    )


def run_batches(
    conn: Connection,
    project_id: int,
    *,
    filters: Mapping[str, Any] | None,
    order: str | None,
    limit: int | None = None,
    batch_rows: int = BATCH_ROWS,
    first_rows: int = FIRST_BATCH_ROWS,
) -> Iterator[pa.RecordBatch]:
    """The project's runs matching `filters`, in `order`, as record batches of SCHEMA.

    Filters and order are compiled before the first batch is read, so a bad one raises
    `FilterError` on the first `next()`. At most `limit` runs (None: all of them).
    """
    dialect = conn.dialect.name
    spec = compile_order(order, dialect)
    stmt = (
        select(*_COLUMNS)
        # Filters on `username` read the users table, as in `runs.list_runs`.
        .outerjoin(t.users, t.users.c.id == t.runs.c.user_id)
        .where(t.runs.c.project_id == project_id, compile_filters(filters, dialect))
    )
    after: str | None = None
    left = float("inf") if limit is None else limit
    step = min(first_rows, batch_rows)
    while left > 0:
        size = int(min(step, left))
        step = min(step * 2, batch_rows)
        keys, rows = spec.fetch_rows(conn, stmt, project_id=project_id, after=after, limit=size)
        if rows:
            yield _batch(keys, rows)
        if len(rows) < size:
            return
        left -= len(rows)
        after = spec.cursor_for(dict(zip(keys, rows[-1], strict=True)))
