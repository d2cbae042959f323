"""`Artifact.lineage()`: the graph of runs and artifact versions around one version.

The server walks the graph with one recursive query (`Artifact.lineage`), so any depth
costs one request (two when the version is first looked up by name), where `wandb.Api`
needs a request or more per hop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, UsageError
from .paths import RunPath
from .queries import artifacts as q

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Lineage", "LineageEdge", "LineageNode", "artifact_lineage", "run_lineage"]

DIRECTIONS = ("upstream", "downstream", "both")


@dataclass(frozen=True)
class LineageNode:
    """A run or an artifact version. `type` is the artifact type (or the run's job type),
    `version` is `vN` for artifacts, `depth` is hops from the start (artifact to artifact)."""

    id: str
    kind: str  # "run" | "artifact"
    name: str
    version: str | None
    type: str | None
    state: str | None
    depth: int
    display_name: str | None = None
    #: The node's project (a lineage may cross projects).
    entity: str | None = None
    project: str | None = None
    #: An artifact's size in bytes and its named aliases (`latest`, `best`, ...).
    size: int | None = None
    aliases: tuple[str, ...] = ()
    #: Usage edges of this node in all, reached by this walk or not.
    degree: int | None = None

    @property
    def path(self) -> str:
        """`entity/project/name:vN` for artifacts, `entity/project/run_id` for runs."""
        return f"{self.entity}/{self.project}/{self.label}"

    @property
    def label(self) -> str:
        return f"{self.name}:{self.version}" if self.kind == "artifact" else self.name


@dataclass(frozen=True)
class LineageEdge:
    """`output`: a run logged an artifact (run -> artifact); `input`: a run used one
    (artifact -> run)."""

    source: str
    target: str
    kind: str


@dataclass
class Lineage:
    root: str
    nodes: list[LineageNode] = field(default_factory=list)
    edges: list[LineageEdge] = field(default_factory=list)

    def node(self, node_id: str) -> LineageNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)

    @property
    def runs(self) -> list[LineageNode]:
        return [n for n in self.nodes if n.kind == "run"]

    @property
    def artifacts(self) -> list[LineageNode]:
        return [n for n in self.nodes if n.kind == "artifact"]

    def to_networkx(self) -> Any:
        """A `networkx.DiGraph` (nodes keyed by id, with the node's fields as attributes)."""
        try:
            import networkx as nx
        except ImportError:
            raise UsageError("to_networkx() needs networkx: pip install networkx") from None
        graph = nx.DiGraph()
        for n in self.nodes:
            graph.add_node(
                n.id, kind=n.kind, name=n.name, version=n.version, type=n.type,
                state=n.state, depth=n.depth, label=n.label,
            )  # fmt: skip
        for e in self.edges:
            graph.add_edge(e.source, e.target, kind=e.kind)
        return graph

    def __repr__(self) -> str:
        return f"<Lineage of {self.root}: {len(self.runs)} runs, {len(self.artifacts)} artifacts>"


def _check(depth: int | None, direction: str) -> None:
    if direction not in DIRECTIONS:
        raise UsageError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if depth is not None and depth < 0:
        raise UsageError(f"depth must be >= 0 (or None for all), got {depth}")


def artifact_lineage(
    session: Session, artifact_id: str, root: str, depth: int | None, direction: str
) -> Lineage:
    """The graph around the artifact version `artifact_id` (named `root`), in one request."""
    _check(depth, direction)
    data = session.client.execute(
        q.ARTIFACT_LINEAGE, {"id": artifact_id, "depth": depth, "direction": direction}
    )
    return _lineage(root, (data.get("artifact") or {}).get("lineage"))


def run_lineage(session: Session, run: RunPath, depth: int | None, direction: str) -> Lineage:
    """The graph around a run, in one request."""
    _check(depth, direction)
    data = session.client.execute(
        q.RUN_LINEAGE,
        {"entity": run.entity, "project": run.project, "run": run.run_id,
         "depth": depth, "direction": direction},
    )  # fmt: skip
    return _lineage(str(run), ((data.get("project") or {}).get("run") or {}).get("lineage"))


def _lineage(root: str, found: dict[str, Any] | None) -> Lineage:
    if found is None:
        raise NotFoundError(f"{root} no longer exists")
    return Lineage(
        root,
        [_node(n) for n in found["nodes"]],
        [LineageEdge(e["source"], e["target"], e["kind"]) for e in found["edges"]],
    )


def _node(n: dict[str, Any]) -> LineageNode:
    return LineageNode(
        id=n["id"],
        kind=n["kind"],
        name=n["name"],
        version=n.get("version"),
        type=n.get("type"),
        state=n.get("state"),
        depth=n["depth"],
        display_name=n.get("displayName"),
        entity=n.get("entityName"),
        project=n.get("projectName"),
        size=None if n.get("size") is None else int(n["size"]),
        aliases=tuple(n.get("aliases") or ()),
        degree=n.get("degree"),
    )
