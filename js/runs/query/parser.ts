/**
 * The search text as a MongoDB-style filter (recursive descent over `lex`'s tokens).
 * Mirrors `liberry_widgets/runs/query/parser.py`.
 */
import { COMPARISON, type Filter, type KeyContext, RUN_STATES, escapeRegex, parseScalar, resolveKey } from "./fields";
import { QuerySyntaxError, type Token, lex } from "./lexer";

export interface ParseError {
  message: string;
  /** Character range in the input that the message is about. */
  start: number;
  end: number;
}

export type ParseResult = { ok: true; filter: Filter } | { ok: false; error: ParseError };

// Parser (recursive descent): or := and (OR and)* ; and := unary (AND? unary)* ;
// unary := NOT unary | atom ; atom := "(" or ")" | key op value | word

class Parser {
  private pos = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly keys: KeyContext,
    private readonly textLength: number,
  ) {}

  parse(): Filter {
    if (this.tokens.length === 0) return {};
    const filter = this.parseOr();
    const extra = this.peek();
    if (extra) {
      if (extra.type === "rparen") throw new QuerySyntaxError('Unmatched ")"', extra.start, extra.end);
      throw new QuerySyntaxError(`Unexpected "${extra.text}"`, extra.start, extra.end);
    }
    return filter;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private next(): Token {
    const token = this.tokens[this.pos++];
    if (!token) throw new QuerySyntaxError("Unexpected end of the query", this.textLength, this.textLength);
    return token;
  }

  private parseOr(): Filter {
    const parts = [this.parseAnd()];
    while (this.peek()?.type === "or") {
      const op = this.next();
      if (!this.startsTerm(this.peek())) {
        throw new QuerySyntaxError(`Expected a term after "${op.text}"`, op.start, op.end);
      }
      parts.push(this.parseAnd());
    }
    return combine("$or", parts);
  }

  private parseAnd(): Filter {
    const parts = [this.parseUnary()];
    for (;;) {
      const token = this.peek();
      if (token?.type === "and") {
        this.next();
        if (!this.startsTerm(this.peek())) {
          throw new QuerySyntaxError(`Expected a term after "${token.text}"`, token.start, token.end);
        }
        parts.push(this.parseUnary());
      } else if (this.startsTerm(token)) {
        parts.push(this.parseUnary());
      } else {
        break;
      }
    }
    return combine("$and", parts);
  }

  private startsTerm(token: Token | undefined): boolean {
    return (
      token !== undefined &&
      (token.type === "word" || token.type === "string" || token.type === "lparen" || token.type === "not")
    );
  }

  private parseUnary(): Filter {
    const token = this.peek();
    if (token?.type === "not") {
      this.next();
      if (!this.startsTerm(this.peek())) {
        throw new QuerySyntaxError(`Expected a term after "${token.text}"`, token.start, token.end);
      }
      return negate(this.parseUnary());
    }
    return this.parseAtom();
  }

  private parseAtom(): Filter {
    const token = this.next();
    if (token.type === "lparen") {
      if (this.peek()?.type === "rparen") {
        const close = this.next();
        throw new QuerySyntaxError("Empty parentheses", token.start, close.end);
      }
      const inner = this.parseOr();
      const close = this.peek();
      if (close?.type !== "rparen") throw new QuerySyntaxError('Unclosed "(": add a ")"', token.start, token.end);
      this.next();
      return inner;
    }
    if (token.type === "word" || token.type === "string") {
      const op = this.peek();
      if (op?.type === "op") {
        this.next();
        const value = this.next(); // the lexer guarantees a value follows an operator
        return this.term(token, op, value);
      }
      return nameContains(token.text);
    }
    if (token.type === "rparen") throw new QuerySyntaxError('Unmatched ")"', token.start, token.end);
    throw new QuerySyntaxError(`Unexpected "${token.text}"`, token.start, token.end);
  }

  private term(keyToken: Token, opToken: Token, valueToken: Token): Filter {
    const key = resolveKey(keyToken.text, this.keys);
    if (key === "") throw new QuerySyntaxError("Empty key", keyToken.start, keyToken.end);
    const op = opToken.text;
    const quoted = valueToken.type === "string";
    const values = quoted ? [valueToken.text] : splitList(valueToken.text);
    if (values.some((v) => v === "")) {
      throw new QuerySyntaxError("Empty item in a comma list", valueToken.start, valueToken.end);
    }
    const parsed = values.map((v) => (quoted ? v : parseScalar(v)));
    if (key === "state" && [":", "=", "==", "!="].includes(op)) {
      const bad = parsed.find((v) => typeof v !== "string" || !RUN_STATES.includes(v));
      if (bad !== undefined) {
        throw new QuerySyntaxError(
          `Unknown state ${JSON.stringify(bad)}: states are ${RUN_STATES.join(", ")}`,
          valueToken.start,
          valueToken.end,
        );
      }
    }
    const single = parsed.length === 1 ? parsed[0] : undefined;
    if (op === ":" || op === "=" || op === "==") {
      if (key === "display_name" && op === ":" && parsed.length === 1 && typeof single === "string") {
        return nameContains(single);
      }
      if (key === "tags" || parsed.length > 1) return { [key]: { $in: parsed } };
      return { [key]: single };
    }
    if (op === "!=") {
      if (key === "tags" || parsed.length > 1) return { [key]: { $nin: parsed } };
      return { [key]: { $ne: single } };
    }
    if (parsed.length > 1) {
      throw new QuerySyntaxError(`A comma list only works with ":" , "=" or "!="`, valueToken.start, valueToken.end);
    }
    if (op === "~" || op === "!~") {
      const pattern = String(values[0]);
      try {
        new RegExp(pattern);
      } catch {
        throw new QuerySyntaxError("Not a valid regular expression", valueToken.start, valueToken.end);
      }
      const match = { [key]: { $regex: pattern } };
      return op === "~" ? match : negate(match);
    }
    const mongo = COMPARISON[op];
    if (mongo === undefined) throw new QuerySyntaxError(`Unknown operator "${op}"`, opToken.start, opToken.end);
    if (single === null || typeof single === "boolean") {
      throw new QuerySyntaxError(`"${op}" needs a number, date or text`, valueToken.start, valueToken.end);
    }
    return { [key]: { [mongo]: single } };
  }
}

function splitList(text: string): string[] {
  return text.split(",");
}

/** Bare text means "the run name contains this", as in W&B's search box. */
function nameContains(text: string): Filter {
  return { display_name: { $regex: escapeRegex(text) } };
}

/** `{op: parts}`, nested lists of the same `op` flattened, one part as itself. */
export function combine(op: "$and" | "$or", parts: Filter[]): Filter {
  const flat: Filter[] = [];
  for (const part of parts) {
    const inner = part[op];
    if (Object.keys(part).length === 1 && Array.isArray(inner)) flat.push(...(inner as Filter[]));
    else flat.push(part);
  }
  return flat.length === 1 ? (flat[0] as Filter) : { [op]: flat };
}

export function negate(filter: Filter): Filter {
  // NOT NOT x is x; anything else becomes MongoDB's $nor of one clause.
  const inner = filter.$nor;
  if (Object.keys(filter).length === 1 && Array.isArray(inner) && inner.length === 1) {
    return inner[0] as Filter;
  }
  return { $nor: [filter] };
}

/** Parse the search box's text; never throws. */
export function parseQuery(text: string, keys: KeyContext = {}): ParseResult {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return parseJson(text);
  try {
    const tokens = lex(text);
    return { ok: true, filter: new Parser(tokens, keys, text.length).parse() };
  } catch (err) {
    if (err instanceof QuerySyntaxError) {
      return { ok: false, error: { message: err.message, start: err.start, end: err.end } };
    }
    throw err;
  }
}

function parseJson(text: string): ParseResult {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      return { ok: true, filter: value as Filter };
    }
    return { ok: false, error: { message: "A JSON filter must be an object", start: 0, end: text.length } };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { ok: false, error: { message: `Invalid JSON filter: ${message}`, start: 0, end: text.length } };
  }
}

