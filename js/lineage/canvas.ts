/**
 * Draws the laid-out graph as SVG (node names are `<text>`: tests and screen readers read
 * them) inside a pannable, zoomable viewport: drag to pan, Ctrl/⌘ + wheel or the buttons to
 * zoom (a plain wheel keeps scrolling the notebook).
 */
import { h } from "../dom";
import type { GraphView, ViewNode } from "./graph";
import { type Box, type Placed, boundsOf } from "./layout";

const SVG = "http://www.w3.org/2000/svg";
const MAX_LABEL = 26;

/** Pan and zoom: screen = graph * k + (x, y). */
export interface Transform {
  x: number;
  y: number;
  k: number;
}

/** The transform that shows `box` whole in a `width` x `height` viewport, centred, never
 * zoomed in past 1 (small graphs keep their natural size). */
export function fitTransform(box: Box, width: number, height: number, pad = 16, maxK = 1): Transform {
  const k = Math.max(0.05, Math.min(maxK, (width - 2 * pad) / Math.max(1, box.width), (height - 2 * pad) / Math.max(1, box.height)));
  return { k, x: width / 2 - (box.x + box.width / 2) * k, y: height / 2 - (box.y + box.height / 2) * k };
}

/** Shorten a label for a node box; the full text stays in the node's title and aria-label. */
export function shorten(text: string, max = MAX_LABEL): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export interface CanvasEvents {
  select(id: string): void;
  expandCluster(key: string): void;
  expandNode(id: string): void;
}

export class Canvas {
  readonly el: HTMLElement;
  private readonly svg: SVGSVGElement;
  private readonly layer: SVGGElement;
  private transform: Transform = { x: 0, y: 0, k: 1 };
  private placed: Placed | null = null;
  private nodeEls = new Map<string, SVGGElement>();

  constructor(private readonly events: CanvasEvents) {
    this.svg = document.createElementNS(SVG, "svg");
    this.svg.setAttribute("class", "lb-lineage-svg");
    this.svg.setAttribute("role", "img");
    this.svg.dataset.testid = "lineage-svg";
    this.svg.append(arrowMarker());
    this.layer = svgEl("g", { class: "lb-lineage-layer" });
    this.svg.append(this.layer);
    const zoom = (factor: number) => () => this.zoomBy(factor);
    this.el = h(
      "div",
      { class: "lb-lineage-canvas", testid: "lineage-canvas" },
      this.svg,
      h(
        "div",
        { class: "lb-lineage-zoom" },
        h("button", { class: "lb-btn", title: "Zoom in", text: "+", testid: "lineage-zoom-in", on: { click: zoom(1.25) } }),
        h("button", { class: "lb-btn", title: "Zoom out", text: "−", testid: "lineage-zoom-out", on: { click: zoom(0.8) } }),
        h("button", { class: "lb-btn", title: "Fit the graph", text: "Fit", testid: "lineage-fit", on: { click: () => this.fit() } }),
      ),
    );
    this.listen();
  }

  /** Replace the drawing. */
  draw(view: GraphView, placed: Placed): void {
    this.placed = placed;
    this.nodeEls.clear();
    const edges = svgEl("g", { class: "lb-lineage-edges" });
    for (const e of view.edges) {
      const points = placed.edges.get(e.id);
      if (!points || points.length === 0) continue;
      const path = svgEl("path", {
        class: `lb-edge lb-edge-${e.kind}`,
        d: `M${points.map((p) => `${p.x.toFixed(1)},${p.y.toFixed(1)}`).join("L")}`,
        "marker-end": "url(#lb-lineage-arrow)",
      });
      path.dataset.source = e.source;
      path.dataset.target = e.target;
      if (e.count > 1) path.dataset.count = String(e.count);
      edges.append(path);
    }
    const nodes = svgEl("g", { class: "lb-lineage-nodes" });
    for (const n of view.nodes) {
      const box = placed.nodes.get(n.id);
      if (!box) continue;
      const g = nodeElement(n, box);
      this.nodeEls.set(n.id, g);
      nodes.append(g);
    }
    this.layer.replaceChildren(edges, nodes);
  }

  /** Mark the selected node and the search matches (ids as drawn). */
  highlight(selected: string | null, matches: ReadonlySet<string>): void {
    for (const [id, g] of this.nodeEls) {
      g.classList.toggle("lb-selected", id === selected);
      g.classList.toggle("lb-match", matches.has(id));
      g.classList.toggle("lb-dimmed", matches.size > 0 && !matches.has(id));
    }
  }

  /** Show the whole graph. */
  fit(): void {
    if (!this.placed) return;
    const { width, height } = this.size();
    this.apply(fitTransform({ x: 0, y: 0, width: this.placed.width, height: this.placed.height }, width, height));
  }

  /** Pan (and zoom out if needed) so the drawn nodes `ids` are in view. */
  panTo(ids: Iterable<string>): void {
    if (!this.placed) return;
    const boxes = [...ids].map((id) => this.placed?.nodes.get(id)).filter((b): b is Box => b !== undefined);
    const box = boundsOf(boxes);
    if (!box) return;
    const { width, height } = this.size();
    this.apply(fitTransform(box, width, height, 48, Math.max(this.transform.k, 0.6)));
  }

  get current(): Transform {
    return { ...this.transform };
  }

  private size(): { width: number; height: number } {
    const rect = this.svg.getBoundingClientRect();
    return { width: rect.width || 800, height: rect.height || 480 };
  }

  private zoomBy(factor: number, cx?: number, cy?: number): void {
    const { width, height } = this.size();
    const px = cx ?? width / 2;
    const py = cy ?? height / 2;
    const t = this.transform;
    const k = Math.max(0.05, Math.min(4, t.k * factor));
    this.apply({ k, x: px - ((px - t.x) * k) / t.k, y: py - ((py - t.y) * k) / t.k });
  }

  private apply(t: Transform): void {
    this.transform = t;
    this.layer.setAttribute("transform", `translate(${t.x.toFixed(1)},${t.y.toFixed(1)}) scale(${t.k.toFixed(4)})`);
    this.svg.dataset.zoom = t.k.toFixed(3);
  }

  private listen(): void {
    let drag: { x: number; y: number; t: Transform; moved: boolean } | null = null;
    this.svg.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      drag = { x: e.clientX, y: e.clientY, t: this.transform, moved: false };
    });
    this.svg.addEventListener("pointermove", (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (!drag.moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!drag.moved) this.svg.setPointerCapture?.(e.pointerId);
      drag.moved = true;
      this.apply({ ...drag.t, x: drag.t.x + dx, y: drag.t.y + dy });
    });
    const end = (e: PointerEvent): void => {
      const was = drag;
      drag = null;
      if (!was || was.moved) return;
      this.click(e);
    };
    this.svg.addEventListener("pointerup", end);
    this.svg.addEventListener("pointercancel", () => (drag = null));
    this.svg.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        this.click(e);
      }
    });
    this.svg.addEventListener(
      "wheel",
      (e) => {
        if (!e.ctrlKey && !e.metaKey) return; // a plain wheel scrolls the notebook
        e.preventDefault();
        const rect = this.svg.getBoundingClientRect();
        this.zoomBy(Math.exp(-e.deltaY / 300), e.clientX - rect.left, e.clientY - rect.top);
      },
      { passive: false },
    );
  }

  /** A click (not a drag) on a node, a cluster or a node's "+N" button. */
  private click(e: Event): void {
    const target = e.target as Element | null;
    const expand = target?.closest?.("[data-expand]");
    const node = target?.closest?.("[data-node]");
    if (!node) return;
    const id = (node as SVGGElement).dataset.node as string;
    if (expand) this.events.expandNode(id);
    else if ((node as SVGGElement).dataset.kind === "cluster") this.events.expandCluster(id);
    else this.events.select(id);
  }
}

function nodeElement(n: ViewNode, box: Box): SVGGElement {
  const g = svgEl("g", {
    class: `lb-node lb-node-${n.kind}${n.kind === "cluster" ? ` lb-cluster-${n.memberKind}` : ""}${n.root ? " lb-root-node" : ""}`,
    transform: `translate(${box.x.toFixed(1)},${box.y.toFixed(1)})`,
    tabindex: "0",
    role: "button",
    "aria-label": `${n.kind === "cluster" ? "cluster" : n.kind} ${n.label}`,
  });
  g.dataset.node = n.id;
  g.dataset.kind = n.kind;
  g.dataset.testid = n.kind === "cluster" ? "lineage-cluster" : "lineage-node";
  if (n.state) g.dataset.state = n.state.toLowerCase();
  const rect = svgEl("rect", { width: String(box.width), height: String(box.height), rx: n.kind === "run" ? "16" : "4" });
  const title = svgEl("title", {});
  title.textContent = n.kind === "cluster" ? `${n.label}: click to expand` : n.label;
  const label = svgEl("text", { class: "lb-node-label", x: "10", y: "19" });
  label.textContent = shorten(n.label);
  label.dataset.testid = "lineage-node-label";
  const detail = svgEl("text", { class: "lb-node-detail", x: "10", y: "36" });
  detail.textContent = shorten(n.detail, 32);
  g.append(title, rect, label, detail);
  if (n.kind === "cluster") {
    // A second outline behind: a stack of cards.
    g.insertBefore(svgEl("rect", { class: "lb-stack", x: "4", y: "-4", width: String(box.width), height: String(box.height), rx: "4" }), title);
  }
  if (n.hidden > 0) {
    const button = svgEl("g", { class: "lb-expand", transform: `translate(${box.width - 34},${box.height / 2 - 10})` });
    button.dataset.expand = "true";
    button.dataset.testid = "lineage-expand";
    const bg = svgEl("rect", { width: "30", height: "20", rx: "10" });
    const text = svgEl("text", { x: "15", y: "14", "text-anchor": "middle" });
    text.textContent = `+${n.hidden}`;
    const tip = svgEl("title", {});
    tip.textContent = `Load ${n.hidden} more neighbour${n.hidden === 1 ? "" : "s"}`;
    button.append(tip, bg, text);
    g.append(button);
  }
  return g;
}

function arrowMarker(): SVGDefsElement {
  const defs = svgEl("defs", {}) as SVGDefsElement;
  const marker = svgEl("marker", {
    id: "lb-lineage-arrow",
    viewBox: "0 0 10 10",
    refX: "9",
    refY: "5",
    markerWidth: "7",
    markerHeight: "7",
    orient: "auto-start-reverse",
  });
  marker.append(svgEl("path", { d: "M0,0L10,5L0,10z", class: "lb-arrow" }));
  defs.append(marker);
  return defs;
}

function svgEl<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string>): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}
