/**
 * The search text as tokens (words, strings, operators, parentheses, AND / OR / NOT), with
 * the position of each for error marks. Mirrors `liberry_widgets/runs/query/lexer.py`.
 */

export type TokenType = "word" | "string" | "op" | "lparen" | "rparen" | "and" | "or" | "not";

export interface Token {
  type: TokenType;
  text: string;
  start: number;
  end: number;
}

const OPERATORS = [">=", "<=", "!=", "!~", "==", ">", "<", "=", ":", "~"];
const WORD_STOP = /[\s()"'<>=!:~]/;
/** The text does not parse; `start`/`end` locate the problem in it. */
export class QuerySyntaxError extends Error {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
  ) {
    super(message);
  }
}
/** The tokens of `text`; throws `QuerySyntaxError` at the first one that cannot be. */
export function lex(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let afterOp = false;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (afterOp) {
      // A value: a quoted string, or everything up to whitespace or a parenthesis.
      afterOp = false;
      if (ch === '"' || ch === "'") {
        const [value, end] = readString(text, i);
        tokens.push({ type: "string", text: value, start: i, end });
        i = end;
        continue;
      }
      let j = i;
      while (j < text.length && !/[\s()]/.test(text.charAt(j))) j++;
      if (j === i) {
        const op = tokens[tokens.length - 1] as Token;
        throw new QuerySyntaxError(`Expected a value after "${op.text}"`, op.start, op.end);
      }
      tokens.push({ type: "word", text: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (ch === "(" || ch === ")") {
      tokens.push({ type: ch === "(" ? "lparen" : "rparen", text: ch, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const [value, end] = readString(text, i);
      tokens.push({ type: "string", text: value, start: i, end });
      i = end;
      continue;
    }
    if (text.startsWith("&&", i) || text.startsWith("||", i)) {
      tokens.push({ type: ch === "&" ? "and" : "or", text: text.slice(i, i + 2), start: i, end: i + 2 });
      i += 2;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, i));
    if (op !== undefined) {
      const prev = tokens[tokens.length - 1];
      if (prev === undefined || (prev.type !== "word" && prev.type !== "string")) {
        throw new QuerySyntaxError(`"${op}" needs a key before it, as in lr${op}0.1`, i, i + op.length);
      }
      tokens.push({ type: "op", text: op, start: i, end: i + op.length });
      i += op.length;
      afterOp = true;
      continue;
    }
    if (ch === "!") {
      tokens.push({ type: "not", text: ch, start: i, end: i + 1 });
      i++;
      continue;
    }
    if (ch === "-" && i + 1 < text.length && !/[\s()]/.test(text.charAt(i + 1))) {
      tokens.push({ type: "not", text: ch, start: i, end: i + 1 });
      i++;
      continue;
    }
    let j = i;
    while (j < text.length && !WORD_STOP.test(text.charAt(j))) j++;
    if (j === i) throw new QuerySyntaxError(`Unexpected "${ch}"`, i, i + 1);
    const word = text.slice(i, j);
    const upper = word.toUpperCase();
    const type: TokenType = upper === "AND" ? "and" : upper === "OR" ? "or" : upper === "NOT" ? "not" : "word";
    tokens.push({ type, text: word, start: i, end: j });
    i = j;
  }
  if (afterOp) {
    const op = tokens[tokens.length - 1] as Token;
    throw new QuerySyntaxError(`Expected a value after "${op.text}"`, op.start, op.end);
  }
  return tokens;
}

function readString(text: string, start: number): [string, number] {
  const quote = text.charAt(start);
  let out = "";
  let i = start + 1;
  while (i < text.length) {
    const ch = text.charAt(i);
    if (ch === "\\" && i + 1 < text.length) {
      out += text.charAt(i + 1);
      i += 2;
      continue;
    }
    if (ch === quote) return [out, i + 1];
    out += ch;
    i++;
  }
  throw new QuerySyntaxError("Unterminated string: add the closing quote", start, text.length);
}
