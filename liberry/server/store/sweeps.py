"""Sweeps, their agents, and the runs their controller handed out (W&B's sweep data model).

A run belongs to a sweep through `runs.sweep_name` (what W&B's clients filter on); the runs the
server's controller suggested also have a `sweep_runs` row saying which point of the search
space they are and which agent got them. The controller itself lives in `..sweeps.controller`.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, null, or_, select

from . import tables as t
from .filter_fields import split_path
from .util import fetch_dicts, now_iso
from .values import SUMMARY, key_text

__all__ = [
    "ACTIVE_RUN_STATES",
    "SWEEP_STATES",
    "Trial",
    "best_metrics",
    "count_sweeps",
    "create_agent",
    "get_agent",
    "get_sweep",
    "get_sweep_by_pk",
    "insert_sweep",
    "list_sweeps",
    "new_sweep_name",
    "record_sweep_run",
    "run_counts",
    "trials",
    "update_agent",
    "update_sweep",
]

#: W&B's sweep states. PENDING is accepted for clients that create sweeps paused for later.
SWEEP_STATES = ("PENDING", "RUNNING", "PAUSED", "CANCELED", "FINISHED")
#: Run states of a sweep run that may still report its metric.
ACTIVE_RUN_STATES = frozenset({"pending", "running", "preempting"})
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_sweep_name() -> str:
    """A W&B-style sweep id: 8 characters of [a-z0-9]."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def _sweep_select() -> Any:
    return select(t.sweeps)


def get_sweep(
    conn: Connection, project_id: int, name: str, *, for_update: bool = False
) -> dict[str, Any] | None:
    """The sweep called `name` in the project, or None. `for_update` locks its row, so two
    agents' heartbeats for one sweep queue (PostgreSQL; SQLite's BEGIN IMMEDIATE already does)."""
    stmt = _sweep_select().where(t.sweeps.c.project_id == project_id, t.sweeps.c.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    rows = fetch_dicts(conn, stmt)
    return rows[0] if rows else None


def get_sweep_by_pk(
    conn: Connection, pk: int, *, for_update: bool = False
) -> dict[str, Any] | None:
    stmt = _sweep_select().where(t.sweeps.c.id == pk)
    if for_update:
        stmt = stmt.with_for_update()
    rows = fetch_dicts(conn, stmt)
    return rows[0] if rows else None


def insert_sweep(conn: Connection, project_id: int, **values: Any) -> dict[str, Any]:
    """Create a sweep; `values` are column values (`name` defaults to a new random id)."""
    now = now_iso()
    values.setdefault("name", new_sweep_name())
    pk = conn.execute(
        t.sweeps.insert().values(project_id=project_id, created_at=now, updated_at=now, **values)
    ).inserted_primary_key
    assert pk is not None
    row = get_sweep_by_pk(conn, int(pk[0]))
    assert row is not None
    return row


def update_sweep(conn: Connection, pk: int, **values: Any) -> dict[str, Any]:
    conn.execute(
        t.sweeps.update().where(t.sweeps.c.id == pk).values(updated_at=now_iso(), **values)
    )
    row = get_sweep_by_pk(conn, pk)
    assert row is not None
    return row


def list_sweeps(
    conn: Connection, project_id: int, first: int, after_id: int | None
) -> list[dict[str, Any]]:
    """A project's sweeps, newest first, keyset-paged by id."""
    stmt = _sweep_select().where(t.sweeps.c.project_id == project_id)
    if after_id is not None:
        stmt = stmt.where(t.sweeps.c.id < after_id)
    return fetch_dicts(conn, stmt.order_by(t.sweeps.c.id.desc()).limit(first))


def count_sweeps(conn: Connection, project_id: int) -> int:
    stmt = select(func.count()).select_from(t.sweeps).where(t.sweeps.c.project_id == project_id)
    return int(conn.execute(stmt).scalar_one())


def run_counts(conn: Connection, project_id: int, names: Sequence[str]) -> dict[str, int]:
    """Runs per sweep name, for a page of sweeps in one query."""
    if not names:
        return {}
    stmt = (
        select(t.runs.c.sweep_name, func.count())
        .where(t.runs.c.project_id == project_id, t.runs.c.sweep_name.in_(list(names)))
        .group_by(t.runs.c.sweep_name)
    )
    return {name: int(n) for name, n in conn.execute(stmt)}


def metric_key(metric_name: str) -> str:
    """The `run_values.key` of a summary metric named as W&B's orders name it
    (`summary_metrics.<name>`: dots nest, `\\.` is a literal dot)."""
    return key_text(split_path(metric_name, f"metric {metric_name!r}"))


def best_metrics(
    conn: Connection, project_id: int, sweeps: Iterable[dict[str, Any]]
) -> dict[str, float]:
    """The best value of each sweep's metric over its runs (min or max by the goal), for the
    sweeps that have a metric and a run that logged it as a number. One query per goal."""
    out: dict[str, float] = {}
    by_goal: dict[str, list[dict[str, Any]]] = {}
    for sweep in sweeps:
        if sweep.get("metric_name"):
            by_goal.setdefault(sweep.get("metric_goal") or "minimize", []).append(sweep)
    rv = t.run_values
    for goal, group in by_goal.items():
        best = func.max(rv.c.number) if goal == "maximize" else func.min(rv.c.number)
        pairs = [
            and_(t.runs.c.sweep_name == s["name"], rv.c.key == metric_key(s["metric_name"]))
            for s in group
        ]
        stmt = (
            select(t.runs.c.sweep_name, best)
            .select_from(t.runs.join(rv, rv.c.run_id == t.runs.c.id))
            .where(
                t.runs.c.project_id == project_id,
                rv.c.source == SUMMARY,
                rv.c.grp == 0,  # numbers only: NaN and strings are no best value
                or_(*pairs),
            )
            .group_by(t.runs.c.sweep_name)
        )
        for name, value in conn.execute(stmt):
            if value is not None:
                out[name] = float(value)
    return out


@dataclass(frozen=True)
class Trial:
    """One run of a sweep as the search sees it."""

    run_id: int
    name: str
    state: str
    #: The flat params the controller suggested (None: the run joined the sweep otherwise).
    params: dict[str, Any] | None
    config: str  # the run's stored (W&B-wrapped) config, for runs without `params`
    metric: float | None
    agent_id: int | None
    created_at: str
    #: Early termination asked this run to stop (its metric is where it was stopped).
    stopped: bool = False


def trials(
    conn: Connection,
    sweep: dict[str, Any],
    *,
    with_metric: bool = True,
    states: Sequence[str] | None = None,
) -> list[Trial]:
    """The sweep's runs, oldest first, with their suggested params and metric value.

    One query: runs by `sweep_name`, their `sweep_runs` row and (`with_metric`) their summary
    metric. A run's own config is read only when it has no suggested params (it joined the
    sweep otherwise), so the common case reads no config text. `states` narrows the runs.
    """
    rv = t.run_values
    sr = t.sweep_runs
    metric = sweep.get("metric_name") if with_metric else None
    columns: list[Any] = [
        t.runs.c.id,
        t.runs.c.name,
        t.runs.c.state,
        t.runs.c.created_at,
        sr.c.params,
        sr.c.agent_id,
        case((sr.c.params.is_(None), t.runs.c.config), else_=null()),
        sr.c.stop_requested,
    ]
    from_ = t.runs.outerjoin(sr, and_(sr.c.run_id == t.runs.c.id, sr.c.sweep_id == sweep["id"]))
    if metric:
        columns.append(rv.c.number)
        from_ = from_.outerjoin(
            rv,
            and_(
                rv.c.run_id == t.runs.c.id,
                rv.c.source == SUMMARY,
                rv.c.key == metric_key(metric),
                rv.c.grp == 0,
            ),
        )
    stmt = (
        select(*columns)
        .select_from(from_)
        .where(t.runs.c.project_id == sweep["project_id"], t.runs.c.sweep_name == sweep["name"])
        .order_by(t.runs.c.created_at, t.runs.c.id)
    )
    if states is not None:
        stmt = stmt.where(t.runs.c.state.in_(list(states)))
    out = []
    for row in conn.execute(stmt):
        number = row[8] if metric else None
        out.append(
            Trial(
                run_id=row[0],
                name=row[1],
                state=row[2],
                created_at=row[3],
                params=json.loads(row[4]) if row[4] else None,
                agent_id=row[5],
                config=row[6] or "{}",
                metric=float(number) if number is not None else None,
                stopped=bool(row[7]),
            )
        )
    return out


def run_count(conn: Connection, sweep: dict[str, Any]) -> int:
    """How many runs the sweep has (from the runs-by-sweep index alone)."""
    stmt = select(func.count()).where(
        t.runs.c.project_id == sweep["project_id"], t.runs.c.sweep_name == sweep["name"]
    )
    return int(conn.execute(stmt).scalar_one())


def record_sweep_run(
    conn: Connection, run_id: int, sweep_id: int, agent_id: int | None, params: dict[str, Any]
) -> None:
    conn.execute(
        t.sweep_runs.insert().values(
            run_id=run_id,
            sweep_id=sweep_id,
            agent_id=agent_id,
            params=json.dumps(params, separators=(",", ":")),
            stop_requested=False,
            created_at=now_iso(),
        )
    )


def reassign_sweep_run(conn: Connection, run_id: int, agent_id: int) -> None:
    """Hand a run that its agent never started to another agent."""
    conn.execute(
        t.sweep_runs.update().where(t.sweep_runs.c.run_id == run_id).values(agent_id=agent_id)
    )


def request_stop(conn: Connection, run_ids: Iterable[int]) -> None:
    ids = list(run_ids)
    if ids:
        conn.execute(
            t.sweep_runs.update().where(t.sweep_runs.c.run_id.in_(ids)).values(stop_requested=True)
        )


def stop_requested(conn: Connection, run_ids: Iterable[int]) -> set[int]:
    """Which of these runs early termination has asked to stop."""
    ids = list(run_ids)
    if not ids:
        return set()
    stmt = select(t.sweep_runs.c.run_id).where(
        t.sweep_runs.c.run_id.in_(ids), t.sweep_runs.c.stop_requested.is_(True)
    )
    return {r[0] for r in conn.execute(stmt)}


# -- agents ------------------------------------------------------------------------------------


def create_agent(
    conn: Connection, sweep_id: int, host: str | None, user_id: int | None
) -> dict[str, Any]:
    now = now_iso()
    pk = conn.execute(
        t.sweep_agents.insert().values(
            sweep_id=sweep_id,
            host=host,
            state="RUNNING",
            user_id=user_id,
            created_at=now,
            heartbeat_at=now,
        )
    ).inserted_primary_key
    assert pk is not None
    agent = get_agent(conn, int(pk[0]))
    assert agent is not None
    return agent


def get_agent(conn: Connection, pk: int) -> dict[str, Any] | None:
    rows = fetch_dicts(conn, select(t.sweep_agents).where(t.sweep_agents.c.id == pk))
    return rows[0] if rows else None


def update_agent(conn: Connection, pk: int, **values: Any) -> None:
    conn.execute(t.sweep_agents.update().where(t.sweep_agents.c.id == pk).values(**values))


def agents_last_seen(conn: Connection, sweep_id: int) -> dict[int, str]:
    """Each agent of the sweep and its last heartbeat."""
    stmt = select(t.sweep_agents.c.id, t.sweep_agents.c.heartbeat_at).where(
        t.sweep_agents.c.sweep_id == sweep_id
    )
    return {pk: seen for pk, seen in conn.execute(stmt)}


def list_agents(
    conn: Connection, sweep_id: int, first: int, after_id: int | None
) -> list[dict[str, Any]]:
    stmt = select(t.sweep_agents).where(t.sweep_agents.c.sweep_id == sweep_id)
    if after_id is not None:
        stmt = stmt.where(t.sweep_agents.c.id > after_id)
    return fetch_dicts(conn, stmt.order_by(t.sweep_agents.c.id).limit(first))


def stop_requested_in_project(conn: Connection, project_id: int) -> set[int]:
    """Every run of the project's sweeps that early termination asked to stop."""
    stmt = (
        select(t.sweep_runs.c.run_id)
        .join(t.sweeps, t.sweeps.c.id == t.sweep_runs.c.sweep_id)
        .where(t.sweeps.c.project_id == project_id, t.sweep_runs.c.stop_requested.is_(True))
    )
    return {r[0] for r in conn.execute(stmt)}


def agent_run_count(conn: Connection, agent_id: int) -> int:
    stmt = select(func.count()).select_from(t.sweep_runs).where(t.sweep_runs.c.agent_id == agent_id)
    return int(conn.execute(stmt).scalar_one())


def delete_sweeps(conn: Connection, pks: Sequence[int], *, delete_runs: bool) -> int:
    """Delete sweeps (their agents and controller records go with them); their runs stay,
    detached from the sweep, unless `delete_runs`."""
    from .runs import delete_run

    rows = fetch_dicts(conn, select(t.sweeps).where(t.sweeps.c.id.in_(list(pks))))
    for sweep in rows:
        mine = and_(
            t.runs.c.project_id == sweep["project_id"], t.runs.c.sweep_name == sweep["name"]
        )
        if delete_runs:
            for (run_pk,) in conn.execute(select(t.runs.c.id).where(mine)).all():
                delete_run(conn, run_pk)
        else:
            conn.execute(t.runs.update().where(mine).values(sweep_name=None))
        # Children first: not every SQLite build enforces ON DELETE CASCADE.
        conn.execute(t.sweep_runs.delete().where(t.sweep_runs.c.sweep_id == sweep["id"]))
        conn.execute(t.sweep_agents.delete().where(t.sweep_agents.c.sweep_id == sweep["id"]))
        conn.execute(t.sweeps.delete().where(t.sweeps.c.id == sweep["id"]))
    return len(rows)
