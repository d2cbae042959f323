import { describe, expect, it } from "vitest";
import { cases } from "./cases";
import { parseQuery } from "./parser";
import { formatQuery, normalize } from "./text";

describe("formatQuery", () => {
  for (const { filter, text } of cases.format) {
    it(`formats ${JSON.stringify(filter)}`, () => {
      expect(formatQuery(filter, cases.keys)).toBe(text);
    });
  }

  it("round-trips every parse case", () => {
    for (const { filter } of cases.parse) {
      const text = formatQuery(filter, cases.keys);
      const again = parseQuery(text, cases.keys);
      expect(again.ok, text).toBe(true);
      if (again.ok) expect(normalize(again.filter)).toEqual(normalize(filter));
    }
  });

  it("writes what the syntax cannot say as JSON", () => {
    const odd = { "config.lr": { $exists: true } };
    expect(JSON.parse(formatQuery(odd, cases.keys))).toEqual(odd);
    expect(formatQuery({}, cases.keys)).toBe("");
  });
});
