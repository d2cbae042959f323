import { describe, expect, it } from "vitest";
import rawCases from "../../tests/widgets/query_cases.json";
import { type Filter, type KeyContext, formatQuery, normalize, parseQuery, resolveKey } from "./query";

interface Cases {
  keys: KeyContext;
  parse: { text: string; filter: Filter }[];
  errors: { text: string; message: string; start: number }[];
  format: { filter: Filter; text: string }[];
}

// The same cases drive liberry_widgets/query.py, so both parsers agree.
const cases = rawCases as unknown as Cases;

describe("parseQuery", () => {
  for (const { text, filter } of cases.parse) {
    it(`parses ${JSON.stringify(text)}`, () => {
      expect(parseQuery(text, cases.keys)).toEqual({ ok: true, filter });
    });
  }

  for (const { text, message, start } of cases.errors) {
    it(`rejects ${JSON.stringify(text)}`, () => {
      const result = parseQuery(text, cases.keys);
      expect(result.ok).toBe(false);
      if (result.ok) return;
      expect(result.error.message).toContain(message);
      expect(result.error.start).toBe(start);
      expect(result.error.end).toBeGreaterThanOrEqual(result.error.start);
    });
  }

  it("never throws on arbitrary input", () => {
    const alphabet = ['a', '1', ' ', '(', ')', ':', '>', '=', '!', '~', '-', '"', "'", ',', '{', 'OR', 'NOT', '.'];
    let seed = 7;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 2000; i++) {
      let text = "";
      for (let j = rand(12); j > 0; j--) text += alphabet[rand(alphabet.length)];
      const result = parseQuery(text, cases.keys);
      if (result.ok) {
        // Whatever parses must format back to text that parses to the same filter.
        const again = parseQuery(formatQuery(result.filter, cases.keys), cases.keys);
        expect(again.ok, text).toBe(true);
        if (again.ok) expect(normalize(again.filter), text).toEqual(normalize(result.filter));
      } else {
        expect(result.error.start).toBeGreaterThanOrEqual(0);
        expect(result.error.start).toBeLessThanOrEqual(text.length);
      }
    }
  });
});

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
});

describe("resolveKey", () => {
  it("prefers config, then summary, for bare keys", () => {
    expect(resolveKey("lr", cases.keys)).toBe("config.lr");
    expect(resolveKey("loss", cases.keys)).toBe("summary_metrics.loss");
    expect(resolveKey("acc", cases.keys)).toBe("config.acc");
    expect(resolveKey("anything")).toBe("config.anything");
    expect(resolveKey("State")).toBe("state");
  });
});
