/**
 * What one body cell of the run table shows (text, a name or state span, tags), written as
 * HTML for a new page and patched in place when the next page has the same columns.
 */
import { h } from "../dom";
import { type Column, type Row, cellValue } from "./columns";
import { formatDate, formatRelative, formatValue, parseTime, truncate } from "./format";

/** Longest text a body cell shows (about its old 280 px); longer text is cut with "…" and
 * shown whole in the cell's tooltip. */
const CELL_CHARS = 40;
/** Tags shown in a cell before "+N"; each cut to this many characters. */
const CELL_TAGS = 3;
const TAG_CHARS = 20;

export interface CellParts {
  cls: string;
  title: string | undefined;
  /** Plain text; or one `span` (name, state badge), updated in place from page to page
   * rather than parsed again; or `html` for other markup (tags). */
  text?: string;
  span?: SpanParts;
  html?: string;
}

export interface SpanParts {
  cls?: string;
  title?: string;
  testid?: string;
  text: string;
}

export function spanHtml(span: SpanParts): string {
  return (
    `<span${span.cls ? ` class="${span.cls}"` : ""}` +
    `${span.title !== undefined ? ` title="${esc(span.title)}"` : ""}` +
    `${span.testid ? ` data-testid="${span.testid}"` : ""}>${esc(span.text)}</span>`
  );
}

/** Make `td`, which shows `before`, show `cell`: only what differs is written (text nodes
 * and spans are kept and updated in place rather than parsed again). */
export function patchCell(td: HTMLTableCellElement, before: CellParts, cell: CellParts): void {
  if (before.cls !== cell.cls) td.className = cell.cls;
  if (before.title !== cell.title) setAttr(td, "title", cell.title);
  if (cell.span) {
    if (before.span) patchSpan(td, before.span, cell.span);
    else td.innerHTML = spanHtml(cell.span);
  } else if (cell.html !== undefined) {
    if (before.html !== cell.html) td.innerHTML = cell.html;
  } else {
    const text = cell.text ?? "";
    if (before.span || before.html !== undefined) td.textContent = text;
    else if ((before.text ?? "") !== text) setText(td, text);
  }
}

function patchSpan(td: HTMLTableCellElement, before: SpanParts, span: SpanParts): void {
  const el = td.firstElementChild;
  if (!el) {
    td.innerHTML = spanHtml(span);
    return;
  }
  if (before.cls !== span.cls) el.className = span.cls ?? "";
  if (before.title !== span.title) setAttr(el, "title", span.title);
  if (before.testid !== span.testid) setAttr(el, "data-testid", span.testid);
  if (before.text !== span.text) setText(el, span.text);
}

/** Change an element's only text node in place (a new node would be laid out anew). */
export function setText(el: Element, text: string): void {
  const node = el.firstChild;
  if (node && node === el.lastChild && node.nodeType === Node.TEXT_NODE) (node as Text).data = text;
  else el.textContent = text;
}

export function setAttr(el: Element, name: string, value: string | undefined): void {
  if (value === undefined) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function cellParts(row: Row, col: Column, pinned: boolean, now: Date): CellParts {
  const value = cellValue(row, col);
  const pin = pinned ? "lb-pinned" : "";
  switch (col.id) {
    case "name":
      return {
        cls: pinned ? "lb-pinned lb-name" : "lb-name",
        title: undefined,
        span: { title: `${row.name}\nid: ${row.id}`, text: truncate(row.name || row.id, CELL_CHARS) },
      };
    case "id":
      return { cls: pinned ? "lb-pinned lb-mono" : "lb-mono", title: undefined, text: row.id };
    case "state":
      return { cls: pin, title: undefined, span: badge(row.state) };
    case "created_at":
    case "heartbeat_at": {
      const text = typeof value === "string" ? value : null;
      const date = parseTime(text);
      return { cls: pin, title: date ? formatDate(date) : undefined, text: formatRelative(text, now) };
    }
    case "tags": {
      const tags = row.tags ?? [];
      const shown = tags.slice(0, CELL_TAGS).map((tag) => `<span class="lb-tag">${esc(truncate(tag, TAG_CHARS))}</span>`);
      if (tags.length > CELL_TAGS) shown.push(`<span class="lb-more">+${tags.length - CELL_TAGS}</span>`);
      const cut = tags.length > CELL_TAGS || tags.some((tag) => tag.length > TAG_CHARS);
      return { cls: pin, title: cut ? tags.join(", ") : undefined, html: shown.join("") };
    }
    default: {
      const text = formatValue(value, col.key);
      const cls = typeof value === "number" ? (pinned ? "lb-pinned lb-num" : "lb-num") : pin;
      return { cls, title: text.length > 24 ? text : undefined, text: truncate(text, CELL_CHARS) };
    }
  }
}

function badge(state: string | null): SpanParts {
  const name = state ?? "unknown";
  return { cls: `lb-badge lb-state-${name.replace(/[^a-z]/g, "")}`, testid: "state-badge", text: name };
}

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text or an attribute value, safe inside HTML. */
export function esc(text: string): string {
  return /[&<>"']/.test(text) ? text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c) : text;
}

/** A run state as a coloured badge (the detail panel's header). */
export function stateBadge(state: string | null): HTMLElement {
  const name = state ?? "unknown";
  return h("span", { class: `lb-badge lb-state-${name.replace(/[^a-z]/g, "")}`, testid: "state-badge", text: name });
}
