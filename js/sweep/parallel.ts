/**
 * Parallel coordinates: one vertical axis per swept parameter and one for the metric, one
 * line per run, coloured by the metric. Dragging along an axis brushes a range (a click on
 * the axis clears it); brushes on several axes combine.
 *
 * Lines are drawn on two canvases: the runs outside the brushes once, faintly, on the back
 * one (only when the data, the size or the theme changes), and the selected runs on the front
 * one at each brush frame. Lines are grouped by colour bucket so a frame sets the stroke
 * colour some 17 times, not once per run, and each run's pixel heights are computed once per
 * layout, so a frame is only `lineTo`s. Axis names, ticks and brushes are DOM elements, so
 * screen readers and tests read them as text.
 */
import { h } from "../dom";
import { type BrushValue, type Brushes, brushFromUnit, brushToUnit } from "./brush";
import { BUCKETS, bucketColors } from "./color";
import type { Scale } from "./scales";

export interface ParallelAxis {
  key: string;
  label: string;
  scale: Scale;
  values: Float64Array;
  metric?: boolean;
}

export interface ParallelEvents {
  /** A brush changes while it is dragged (each frame). */
  brushing(key: string, value: BrushValue | null): void;
  /** A drag ended, or a click cleared an axis' brush. */
  brushed(key: string, value: BrushValue | null): void;
}

const HEIGHT = 320;
const TOP = 44;
const BOTTOM = 18;
const SIDE = 56;
/** A press that moves less than this is a click (clears the brush), not a drag. */
const DRAG_PX = 3;
/** While a brush is dragged, at most about this many lines are drawn per frame (an even
 * sample of the selection: the picture's density stays right); all of them when it ends.
 * Stroking 10,000 translucent lines takes Chromium's software rasteriser some 60 ms. */
const DRAG_LINES = 2500;

interface Palette {
  fg: string;
  muted: string;
  faint: string;
  accent: string;
}

export class ParallelPlot {
  readonly el: HTMLElement;
  private readonly back = h("canvas", { class: "lb-pc-canvas" });
  private readonly front = h("canvas", { class: "lb-pc-canvas" });
  private readonly layer = h("div", { class: "lb-pc-axes" });
  private axes: ParallelAxis[] = [];
  private n = 0;
  /** Runs grouped by colour bucket (index 0: no metric), worst first so the best are on top. */
  private groups: Uint32Array[] = [];
  private xs: number[] = [];
  private ys: Float32Array[] = [];
  private width = 0;
  private mask: Uint8Array | null = null;
  private brushes: Brushes = {};
  private highlight = -1;
  private dragging = false;
  private frame = 0;
  private palette: Palette = { fg: "#333", muted: "#888", faint: "#ccc", accent: "#0969da" };
  private readonly colors = bucketColors();
  private readonly resize: ResizeObserver;
  /** Time the last front-layer draw took (ms), for the benchmark. */
  lastDrawMs = 0;

  constructor(private readonly events: ParallelEvents) {
    this.el = h("div", { class: "lb-pc", testid: "parallel" }, this.back, this.front, this.layer);
    this.el.style.height = `${HEIGHT}px`;
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.el);
  }

  /** New runs or axes. `buckets` is each run's colour bucket (-1: no metric). */
  setData(axes: ParallelAxis[], buckets: Int8Array, n: number): void {
    this.axes = axes;
    this.n = n;
    const groups: number[][] = Array.from({ length: BUCKETS + 1 }, () => []);
    for (let i = 0; i < n; i++) groups[(buckets[i] ?? -1) + 1]!.push(i);
    this.groups = groups.map((g) => Uint32Array.from(g));
    this.el.dataset.runs = String(n);
    this.layout();
  }

  /** The runs inside the brushes (null: no brush, all runs), and the brushes to draw;
   * `dragging` while a brush is being dragged (lines are then sampled, see DRAG_LINES). */
  setSelection(mask: Uint8Array | null, brushes: Brushes, dragging = false): void {
    const hadMask = this.mask !== null;
    this.dragging = dragging;
    this.mask = mask;
    this.brushes = brushes;
    this.drawBrushes();
    // The back layer is drawn with the data: the first frame of a brush only shows it.
    if (hadMask !== (mask !== null)) this.back.style.visibility = mask ? "visible" : "hidden";
    this.schedule();
  }

  /** Emphasise one run (a row the pointer is on in the best-runs table); -1 for none. */
  setHighlight(index: number): void {
    if (index === this.highlight) return;
    this.highlight = index;
    this.schedule();
  }

  /** Read the theme's colours again (canvas strokes cannot use CSS variables). */
  retheme(): void {
    const style = getComputedStyle(this.el);
    const read = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
    this.palette = {
      fg: read("--lb-fg", "#1f2328"),
      muted: read("--lb-muted", "#656d76"),
      faint: read("--lb-border", "#d0d7de"),
      accent: read("--lb-accent", "#0969da"),
    };
    this.drawBack();
    this.schedule();
  }

  dispose(): void {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  /** Draw the front layer now (the benchmark times this). */
  drawNow(): void {
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    this.drawFront();
  }

  // -- layout -----------------------------------------------------------------------------

  private get plotHeight(): number {
    return HEIGHT - TOP - BOTTOM;
  }

  private layout(): void {
    this.width = Math.max(200, this.el.clientWidth || 800);
    const m = this.axes.length;
    const span = this.width - 2 * SIDE;
    this.xs = this.axes.map((_, j) => (m <= 1 ? this.width / 2 : SIDE + (j * span) / (m - 1)));
    this.ys = this.axes.map((axis) => {
      const ys = new Float32Array(this.n);
      for (let i = 0; i < this.n; i++) ys[i] = this.yOf(axis.scale.toUnit(axis.values[i]!));
      return ys;
    });
    const dpr = globalThis.devicePixelRatio || 1;
    for (const canvas of [this.back, this.front]) {
      canvas.width = Math.round(this.width * dpr);
      canvas.height = Math.round(HEIGHT * dpr);
      canvas.style.width = `${this.width}px`;
      canvas.style.height = `${HEIGHT}px`;
      canvas.getContext("2d")?.setTransform(dpr, 0, 0, dpr, 0, 0);
    }
    this.drawAxes();
    this.drawBack();
    this.drawNow();
  }

  private yOf(t: number): number {
    return Number.isFinite(t) ? TOP + (1 - t) * this.plotHeight : NaN;
  }

  private unitOf(clientY: number): number {
    const y = clientY - this.layer.getBoundingClientRect().top;
    return Math.min(1, Math.max(0, 1 - (y - TOP) / this.plotHeight));
  }

  // -- DOM: axes, ticks, brushes ------------------------------------------------------------

  private drawAxes(): void {
    this.layer.replaceChildren(
      ...this.axes.map((axis, j) => {
        const ticks = axis.scale.ticks(5).map((tick) =>
          h("div", { class: "lb-pc-tick", text: tick.label, style: { top: `${this.yOf(tick.t)}px` } }),
        );
        const hit = h("div", {
          class: "lb-pc-hit",
          testid: "axis-brush-area",
          title: `Drag to keep a range of ${axis.label}; click to clear`,
          style: { top: `${TOP}px`, height: `${this.plotHeight}px` },
        });
        hit.dataset.key = axis.key;
        this.wireBrush(hit, axis);
        const el = h(
          "div",
          { class: `lb-pc-axis${axis.metric ? " lb-pc-metric" : ""}`, testid: "axis", style: { left: `${this.xs[j]}px` } },
          h("div", { class: "lb-pc-label", testid: "axis-label", text: axis.label, title: axis.key }),
          h("div", { class: "lb-pc-line", style: { top: `${TOP}px`, height: `${this.plotHeight}px` } }),
          ...ticks,
          h("div", { class: "lb-pc-brush", testid: "axis-brush", attrs: { hidden: true } }),
          hit,
        );
        el.dataset.key = axis.key;
        el.dataset.scale = axis.scale.kind;
        return el;
      }),
    );
    this.drawBrushes();
  }

  private drawBrushes(): void {
    for (const el of this.layer.querySelectorAll<HTMLElement>(".lb-pc-axis")) {
      const axis = this.axes.find((a) => a.key === el.dataset.key);
      const box = el.querySelector<HTMLElement>(".lb-pc-brush");
      if (!axis || !box) continue;
      const brush = this.brushes[axis.key];
      const span = brush ? brushToUnit(axis.scale, brush) : null;
      box.hidden = span === null;
      el.classList.toggle("lb-brushed", span !== null);
      if (span) {
        box.style.top = `${this.yOf(span[1])}px`;
        box.style.height = `${Math.max(2, (span[1] - span[0]) * this.plotHeight)}px`;
      }
    }
  }

  private wireBrush(hit: HTMLElement, axis: ParallelAxis): void {
    let start: { y: number; t: number } | null = null;
    let value: BrushValue | null = null;
    let dragging = false;
    hit.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault();
      try {
        hit.setPointerCapture(e.pointerId); // keep the drag when the pointer leaves the axis
      } catch {
        // A synthetic event (a test or a benchmark) has no pointer to capture.
      }
      start = { y: e.clientY, t: this.unitOf(e.clientY) };
      dragging = false;
    });
    hit.addEventListener("pointermove", (e) => {
      if (!start) return;
      if (!dragging && Math.abs(e.clientY - start.y) < DRAG_PX) return;
      dragging = true;
      value = brushFromUnit(axis.scale, start.t, this.unitOf(e.clientY));
      this.events.brushing(axis.key, value);
    });
    const end = (e: PointerEvent): void => {
      if (!start) return;
      if (dragging) {
        value = brushFromUnit(axis.scale, start.t, this.unitOf(e.clientY));
        this.events.brushed(axis.key, value);
      } else if (this.brushes[axis.key]) {
        this.events.brushed(axis.key, null);
      }
      start = null;
      dragging = false;
    };
    hit.addEventListener("pointerup", end);
    hit.addEventListener("pointercancel", () => {
      start = null;
      dragging = false;
    });
  }

  // -- canvas: lines ------------------------------------------------------------------------

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawFront();
    });
  }

  private alpha(count: number): number {
    return Math.min(0.9, Math.max(0.12, 12 / Math.sqrt(Math.max(1, count))));
  }

  private drawBack(): void {
    const ctx = this.back.getContext("2d");
    if (!ctx) return;
    ctx.clearRect(0, 0, this.width, HEIGHT);
    this.back.style.visibility = this.mask ? "visible" : "hidden"; // nothing outside: hidden
    ctx.globalAlpha = Math.min(0.5, this.alpha(this.n));
    ctx.strokeStyle = this.palette.faint;
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (const group of this.groups) for (const i of group) this.trace(ctx, i);
    ctx.stroke();
  }

  private drawFront(): void {
    const started = performance.now();
    const ctx = this.front.getContext("2d");
    if (!ctx) return;
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const mask = this.mask;
    let shown = this.n;
    if (mask) {
      shown = 0;
      for (let i = 0; i < this.n; i++) shown += mask[i]!;
    }
    const step = this.dragging ? Math.max(1, Math.ceil(shown / DRAG_LINES)) : 1;
    ctx.globalAlpha = this.alpha(shown / step);
    ctx.lineWidth = 1;
    this.groups.forEach((group, g) => {
      ctx.strokeStyle = g === 0 ? this.palette.muted : this.colors[g - 1]!;
      ctx.beginPath();
      let k = 0;
      for (const i of group) {
        if (mask && !mask[i]) continue;
        if (k++ % step === 0) this.trace(ctx, i);
      }
      ctx.stroke();
    });
    this.el.dataset.sampled = String(step > 1);
    if (this.highlight >= 0 && this.highlight < this.n) {
      ctx.globalAlpha = 1;
      ctx.lineWidth = 3;
      ctx.strokeStyle = this.palette.accent;
      ctx.beginPath();
      this.trace(ctx, this.highlight);
      ctx.stroke();
    }
    this.el.dataset.shown = String(shown);
    this.lastDrawMs = performance.now() - started;
    this.el.dataset.drawMs = this.lastDrawMs.toFixed(1); // benchmarks read it
  }

  /** Add run i's polyline to the path; a missing value lifts the pen. */
  private trace(ctx: CanvasRenderingContext2D, i: number): void {
    let pen = false;
    for (let j = 0; j < this.xs.length; j++) {
      const y = this.ys[j]![i]!;
      if (Number.isNaN(y)) {
        pen = false;
        continue;
      }
      if (pen) ctx.lineTo(this.xs[j]!, y);
      else ctx.moveTo(this.xs[j]!, y);
      pen = true;
    }
  }
}
