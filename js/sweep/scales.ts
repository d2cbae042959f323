/**
 * Axis scales for the sweep plots: a value to a position in [0, 1] and back, and the ticks
 * to label. Linear, log (a log distribution in the sweep config) and category axes (each
 * category at the middle of its own band).
 */
import { formatNumber } from "../runs/format";
import { type Axis, extent } from "./data";

export type ScaleKind = "linear" | "log" | "category";

export interface Tick {
  /** Position in [0, 1], 0 at the bottom (or left). */
  t: number;
  label: string;
}

export interface Scale {
  kind: ScaleKind;
  /** [low, high]: data units for linear and log, code units (-0.5, n - 0.5) for categories. */
  domain: [number, number];
  categories: string[];
  /** A value's position in [0, 1]; NaN for a missing value (or a non-positive one on log). */
  toUnit(value: number): number;
  /** The value at position `t` (for categories, the fractional code). */
  fromUnit(t: number): number;
  ticks(count?: number): Tick[];
}

/** A number domain with some width (a single value gets a band around it). */
function widen([lo, hi]: [number, number], log: boolean): [number, number] {
  if (hi > lo) return [lo, hi];
  if (log) return [lo / 2, hi * 2];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

export function linearScale(domain: [number, number]): Scale {
  const [lo, hi] = widen(domain, false);
  return {
    kind: "linear",
    domain: [lo, hi],
    categories: [],
    toUnit: (v) => (Number.isFinite(v) ? (v - lo) / (hi - lo) : NaN),
    fromUnit: (t) => lo + t * (hi - lo),
    ticks: (count = 5) => niceTicks(lo, hi, count).map((v) => ({ t: (v - lo) / (hi - lo), label: formatNumber(v) })),
  };
}

export function logScale(domain: [number, number]): Scale {
  const [lo, hi] = widen(domain, true);
  const a = Math.log10(lo);
  const b = Math.log10(hi);
  const toUnit = (v: number): number => (Number.isFinite(v) && v > 0 ? (Math.log10(v) - a) / (b - a) : NaN);
  return {
    kind: "log",
    domain: [lo, hi],
    categories: [],
    toUnit,
    fromUnit: (t) => 10 ** (a + t * (b - a)),
    ticks: (count = 5) => {
      // Whole decades when there are at least two, else nice ticks in log space.
      const first = Math.ceil(a - 1e-9);
      const last = Math.floor(b + 1e-9);
      let exponents: number[] = [];
      if (last - first >= 1) {
        const step = Math.max(1, Math.ceil((last - first + 1) / count));
        for (let e = first; e <= last; e += step) exponents.push(e);
      } else {
        exponents = niceTicks(a, b, Math.min(count, 3));
      }
      return exponents.map((e) => ({ t: (e - a) / (b - a), label: formatNumber(Number((10 ** e).toPrecision(3))) }));
    },
  };
}

export function categoryScale(categories: string[]): Scale {
  const n = Math.max(1, categories.length);
  return {
    kind: "category",
    domain: [-0.5, n - 0.5],
    categories,
    toUnit: (code) => (Number.isFinite(code) ? (code + 0.5) / n : NaN),
    fromUnit: (t) => t * n - 0.5,
    ticks: () => categories.map((label, i) => ({ t: (i + 0.5) / n, label })),
  };
}

/** The scale of an axis: its search space widened to the values seen. */
export function axisScale(axis: Axis): Scale {
  if (axis.kind === "category") return categoryScale(axis.categories);
  const domain = axis.domain ?? extent(axis.values, axis.log) ?? [0, 1];
  return axis.log && domain[0] > 0 ? logScale(domain) : linearScale(domain);
}

/** Up to about `count` round numbers between lo and hi (1, 2 or 5 times a power of ten). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return Number.isFinite(lo) ? [lo] : [];
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const err = raw / power; // in [1, 10): round to the nearest of 1, 2, 5 or 10 (as d3 does)
  const step = power * (err >= 7.07 ? 10 : err >= 3.16 ? 5 : err >= 1.41 ? 2 : 1);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}
