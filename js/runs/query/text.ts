/**
 * A filter written back in the search syntax, so filters set from Python show up in the
 * search box; JSON when the syntax cannot say it. Mirrors `liberry_widgets/runs/query/text.py`.
 */
import { deepEqual, isPlainObject } from "../../equal";
import { COMPARISON, FIELDS, FIELD_NAMES, type Filter, type KeyContext, parseScalar, resolveKey, unescapeRegex } from "./fields";
import { combine, parseQuery } from "./parser";

const COMPARISON_TEXT: Record<string, string> = Object.fromEntries(Object.entries(COMPARISON).map(([k, v]) => [v, k]));

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
