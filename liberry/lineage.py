"""`Artifact.lineage()`: the graph of runs and artifact versions around one version.

The server walks the graph with one recursive query (`Artifact.lineage`), so any depth
costs one request (two when the version is first looked up by name), where `wandb.Api`
needs a request or more per hop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError, UsageError
from .queries import artifacts as q

if TYPE_CHECKING:
    from .api import Api
    from .artifacts import Artifact

__all__ = ["Lineage", "LineageEdge", "LineageNode", "fetch_lineage"]

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


def fetch_lineage(api: Api, artifact: Artifact, depth: int | None, direction: str) -> Lineage:
    if direction not in DIRECTIONS:
        raise UsageError(f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}")
    if depth is not None and depth < 0:
        raise UsageError(f"depth must be >= 0 (or None for all), got {depth}")
    data = api.client.execute(
        q.ARTIFACT_LINEAGE, {"id": artifact.id, "depth": depth, "direction": direction}
    )
    found = (data.get("artifact") or {}).get("lineage")
    if found is None:
        raise NotFoundError(f"artifact {artifact.path} no longer exists")
    return Lineage(
        artifact.path,
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
    )
