"""Artifact lineage: the graph of runs and artifact versions around one version, in one query.

Edges come from `artifact_usage`: a run logged a version (`output`: run -> artifact) or used
it (`input`: artifact -> run). Upstream walks against the arrows (what it was made from),
downstream along them (what was made from it). One recursive CTE collects the nodes; a
second statement reads the edges among them and the nodes' details.

A walk may also start from a run (`start="run"`): one artifact hop from a run reaches the
versions it used and logged. Each node carries what a lineage view draws without asking again:
its project, an artifact's size and aliases, and `degree`, its number of usage edges in all,
so a view that shows part of the graph knows which nodes have neighbours it has not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text

from . import tables as t
from .errors import StoreError

DIRECTIONS = ("upstream", "downstream", "both")
# A depth cap when none is given: lineage is a DAG of versions, but a run that re-logs
# content it used (digest dedup) closes a loop; the cap keeps such walks finite.
MAX_DEPTH = 1000

# Each step: from an artifact follow usage rows of `art_kind` to runs; from a run, rows of
# `run_kind` to artifacts. Downstream: artifact -(input)-> run -(output)-> artifact.
_WALK = """
walk_{tag}(kind, id, depth) AS (
    SELECT '{start}', CAST(:start AS INTEGER), 0
    UNION
    SELECT CASE WHEN w.kind = 'artifact' THEN 'run' ELSE 'artifact' END,
           CASE WHEN w.kind = 'artifact' THEN u.run_id ELSE u.artifact_id END,
           w.depth + 1
    FROM walk_{tag} w
    JOIN artifact_usage u
      ON (w.kind = 'artifact' AND u.artifact_id = w.id AND u.kind = '{art_kind}')
      OR (w.kind = 'run' AND u.run_id = w.id AND u.kind = '{run_kind}')
    WHERE w.depth < :depth
)"""


@dataclass
class Lineage:
    nodes: list[dict[str, Any]] = field(default_factory=list)
    edges: list[dict[str, Any]] = field(default_factory=list)


STARTS = ("artifact", "run")


def lineage(
    conn: Connection, start_pk: int, depth: int | None, direction: str, start: str = "artifact"
) -> Lineage:
    """The graph around the artifact (or run, `start="run"`) with primary key `start_pk`."""
    if start not in STARTS:
        raise StoreError(f"a lineage walk starts from an artifact or a run, not {start!r}")
    if direction not in DIRECTIONS:
        raise StoreError(
            f"unknown lineage direction {direction!r}: use one of {', '.join(DIRECTIONS)}"
        )
    if depth is not None and depth < 0:
        raise StoreError(f"lineage depth must be >= 0, got {depth}")
    walks, selects = [], []
    if direction in ("upstream", "both"):
        walks.append(_WALK.format(tag="up", start=start, art_kind="output", run_kind="input"))
        selects.append("SELECT kind, id, depth FROM walk_up")
    if direction in ("downstream", "both"):
        walks.append(_WALK.format(tag="down", start=start, art_kind="input", run_kind="output"))
        selects.append("SELECT kind, id, depth FROM walk_down")
    sql = (
        "WITH RECURSIVE "
        + ",".join(walks)
        + " SELECT kind, id, MIN(depth) FROM ("
        + " UNION ALL ".join(selects)
        + ") AS reached GROUP BY kind, id"
    )
    hops = MAX_DEPTH if depth is None else min(depth, MAX_DEPTH)
    # A hop is run<->artifact; `depth` counts artifact-to-artifact steps, so two hops each
    # (from a run, its artifacts are one step out: one hop, then two per step).
    off = 0 if start == "artifact" else 1
    limit = max(0, hops * 2 - off)
    reached = conn.execute(text(sql), {"start": start_pk, "depth": limit}).all()
    # Report depth in artifact hops: a run one hop out is at depth 1, its artifacts too.
    artifact_ids = {r[1]: (r[2] + off) // 2 for r in reached if r[0] == "artifact"}
    run_ids = {r[1]: (r[2] + 1 - off) // 2 for r in reached if r[0] == "run"}
    out = Lineage()
    out.nodes.extend(_artifact_nodes(conn, artifact_ids))
    out.nodes.extend(_run_nodes(conn, run_ids))
    out.edges.extend(_edges(conn, set(artifact_ids), set(run_ids)))
    return out


def _artifact_nodes(conn: Connection, depths: dict[int, int]) -> list[dict[str, Any]]:
    if not depths:
        return []
    a, c, ty, p, e = (t.artifacts, t.artifact_collections, t.artifact_types, t.projects, t.entities)
    stmt = (
        select(
            a.c.id,
            a.c.version_index,
            a.c.state,
            a.c.size,
            c.c.name,
            c.c.project_id,
            ty.c.name.label("type_name"),
            p.c.name.label("project_name"),
            e.c.name.label("entity_name"),
        )
        .join(c, c.c.id == a.c.collection_id)
        .join(ty, ty.c.id == c.c.type_id)
        .join(p, p.c.id == c.c.project_id)
        .join(e, e.c.id == p.c.entity_id)
        .where(a.c.id.in_(bindparam("ids", expanding=True)))
    )
    ids = list(depths)
    degrees = _degrees(conn, t.artifact_usage.c.artifact_id, ids)
    aliases = _aliases(conn, ids)
    return [
        {
            "kind": "artifact",
            "pk": r.id,
            "name": r.name,
            "version": None if r.version_index is None else f"v{r.version_index}",
            "type": r.type_name,
            "state": r.state,
            "depth": depths[r.id],
            "size": r.size,
            "aliases": aliases.get(r.id, []),
            "entityName": r.entity_name,
            "projectName": r.project_name,
            "degree": degrees.get(r.id, 0),
            "project_id": r.project_id,  # for the caller's access check (not in the schema)
        }
        for r in conn.execute(stmt, {"ids": ids})
    ]


def _run_nodes(conn: Connection, depths: dict[int, int]) -> list[dict[str, Any]]:
    if not depths:
        return []
    r_, p, e = t.runs, t.projects, t.entities
    stmt = (
        select(
            r_.c.id,
            r_.c.name,
            r_.c.display_name,
            r_.c.state,
            r_.c.job_type,
            r_.c.project_id,
            p.c.name.label("project_name"),
            e.c.name.label("entity_name"),
        )
        .join(p, p.c.id == r_.c.project_id)
        .join(e, e.c.id == p.c.entity_id)
        .where(r_.c.id.in_(bindparam("ids", expanding=True)))
    )
    degrees = _degrees(conn, t.artifact_usage.c.run_id, list(depths))
    return [
        {
            "kind": "run",
            "pk": r.id,
            "name": r.name,
            "displayName": r.display_name or r.name,
            "version": None,
            "type": r.job_type,
            "state": r.state,
            "depth": depths[r.id],
            "entityName": r.entity_name,
            "projectName": r.project_name,
            "degree": degrees.get(r.id, 0),
            "project_id": r.project_id,  # for the caller's access check (not in the schema)
        }
        for r in conn.execute(stmt, {"ids": list(depths)})
    ]


def _degrees(conn: Connection, column: Any, ids: list[int]) -> dict[int, int]:
    """Usage edges per node in all, reached or not (`column`: the artifact or run key)."""
    stmt = (
        select(column, func.count())
        .where(column.in_(bindparam("ids", expanding=True)))
        .group_by(column)
    )
    return {row[0]: row[1] for row in conn.execute(stmt, {"ids": ids})}


def _aliases(conn: Connection, ids: list[int]) -> dict[int, list[str]]:
    al = t.artifact_aliases
    stmt = select(al.c.artifact_id, al.c.alias).where(
        al.c.artifact_id.in_(bindparam("ids", expanding=True))
    )
    found: dict[int, list[str]] = {}
    for row in conn.execute(stmt, {"ids": ids}):
        found.setdefault(row.artifact_id, []).append(row.alias)
    return {k: sorted(v) for k, v in found.items()}


def _edges(conn: Connection, artifacts: set[int], runs: set[int]) -> list[dict[str, Any]]:
    if not artifacts or not runs:
        return []
    u = t.artifact_usage
    stmt = select(u.c.artifact_id, u.c.run_id, u.c.kind).where(
        u.c.artifact_id.in_(bindparam("a", expanding=True)),
        u.c.run_id.in_(bindparam("r", expanding=True)),
    )
    return [
        {"artifact": row.artifact_id, "run": row.run_id, "kind": row.kind}
        for row in conn.execute(stmt, {"a": sorted(artifacts), "r": sorted(runs)})
    ]
