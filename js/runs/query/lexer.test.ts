import { describe, expect, it } from "vitest";
import { QuerySyntaxError, lex } from "./lexer";

const kinds = (text: string): [string, string][] => lex(text).map((t) => [t.type, t.text]);

describe("lex", () => {
  it("finds terms, operators and keywords", () => {
    expect(kinds('lr>=0.1 AND (name:"a b" || -tag:x)')).toEqual([
      ["word", "lr"], ["op", ">="], ["word", "0.1"], ["and", "AND"], ["lparen", "("],
      ["word", "name"], ["op", ":"], ["string", "a b"], ["or", "||"], ["not", "-"],
      ["word", "tag"], ["op", ":"], ["word", "x"], ["rparen", ")"],
    ]);
  });

  it("reads a value up to whitespace, operator characters included", () => {
    expect(kinds("url:http://x:8080")).toEqual([["word", "url"], ["op", ":"], ["word", "http://x:8080"]]);
  });

  it("points into the text", () => {
    const tokens = lex("  a:'x\\'y'");
    expect(tokens.map((t) => [t.start, t.end])).toEqual([[2, 3], [3, 4], [4, 10]]);
    expect(tokens[2]?.text).toBe("x'y");
  });

  for (const [text, message, start] of [
    ["a:'open", "Unterminated string", 2],
    [":x", "needs a key", 0],
    ["a>=", "Expected a value", 1],
  ] as const) {
    it(`rejects ${JSON.stringify(text)} saying where`, () => {
      let caught: unknown;
      try {
        lex(text);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(QuerySyntaxError);
      expect((caught as QuerySyntaxError).message).toContain(message);
      expect((caught as QuerySyntaxError).start).toBe(start);
    });
  }
});
