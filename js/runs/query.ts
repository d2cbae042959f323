/**
 * The run table's search syntax, compiled to the MongoDB-style filter that `liberry.Api`
 * sends to the server (mirrored by `liberry_widgets/query.py`; both are checked against
 * `tests/widgets/query_cases.json`).
 *
 *   lr>=0.01 optimizer:adam state:finished tag:baseline
 *   (state:crashed OR state:failed) NOT tag:debug
 *   resnet                      bare words search the run name
 *   state:running,finished      a comma list means "any of"
 *   {"config.lr": 0.1}          text starting with "{" is taken as a raw JSON filter
 *
 * Terms side by side are ANDed; AND binds tighter than OR; NOT (or a leading "-") negates.
 * Operators: `:` and `=` (equals; contains for the name), `!=`, `>`, `>=`, `<`, `<=`,
 * `~` (regular expression) and `!~`. Bare keys resolve to the project's config keys, then
 * its summary metrics; `config.` / `summary.` prefixes force one or the other.
 */

export type Filter = Record<string, unknown>;

/** The project's keys, used to decide whether `lr` means `config.lr` or `summary_metrics.lr`. */
export interface KeyContext {
  config?: readonly string[];
  summary?: readonly string[];
}

export interface ParseError {
  message: string;
  /** Character range in the input that the message is about. */
  start: number;
  end: number;
}

export type ParseResult = { ok: true; filter: Filter } | { ok: false; error: ParseError };

/** Run fields with a name of their own in the syntax (left) and in the filter (right). */
const FIELDS: Record<string, string> = {
  name: "display_name",
  display_name: "display_name",
  id: "name",
  state: "state",
  tag: "tags",
  tags: "tags",
  group: "group",
  job_type: "jobType",
  jobtype: "jobType",
  sweep: "sweep",
  created: "created_at",
  created_at: "created_at",
  updated: "updated_at",
  heartbeat: "heartbeat_at",
  user: "username",
  username: "username",
};

/** The preferred spelling of each field when turning a filter back into text. */
const FIELD_NAMES: Record<string, string> = {
  display_name: "name",
  name: "id",
  state: "state",
  tags: "tag",
  group: "group",
  jobType: "job_type",
  sweep: "sweep",
  created_at: "created",
  updated_at: "updated",
  heartbeat_at: "heartbeat",
  username: "user",
};

/** Run states the server knows; a typo in `state:` is caught while typing. */
export const RUN_STATES = [
  "running", "finished", "failed", "crashed", "killed", "preempting", "preempted", "pending",
];

const COMPARISON: Record<string, string> = { ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte" };
const COMPARISON_TEXT: Record<string, string> = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" };

// ---------------------------------------------------------------------------------------
// Lexer

type TokenType = "word" | "string" | "op" | "lparen" | "rparen" | "and" | "or" | "not";

interface Token {
  type: TokenType;
  text: string;
  start: number;
  end: number;
}

const OPERATORS = [">=", "<=", "!=", "!~", "==", ">", "<", "=", ":", "~"];
const WORD_STOP = /[\s()"'<>=!:~]/;

class SyntaxError_ extends Error {
  constructor(
    message: string,
    readonly start: number,
    readonly end: number,
  ) {
    super(message);
  }
}

function lex(text: string): Token[] {
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
        throw new SyntaxError_(`Expected a value after "${op.text}"`, op.start, op.end);
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
        throw new SyntaxError_(`"${op}" needs a key before it, as in lr${op}0.1`, i, i + op.length);
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
    if (j === i) throw new SyntaxError_(`Unexpected "${ch}"`, i, i + 1);
    const word = text.slice(i, j);
    const upper = word.toUpperCase();
    const type: TokenType = upper === "AND" ? "and" : upper === "OR" ? "or" : upper === "NOT" ? "not" : "word";
    tokens.push({ type, text: word, start: i, end: j });
    i = j;
  }
  if (afterOp) {
    const op = tokens[tokens.length - 1] as Token;
    throw new SyntaxError_(`Expected a value after "${op.text}"`, op.start, op.end);
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
  throw new SyntaxError_("Unterminated string: add the closing quote", start, text.length);
}

// ---------------------------------------------------------------------------------------
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
      if (extra.type === "rparen") throw new SyntaxError_('Unmatched ")"', extra.start, extra.end);
      throw new SyntaxError_(`Unexpected "${extra.text}"`, extra.start, extra.end);
    }
    return filter;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private next(): Token {
    const token = this.tokens[this.pos++];
    if (!token) throw new SyntaxError_("Unexpected end of the query", this.textLength, this.textLength);
    return token;
  }

  private parseOr(): Filter {
    const parts = [this.parseAnd()];
    while (this.peek()?.type === "or") {
      const op = this.next();
      if (!this.startsTerm(this.peek())) {
        throw new SyntaxError_(`Expected a term after "${op.text}"`, op.start, op.end);
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
          throw new SyntaxError_(`Expected a term after "${token.text}"`, token.start, token.end);
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
        throw new SyntaxError_(`Expected a term after "${token.text}"`, token.start, token.end);
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
        throw new SyntaxError_("Empty parentheses", token.start, close.end);
      }
      const inner = this.parseOr();
      const close = this.peek();
      if (close?.type !== "rparen") throw new SyntaxError_('Unclosed "(": add a ")"', token.start, token.end);
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
    if (token.type === "rparen") throw new SyntaxError_('Unmatched ")"', token.start, token.end);
    throw new SyntaxError_(`Unexpected "${token.text}"`, token.start, token.end);
  }

  private term(keyToken: Token, opToken: Token, valueToken: Token): Filter {
    const key = resolveKey(keyToken.text, this.keys);
    if (key === "") throw new SyntaxError_("Empty key", keyToken.start, keyToken.end);
    const op = opToken.text;
    const quoted = valueToken.type === "string";
    const values = quoted ? [valueToken.text] : splitList(valueToken.text);
    if (values.some((v) => v === "")) {
      throw new SyntaxError_("Empty item in a comma list", valueToken.start, valueToken.end);
    }
    const parsed = values.map((v) => (quoted ? v : parseScalar(v)));
    if (key === "state" && [":", "=", "==", "!="].includes(op)) {
      const bad = parsed.find((v) => typeof v !== "string" || !RUN_STATES.includes(v));
      if (bad !== undefined) {
        throw new SyntaxError_(
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
      throw new SyntaxError_(`A comma list only works with ":" , "=" or "!="`, valueToken.start, valueToken.end);
    }
    if (op === "~" || op === "!~") {
      const pattern = String(values[0]);
      try {
        new RegExp(pattern);
      } catch {
        throw new SyntaxError_("Not a valid regular expression", valueToken.start, valueToken.end);
      }
      const match = { [key]: { $regex: pattern } };
      return op === "~" ? match : negate(match);
    }
    const mongo = COMPARISON[op];
    if (mongo === undefined) throw new SyntaxError_(`Unknown operator "${op}"`, opToken.start, opToken.end);
    if (single === null || typeof single === "boolean") {
      throw new SyntaxError_(`"${op}" needs a number, date or text`, valueToken.start, valueToken.end);
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

function combine(op: "$and" | "$or", parts: Filter[]): Filter {
  const flat: Filter[] = [];
  for (const part of parts) {
    const inner = part[op];
    if (Object.keys(part).length === 1 && Array.isArray(inner)) flat.push(...(inner as Filter[]));
    else flat.push(part);
  }
  return flat.length === 1 ? (flat[0] as Filter) : { [op]: flat };
}

function negate(filter: Filter): Filter {
  // NOT NOT x is x; anything else becomes MongoDB's $nor of one clause.
  const inner = filter.$nor;
  if (Object.keys(filter).length === 1 && Array.isArray(inner) && inner.length === 1) {
    return inner[0] as Filter;
  }
  return { $nor: [filter] };
}

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function unescapeRegex(pattern: string): string | undefined {
  // The inverse of escapeRegex, or undefined when the pattern uses regex syntax.
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern.charAt(i);
    if (ch === "\\") {
      const nextCh = pattern.charAt(i + 1);
      if (!/[.*+?^${}()|[\]\\]/.test(nextCh) || nextCh === "") return undefined;
      out += nextCh;
      i++;
    } else if (/[.*+?^${}()|[\]]/.test(ch)) {
      return undefined;
    } else {
      out += ch;
    }
  }
  return out;
}

/** Numbers, booleans and null are typed; everything else stays text. */
export function parseScalar(text: string): unknown {
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === "true") return true;
  if (lower === "false") return false;
  if (lower === "null" || lower === "none") return null;
  return text;
}

/** Map a key as typed to the filter's field: run fields, `config.x`, `summary_metrics.x`. */
export function resolveKey(key: string, keys: KeyContext = {}): string {
  const field = FIELDS[key.toLowerCase()];
  if (field !== undefined) return field;
  for (const prefix of ["config.", "c."]) {
    if (key.startsWith(prefix)) return `config.${key.slice(prefix.length)}`;
  }
  for (const prefix of ["summary_metrics.", "summary.", "s."]) {
    if (key.startsWith(prefix)) return `summary_metrics.${key.slice(prefix.length)}`;
  }
  const inConfig = keys.config?.includes(key) ?? false;
  const inSummary = keys.summary?.includes(key) ?? false;
  return inSummary && !inConfig ? `summary_metrics.${key}` : `config.${key}`;
}

/** Parse the search box's text; never throws. */
export function parseQuery(text: string, keys: KeyContext = {}): ParseResult {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return parseJson(text);
  try {
    const tokens = lex(text);
    return { ok: true, filter: new Parser(tokens, keys, text.length).parse() };
  } catch (err) {
    if (err instanceof SyntaxError_) {
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

// ---------------------------------------------------------------------------------------
// Filter → text, so filters set from Python show up in the search box.

class Unsupported extends Error {}

/**
 * Write a filter back in the search syntax. Filters outside the syntax's reach come back as
 * JSON, which the box also accepts, so the text always parses back to the same filter.
 */
export function formatQuery(filter: Filter, keys: KeyContext = {}): string {
  if (Object.keys(filter).length === 0) return "";
  try {
    const text = formatNode(filter, keys, "top");
    const again = parseQuery(text, keys);
    if (again.ok && deepEqual(normalize(again.filter), normalize(filter))) return text;
  } catch (err) {
    if (!(err instanceof Unsupported)) throw err;
  }
  return JSON.stringify(filter);
}

type Context = "top" | "and" | "or" | "not";

function formatNode(filter: Filter, keys: KeyContext, ctx: Context): string {
  const entries = Object.entries(filter);
  if (entries.length === 0) throw new Unsupported();
  if (entries.length > 1) return wrap(entries.map(([k, v]) => formatNode({ [k]: v }, keys, "and")).join(" "), ctx, "and");
  const [key, value] = entries[0] as [string, unknown];
  if (key === "$and" || key === "$or") {
    if (!Array.isArray(value) || value.length === 0) throw new Unsupported();
    const own: Context = key === "$and" ? "and" : "or";
    const parts = value.map((part) => formatNode(asFilter(part), keys, own));
    return wrap(parts.join(own === "and" ? " " : " OR "), ctx, own);
  }
  if (key === "$nor") {
    if (!Array.isArray(value) || value.length !== 1) throw new Unsupported();
    return `NOT ${formatNode(asFilter(value[0]), keys, "not")}`;
  }
  if (key.startsWith("$")) throw new Unsupported();
  return formatField(key, value, keys, ctx);
}

function formatField(field: string, value: unknown, keys: KeyContext, ctx: Context): string {
  const name = keyText(field, keys);
  if (!isPlainObject(value)) return `${name}:${valueText(value)}`;
  const ops = Object.entries(value);
  if (ops.length === 0) throw new Unsupported();
  if (ops.length > 1) {
    return wrap(ops.map(([op, v]) => formatField(field, { [op]: v }, keys, "and")).join(" "), ctx, "and");
  }
  const [op, operand] = ops[0] as [string, unknown];
  if (op === "$regex" && typeof operand === "string") {
    const plain = unescapeRegex(operand);
    if (field === "display_name" && plain !== undefined && plain !== "") {
      return /^[^\s()"'<>=!:~-][^\s()"'<>=!:~]*$/.test(plain) && !isKeyword(plain)
        ? plain
        : `name:${quote(plain)}`;
    }
    return `${name}~${quote(operand)}`;
  }
  if (op === "$in" || op === "$nin") {
    if (!Array.isArray(operand) || operand.length === 0) throw new Unsupported();
    if (operand.length === 1 && field !== "tags") throw new Unsupported();
    return `${name}${op === "$in" ? ":" : "!="}${operand.map((v) => valueText(v, true)).join(",")}`;
  }
  if (op === "$ne") return `${name}!=${valueText(operand)}`;
  if (op === "$eq") throw new Unsupported();
  const cmp = COMPARISON_TEXT[op];
  if (cmp === undefined) throw new Unsupported();
  return `${name}${cmp}${valueText(operand)}`;
}

function wrap(text: string, ctx: Context, own: "and" | "or"): string {
  // AND binds tighter than OR, so only an OR inside an AND (or anything under NOT) needs parentheses.
  if (ctx === "not" || (ctx === "and" && own === "or")) return `(${text})`;
  return text;
}

function keyText(field: string, keys: KeyContext): string {
  const named = FIELD_NAMES[field];
  if (named !== undefined) return named;
  let short: string | undefined;
  if (field.startsWith("config.")) short = field.slice("config.".length);
  else if (field.startsWith("summary_metrics.")) short = field.slice("summary_metrics.".length);
  if (short !== undefined && safeWord(short) && resolveKey(short, keys) === field) return short;
  if (short !== undefined && field.startsWith("summary_metrics.")) {
    const alias = `summary.${short}`;
    if (safeWord(alias)) return alias;
  }
  if (safeWord(field)) return field;
  throw new Unsupported();
}

function safeWord(text: string): boolean {
  return /^[^\s()"'<>=!:~,-][^\s()"'<>=!:~,]*$/.test(text) && !isKeyword(text) && FIELDS[text.toLowerCase()] === undefined;
}

function isKeyword(text: string): boolean {
  const upper = text.toUpperCase();
  return upper === "AND" || upper === "OR" || upper === "NOT";
}

function valueText(value: unknown, inList = false): string {
  if (value === null) return "null";
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Unsupported();
    return String(value);
  }
  if (typeof value === "boolean") return String(value);
  if (typeof value !== "string") throw new Unsupported();
  if (inList) {
    // List items cannot be quoted; they must read back as the same string.
    if (/^[^\s(),"']+$/.test(value) && parseScalar(value) === value) return value;
    throw new Unsupported();
  }
  if (/^[^\s()"'][^\s()]*$/.test(value) && !value.includes(",") && parseScalar(value) === value) return value;
  return quote(value);
}

function quote(text: string): string {
  return `"${text.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function asFilter(value: unknown): Filter {
  if (!isPlainObject(value)) throw new Unsupported();
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A canonical form for comparing filters: objects with several fields, and fields with
 * several operators, become explicit $and lists, and nested $and / $or lists are flattened.
 */
export function normalize(filter: Filter): Filter {
  const parts: Filter[] = [];
  for (const [key, value] of Object.entries(filter)) {
    if ((key === "$and" || key === "$or" || key === "$nor") && Array.isArray(value)) {
      const children = value.map((child) => (isPlainObject(child) ? normalize(child) : child));
      parts.push(key === "$nor" ? { $nor: children } : combine(key, children as Filter[]));
    } else if (!key.startsWith("$") && isPlainObject(value) && Object.keys(value).length > 1
      && Object.keys(value).every((op) => op.startsWith("$"))) {
      for (const [op, operand] of Object.entries(value)) parts.push({ [key]: { [op]: operand } });
    } else {
      parts.push({ [key]: value });
    }
  }
  return parts.length === 1 ? (parts[0] as Filter) : combine("$and", parts);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
