/**
 * `liberry.widgets.Lineage`: the lineage graph (front end of `liberry_widgets/lineage.py`).
 *
 * The kernel puts the graph in `_graph` before the view first renders, so it is drawn with
 * no round trip (and without a kernel, from a saved notebook). A new depth or direction asks
 * the kernel for the graph (`graph`); a node's "+N" asks for its neighbours (`neighbours`);
 * a click asks for the node's details (`details`) and then syncs `selected_id`. Expanding a
 * cluster and searching are local: no message at all.
 */
import type { RenderProps } from "@anywidget/types";
import { afterPaint, h } from "../dom";
import { isCancelled } from "../rpc";
import { type BaseTraits, WidgetView } from "../widget";
import { Canvas } from "./canvas";
import { type Details, DetailsPanel } from "./details";
import {
  type GraphView,
  type LineageEdge,
  type LineageGraph,
  type LineageNode,
  buildView,
  clusterKey,
  clusters,
  mergeGraph,
} from "./graph";
import { layout } from "./layout";
import { SearchBox, matchNodes } from "./search";
import "./styles.css";

/** A `graph` reply, and the `_graph` trait (`Lineage._fetch_graph` in lineage.py). */
export interface GraphReply extends LineageGraph {
  depth: number;
  direction: string;
  serial: number;
  title: string;
  note?: string;
  error?: string;
}

/** The synced traits (`Lineage` in lineage.py). */
export interface LineageTraits extends BaseTraits {
  root: string;
  depth: number;
  direction: string;
  query: string;
  selected_id: string;
  _graph: Partial<GraphReply>;
}

interface NeighboursReply {
  id: string;
  nodes: LineageNode[];
  edges: LineageEdge[];
  serial: number;
}

const DEPTHS: [number, string][] = [[1, "1"], [2, "2"], [3, "3"], [5, "5"], [10, "10"], [0, "all"]];
/** Search text reaches the kernel's `query` this long after the last keystroke. */
const QUERY_SYNC_MS = 400;

function isGraph(value: Partial<GraphReply>): value is GraphReply {
  return Array.isArray(value.nodes) && typeof value.serial === "number";
}

function render(props: RenderProps<LineageTraits>): () => void {
  const { model } = props;
  const widget = new WidgetView<LineageTraits>(props, { name: "lineage", statusTestid: "lineage-status" });
  const { rpc, traits, status, root } = widget;
  const on = widget.on.bind(widget);

  let graph: GraphReply | null = null;
  let view: GraphView | null = null;
  let expanded = new Set<string>();
  let matches = new Set<string>();
  let selected: string | null = model.get("selected_id") || null;

  // -- parts ------------------------------------------------------------------------------

  const message = h("div", { class: "lb-lineage-message", testid: "lineage-message", attrs: { hidden: true } });
  const title = h("span", { class: "lb-lineage-title", testid: "lineage-title" });
  const depthSelect = h(
    "select",
    {
      class: "lb-select",
      testid: "lineage-depth",
      title: "Depth: artifact hops from the root",
      on: { change: () => void load(Number(depthSelect.value), model.get("direction")) },
    },
    ...DEPTHS.map(([value, text]) => h("option", { text, attrs: { value: String(value) } })),
  );
  const directionSelect = h(
    "select",
    {
      class: "lb-select",
      testid: "lineage-direction",
      on: { change: () => void load(model.get("depth"), directionSelect.value) },
    },
    ...["both", "upstream", "downstream"].map((d) => h("option", { text: d, attrs: { value: d } })),
  );
  let querySync: ReturnType<typeof setTimeout> | undefined;
  widget.onDispose(() => clearTimeout(querySync));
  const search = new SearchBox(
    (text) => {
      find(text, true);
      clearTimeout(querySync);
      querySync = setTimeout(() => traits.set("query", text), QUERY_SYNC_MS);
    },
    () => find(search.input.value, true),
  );
  const collapseButton = h("button", {
    class: "lb-btn",
    testid: "lineage-collapse",
    text: "Collapse",
    title: "Collapse every cluster again",
    on: {
      click: () => {
        expanded = new Set();
        redraw();
        canvas.fit();
      },
    },
  });
  const refreshButton = widget.refreshButton("lineage-refresh", "Refresh", "Fetch the graph again", () =>
    void load(model.get("depth"), model.get("direction")),
  );
  const canvas = new Canvas({
    select: (id) => void select(id, true),
    expandCluster: (key) => expandCluster(key),
    expandNode: (id) => void expandNode(id),
  });
  const details = new DetailsPanel(() => {
    details.close();
    selected = null;
    highlight();
    traits.set("selected_id", "");
  });
  const footer = h("div", { class: "lb-footer lb-muted", testid: "lineage-summary" });

  // -- drawing ----------------------------------------------------------------------------

  function showMessage(text: string | undefined, kind: "note" | "error"): void {
    message.hidden = !text;
    message.textContent = text ?? "";
    message.dataset.kind = kind;
  }

  function summary(): void {
    if (!graph || !view) return;
    const runs = graph.nodes.filter((n) => n.kind === "run").length;
    const shown = view.nodes.length;
    footer.textContent =
      `${graph.nodes.length - runs} artifact versions, ${runs} runs` +
      (shown < graph.nodes.length ? ` · ${shown} boxes drawn (click a stack to expand it)` : "");
  }

  /** Lay out and draw the graph as it is now; `data-draw-ms` says how long that took. */
  function redraw(): void {
    if (!graph) return;
    const started = performance.now();
    view = buildView(graph, expanded);
    const placed = layout(view);
    canvas.draw(view, placed);
    highlight();
    root.dataset.drawMs = (performance.now() - started).toFixed(1);
    root.dataset.nodes = String(view.nodes.length);
    summary();
  }

  /** Ids as drawn of the given graph nodes (a node inside a collapsed cluster is its cluster). */
  function drawn(ids: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const id of ids) {
      const as = view?.drawnAs.get(id);
      if (as) out.add(as);
    }
    return out;
  }

  function highlight(): void {
    const sel = selected ? (view?.drawnAs.get(selected) ?? null) : null;
    canvas.highlight(sel, matches);
  }

  function adopt(next: GraphReply, fit: boolean): void {
    graph = next;
    setSelect(depthSelect, String(next.depth));
    setSelect(directionSelect, next.direction);
    title.textContent = next.title || model.get("root");
    if (next.error) {
      showMessage(next.error, "error");
      canvas.draw({ nodes: [], edges: [], drawnAs: new Map() }, layout({ nodes: [], edges: [], drawnAs: new Map() }));
      view = null;
      widget.setState("error");
      root.dataset.error = "true";
      return;
    }
    delete root.dataset.error;
    showMessage(next.note, "note");
    // Clusters the user opened stay open when they still exist.
    const keys = new Set(clusters(next).keys());
    expanded = new Set([...expanded].filter((k) => keys.has(k)));
    redraw();
    if (fit) canvas.fit();
    const text = model.get("query");
    if (text) find(text, false);
    if (selected && next.nodes.some((n) => n.id === selected)) void select(selected, false);
    widget.setState("ready");
  }

  // -- actions ----------------------------------------------------------------------------

  let loadSeq = 0;
  async function load(depth: number, direction: string): Promise<void> {
    const seq = ++loadSeq;
    status.loading("Loading the lineage");
    root.classList.add("lb-loading");
    try {
      const reply = await rpc.request<GraphReply>("graph", { depth, direction }, { key: "graph" });
      if (seq !== loadSeq) return;
      status.idle();
      adopt(reply, true);
      traits.set("depth", reply.depth);
      traits.set("direction", reply.direction);
    } catch (err) {
      if (seq !== loadSeq || isCancelled(err)) return;
      // A graph already drawn stays worth looking at.
      widget.fail(err, () => void load(depth, direction), graph ? null : "error");
      if (graph) setSelect(depthSelect, String(graph.depth));
    } finally {
      if (seq === loadSeq) root.classList.remove("lb-loading");
    }
  }

  function expandCluster(key: string): void {
    if (!graph) return;
    const started = performance.now();
    expanded.add(key);
    const members = clusters(graph).get(key) ?? [];
    redraw();
    canvas.panTo(drawn(members));
    root.dataset.expandMs = (performance.now() - started).toFixed(1);
  }

  async function expandNode(id: string): Promise<void> {
    if (!graph) return;
    status.loading("Loading neighbours");
    try {
      const reply = await rpc.request<NeighboursReply>("neighbours", { id });
      if (!graph) return;
      status.idle();
      const merged = mergeGraph(graph, reply);
      graph = { ...graph, nodes: merged.nodes, edges: merged.edges, serial: reply.serial };
      // The new neighbours are what the user asked to see: open their clusters.
      for (const n of reply.nodes) if (n.id !== graph.root) expanded.add(clusterKey(n));
      redraw();
      canvas.panTo(drawn([id, ...reply.nodes.map((n) => n.id)]));
    } catch (err) {
      status.error(err, () => void expandNode(id));
    }
  }

  /** Highlight the nodes matching `text`, open the clusters hiding them, pan to them. */
  function find(text: string, pan: boolean): void {
    search.setText(text);
    if (!graph) return;
    const ids = matchNodes(graph, text);
    search.setCount(text, ids.length);
    const groups = clusters(graph);
    let opened = false;
    for (const id of ids) {
      const node = graph.nodes.find((n) => n.id === id);
      if (!node) continue;
      const key = clusterKey(node);
      if (groups.has(key) && !expanded.has(key)) {
        expanded.add(key);
        opened = true;
      }
    }
    if (opened) redraw();
    matches = drawn(ids);
    highlight();
    if (pan && matches.size) canvas.panTo(matches);
  }

  let detailSeq = 0;
  async function select(id: string, sync: boolean): Promise<void> {
    const node = graph?.nodes.find((n) => n.id === id);
    if (!node) return;
    selected = id;
    highlight();
    const seq = ++detailSeq;
    details.loading(id, node.label);
    try {
      const reply = await rpc.request<Details>("details", { id }, { key: "details" });
      if (seq !== detailSeq) return;
      details.show(reply);
      // After the panel is painted: the kernel sets `selected` from the object it just loaded.
      if (sync) traits.set("selected_id", id);
    } catch (err) {
      if (seq !== detailSeq || isCancelled(err)) return;
      details.error(id, err);
      if (sync) traits.set("selected_id", id);
    }
  }

  // -- wiring -----------------------------------------------------------------------------

  on("change:_graph", () => {
    const next = model.get("_graph");
    // The kernel's copy of what this view already drew (or an older one): nothing to do.
    if (!isGraph(next) || (graph && next.serial <= graph.serial)) return;
    adopt(next, true);
  });
  on("change:selected_id", () => {
    if (traits.restored("selected_id")) return;
    const id = model.get("selected_id");
    if (!id) {
      selected = null;
      details.close();
      highlight();
    } else if (id !== details.shown) {
      void select(id, false);
      const as = view?.drawnAs.get(id);
      if (as) canvas.panTo([as]);
    }
  });
  on("change:query", () => {
    if (!traits.restored("query")) find(model.get("query"), true);
  });
  // The kernel's refresh() fetched the graph again and put it in `_graph`.
  widget.onRefresh(() => {
    const next = model.get("_graph");
    if (isGraph(next)) adopt(next, false);
  });

  widget.mount(
    h(
      "div",
      { class: "lb-toolbar" },
      title,
      search.el,
      h(
        "div",
        { class: "lb-tools" },
        h("label", { class: "lb-muted" }, "depth ", depthSelect),
        directionSelect,
        collapseButton,
        refreshButton,
      ),
    ),
    status.el,
    message,
    h("div", { class: "lb-lineage-body" }, canvas.el, details.el),
    footer,
  );
  const first = model.get("_graph");
  const wanted = (g: GraphReply): boolean =>
    g.depth === model.get("depth") && g.direction === model.get("direction");
  if (isGraph(first) && (first.error || wanted(first))) {
    adopt(first, false);
    // Fit once the view is in the page and has a size.
    widget.onDispose(afterPaint(() => canvas.fit()));
  } else {
    void load(model.get("depth"), model.get("direction"));
  }

  return () => widget.dispose();
}

function setSelect(select: HTMLSelectElement, value: string): void {
  if (![...select.options].some((o) => o.value === value)) {
    select.append(h("option", { text: value, attrs: { value } }));
  }
  select.value = value;
}

export default { render };
