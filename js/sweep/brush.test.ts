import { describe, expect, it } from "vitest";
import {
  brushFromUnit,
  brushToUnit,
  countSelected,
  maskToBase64,
  sameBrushes,
  selectionMask,
  topRuns,
} from "./brush";
import { categoryScale, linearScale, logScale } from "./scales";

const lr = { key: "lr", values: new Float64Array([1e-4, 1e-3, 1e-2, NaN, 1e-1]) };
const opt = { key: "opt", values: new Float64Array([0, 1, 2, 1, NaN]), categories: ["adam", "sgd", "rmsprop"] };

describe("selectionMask", () => {
  it("keeps runs inside a range; a run without a value is out", () => {
    expect([...selectionMask([lr, opt], { lr: [5e-4, 5e-2] }, 5)]).toEqual([0, 1, 1, 0, 0]);
    expect([...selectionMask([lr], { lr: [5e-2, 5e-4] }, 5)]).toEqual([0, 1, 1, 0, 0]); // either way round
  });

  it("keeps runs whose category is brushed, and combines brushes", () => {
    expect([...selectionMask([lr, opt], { opt: ["sgd", "rmsprop"] }, 5)]).toEqual([0, 1, 1, 1, 0]);
    const both = selectionMask([lr, opt], { opt: ["sgd", "rmsprop"], lr: [0, 5e-3] }, 5);
    expect([...both]).toEqual([0, 1, 0, 0, 0]);
    expect(countSelected(both)).toBe(1);
  });

  it("ignores brushes on axes it does not know", () => {
    expect(countSelected(selectionMask([lr], { gone: [0, 1] }, 5))).toBe(5);
  });
});

describe("maskToBase64", () => {
  it("packs bit i into byte i >> 3, least significant bit first", () => {
    const mask = new Uint8Array(10);
    mask[0] = 1;
    mask[2] = 1;
    mask[9] = 1;
    // bytes 0b00000101, 0b00000010
    expect(maskToBase64(mask)).toBe(btoa(String.fromCharCode(5, 2)));
  });
});

describe("brushes and axis positions", () => {
  it("turns a dragged span on a log axis into a range in data units and back", () => {
    const scale = logScale([1e-4, 1e-1]);
    const brush = brushFromUnit(scale, 2 / 3, 1 / 3);
    expect(brush).not.toBeNull();
    const [lo, hi] = brush as [number, number];
    expect(lo).toBeCloseTo(1e-3, 10);
    expect(hi).toBeCloseTo(1e-2, 10);
    const span = brushToUnit(scale, [lo, hi]);
    expect(span?.[0]).toBeCloseTo(1 / 3);
    expect(span?.[1]).toBeCloseTo(2 / 3);
  });

  it("keeps the categories whose band the span overlaps", () => {
    const scale = categoryScale(["adam", "sgd", "rmsprop"]);
    expect(brushFromUnit(scale, 0, 0.5)).toEqual(["adam", "sgd"]);
    expect(brushFromUnit(scale, 0.9, 1)).toEqual(["rmsprop"]);
    expect(brushFromUnit(scale, 0.2, 0.3)).toEqual(["adam"]);
    const span = brushToUnit(scale, ["sgd"]);
    expect(span?.[0]).toBeCloseTo(1 / 3);
    expect(span?.[1]).toBeCloseTo(2 / 3);
  });

  it("clamps a drag that leaves the axis", () => {
    expect(brushFromUnit(linearScale([0, 10]), -0.5, 0.5)).toEqual([0, 5]);
  });
});

describe("topRuns", () => {
  const metric = new Float64Array([0.3, NaN, 0.9, 0.1, 0.9]);
  it("orders by the goal, skips runs without the metric, ties by age", () => {
    expect(topRuns(metric, "maximize", 3)).toEqual([2, 4, 0]);
    expect(topRuns(metric, "minimize", 10)).toEqual([3, 0, 2, 4]);
  });
  it("only looks inside the mask", () => {
    expect(topRuns(metric, "maximize", 2, new Uint8Array([1, 1, 0, 1, 0]))).toEqual([0, 3]);
  });
});

describe("sameBrushes", () => {
  it("compares axes and values", () => {
    expect(sameBrushes({ a: [1, 2] }, { a: [1, 2] })).toBe(true);
    expect(sameBrushes({ a: [1, 2] }, { a: [1, 3] })).toBe(false);
    expect(sameBrushes({ a: ["x"] }, { b: ["x"] })).toBe(false);
    expect(sameBrushes({}, { a: [1, 2] })).toBe(false);
  });
});
