"""W&B's `Sweep` and `Agent` types, and the sweep fields of `Project` and `Run` (mixed into
`ProjectObj` and `RunObj`, as the artifact and report fields are)."""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLResolveInfo

from ..store import runs
from ..store import sweeps as sweep_store
from ..store.util import encode_id, iso_to_wandb
from .connections import by_id, connection, keyset_page
from .context import RequestContext

Info = GraphQLResolveInfo


def ctx_of(info: Info) -> RequestContext:
    ctx: RequestContext = info.context
    return ctx


class ProjectSweepFields:
    """`Project.sweep`, `sweeps` and `totalSweeps`."""

    row: dict[str, Any]

    def sweep(self, info: Info, sweepName: str) -> SweepObj | None:
        row = sweep_store.get_sweep(ctx_of(info).conn, self.row["id"], sweepName)
        return SweepObj(row, self.row) if row else None

    def sweeps(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filters: str | None = None,
        order: str | None = None,
    ) -> Any:
        conn = ctx_of(info).conn
        project_id = self.row["id"]
        page, more = keyset_page(
            first, after, lambda n, after_id: sweep_store.list_sweeps(conn, project_id, n, after_id)
        )
        stats = SweepStats(conn, project_id, page)
        return connection(
            page,
            more,
            by_id,
            lambda r: SweepObj(r, self.row, stats),
            total=lambda: sweep_store.count_sweeps(conn, self.row["id"]),
        )

    def totalSweeps(self, info: Info) -> int:
        return sweep_store.count_sweeps(ctx_of(info).conn, self.row["id"])


class RunSweepFields:
    """`Run.sweep`, `shouldStop` (early termination), `running` and `failed`."""

    row: dict[str, Any]
    project_row: dict[str, Any]

    def sweep(self, info: Info) -> SweepObj | None:
        name = self.row.get("sweep_name")
        if not name:
            return None
        memo = ctx_of(info).memo
        key = ("sweep", self.row["project_id"], name)
        if key not in memo:  # a page of runs of one sweep reads it once
            memo[key] = sweep_store.get_sweep(ctx_of(info).conn, self.row["project_id"], name)
        row = memo[key]
        return SweepObj(row, self.project_row) if row else None

    def shouldStop(self, info: Info) -> bool:
        if not self.row.get("sweep_name"):
            return False
        memo = ctx_of(info).memo
        key = ("stop_requested", self.row["project_id"])
        if key not in memo:  # one query per request, not one per run
            memo[key] = sweep_store.stop_requested_in_project(
                ctx_of(info).conn, self.row["project_id"]
            )
        return self.row["id"] in memo[key]

    @property
    def running(self) -> bool:
        return self.row.get("state") == "running"

    @property
    def failed(self) -> bool:
        return self.row.get("state") in ("failed", "crashed")


class SweepStats:
    """Run counts and best metric values for a page of sweeps: two queries for the page, not
    two per sweep, and none when no sweep's `runCount`/`bestLoss` is read."""

    def __init__(self, conn: Any, project_id: int, rows: list[dict[str, Any]]) -> None:
        self._conn = conn
        self._project_id = project_id
        self._rows = rows
        self._counts: dict[str, int] | None = None
        self._best: dict[str, float] | None = None

    def run_count(self, name: str) -> int:
        if self._counts is None:
            names = [r["name"] for r in self._rows]
            self._counts = sweep_store.run_counts(self._conn, self._project_id, names)
        return self._counts.get(name, 0)

    def best(self, name: str) -> float | None:
        if self._best is None:
            self._best = sweep_store.best_metrics(self._conn, self._project_id, self._rows)
        return self._best.get(name)


class SweepObj:
    """A sweep row as W&B's `Sweep` type."""

    earlyStopJobRunning = False
    controller = None
    scheduler = None

    def __init__(
        self, row: dict[str, Any], project: dict[str, Any], stats: SweepStats | None = None
    ) -> None:
        self.row = row
        self.project_row = project
        self._stats = stats
        self.id = encode_id("Sweep", row["id"])
        self.name = row["name"]
        self.displayName = row.get("display_name")
        self.method = row["method"]
        self.state = row["state"]
        self.description = row.get("description")
        self.config = row["config"]
        self.createdAt = iso_to_wandb(row["created_at"])
        self.updatedAt = iso_to_wandb(row["updated_at"])
        self.heartbeatAt = iso_to_wandb(row.get("heartbeat_at"))
        self.runCountExpected = row.get("expected_runs")

    def _stats_of(self, info: Info) -> SweepStats:
        if self._stats is None:
            self._stats = SweepStats(ctx_of(info).conn, self.row["project_id"], [self.row])
        return self._stats

    def runCount(self, info: Info) -> int:
        return self._stats_of(info).run_count(self.name)

    def bestLoss(self, info: Info) -> float | None:
        return self._stats_of(info).best(self.name)

    def project(self, info: Info) -> Any:
        from .objects import ProjectObj

        return ProjectObj(self.project_row)

    def user(self, info: Info) -> Any:
        from .objects import user_obj

        return user_obj(ctx_of(info).conn, self.row.get("user_id"))

    def runs(
        self,
        info: Info,
        filters: str | None = None,
        order: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> dict[str, Any]:
        # The project's runs, narrowed to this sweep: same paging, filters and orders.
        mine: dict[str, Any] = {"sweep": self.name}
        parsed = runs.parse_filters(filters)
        where = json.dumps({"$and": [mine, parsed]} if parsed else mine)
        from .objects import ProjectObj

        return ProjectObj(self.project_row).runs(
            info, filters=where, order=order, first=first, after=after
        )

    def agents(self, info: Info, first: int | None = None, after: str | None = None) -> Any:
        conn, sweep_id = ctx_of(info).conn, self.row["id"]
        page, more = keyset_page(
            first, after, lambda n, after_id: sweep_store.list_agents(conn, sweep_id, n, after_id)
        )
        return connection(page, more, by_id, lambda r: AgentObj(r, self))


class AgentObj:
    """A sweep agent row as W&B's `Agent` type."""

    persistent = False

    def __init__(self, row: dict[str, Any], sweep: SweepObj | None = None) -> None:
        self.row = row
        self._sweep = sweep
        self.id = encode_id("Agent", row["id"])
        self.name = str(row["id"])
        self.state = row["state"]
        self.host = row.get("host")
        self.createdAt = iso_to_wandb(row["created_at"])
        self.heartbeatAt = iso_to_wandb(row["heartbeat_at"])

    def sweep(self, info: Info) -> SweepObj | None:
        if self._sweep is None:
            ctx = ctx_of(info)
            row = sweep_store.get_sweep_by_pk(ctx.conn, self.row["sweep_id"])
            project = ctx.access.project_by_id(row["project_id"]) if row else None
            self._sweep = SweepObj(row, project) if row and project else None
        return self._sweep

    def totalRuns(self, info: Info) -> int:
        return sweep_store.agent_run_count(ctx_of(info).conn, self.row["id"])

    def runs(self, info: Info) -> list[Any]:
        return []
