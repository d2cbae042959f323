/**
 * The lineage graph as the view holds it (mirrors `liberry_widgets/lineage.py`'s replies), and
 * what is drawn of it: versions of one collection (and runs of one job type) that would fill
 * a column one by one are drawn as one cluster until the user expands it.
 *
 * Pure functions only: no DOM, so vitest covers them.
 */

export type NodeKind = "artifact" | "run";

/** A run or an artifact version, as the kernel sends it. */
export interface LineageNode {
  id: string;
  kind: NodeKind;
  /** Collection name (artifacts) or run id (runs). */
  name: string;
  /** `name:vN` for artifacts, the display name for runs. */
  label: string;
  version?: string | null;
  /** Artifact type, or the run's job type. */
  type?: string | null;
  state?: string | null;
  size?: number | null;
  aliases?: string[];
  /** Usage edges of the node in all, loaded or not. */
  degree?: number | null;
  depth: number;
  entity?: string | null;
  project?: string | null;
}

/** `output`: a run logged an artifact (run -> artifact); `input`: a run used one. */
export interface LineageEdge {
  source: string;
  target: string;
  kind: "input" | "output";
}

export interface LineageGraph {
  root: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
}

/** What is drawn: a node, or a cluster standing for several. */
export interface ViewNode {
  id: string;
  kind: NodeKind | "cluster";
  label: string;
  /** Second line: type and size, or the run's state. */
  detail: string;
  /** For clusters: the members' ids; for nodes: [id]. */
  members: string[];
  /** For clusters: whether the members are artifacts or runs. */
  memberKind: NodeKind;
  /** Neighbours the server knows of that are not loaded (nodes only). */
  hidden: number;
  state?: string | null;
  root: boolean;
}

export interface ViewEdge {
  id: string;
  source: string;
  target: string;
  kind: "input" | "output";
  /** How many graph edges it stands for (edges into a cluster merge). */
  count: number;
}

export interface GraphView {
  nodes: ViewNode[];
  edges: ViewEdge[];
  /** Node id -> the id drawn for it (itself, or its cluster). */
  drawnAs: Map<string, string>;
}

/** A group this small is drawn node by node. */
export const CLUSTER_MIN = 4;

/** Siblings share a key: versions of one collection, runs of one job type, in one project.
 * The root is never clustered (it is what the user asked about). */
export function clusterKey(node: LineageNode): string {
  const where = `${node.entity ?? ""}/${node.project ?? ""}`;
  if (node.kind === "artifact") return `cluster:a:${where}/${node.name}`;
  return `cluster:r:${where}/${node.type ?? ""}`;
}

/** Add `extra` to `graph` (a neighbour fetch): nodes by id, edges by (source, target, kind);
 * a node seen again keeps the smaller depth. */
export function mergeGraph(graph: LineageGraph, extra: { nodes: LineageNode[]; edges: LineageEdge[] }): LineageGraph {
  const nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  for (const node of extra.nodes) {
    const had = nodes.get(node.id);
    nodes.set(node.id, had ? { ...node, depth: Math.min(had.depth, node.depth) } : node);
  }
  const edges = new Map(graph.edges.map((e) => [edgeKey(e), e]));
  for (const edge of extra.edges) edges.set(edgeKey(edge), edge);
  return { root: graph.root, nodes: [...nodes.values()], edges: [...edges.values()] };
}

function edgeKey(e: LineageEdge): string {
  return `${e.source}>${e.target}>${e.kind}`;
}

/** Neighbours of each node the server knows of but the graph does not hold. */
export function hiddenCounts(graph: LineageGraph): Map<string, number> {
  const loaded = new Map<string, number>();
  for (const e of graph.edges) {
    loaded.set(e.source, (loaded.get(e.source) ?? 0) + 1);
    loaded.set(e.target, (loaded.get(e.target) ?? 0) + 1);
  }
  const hidden = new Map<string, number>();
  for (const n of graph.nodes) {
    if (typeof n.degree === "number") hidden.set(n.id, Math.max(0, n.degree - (loaded.get(n.id) ?? 0)));
  }
  return hidden;
}

/** The groups that would be drawn as clusters: key -> member ids (root excluded). */
export function clusters(graph: LineageGraph, min = CLUSTER_MIN): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const n of graph.nodes) {
    if (n.id === graph.root) continue;
    const key = clusterKey(n);
    const list = groups.get(key);
    if (list) list.push(n.id);
    else groups.set(key, [n.id]);
  }
  for (const [key, ids] of groups) if (ids.length < min) groups.delete(key);
  return groups;
}

/** Draw `graph` with every cluster collapsed except those in `expanded`. */
export function buildView(graph: LineageGraph, expanded: ReadonlySet<string>, min = CLUSTER_MIN): GraphView {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const hidden = hiddenCounts(graph);
  const drawnAs = new Map<string, string>();
  const nodes: ViewNode[] = [];
  for (const [key, ids] of clusters(graph, min)) {
    if (expanded.has(key)) continue;
    for (const id of ids) drawnAs.set(id, key);
    const first = byId.get(ids[0] as string) as LineageNode;
    const states = new Set(ids.map((id) => byId.get(id)?.state));
    nodes.push({
      id: key,
      kind: "cluster",
      label: first.kind === "artifact" ? `${first.name} ×${ids.length}` : `${first.type || "runs"} ×${ids.length}`,
      detail: first.kind === "artifact" ? `${first.type ?? "artifact"} · ${ids.length} versions` : `${ids.length} runs`,
      members: ids,
      memberKind: first.kind,
      hidden: 0,
      state: states.size === 1 ? first.state : null,
      root: false,
    });
  }
  for (const n of graph.nodes) {
    if (drawnAs.has(n.id)) continue;
    drawnAs.set(n.id, n.id);
    nodes.push({
      id: n.id,
      kind: n.kind,
      label: n.label,
      detail: nodeDetail(n),
      members: [n.id],
      memberKind: n.kind,
      hidden: hidden.get(n.id) ?? 0,
      state: n.state,
      root: n.id === graph.root,
    });
  }
  const edges = new Map<string, ViewEdge>();
  for (const e of graph.edges) {
    const source = drawnAs.get(e.source);
    const target = drawnAs.get(e.target);
    if (!source || !target || source === target) continue;
    const id = `${source}>${target}`;
    const had = edges.get(id);
    if (had) had.count += 1;
    else edges.set(id, { id, source, target, kind: e.kind, count: 1 });
  }
  return { nodes, edges: [...edges.values()], drawnAs };
}

/** The second line of a node: `dataset · 1.2 MB`, or a run's job type and state. */
export function nodeDetail(n: LineageNode): string {
  if (n.kind === "artifact") {
    const parts = [n.type ?? "artifact"];
    if (typeof n.size === "number") parts.push(formatSize(n.size));
    return parts.join(" · ");
  }
  return [n.type, n.state].filter(Boolean).join(" · ") || "run";
}

/** Bytes for people: 0 B, 999 B, 1.2 KB, 3.4 MB (powers of 1000, as W&B shows them). */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "";
  const units = ["B", "KB", "MB", "GB", "TB", "PB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const text = unit === 0 ? String(Math.round(value)) : value < 10 ? value.toFixed(1) : String(Math.round(value));
  return `${text} ${units[unit]}`;
}
