import { describe, expect, it } from "vitest";
import { deepEqual } from "./equal";

describe("deepEqual", () => {
  it("compares objects by keys whatever the order, arrays in order", () => {
    expect(deepEqual({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(deepEqual(null, {})).toBe(false);
  });
});
