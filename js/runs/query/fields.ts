/**
 * The search syntax's vocabulary: run fields, run states, operators, values, and which of
 * the project's keys a bare key means. Mirrors `liberry_widgets/runs/query/fields.py`.
 */

export type Filter = Record<string, unknown>;

/** The project's keys, used to decide whether `lr` means `config.lr` or `summary_metrics.lr`. */
export interface KeyContext {
  config?: readonly string[];
  summary?: readonly string[];
}

/** Run fields with a name of their own in the syntax (left) and in the filter (right). */
export const FIELDS: Record<string, string> = {
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
export const FIELD_NAMES: Record<string, string> = {
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

export const COMPARISON: Record<string, string> = { ">": "$gt", ">=": "$gte", "<": "$lt", "<=": "$lte" };

export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The inverse of escapeRegex, or undefined when the pattern uses regex syntax. */
export function unescapeRegex(pattern: string): string | undefined {
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
