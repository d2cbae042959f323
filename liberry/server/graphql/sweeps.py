"""W&B's sweep protocol: upsertSweep, createAgent, agentHeartbeat and deleteSweeps.

Thin resolvers: the controller (`..sweeps.controller`) decides, the store remembers.
"""

from __future__ import annotations

import json
from typing import Any

from ..store import projects
from ..store import sweeps as sweep_store
from ..store.errors import NotFound, StoreError
from ..store.util import decode_id, loads_object
from ..sweeps import controller
from .context import DEFAULT_PROJECT
from .sweep_objects import AgentObj, Info, SweepObj, ctx_of


def _pk_of(kind: str, opaque: str, what: str) -> int:
    key = decode_id(kind, opaque)
    if key is None or not key.isdigit():
        raise StoreError(f"malformed {what} id {opaque!r}: pass the `id` field of a {kind}")
    return int(key)


def _find_sweep(info: Info, entity: str | None, project: str | None, name: str) -> tuple:
    conn = ctx_of(info).conn
    entity = ctx_of(info).entity_or_default(entity)
    path = f"{entity}/{project or DEFAULT_PROJECT}/{name}"
    proj = ctx_of(info).access.project(entity, project or DEFAULT_PROJECT)
    sweep = sweep_store.get_sweep(conn, proj["id"], name, for_update=True) if proj else None
    if proj is None or sweep is None:
        raise NotFound(f"sweep {path} not found: check the sweep id that `wandb sweep` printed")
    return proj, sweep, path


class SweepMutations:
    """upsertSweep, createAgent, agentHeartbeat, deleteSweeps: W&B's sweep protocol."""

    def upsertSweep(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        if input.get("id"):
            sweep, project = ctx.access.sweep(
                _pk_of("Sweep", input["id"], "sweep"), for_update=True
            )
            sweep, warnings = controller.update_sweep(ctx.conn, sweep, input)
            inserted = False
        else:
            entity = ctx.entity_or_default(input.get("entityName"))
            ctx.access.writable_entity(entity)
            project, _ = projects.upsert_project(
                ctx.conn,
                entity,
                input.get("projectName") or DEFAULT_PROJECT,
                user_id=ctx.user["id"],
            )
            sweep, warnings = controller.create_sweep(ctx.conn, project, ctx.user["id"], input)
            inserted = True
        return {
            "sweep": SweepObj(sweep, project),
            "inserted": inserted,
            "configValidationWarnings": warnings,
            "clientMutationId": input.get("clientMutationId"),
        }

    def createAgent(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        name = input["sweep"]
        entity, project = input.get("entityName"), input.get("projectName")
        parts = name.split("/")
        if len(parts) == 3:  # an agent may name its sweep by its whole path
            entity, project, name = parts
        project_row, sweep, path = _find_sweep(info, entity, project, name)
        agent = controller.register_agent(ctx.conn, sweep, path, input.get("host"), ctx.user["id"])
        return {
            "agent": AgentObj(agent, SweepObj(sweep, project_row)),
            "clientMutationId": input.get("clientMutationId"),
        }

    def agentHeartbeat(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        agent_pk = _pk_of("Agent", input["id"], "agent")
        ctx.access.agent(agent_pk)
        try:
            run_state = loads_object(input.get("runState"), "runState")
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        commands = controller.heartbeat(ctx.conn, agent_pk, run_state)
        agent = sweep_store.get_agent(ctx.conn, agent_pk)
        return {
            "agent": AgentObj(agent) if agent else None,
            "commands": json.dumps(commands),
            "clientMutationId": input.get("clientMutationId"),
        }

    def deleteSweeps(self, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        ctx = ctx_of(info)
        pks = [_pk_of("Sweep", opaque, "sweep") for opaque in input["ids"]]
        for pk in pks:
            ctx.access.sweep(pk)
        count = sweep_store.delete_sweeps(ctx.conn, pks, delete_runs=bool(input.get("deleteRuns")))
        return {"affectedCount": count, "clientMutationId": input.get("clientMutationId")}
