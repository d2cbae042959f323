"""Runs: upsert (W&B's upsertBucket), lookup, filtered/ordered keyset pages, counts, delete."""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from . import counts
from . import tables as t
from .errors import NotFound, StoreError
from .filters import compile_filters
from .ordering import compile_order
from .util import dumps, loads_object, now_iso
from .values import delete_run_values, index_run_values

RUN_STATES = frozenset(
    {"pending", "running", "finished", "failed", "crashed", "killed", "preempting", "preempted"}
)
TERMINAL_STATES = frozenset({"finished", "failed", "crashed", "killed", "preempted"})
_ID_ALPHABET = string.ascii_lowercase + string.digits

RUN_COLUMNS: list[Any] = [
    t.runs,
    t.users.c.username.label("username"),
    t.users.c.name.label("user_name"),
]


def _base_select(*columns: Any) -> Any:
    return select(*(columns or RUN_COLUMNS)).outerjoin(t.users, t.users.c.id == t.runs.c.user_id)


def new_run_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def get_run(
    conn: Connection, project_id: int, name: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """The run, or None. `for_update` locks its row until the transaction ends, so two
    writers to one run queue (PostgreSQL; SQLite's BEGIN IMMEDIATE already serializes)."""
    stmt = _base_select().where(t.runs.c.project_id == project_id, t.runs.c.name == name)
    if for_update:
        stmt = stmt.with_for_update(of=t.runs)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def get_run_by_pk(
    conn: Connection, pk: int, *, for_update: bool = False
) -> dict[str, Any] | None:
    """The run with primary key `pk`, or None; `for_update` as in `get_run`."""
    stmt = _base_select().where(t.runs.c.id == pk)
    if for_update:
        stmt = stmt.with_for_update(of=t.runs)
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else None


def _validated_json(text: str | None, what: str) -> str | None:
    if text is None:
        return None
    return dumps(loads_object(text, what))


def upsert_run(
    conn: Connection,
    project_id: int,
    *,
    pk: int | None,
    name: str | None,
    user_id: int | None,
    fields: Mapping[str, Any],
) -> tuple[dict[str, Any], bool]:
    """Create or update a run; `fields` uses W&B's upsertBucket input names.

    `config`, `summaryMetrics` and `tags` replace what is stored (W&B clients always send
    the full value); other fields are set only when given.
    """
    values: dict[str, Any] = {}
    try:
        config = _validated_json(fields.get("config"), "config")
        summary = _validated_json(fields.get("summaryMetrics"), "summaryMetrics")
    except ValueError as exc:
        raise StoreError(str(exc)) from None
    if config is not None:
        values["config"] = config
    if summary is not None:
        values["summary"] = summary
    if fields.get("tags") is not None:
        tags = fields["tags"]
        if not all(isinstance(x, str) for x in tags):
            raise StoreError("tags must be a list of strings")
        values["tags"] = dumps(list(dict.fromkeys(tags)))
    state = fields.get("state")
    if state is not None:
        if state not in RUN_STATES:
            raise StoreError(
                f"unknown run state {state!r}; use one of: {', '.join(sorted(RUN_STATES))}"
            )
        values["state"] = state
    for src, col in (
        ("displayName", "display_name"),
        ("groupName", "group_name"),
        ("jobType", "job_type"),
        ("notes", "notes"),
        ("description", "description"),
        ("commit", "commit_hash"),
        ("host", "host"),
        ("jobProgram", "program"),
        ("sweep", "sweep_name"),
    ):
        if fields.get(src) is not None:
            values[col] = fields[src]
    now = now_iso()
    values["updated_at"] = now
    values["heartbeat_at"] = now

    existing: dict[str, Any] | None = None
    if pk is not None:
        existing = get_run_by_pk(conn, pk)
        if existing is None:
            raise NotFound("no run with that id: it may have been deleted")
    elif name:
        existing = get_run(conn, project_id, name)
    if existing is not None:
        if name and name != existing["name"] and pk is not None:
            raise StoreError("a run's id (name) cannot be changed")
        if state is None and existing["state"] == "pending":
            # A sweep controller created the run for an agent; its process now starts it.
            values["state"] = "running"
        conn.execute(t.runs.update().where(t.runs.c.id == existing["id"]).values(**values))
        index_run_values(
            conn, existing["id"], existing["project_id"], config=config, summary=summary
        )
        updated = get_run_by_pk(conn, existing["id"])
        assert updated is not None
        return updated, False

    run_name = name or new_run_id()
    if len(run_name) > 128 or "/" in run_name or not run_name.strip():
        raise StoreError(f"invalid run id {run_name!r}: use 1-128 characters without '/'")
    values.setdefault("state", "running")
    values.setdefault("config", "{}")
    values.setdefault("summary", "{}")
    values.setdefault("tags", "[]")
    inserted = conn.execute(
        t.runs.insert().values(
            project_id=project_id, name=run_name, user_id=user_id, created_at=now, **values
        )
    ).inserted_primary_key
    assert inserted is not None
    new_pk = int(inserted[0])
    index_run_values(conn, new_pk, project_id, config=config, summary=summary)
    created = get_run_by_pk(conn, new_pk)
    assert created is not None
    return created, True


def parse_filters(filters: str | Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    from .filters import parse_filters as _parse

    if filters is None or isinstance(filters, Mapping):
        return filters
    return _parse(filters)


def count_runs(conn: Connection, project_id: int, filters: Mapping[str, Any] | None) -> int:
    # Kept counts and index-driven ranges: see counts.py.
    return counts.count_runs(conn, project_id, filters)


def list_runs(
    conn: Connection,
    project_id: int,
    *,
    filters: Mapping[str, Any] | None,
    order: str | None,
    first: int,
    after: str | None,
    keys_only: bool = False,
    last_only: bool = False,
) -> tuple[list[dict[str, Any]], Callable[[Mapping[str, Any]], str], bool]:
    """One keyset page: runs, the function making a run's cursor, has_next_page.

    Cursors are made on demand: most clients only read the page's `endCursor`.
    `keys_only` reads just the run ids and sort keys: enough for cursors. `last_only` returns
    only the page's last run (with `keys_only`: what skipping ahead thousands of runs needs,
    its `endCursor`); the runs before it are passed over in the database.
    """
    spec = compile_order(order, conn.dialect.name)
    stmt = _base_select(*([t.runs.c.id] if keys_only else [])).where(
        t.runs.c.project_id == project_id, compile_filters(filters, conn.dialect.name)
    )
    if last_only and first > 1:
        rows = spec.fetch(
            conn,
            stmt,
            project_id=project_id,
            after=after,
            limit=first + 1,
            skip=first - 1,
            unfiltered=not filters,
        )
        if rows:
            return rows[:1], spec.cursor_for, len(rows) > 1
        # Fewer than `first` runs are left: the last of them ends the page.
    rows = spec.fetch(conn, stmt, project_id=project_id, after=after, limit=first + 1)
    page = rows[:first]
    return page[-1:] if last_only else page, spec.cursor_for, len(rows) > first


def delete_run(conn: Connection, pk: int) -> dict[str, Any]:
    run = get_run_by_pk(conn, pk)
    if run is None:
        raise NotFound("no run with that id: it may have been deleted already")
    # Children first: not every SQLite build enforces ON DELETE CASCADE.
    conn.execute(t.history_blocks.delete().where(t.history_blocks.c.run_id == pk))
    conn.execute(t.stream_lines.delete().where(t.stream_lines.c.run_id == pk))
    conn.execute(t.run_files.delete().where(t.run_files.c.run_id == pk))
    conn.execute(t.sweep_runs.delete().where(t.sweep_runs.c.run_id == pk))
    delete_run_values(conn, pk)
    conn.execute(t.runs.delete().where(t.runs.c.id == pk))
    return run


def _dotted_keys(doc: dict[str, Any], prefix: str, out: dict[str, None], depth: int = 0) -> None:
    for key, value in doc.items():
        if not prefix and key.startswith("_wandb"):
            continue
        # Nested dicts become dotted keys; media/histograms (`_type`) are leaves.
        if isinstance(value, dict) and value and "_type" not in value and depth < 4:
            _dotted_keys(value, f"{prefix}{key}.", out, depth + 1)
        else:
            out[f"{prefix}{key}"] = None


def run_keys(conn: Connection, project_id: int, sample: int = 2000) -> tuple[list[str], list[str]]:
    """Config and summary keys (nested keys dotted) used by the project's latest runs."""
    rows = conn.execute(
        select(t.runs.c.config, t.runs.c.summary)
        .where(t.runs.c.project_id == project_id)
        .order_by(t.runs.c.created_at.desc(), t.runs.c.id.desc())
        .limit(sample)
    )
    config_keys: dict[str, None] = {}
    summary_keys: dict[str, None] = {}
    for config_text, summary_text in rows:
        config = json.loads(config_text or "{}")
        unwrapped = {
            k: (v["value"] if isinstance(v, dict) and "value" in v else v)
            for k, v in config.items()
        }
        _dotted_keys(unwrapped, "", config_keys)
        _dotted_keys(json.loads(summary_text or "{}"), "", summary_keys)
    return sorted(config_keys), sorted(summary_keys)


def any_stale(conn: Connection, older_than: str) -> bool:
    """Whether some run is still `running` with its last heartbeat before `older_than`: a
    read, so the crash watcher takes the write lock only when there is a run to mark."""
    stale = (
        select(t.runs.c.id)
        .where(t.runs.c.state == "running", t.runs.c.heartbeat_at < older_than)
        .limit(1)
    )
    return conn.execute(stale).first() is not None


def mark_crashed(conn: Connection, older_than: str) -> int:
    """Runs still `running` whose last heartbeat is before `older_than` become `crashed`."""
    result = conn.execute(
        t.runs.update()
        .where(t.runs.c.state == "running", t.runs.c.heartbeat_at < older_than)
        .values(state="crashed")
    )
    return int(result.rowcount or 0)
