/**
 * Values formatted for reading in the run table: numbers to a few significant digits with
 * thousands separators, times as "3 h ago", durations as "1 h 2 min", W&B media as their type.
 */

const INTEGER = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** "12,345" */
export function formatCount(n: number): string {
  return INTEGER.format(n);
}

/** A number for a table cell: 0.01234, 123.5, 12,345, 1.23e-7, 4.56e+12. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "∞" : "-∞";
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return formatCount(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e9)) return value.toExponential(2).replace(/\.?0+e/, "e");
  if (abs >= 1e5) return formatCount(Math.round(value));
  return String(Number(value.toPrecision(4)));
}

/** `text` cut to `max` characters, the last one an ellipsis ("…") when anything was cut.
 * Table cells are cut here rather than clipped by CSS: a clipping cell is a paint clip of its
 * own, and hundreds of them made every frame of the page slower to composite. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never split a surrogate pair (an emoji in a run name).
  let end = max - 1;
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}…`;
}

/** Any config or summary value as short text. */
export function formatValue(value: unknown, key = ""): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (key === "_runtime" || key.endsWith("._runtime")) return formatDuration(value);
    return formatNumber(value);
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") {
    // Python sends non-finite floats as these strings (JSON has no NaN).
    if (value === "NaN" || value === "Infinity" || value === "-Infinity") {
      return value === "NaN" ? "NaN" : value === "Infinity" ? "∞" : "-∞";
    }
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => formatValue(v)).join(", ");
  if (typeof value === "object") {
    const type = (value as Record<string, unknown>)._type;
    if (typeof type === "string") return `[${type}]`; // W&B media: histogram, image, table...
    return JSON.stringify(value);
  }
  return String(value);
}

/** Seconds as "45 s", "3 min 20 s", "1 h 2 min", "2 d 3 h". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return formatNumber(seconds);
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  const d = Math.floor(hours / 24);
  return hours % 24 ? `${d} d ${hours % 24} h` : `${d} d`;
}

/** Parse the server's times (ISO 8601, with or without a zone: without one, UTC). */
export function parseTime(text: string | null | undefined): Date | undefined {
  if (!text) return undefined;
  const hasZone = /([zZ]|[+-]\d\d:?\d\d)$/.test(text);
  const date = new Date(hasZone ? text : `${text}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", then the date. */
export function formatRelative(text: string | null | undefined, now: Date = new Date()): string {
  const date = parseTime(text);
  if (!date) return text ?? "";
  const seconds = (now.getTime() - date.getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 7 * 86400) return `${Math.round(seconds / 86400)} d ago`;
  return formatDate(date);
}

/** "2024-05-01 13:20" in local time. */
export function formatDate(date: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}`
  );
}

/** "showing 51–100 of 12,345 runs" */
export function formatRange(offset: number, shown: number, total: number): string {
  if (total === 0) return "no matching runs";
  if (shown === 0) return `showing none of ${formatCount(total)} runs`;
  const noun = total === 1 ? "run" : "runs";
  return `showing ${formatCount(offset + 1)}–${formatCount(offset + shown)} of ${formatCount(total)} ${noun}`;
}
