"""The sweep controller, inside the server: no process for the user to start.

`upsertSweep` validates a config and stores it; `createAgent` registers an agent; every agent
heartbeat is answered here with that agent's commands (start a run with these parameters, stop a
run early termination condemned, or exit). The controller keeps no state of its own between
calls: the sweep, its runs and what they were handed live in the store, and a heartbeat runs in
one write transaction holding the sweep's row, so concurrent agents (and several server workers)
never receive the same grid point twice.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select, update

from ..store import runs as run_store
from ..store import sweeps as store
from ..store import tables as t
from ..store.errors import NotFound, StoreError
from ..store.filters import compile_filters, parse_filters
from ..store.history import sampled_history
from ..store.util import dumps, now_iso
from .config import SweepConfig, SweepConfigError, command_args, expected_run_count, parse_config
from .hyperband import runs_to_stop
from .search import Trial, next_params

__all__ = ["ORPHAN_AFTER", "create_sweep", "heartbeat", "register_agent", "update_sweep"]

#: A run handed to an agent that has not heartbeat since, and was never started, goes to the
#: next idle agent: the agent died between receiving it and starting it.
ORPHAN_AFTER = timedelta(seconds=120)
#: Which state a sweep may move to from which (W&B's pause/resume/cancel/stop).
_TRANSITIONS = {
    "RUNNING": {"PENDING", "RUNNING", "PAUSED", "FINISHED", "CANCELED"},
    "PAUSED": {"PENDING", "RUNNING", "PAUSED"},
    "CANCELED": {"PENDING", "RUNNING", "PAUSED", "CANCELED"},
    "FINISHED": {"PENDING", "RUNNING", "PAUSED", "FINISHED"},
    "PENDING": {"PENDING"},
}
_EXIT = {"type": "exit"}


@lru_cache(maxsize=256)
def config_of(text: str) -> SweepConfig:
    """The parsed config of a stored sweep (parsed once per text: heartbeats are frequent)."""
    return parse_config(text)


def _checked_config(text: str | None) -> SweepConfig:
    if text is None or not text.strip():
        raise StoreError("upsertSweep needs a `config`: the sweep configuration as YAML text")
    try:
        return config_of(text)
    except SweepConfigError as exc:
        raise StoreError(f"invalid sweep config: {exc}") from None


def _config_columns(cfg: SweepConfig, text: str) -> dict[str, Any]:
    return {
        "config": text,
        "method": cfg.method,
        "metric_name": cfg.metric.name if cfg.metric else None,
        "metric_goal": cfg.metric.goal if cfg.metric else None,
        "expected_runs": expected_run_count(cfg),
    }


def _checked_state(state: str | None, current: str | None) -> str | None:
    if state is None:
        return None
    wanted = state.upper()
    if wanted not in store.SWEEP_STATES:
        raise StoreError(
            f"unknown sweep state {state!r}; use one of: {', '.join(store.SWEEP_STATES)}"
        )
    if current is not None and current not in _TRANSITIONS[wanted]:
        raise StoreError(f"a {current.lower()} sweep cannot become {wanted.lower()}")
    return wanted


def create_sweep(
    conn: Connection, project: Mapping[str, Any], user_id: int | None, fields: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """A new sweep from upsertSweep's input; returns it and the config's warnings."""
    text = fields.get("config")
    cfg = _checked_config(text)
    assert text is not None
    state = _checked_state(fields.get("state"), None) or "RUNNING"
    sweep = store.insert_sweep(
        conn,
        project["id"],
        display_name=fields.get("displayName") or cfg.name,
        description=fields.get("description") or cfg.description,
        state=state,
        user_id=user_id,
        **_config_columns(cfg, text),
    )
    if fields.get("priorRunsFilters"):
        _adopt_prior_runs(conn, sweep, fields["priorRunsFilters"])
    return sweep, list(cfg.warnings)


def update_sweep(
    conn: Connection, sweep: Mapping[str, Any], fields: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """Change a sweep's config, state, name or description (`wandb sweep --update/--pause/...`)."""
    values: dict[str, Any] = {}
    warnings: list[str] = []
    if fields.get("config") is not None:
        cfg = _checked_config(fields["config"])
        values.update(_config_columns(cfg, fields["config"]))
        warnings = list(cfg.warnings)
    state = _checked_state(fields.get("state"), sweep["state"])
    if state is not None:
        values["state"] = state
    for src, column in (("displayName", "display_name"), ("description", "description")):
        if fields.get(src) is not None:
            values[column] = fields[src]
    if fields.get("priorRunsFilters"):
        _adopt_prior_runs(conn, sweep, fields["priorRunsFilters"])
    return store.update_sweep(conn, sweep["id"], **values), warnings


def _adopt_prior_runs(conn: Connection, sweep: Mapping[str, Any], filters_text: str) -> None:
    """`wandb sweep -R RUN`: existing runs of the project join the sweep (and its search)."""
    where = compile_filters(parse_filters(filters_text), conn.dialect.name)
    conn.execute(
        update(t.runs)
        .where(t.runs.c.project_id == sweep["project_id"], where)
        .values(sweep_name=sweep["name"])
    )


def register_agent(
    conn: Connection, sweep: Mapping[str, Any], path: str, host: str | None, user_id: int | None
) -> dict[str, Any]:
    """A new agent for the sweep, refused when the sweep hands out no more runs."""
    if sweep["state"] in ("FINISHED", "CANCELED"):
        raise StoreError(
            f"sweep {path} is {sweep['state'].lower()}: it hands out no more runs. Resume it "
            f"with `wandb sweep --resume {path}`, or create a new sweep"
        )
    return store.create_agent(conn, sweep["id"], host, user_id)


# -- heartbeats --------------------------------------------------------------------------------


def _run_command(run: Mapping[str, Any], params: Mapping[str, Any], cfg: SweepConfig) -> dict:
    return {
        "type": "run",
        "run_id": run["name"],
        "args": command_args(params),
        "program": cfg.program,
    }


def _stop_command(name: str) -> dict[str, Any]:
    return {"type": "stop", "run_id": name}


def heartbeat(conn: Connection, agent_pk: int, run_state: Mapping[str, Any]) -> list[dict]:
    """The commands for one agent heartbeat. `run_state` maps the run ids the agent is running
    to whether they are alive."""
    agent = store.get_agent(conn, agent_pk)
    if agent is None:
        raise NotFound("no sweep agent with that id: register it again (wandb agent)")
    sweep = store.get_sweep_by_pk(conn, agent["sweep_id"], for_update=True)
    if sweep is None:
        raise NotFound("the agent's sweep was deleted")
    now = now_iso()
    store.update_agent(conn, agent_pk, heartbeat_at=now)
    conn.execute(update(t.sweeps).where(t.sweeps.c.id == sweep["id"]).values(heartbeat_at=now))
    alive = [name for name, up in run_state.items() if up]

    state = sweep["state"]
    if state == "CANCELED":  # stop every run now; exit once they are gone
        return [_stop_command(n) for n in alive] or [_EXIT]
    if state == "FINISHED":  # let running runs finish; nothing new
        return [] if alive else [_EXIT]
    if state != "RUNNING":  # PAUSED, PENDING: wait
        return []

    cfg = config_of(sweep["config"])
    if alive:
        if cfg.early_terminate is None:
            return []
        return [_stop_command(n) for n in _early_stops(conn, sweep, cfg, alive)]
    return _next_run(conn, sweep, cfg, agent_pk, now)


def _next_run(
    conn: Connection, sweep: dict[str, Any], cfg: SweepConfig, agent_pk: int, now: str
) -> list[dict]:
    """An idle agent's next run: an orphaned one, else a new point of the search space.

    Reads what the method needs, no more: pending runs and a count for every method, every
    run's params for grid (and their metric for bayes); random needs no history at all.
    """
    pending = store.trials(conn, sweep, with_metric=False, states=["pending"])
    # This agent is idle, so a run it was handed and never started has died with its process.
    dead = [tr.run_id for tr in pending if tr.agent_id == agent_pk]
    if dead:
        conn.execute(update(t.runs).where(t.runs.c.id.in_(dead)).values(state="failed"))
        pending = [tr for tr in pending if tr.run_id not in dead]
    orphan = _orphan(conn, sweep, pending, now)
    if orphan is not None:
        store.reassign_sweep_run(conn, orphan.run_id, agent_pk)
        return [_run_command({"name": orphan.name}, orphan.params or {}, cfg)]
    params = None
    if cfg.run_cap is None or store.run_count(conn, sweep) < cfg.run_cap:
        trials: list[store.Trial] = []
        if cfg.method != "random":  # random samples blind; grid and bayes look at history
            trials = store.trials(conn, sweep, with_metric=cfg.method == "bayes")
        params = next_params(
            cfg, [_engine_trial(cfg, tr) for tr in trials], cache_key=("sweep", sweep["id"])
        )
    if params is None:  # the grid is exhausted, or the run cap reached
        if pending:
            return []  # wait: a pending run may be orphaned and come back to us
        store.update_sweep(conn, sweep["id"], state="FINISHED")
        return [_EXIT]
    run, _ = run_store.upsert_run(
        conn,
        sweep["project_id"],
        pk=None,
        name=None,
        user_id=sweep.get("user_id"),
        fields={"state": "pending", "sweep": sweep["name"], "config": dumps(command_args(params))},
    )
    store.record_sweep_run(conn, run["id"], sweep["id"], agent_pk, params)
    return [_run_command(run, params, cfg)]


def _orphan(
    conn: Connection, sweep: Mapping[str, Any], trials: Sequence[store.Trial], now: str
) -> store.Trial | None:
    pending = [tr for tr in trials if tr.state == "pending" and tr.params is not None]
    if not pending:
        return None
    seen = store.agents_last_seen(conn, sweep["id"])
    cutoff = (datetime.fromisoformat(now) - ORPHAN_AFTER).strftime("%Y-%m-%dT%H:%M:%S.%f")
    for tr in pending:
        if tr.agent_id is None or seen.get(tr.agent_id, "") < cutoff:
            return tr
    return None


def _engine_trial(cfg: SweepConfig, trial: store.Trial) -> Trial:
    params = trial.params if trial.params is not None else _params_of_config(cfg, trial.config)
    return Trial(params=params, metric=trial.metric, state=trial.state, stopped=trial.stopped)


def _params_of_config(cfg: SweepConfig, config_text: str) -> dict[str, Any]:
    """The sweep parameters as set in a run's own config (runs that joined the sweep
    without the controller: prior runs, `Api.create_run(sweep=...)`)."""
    try:
        wrapped = json.loads(config_text or "{}")
    except json.JSONDecodeError:
        return {}
    out: dict[str, Any] = {}
    for param in cfg.params:
        head, *rest = param.path.split(".")
        node = wrapped.get(head) if isinstance(wrapped, dict) else None
        if not isinstance(node, dict) or "value" not in node:
            continue
        value = node["value"]
        for key in rest:
            if not isinstance(value, dict) or key not in value:
                break
            value = value[key]
        else:
            out[param.path] = value
    return out


# -- early termination -------------------------------------------------------------------------

# (run pk, history lines) -> the metric's values: a run's series is read again only when it grew.
# Per process, and safe with `--workers`: the key is read from the database in the caller's
# transaction, so a worker that missed another's writes sees a new key, never stale values.
_series_cache: dict[tuple[int, int, str], list[float]] = {}
_series_lock = threading.Lock()
_SERIES_CACHE_MAX = 50_000


def _metric_series(conn: Connection, sweep: Mapping[str, Any], metric: str) -> dict[str, list]:
    rows = [
        dict(r)
        for r in conn.execute(
            select(
                t.runs.c.id, t.runs.c.name, t.runs.c.history_keys, t.runs.c.history_line_count
            ).where(
                t.runs.c.project_id == sweep["project_id"], t.runs.c.sweep_name == sweep["name"]
            )
        ).mappings()
    ]
    out: dict[str, list[float]] = {}
    for row in rows:
        key = (row["id"], int(row["history_line_count"]), metric)
        with _series_lock:
            values = _series_cache.get(key)
        if values is None:
            points = sampled_history(conn, row, [metric], samples=max(1, key[1]))
            values = [
                float(p[metric])
                for p in points
                if isinstance(p.get(metric), int | float) and not isinstance(p[metric], bool)
            ]
            with _series_lock:
                if len(_series_cache) >= _SERIES_CACHE_MAX:
                    _series_cache.clear()
                _series_cache[key] = values
        out[row["name"]] = values
    return out


def _early_stops(
    conn: Connection, sweep: Mapping[str, Any], cfg: SweepConfig, alive: Sequence[str]
) -> list[str]:
    """The agent's running runs that early termination stops (asked before, or now)."""
    assert cfg.metric is not None
    ids = dict(
        conn.execute(
            select(t.runs.c.name, t.runs.c.id).where(
                t.runs.c.project_id == sweep["project_id"],
                t.runs.c.sweep_name == sweep["name"],
                t.runs.c.name.in_(list(alive)),
            )
        ).all()
    )
    asked = store.stop_requested(conn, ids.values())
    condemned = runs_to_stop(cfg, _metric_series(conn, sweep, cfg.metric.name), list(ids))
    store.request_stop(conn, [ids[n] for n in condemned if ids[n] not in asked])
    return [n for n in alive if n in condemned or ids.get(n) in asked]
