import { describe, expect, it } from "vitest";
import { cases } from "./cases";
import { parseQuery } from "./parser";
import { formatQuery, normalize } from "./text";

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
