import { describe, expect, it } from "vitest";
import { cases } from "./cases";
import { escapeRegex, parseScalar, resolveKey, unescapeRegex } from "./fields";

describe("resolveKey", () => {
  it("prefers config, then summary, for bare keys", () => {
    expect(resolveKey("lr", cases.keys)).toBe("config.lr");
    expect(resolveKey("loss", cases.keys)).toBe("summary_metrics.loss");
    expect(resolveKey("acc", cases.keys)).toBe("config.acc");
    expect(resolveKey("anything")).toBe("config.anything");
  });

  it("knows run fields and prefixes", () => {
    expect(resolveKey("State")).toBe("state");
    expect(resolveKey("tag")).toBe("tags");
    expect(resolveKey("c.lr")).toBe("config.lr");
    expect(resolveKey("s.loss")).toBe("summary_metrics.loss");
    expect(resolveKey("summary.loss")).toBe("summary_metrics.loss");
  });
});

describe("values", () => {
  it("types numbers, booleans and null like the Python side", () => {
    expect(parseScalar("3")).toBe(3);
    expect(parseScalar("1e-3")).toBe(0.001);
    expect(parseScalar(".5")).toBe(0.5);
    expect(parseScalar("TRUE")).toBe(true);
    expect(parseScalar("none")).toBe(null);
    expect(parseScalar("1.2.3")).toBe("1.2.3");
  });

  it("escapes regex text and reads it back", () => {
    const text = "a.b*(c)+[d]$";
    expect(new RegExp(`^${escapeRegex(text)}$`).test(text)).toBe(true);
    expect(unescapeRegex(escapeRegex(text))).toBe(text);
    expect(unescapeRegex("a.*")).toBeUndefined();
  });
});
