import { describe, expect, it } from "vitest";
import { BUCKETS, metricBuckets, ramp } from "./color";
import { correlationBar, formatShare } from "./importance";
import { runningBest } from "./scatter";

describe("runningBest", () => {
  it("steps down to each new best, in creation order, for minimize", () => {
    const created = new Float64Array([3, 1, 2, 4, 5]);
    const metric = new Float64Array([0.5, 0.9, 0.7, NaN, 0.2]);
    expect(runningBest(created, metric, "minimize")).toEqual([[1, 0.9], [2, 0.7], [3, 0.5], [5, 0.2]]);
    expect(runningBest(created, metric, "maximize")).toEqual([[1, 0.9]]);
  });
});

describe("metricBuckets", () => {
  it("puts the best runs in the last bucket whatever the goal", () => {
    const values = new Float64Array([0, 1, NaN]);
    expect([...metricBuckets(values, [0, 1], "maximize")]).toEqual([0, BUCKETS - 1, -1]);
    expect([...metricBuckets(values, [0, 1], "minimize")]).toEqual([BUCKETS - 1, 0, -1]);
  });
  it("interpolates the ramp", () => {
    expect(ramp(0)).toBe("rgb(68, 1, 84)");
    expect(ramp(1)).toBe("rgb(253, 231, 37)");
  });
});

describe("importance bars", () => {
  it("draws a correlation from the centre", () => {
    expect(correlationBar(0.5)).toEqual({ left: 50, width: 25 });
    expect(correlationBar(-1)).toEqual({ left: 0, width: 50 });
    expect(correlationBar(null)).toEqual({ left: 50, width: 0 });
  });
  it("formats a share", () => {
    expect(formatShare(0.8123)).toBe("81.2%");
    expect(formatShare(null)).toBe("–");
  });
});
