/**
 * Brushes and the selection they make: which runs lie inside every brushed range, as a mask
 * over the sweep's rows. Pure functions, shared by the plots, the table and the kernel
 * request (the mask travels as a base64 bitmask, `sweep.py` `_mask`).
 *
 * A brush is stored as the `brushes` trait holds it: `[low, high]` in data units on a number
 * axis, or the list of category labels kept on a category axis. The metric's axis is keyed
 * by the metric's name; parameters by their config key.
 */
import type { Scale } from "./scales";

export type BrushValue = [number, number] | string[];
export type Brushes = Record<string, BrushValue>;

/** A column the brushes can read. */
export interface Column {
  key: string;
  /** Numbers, or codes into `categories`. */
  values: Float64Array;
  categories?: string[];
}

export function isRange(value: BrushValue): value is [number, number] {
  return value.length === 2 && typeof value[0] === "number" && typeof value[1] === "number";
}

/** 1 for each run inside every brush (brushes on unknown axes are ignored). */
export function selectionMask(columns: readonly Column[], brushes: Brushes, n: number): Uint8Array {
  const mask = new Uint8Array(n).fill(1);
  for (const column of columns) {
    const brush = brushes[column.key];
    if (!brush) continue;
    const values = column.values;
    if (isRange(brush)) {
      const lo = Math.min(brush[0], brush[1]);
      const hi = Math.max(brush[0], brush[1]);
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        if (!(v >= lo && v <= hi)) mask[i] = 0; // NaN fails too: a run without a value is out
      }
    } else {
      const kept = new Set(brush.map(String));
      const inside = (column.categories ?? []).map((label) => kept.has(label));
      for (let i = 0; i < n; i++) {
        const code = values[i]!;
        if (!(code >= 0) || !inside[code]) mask[i] = 0;
      }
    }
  }
  return mask;
}

export function countSelected(mask: Uint8Array): number {
  let count = 0;
  for (const bit of mask) count += bit;
  return count;
}

/** True when any brush applies to one of `columns`. */
export function anyBrush(columns: readonly Column[], brushes: Brushes): boolean {
  return columns.some((c) => brushes[c.key] !== undefined);
}

/** The mask as a bitmask (bit i of byte i >> 3, least significant bit first), in base64. */
export function maskToBase64(mask: Uint8Array): string {
  const bytes = new Uint8Array(Math.ceil(mask.length / 8));
  for (let i = 0; i < mask.length; i++) if (mask[i]) bytes[i >> 3]! |= 1 << (i & 7);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** A brush from a dragged span [t0, t1] of positions on an axis (null: it keeps nothing). */
export function brushFromUnit(scale: Scale, t0: number, t1: number): BrushValue | null {
  const lo = Math.max(0, Math.min(t0, t1));
  const hi = Math.min(1, Math.max(t0, t1));
  if (scale.kind === "category") {
    // Every category whose band the span overlaps: a short drag inside a band keeps it.
    const band = 0.5 / Math.max(1, scale.categories.length);
    const kept = scale.categories.filter((_, i) => {
      const t = scale.toUnit(i);
      return t - band < hi && t + band > lo;
    });
    return kept.length ? kept : null;
  }
  return [scale.fromUnit(lo), scale.fromUnit(hi)];
}

/** The span [t0, t1] a brush covers on an axis, for drawing it; null when it covers nothing. */
export function brushToUnit(scale: Scale, brush: BrushValue): [number, number] | null {
  if (isRange(brush)) {
    if (scale.kind === "category") return null;
    const a = scale.toUnit(brush[0]);
    const b = scale.toUnit(brush[1]);
    if (!Number.isFinite(a) || !Number.isFinite(b)) return null;
    return [Math.max(0, Math.min(a, b)), Math.min(1, Math.max(a, b))];
  }
  if (scale.kind !== "category") return null;
  const band = 0.5 / Math.max(1, scale.categories.length);
  const ts = brush.map((label) => scale.categories.indexOf(label)).filter((i) => i >= 0).map((i) => scale.toUnit(i));
  if (!ts.length) return null;
  return [Math.max(0, Math.min(...ts) - band), Math.min(1, Math.max(...ts) + band)];
}

/** Indices of the best `n` runs by the metric (only runs with a value; within `mask` when
 * given), best first; ties keep the older run first. */
export function topRuns(
  metric: Float64Array,
  goal: "minimize" | "maximize",
  n: number,
  mask: Uint8Array | null = null,
): number[] {
  const found: number[] = [];
  for (let i = 0; i < metric.length; i++) {
    if (Number.isFinite(metric[i]) && (!mask || mask[i])) found.push(i);
  }
  const sign = goal === "maximize" ? -1 : 1;
  found.sort((a, b) => sign * (metric[a]! - metric[b]!) || a - b);
  return found.slice(0, Math.max(0, n));
}

/** Equal brushes (the same axes, the same ranges or labels), to skip needless syncs. */
export function sameBrushes(a: Brushes, b: Brushes): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  return keys.every((k) => {
    const x = a[k];
    const y = b[k];
    return x !== undefined && y !== undefined && x.length === y.length && x.every((v, i) => v === y[i]);
  });
}
