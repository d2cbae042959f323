import { describe, expect, it } from "vitest";
import { axisScale, categoryScale, linearScale, logScale, niceTicks } from "./scales";

describe("scales", () => {
  it("places values linearly, missing ones nowhere", () => {
    const s = linearScale([0, 10]);
    expect(s.toUnit(2.5)).toBe(0.25);
    expect(s.fromUnit(0.5)).toBe(5);
    expect(s.toUnit(NaN)).toBeNaN();
  });

  it("gives a single value some room", () => {
    const s = linearScale([3, 3]);
    expect(s.toUnit(3)).toBeCloseTo(0.5);
  });

  it("labels whole decades on a log axis", () => {
    const s = logScale([1e-4, 1e-1]);
    expect(s.toUnit(1e-3)).toBeCloseTo(1 / 3);
    expect(s.toUnit(-1)).toBeNaN();
    expect(s.ticks(5).map((t) => t.label)).toEqual(["1e-4", "0.001", "0.01", "0.1"]);
  });

  it("puts each category in the middle of its band", () => {
    const s = categoryScale(["a", "b"]);
    expect(s.toUnit(0)).toBe(0.25);
    expect(s.toUnit(1)).toBe(0.75);
    expect(s.ticks().map((t) => t.label)).toEqual(["a", "b"]);
  });

  it("picks the axis' kind from the data", () => {
    const values = new Float64Array([1e-3, 1e-2]);
    expect(axisScale({ key: "lr", kind: "number", log: true, categories: [], domain: null, values }).kind).toBe("log");
    expect(axisScale({ key: "x", kind: "number", log: false, categories: [], domain: [0, 1], values }).kind).toBe("linear");
    expect(axisScale({ key: "o", kind: "category", log: false, categories: ["a"], domain: null, values }).kind).toBe("category");
  });

  it("chooses round ticks", () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(13, 97, 4)).toEqual([20, 40, 60, 80]);
  });
});
