/**
 * Left-to-right layered layout of the drawn graph with dagre (a real Sugiyama layout:
 * ranks, crossing reduction, coordinates). dagre is ~70 KB minified, so it is bundled
 * rather than fetched on demand like vega.
 */
import dagre from "@dagrejs/dagre";
import type { GraphView } from "./graph";

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 46;
/** Past this many boxes the ranking is longest-path (linear) instead of network-simplex. */
export const LONGEST_PATH_FROM = 120;

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Placed {
  /** Node id -> its box (top-left corner). */
  nodes: Map<string, Box>;
  /** Edge id -> its polyline. */
  edges: Map<string, { x: number; y: number }[]>;
  width: number;
  height: number;
}

/** Place every drawn node and route every edge. */
export function layout(view: GraphView): Placed {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  // network-simplex ranks well but is slow on big graphs (bench_lineage_widget.py); longest-path
  // is linear and, for lineage (a DAG walked from one node), gives the same columns.
  const ranker = view.nodes.length > LONGEST_PATH_FROM ? "longest-path" : "network-simplex";
  g.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 56, edgesep: 8, marginx: 12, marginy: 12, ranker });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of view.nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const e of view.edges) g.setEdge(e.source, e.target, { id: e.id });
  dagre.layout(g);
  const nodes = new Map<string, Box>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes.set(id, { x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height });
  }
  const edges = new Map<string, { x: number; y: number }[]>();
  for (const ref of g.edges()) {
    const e = g.edge(ref) as { id: string; points?: { x: number; y: number }[] };
    edges.set(e.id, e.points ?? []);
  }
  const size = g.graph();
  return { nodes, edges, width: size.width ?? 0, height: size.height ?? 0 };
}

/** The box around `boxes` (for panning to search matches); undefined when empty. */
export function boundsOf(boxes: Box[]): Box | undefined {
  if (boxes.length === 0) return undefined;
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (const b of boxes) {
    x0 = Math.min(x0, b.x);
    y0 = Math.min(y0, b.y);
    x1 = Math.max(x1, b.x + b.width);
    y1 = Math.max(y1, b.y + b.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}
