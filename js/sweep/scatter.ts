/**
 * The metric against each run's creation time, with the running best (the best value so far,
 * a step line): how the search converged. Points are on a canvas; the axes' ticks and the
 * hover card (run name, metric, parameters) are DOM text.
 */
import { h } from "../dom";
import { formatNumber } from "../runs/format";
import { BUCKETS, bucketColors } from "./color";
import { linearScale, type Scale } from "./scales";

export interface ScatterInput {
  names: string[];
  created: Float64Array;
  metric: Float64Array;
  metricName: string;
  goal: "minimize" | "maximize";
  buckets: Int8Array;
  /** A line per run for the hover card, after its name and metric (the parameters). */
  describe(i: number): string[];
}

const HEIGHT = 240;
const LEFT = 58;
const RIGHT = 14;
const TOP = 10;
const BOTTOM = 28;
const HOVER_PX = 10;

/** The best metric so far at each run, in creation order: step points [time, best]. */
export function runningBest(
  created: Float64Array,
  metric: Float64Array,
  goal: "minimize" | "maximize",
): [number, number][] {
  const order: number[] = [];
  for (let i = 0; i < metric.length; i++) if (Number.isFinite(metric[i]) && Number.isFinite(created[i])) order.push(i);
  order.sort((a, b) => created[a]! - created[b]! || a - b);
  const steps: [number, number][] = [];
  let best = NaN;
  for (const i of order) {
    const v = metric[i]!;
    if (Number.isNaN(best) || (goal === "maximize" ? v > best : v < best)) {
      best = v;
      steps.push([created[i]!, best]);
    }
  }
  return steps;
}

/** Short date-time ticks for a time axis in ms. */
export function timeLabel(ms: number, span: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, "0");
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (span > 3 * 86_400_000) return day;
  if (span < 120_000) return `${time}:${pad(d.getSeconds())}`;
  return span > 86_400_000 ? `${day.slice(5)} ${time}` : time;
}

export class ScatterPlot {
  readonly el: HTMLElement;
  private readonly canvas = h("canvas", { class: "lb-sc-canvas" });
  private readonly ticks = h("div", { class: "lb-sc-ticks" });
  private readonly tip = h("div", { class: "lb-tip", testid: "scatter-tip", attrs: { hidden: true, role: "tooltip" } });
  private input: ScatterInput | null = null;
  /** Runs by colour bucket, so a draw changes the fill colour BUCKETS times. */
  private groups: Uint32Array[] = [];
  private mask: Uint8Array | null = null;
  private px = new Float32Array(0);
  private py = new Float32Array(0);
  private width = 0;
  private x: Scale = linearScale([0, 1]);
  private y: Scale = linearScale([0, 1]);
  private palette = { muted: "#888", faint: "#ccc", accent: "#0969da" };
  private readonly colors = bucketColors();
  private readonly resize: ResizeObserver;
  private frame = 0;

  constructor(private readonly onPick: (i: number) => void) {
    this.el = h("div", { class: "lb-sc", testid: "scatter" }, this.canvas, this.ticks, this.tip);
    this.el.style.height = `${HEIGHT}px`;
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.el);
    this.canvas.addEventListener("mousemove", (e) => this.hover(e));
    this.canvas.addEventListener("mouseleave", () => this.showTip(-1));
    this.canvas.addEventListener("click", (e) => {
      const i = this.nearest(e);
      if (i >= 0) this.onPick(i);
    });
  }

  setData(input: ScatterInput): void {
    this.input = input;
    const groups: number[][] = Array.from({ length: BUCKETS }, () => []);
    input.buckets.forEach((b, i) => {
      if (b >= 0) groups[b]?.push(i);
    });
    this.groups = groups.map((g) => Uint32Array.from(g));
    this.layout();
  }

  setSelection(mask: Uint8Array | null): void {
    this.mask = mask;
    this.schedule();
  }

  retheme(): void {
    const style = getComputedStyle(this.el);
    const read = (name: string, fallback: string): string => style.getPropertyValue(name).trim() || fallback;
    this.palette = { muted: read("--lb-muted", "#888"), faint: read("--lb-border", "#ccc"), accent: read("--lb-accent", "#0969da") };
    this.schedule();
  }

  dispose(): void {
    this.resize.disconnect();
    cancelAnimationFrame(this.frame);
  }

  private layout(): void {
    const input = this.input;
    this.width = Math.max(200, this.el.clientWidth || 500);
    const dpr = globalThis.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(HEIGHT * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${HEIGHT}px`;
    this.canvas.getContext("2d")?.setTransform(dpr, 0, 0, dpr, 0, 0);
    if (!input) return;
    const n = input.metric.length;
    let [t0, t1, v0, v1] = [Infinity, -Infinity, Infinity, -Infinity];
    for (let i = 0; i < n; i++) {
      const t = input.created[i]!;
      const v = input.metric[i]!;
      if (!Number.isFinite(t) || !Number.isFinite(v)) continue;
      t0 = Math.min(t0, t);
      t1 = Math.max(t1, t);
      v0 = Math.min(v0, v);
      v1 = Math.max(v1, v);
    }
    if (!(t0 <= t1)) [t0, t1, v0, v1] = [0, 1, 0, 1];
    const tp = (t1 - t0) * 0.03 || 1000;
    const vp = (v1 - v0) * 0.06 || Math.abs(v0) * 0.1 || 1;
    this.x = linearScale([t0 - tp, t1 + tp]);
    this.y = linearScale([v0 - vp, v1 + vp]);
    const w = this.width - LEFT - RIGHT;
    const hgt = HEIGHT - TOP - BOTTOM;
    this.px = new Float32Array(n);
    this.py = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      this.px[i] = LEFT + this.x.toUnit(input.created[i]!) * w;
      this.py[i] = TOP + (1 - this.y.toUnit(input.metric[i]!)) * hgt;
    }
    const span = t1 - t0;
    this.ticks.replaceChildren(
      ...this.y.ticks(5).map((t) =>
        h("div", { class: "lb-sc-ytick", text: t.label, style: { top: `${TOP + (1 - t.t) * hgt}px`, width: `${LEFT - 6}px` } }),
      ),
      ...this.x.ticks(Math.max(2, Math.floor(w / 110))).map((t) =>
        h("div", { class: "lb-sc-xtick", text: timeLabel(this.x.fromUnit(t.t), span), style: { left: `${LEFT + t.t * w}px`, top: `${HEIGHT - BOTTOM + 4}px` } }),
      ),
      h("div", { class: "lb-sc-ylabel", text: input.metricName }),
    );
    this.draw();
  }

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  private draw(): void {
    const ctx = this.canvas.getContext("2d");
    const input = this.input;
    if (!ctx || !input) return;
    ctx.clearRect(0, 0, this.width, HEIGHT);
    const n = input.metric.length;
    const mask = this.mask;
    const r = n > 2000 ? 1.5 : 2.5;
    // Unselected runs first, faint; then the selection by colour bucket.
    ctx.globalAlpha = 0.5;
    ctx.fillStyle = this.palette.faint;
    ctx.beginPath();
    for (let i = 0; i < n; i++) {
      if (mask && !mask[i] && Number.isFinite(this.py[i])) ctx.rect(this.px[i]! - r, this.py[i]! - r, 2 * r, 2 * r);
    }
    ctx.fill();
    ctx.globalAlpha = n > 2000 ? 0.6 : 0.9;
    for (let b = 0; b < BUCKETS; b++) {
      ctx.fillStyle = this.colors[b]!;
      ctx.beginPath();
      for (const i of this.groups[b] ?? []) {
        if (mask && !mask[i]) continue;
        ctx.rect(this.px[i]! - r, this.py[i]! - r, 2 * r, 2 * r);
      }
      ctx.fill();
    }
    // The running best over all runs, as steps.
    const steps = runningBest(input.created, input.metric, input.goal);
    if (steps.length) {
      const w = this.width - LEFT - RIGHT;
      const hgt = HEIGHT - TOP - BOTTOM;
      const X = (t: number): number => LEFT + this.x.toUnit(t) * w;
      const Y = (v: number): number => TOP + (1 - this.y.toUnit(v)) * hgt;
      ctx.globalAlpha = 1;
      ctx.strokeStyle = this.palette.accent;
      ctx.lineWidth = 2;
      ctx.beginPath();
      let [t, v] = steps[0]!;
      ctx.moveTo(X(t), Y(v));
      for (const [tk, vk] of steps.slice(1)) {
        ctx.lineTo(X(tk), Y(v));
        ctx.lineTo(X(tk), Y(vk));
        [t, v] = [tk, vk];
      }
      ctx.lineTo(this.width - RIGHT, Y(v));
      ctx.stroke();
      this.el.dataset.best = String(v);
    }
  }

  private nearest(e: MouseEvent): number {
    const rect = this.canvas.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    let best = -1;
    let dist = HOVER_PX * HOVER_PX;
    for (let i = 0; i < this.px.length; i++) {
      if (this.mask && !this.mask[i]) continue;
      const d = (this.px[i]! - x) ** 2 + (this.py[i]! - y) ** 2;
      if (d < dist) {
        dist = d;
        best = i;
      }
    }
    return best;
  }

  private hover(e: MouseEvent): void {
    this.showTip(this.nearest(e));
  }

  private showTip(i: number): void {
    const input = this.input;
    if (i < 0 || !input) {
      this.tip.hidden = true;
      return;
    }
    this.tip.replaceChildren(
      h("div", { class: "lb-tip-name", text: input.names[i] }),
      h("div", { text: `${input.metricName}: ${formatNumber(input.metric[i] ?? NaN)}` }),
      ...input.describe(i).map((line) => h("div", { class: "lb-tip-line", text: line })),
    );
    this.tip.hidden = false;
    this.tip.dataset.index = String(i);
    const left = Math.min((this.px[i] ?? 0) + 12, this.width - 200);
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${Math.max(0, (this.py[i] ?? 0) - 10)}px`;
  }
}
