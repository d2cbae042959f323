/**
 * Colours for the metric: a perceptual ramp (viridis' stops) cut into a few buckets, so the
 * parallel plot changes its stroke colour a handful of times per frame rather than per line;
 * better runs are brighter whatever the goal. Readable on light and dark backgrounds.
 */

const STOPS: [number, number, number][] = [
  [68, 1, 84],
  [59, 82, 139],
  [33, 145, 140],
  [94, 201, 98],
  [253, 231, 37],
];

export const BUCKETS = 16;

/** The ramp's colour at t in [0, 1], as `rgb(r, g, b)`. */
export function ramp(t: number): string {
  const x = Math.min(1, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const a = STOPS[i]!;
  const b = STOPS[i + 1]!;
  const mix = (k: number): number => Math.round(a[k]! + (b[k]! - a[k]!) * f);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

/** One colour per bucket, bucket 0 the worst runs. */
export function bucketColors(): string[] {
  return Array.from({ length: BUCKETS }, (_, b) => ramp(b / (BUCKETS - 1)));
}

/**
 * Each run's bucket by its metric (-1 without a value): the best value maps to the last
 * bucket (for `minimize` the lowest value is the best). `range` is [min, max] of the metric.
 */
export function metricBuckets(
  values: Float64Array,
  range: [number, number] | null,
  goal: "minimize" | "maximize",
): Int8Array {
  const out = new Int8Array(values.length).fill(-1);
  if (!range) return out;
  const [lo, hi] = range;
  const span = hi - lo;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) continue;
    let t = span > 0 ? (v - lo) / span : 1;
    if (goal === "minimize") t = 1 - t;
    out[i] = Math.min(BUCKETS - 1, Math.floor(t * BUCKETS));
  }
  return out;
}
