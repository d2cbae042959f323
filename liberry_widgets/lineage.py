"""`Lineage`: the artifact lineage graph, runs and artifact versions, inside any notebook.

    display(liberry.widgets.Lineage("entity/project/dataset:latest"))

The graph comes from `Artifact.lineage()` / `Run.lineage()` (one request to the server, any
depth). The view asks the kernel for the graph at a depth (`graph`), for the neighbours of a
node it expands (`neighbours`, again one request) and for one node's details (`details`).
The last graph is kept in `_graph`, so a saved notebook shows it without a kernel. Mirrors
`js/lineage/`.
"""

from __future__ import annotations

import contextlib
import html
import json
import threading
from typing import TYPE_CHECKING, Any

import traitlets

from ._base import LiberryWidget, api_of, int_param, static_css, static_module
from ._rpc import Handler, RpcError, json_safe

if TYPE_CHECKING:
    from liberry import Api, Run
    from liberry.artifacts import Artifact
    from liberry.lineage import Lineage as LineageGraph
    from liberry.lineage import LineageNode

__all__ = ["Lineage"]

DIRECTIONS = ("both", "upstream", "downstream")
#: `depth` beyond this is "all" (the server caps walks anyway).
MAX_DEPTH = 50
#: How many metadata / config entries the details panel lists.
DETAIL_ENTRIES = 40


class Lineage(LiberryWidget):
    """The lineage graph around an artifact version or a run.

    Args:
        root: `"entity/project/name:alias"` (or `name:vN`), a `liberry.Artifact`, or a
            `liberry.Run`.
        depth: artifact hops out from the root (0: all).
        direction: `"both"`, `"upstream"` (what it was made from) or `"downstream"`.
        api: the `liberry.Api` to ask; `liberry.Api()` by default.

    Click a node: `selected` holds its `Artifact` or `Run` (observable:
    `widget.observe(fn, "selected")`); `selected_id` is its id, settable from Python.
    """

    _esm = static_module("lineage")
    _css = static_css("lineage")

    #: What the graph is drawn around, as the user named it (no secret: a path).
    root = traitlets.Unicode("").tag(sync=True)
    depth = traitlets.Int(2).tag(sync=True)
    direction = traitlets.Unicode("both").tag(sync=True)
    #: The search box's text.
    query = traitlets.Unicode("").tag(sync=True)
    #: Id of the clicked node ("" for none).
    selected_id = traitlets.Unicode("").tag(sync=True)
    #: The clicked node as a `liberry.Artifact` or `liberry.Run` (kernel only, observable).
    selected = traitlets.Any(None, allow_none=True)
    #: The last graph served: nodes, edges, the note or error; drawn at once by new views and
    #: by saved notebooks without a kernel.
    _graph = traitlets.Dict().tag(sync=True)

    def __init__(
        self,
        root: str | Artifact | Run,
        depth: int = 2,
        direction: str = "both",
        api: Api | None = None,
        **kwargs: Any,
    ) -> None:
        from liberry.artifacts import Artifact
        from liberry.runs import Run

        self._lock = threading.RLock()
        self._start: Artifact | Run | None = None
        if isinstance(root, Artifact | Run):
            self._start = root
            api = api or api_of(root)
            name = root.path if isinstance(root, Artifact) else root.path_str
        elif isinstance(root, str):
            name = root
        else:
            raise TypeError(f"Lineage takes 'entity/project/name:alias', an Artifact or a Run, "
                            f"not {type(root).__name__}")  # fmt: skip
        #: The graph as served: reply dict with `nodes`, `edges`, `serial`.
        self._current: dict[str, Any] = {}
        self._serial = 0
        self._objects: dict[str, Artifact | Run] = {}
        super().__init__(api=api, root=name, path=name, depth=depth, direction=direction,
                         **kwargs)  # fmt: skip

    # -- Python API ----------------------------------------------------------------------------

    @property
    def start(self) -> Artifact | Run:
        """The artifact version or run the graph is drawn around (looked up on first use)."""
        if self._start is None:
            self._start = self.api.artifact(self.root)
        return self._start

    def lineage(self) -> LineageGraph:
        """The graph at the widget's depth and direction, as `liberry.lineage.Lineage`."""
        return self.start.lineage(self._depth_arg(self.depth), self.direction)

    @property
    def nodes(self) -> list[dict[str, Any]]:
        """The nodes the view holds (the root's walk and every expansion since)."""
        return list(self._ensure_graph().get("nodes") or [])

    @property
    def edges(self) -> list[dict[str, Any]]:
        return list(self._ensure_graph().get("edges") or [])

    def _reload(self) -> None:
        """`refresh()` fetches the graph again (new runs and versions since); views redraw
        it from `_graph`."""
        with self._lock:
            self._objects.clear()
        self._set_graph(self._fetch_graph(self.depth, self.direction))

    def __repr__(self) -> str:
        return f"Lineage({self.root!r}, depth={self.depth}, direction={self.direction!r})"

    # -- trait rules ---------------------------------------------------------------------------

    @traitlets.validate("depth")
    def _check_depth(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 0:
            raise traitlets.TraitError(f"depth must be >= 0 (0 for all), got {value}")
        return min(value, MAX_DEPTH)

    @traitlets.validate("direction")
    def _check_direction(self, proposal: dict[str, Any]) -> str:
        value = str(proposal["value"])
        if value not in DIRECTIONS:
            raise traitlets.TraitError(f"direction must be one of {', '.join(DIRECTIONS)}")
        return value

    @traitlets.observe("depth", "direction")
    def _walk_changed(self, _change: dict[str, Any]) -> None:
        # A view asks for the graph itself (`graph` request) before it syncs the trait;
        # a change made in Python redraws every view through `_graph`.
        if self._from_view("depth") or self._from_view("direction") or not self._current:
            return
        self._set_graph(self._fetch_graph(self.depth, self.direction))

    @traitlets.observe("selected_id")
    def _selected_changed(self, change: dict[str, Any]) -> None:
        node_id = str(change["new"] or "")
        if not node_id:
            self.selected = None
            return
        try:
            self.selected = self._object(node_id)
        except Exception as exc:  # a node of an old graph, a server gone: say so, keep going
            self.selected = None
            if not self._from_view("selected_id"):
                raise traitlets.TraitError(str(exc)) from None

    # -- requests from the view ----------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "graph": self._handle_graph,
            "neighbours": self._handle_neighbours,
            "details": self._handle_details,
        }

    def _handle_graph(self, params: dict[str, Any]) -> dict[str, Any]:
        depth = int_param(params.get("depth"), self.depth)
        direction = str(params.get("direction") or self.direction)
        if direction not in DIRECTIONS:
            raise RpcError(f"direction must be one of {', '.join(DIRECTIONS)}")
        graph = self._fetch_graph(max(0, min(depth, MAX_DEPTH)), direction)
        self._set_graph(graph)
        return graph

    def _handle_neighbours(self, params: dict[str, Any]) -> dict[str, Any]:
        """The runs and versions one step from a node, merged into the kernel's graph."""
        node = self._node(params.get("id"))
        start = self._object(node["id"])
        found = start.lineage(1, "both")
        nodes, edges = _nodes(found), _edges(found)
        with self._lock:
            current = self._current
            have = {n["id"]: n for n in current.get("nodes") or []}
            for n in nodes:
                old = have.get(n["id"])
                have[n["id"]] = n if old is None else {**n, "depth": old["depth"]}
            seen = {(e["source"], e["target"], e["kind"]) for e in current.get("edges") or []}
            merged = list(current.get("edges") or [])
            merged += [e for e in edges if (e["source"], e["target"], e["kind"]) not in seen]
            self._serial += 1
            graph = {**current, "nodes": list(have.values()), "edges": merged,
                     "serial": self._serial}  # fmt: skip
        self._set_graph(graph)
        return {"id": node["id"], "nodes": nodes, "edges": edges, "serial": graph["serial"]}

    def _handle_details(self, params: dict[str, Any]) -> dict[str, Any]:
        node = self._node(params.get("id"))
        obj = self._object(node["id"])
        from liberry.artifacts import Artifact

        if isinstance(obj, Artifact):
            return artifact_details(node["id"], obj)
        return run_details(node["id"], obj)

    # -- data ----------------------------------------------------------------------------------

    def _fetch_graph(self, depth: int, direction: str) -> dict[str, Any]:
        """The graph reply: nodes and edges, or `error` (an unknown artifact) for the view."""
        from liberry.errors import LiberryError

        with self._lock:
            self._serial += 1
            serial = self._serial
        base = {"depth": depth, "direction": direction, "serial": serial, "title": self.root}
        try:
            start = self.start
            found = start.lineage(self._depth_arg(depth), direction)
        except LiberryError as exc:
            return {**base, "root": "", "nodes": [], "edges": [], "error": str(exc)}
        from liberry.artifacts import Artifact

        kind = "artifact" if isinstance(start, Artifact) else "run"
        with self._lock:
            self._objects[start.id] = start
        graph = {**base, "root": start.id, "title": _title(start), "nodes": _nodes(found),
                 "edges": _edges(found)}  # fmt: skip
        if not graph["edges"]:
            graph["note"] = (
                f"No lineage: no run logged or used this {kind}."
                if kind == "artifact"
                else "No lineage: this run logged and used no artifacts."
            )
        return graph

    def _ensure_graph(self) -> dict[str, Any]:
        if not self._current:
            self._set_graph(self._fetch_graph(self.depth, self.direction))
        return self._current

    def _set_graph(self, graph: dict[str, Any]) -> None:
        """Keep `graph` as the kernel's, and make it the `_graph` snapshot (at once outside a
        request, a moment after the last one inside: the view draws the reply)."""
        with self._lock:
            if graph.get("serial", 0) < self._current.get("serial", 0):
                return  # an older walk finished after a newer one
            self._current = graph
        self._snapshot_later()

    def _store_snapshot(self) -> None:
        with self._lock:
            graph = self._current
        if graph and graph.get("serial") != self._graph.get("serial"):
            self._graph = json_safe(graph)

    def _node(self, node_id: Any) -> dict[str, Any]:
        if not isinstance(node_id, str) or not node_id:
            raise RpcError("no node id given")
        for n in self._ensure_graph().get("nodes") or []:
            if n["id"] == node_id:
                return dict(n)
        raise RpcError(f"no node {node_id!r} in this lineage graph (refresh the widget)")

    def _object(self, node_id: str) -> Artifact | Run:
        """The `Artifact` or `Run` of a node, fetched once (one request)."""
        with self._lock:
            found = self._objects.get(node_id)
        if found is not None:
            return found
        node = self._node(node_id)
        path = f"{node['entity']}/{node['project']}/{node['name']}"
        if node["kind"] == "artifact":
            obj: Artifact | Run = self.api.artifact(f"{path}:{node['version']}")
        else:
            obj = self.api.run(path)
        with self._lock:
            self._objects[node_id] = obj
        return obj

    @staticmethod
    def _depth_arg(depth: int) -> int | None:
        return None if depth <= 0 else depth

    # -- display ---------------------------------------------------------------------------------

    def _before_display(self) -> None:
        """The graph goes into the output's state, so the view draws it with no round trip."""
        # No server: the view asks again and shows what went wrong.
        with contextlib.suppress(Exception):
            self._ensure_graph()
        self._cancel_snapshot()
        self._store_snapshot()  # what a view drew from replies is what gets saved

    def _fallback_html(self) -> str:
        """A plain list of the edges."""
        return snapshot_html(self._current)


# -- helpers ---------------------------------------------------------------------------------------


def _title(start: Artifact | Run) -> str:
    from liberry.artifacts import Artifact

    if isinstance(start, Artifact):
        return f"{start.name} ({start.type})"
    return f"run {start.name or start.id}"


def node_dict(n: LineageNode) -> dict[str, Any]:
    """A lineage node as the view draws it (`LineageNode` in js/lineage/graph.ts)."""
    label = n.label if n.kind == "artifact" else (n.display_name or n.name)
    return {
        "id": n.id,
        "kind": n.kind,
        "name": n.name,
        "label": label,
        "version": n.version,
        "type": n.type,
        "state": n.state,
        "size": n.size,
        "aliases": list(n.aliases),
        "degree": n.degree,
        "depth": n.depth,
        "entity": n.entity,
        "project": n.project,
    }


def _nodes(graph: LineageGraph) -> list[dict[str, Any]]:
    return [node_dict(n) for n in graph.nodes]


def _edges(graph: LineageGraph) -> list[dict[str, Any]]:
    return [{"source": e.source, "target": e.target, "kind": e.kind} for e in graph.edges]


def _text(value: Any, width: int = 120) -> str:
    from liberry._repr import short

    if isinstance(value, dict | list):
        return short(json.dumps(json_safe(value)), width)
    if isinstance(value, float):
        return f"{value:.6g}"
    return short(value, width)


def _entries(mapping: dict[str, Any]) -> tuple[list[list[str]], int]:
    from liberry.runs import flatten

    flat = {k.lstrip("."): v for k, v in flatten("", mapping).items()}
    keys = [k for k in flat if not k.startswith("_")]
    shown = [[k, _text(flat[k])] for k in sorted(keys)[:DETAIL_ENTRIES]]
    return shown, max(0, len(keys) - DETAIL_ENTRIES)


def artifact_details(node_id: str, art: Artifact) -> dict[str, Any]:
    """What the details panel shows of an artifact version (`Details` in details.ts)."""
    from liberry._repr import human_size

    entries, more = _entries(art.metadata)
    facts = [["type", art.type], ["version", art.version], ["size", human_size(art.size)],
             ["files", str(art.file_count)], ["created", art.created_at or ""],
             ["digest", art.digest[:12]]]  # fmt: skip
    if art.description:
        facts.append(["description", _text(art.description, 300)])
    return {"id": node_id, "kind": "artifact", "title": art.name, "path": art.path,
            "facts": facts, "aliases": art.aliases, "entries": entries,
            "entries_title": "metadata", "more": more}  # fmt: skip


def run_details(node_id: str, run: Run) -> dict[str, Any]:
    """What the details panel shows of a run: state, job type, times, its config."""
    entries, more = _entries(run.config)
    facts = [["id", run.id], ["state", run.state or ""], ["job type", run.job_type or ""],
             ["created", str(run.created_at or "")]]  # fmt: skip
    if run.tags:
        facts.append(["tags", ", ".join(run.tags)])
    return {"id": node_id, "kind": "run", "title": run.name or run.id, "path": run.path_str,
            "facts": facts, "entries": entries, "entries_title": "config",
            "more": more}  # fmt: skip


def snapshot_html(graph: dict[str, Any]) -> str:
    """The graph as a plain list: what a host without widget support shows."""
    if not graph:
        return "<p><b>liberry lineage</b>: run the notebook to draw the graph.</p>"
    title = html.escape(str(graph.get("title") or ""))
    if graph.get("error"):
        return f"<p><b>liberry lineage</b> of {title}: {html.escape(str(graph['error']))}</p>"
    nodes = graph.get("nodes") or []
    names = {n["id"]: n["label"] for n in nodes}
    items = "".join(
        f"<li>{html.escape(names.get(e['source'], '?'))} → "
        f"{html.escape(names.get(e['target'], '?'))} ({html.escape(e['kind'])})</li>"
        for e in graph.get("edges") or []
    )
    return (
        f"<div class='liberry-lineage-snapshot'><p><b>liberry lineage</b> of {title}: "
        f"{len(nodes)} nodes (run the notebook for the interactive graph)</p><ul>{items}</ul></div>"
    )
