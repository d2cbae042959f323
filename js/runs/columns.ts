/**
 * The run table's columns: what each column id means (label, how to sort by it, where its
 * value lives in a row) and the chooser to show, hide, reorder and pin them.
 *
 * Column ids: run fields (`name`, `state`, `created_at`, ...), `config.<key>` and
 * `summary.<key>`. The kernel picks the default set (`default_columns` in
 * liberry_widgets/runs/columns.py); the user's choice lives in the `columns` and `pinned`
 * traits.
 */
import { h, replace } from "../dom";

export type ColumnKind = "meta" | "config" | "summary";

export interface Column {
  id: string;
  kind: ColumnKind;
  /** The config/summary key, or the field name for run fields. */
  key: string;
  label: string;
  /** The field for `order` (`summary_metrics.loss`), or null when the server cannot sort by it. */
  sortField: string | null;
}

/** One run as the kernel sends it (`row` in liberry_widgets/runs/rows.py). */
export interface Row {
  id: string;
  name: string;
  state: string | null;
  created_at: string | null;
  heartbeat_at: string | null;
  tags: string[];
  group: string | null;
  job_type: string | null;
  sweep: string | null;
  notes: string | null;
  values: Record<string, unknown>;
}

export interface ProjectKeys {
  config: string[];
  summary: string[];
}

const META: Record<string, { label: string; sortField: string | null }> = {
  name: { label: "Name", sortField: "display_name" },
  id: { label: "ID", sortField: "name" },
  state: { label: "State", sortField: "state" },
  created_at: { label: "Created", sortField: "created_at" },
  heartbeat_at: { label: "Last heartbeat", sortField: "heartbeat_at" },
  tags: { label: "Tags", sortField: null },
  group: { label: "Group", sortField: null },
  job_type: { label: "Job type", sortField: null },
  sweep: { label: "Sweep", sortField: null },
  notes: { label: "Notes", sortField: null },
};

export const META_IDS = Object.keys(META);

export function column(id: string): Column {
  const meta = META[id];
  if (meta) return { id, kind: "meta", key: id, ...meta };
  if (id.startsWith("config.")) {
    const key = id.slice("config.".length);
    return { id, kind: "config", key, label: key, sortField: `config.${key}` };
  }
  const key = id.startsWith("summary.") ? id.slice("summary.".length) : id;
  return { id, kind: "summary", key, label: key, sortField: `summary_metrics.${key}` };
}

/** The value a row shows in a column. */
export function cellValue(row: Row, col: Column): unknown {
  if (col.kind !== "meta") return row.values[col.id];
  return (row as unknown as Record<string, unknown>)[col.id];
}

export interface Order {
  field: string;
  descending: boolean;
}

export function parseOrder(order: string): Order {
  const descending = order.startsWith("-");
  const field = order.startsWith("-") || order.startsWith("+") ? order.slice(1) : order;
  return { field, descending };
}

/** The order after clicking a column's header: ascending first, then flip. */
export function nextOrder(col: Column, current: string): string | null {
  if (!col.sortField) return null;
  const { field, descending } = parseOrder(current);
  if (field === col.sortField) return `${descending ? "+" : "-"}${field}`;
  // Times and metrics read best newest / largest first.
  const descFirst = col.kind === "summary" || col.id === "created_at" || col.id === "heartbeat_at";
  return `${descFirst ? "-" : "+"}${col.sortField}`;
}

/** Visible columns with the pinned ones first (their relative order kept). */
export function arrange(ids: readonly string[], pinned: readonly string[]): Column[] {
  const pinnedSet = new Set(pinned);
  const first = ids.filter((id) => pinnedSet.has(id));
  const rest = ids.filter((id) => !pinnedSet.has(id));
  return [...first, ...rest].map(column);
}

/** Move `id` to just before `target` (or to the end when `target` is null). */
export function moveColumn(ids: readonly string[], id: string, target: string | null): string[] {
  const without = ids.filter((c) => c !== id);
  const at = target === null ? without.length : without.indexOf(target);
  without.splice(at < 0 ? without.length : at, 0, id);
  return without;
}

// ---------------------------------------------------------------------------------------
// The chooser: a panel listing every column the project has.

export interface ChooserState {
  columns: string[];
  pinned: string[];
  keys: ProjectKeys | null;
}

export interface ChooserEvents {
  change(columns: string[], pinned: string[]): void;
  reset(): void;
}

const MAX_LISTED = 150;

export class ColumnChooser {
  readonly el: HTMLElement;
  private state: ChooserState = { columns: [], pinned: [], keys: null };
  private filter = "";
  private readonly list: HTMLElement;
  private readonly search: HTMLInputElement;

  constructor(private readonly events: ChooserEvents) {
    this.search = h("input", {
      class: "lb-input",
      testid: "column-search",
      attrs: { type: "search", placeholder: "Find a column…", "aria-label": "Find a column" },
      on: {
        input: () => {
          this.filter = this.search.value.trim().toLowerCase();
          this.draw();
        },
      },
    });
    this.list = h("div", { class: "lb-chooser-list" });
    this.el = h(
      "div",
      { class: "lb-chooser", testid: "column-chooser", attrs: { role: "dialog", "aria-label": "Columns" } },
      h(
        "div",
        { class: "lb-chooser-head" },
        this.search,
        h("button", {
          class: "lb-btn",
          testid: "columns-reset",
          text: "Defaults",
          title: "Back to the default columns",
          on: { click: () => this.events.reset() },
        }),
      ),
      this.list,
    );
    this.el.hidden = true;
  }

  get open(): boolean {
    return !this.el.hidden;
  }

  toggle(force?: boolean): void {
    this.el.hidden = !(force ?? this.el.hidden);
    if (!this.el.hidden) {
      this.draw();
      this.search.focus();
    }
  }

  update(state: ChooserState): void {
    this.state = state;
    if (this.open) this.draw();
  }

  private emit(columns: string[], pinned: string[]): void {
    this.events.change(columns, pinned.filter((id) => columns.includes(id)));
  }

  private draw(): void {
    const { columns, pinned, keys } = this.state;
    const matches = (id: string): boolean => !this.filter || id.toLowerCase().includes(this.filter);
    const shown = h("ul", { class: "lb-chooser-shown", testid: "columns-shown" });
    columns.forEach((id, index) => {
      if (!matches(id)) return;
      const isPinned = pinned.includes(id);
      shown.append(
        h(
          "li",
          { attrs: { "data-column": id } },
          h("span", { class: "lb-chooser-label", text: describe(id), title: id }),
          iconButton("↑", `Move ${id} left`, index === 0, () => {
            const next = moveColumn(columns, id, columns[index - 1] ?? null);
            this.emit(next, pinned);
          }),
          iconButton("↓", `Move ${id} right`, index === columns.length - 1, () => {
            const next = moveColumn(columns, id, columns[index + 2] ?? null);
            this.emit(next, pinned);
          }),
          // Words, not emoji: hosts without an emoji font would show empty boxes.
          iconButton(isPinned ? "pinned" : "pin", isPinned ? `Unpin ${id}` : `Pin ${id} to the left`, false, () => {
            this.emit(columns, isPinned ? pinned.filter((p) => p !== id) : [...pinned, id]);
          }, isPinned ? "lb-on lb-pin" : "lb-pin"),
          iconButton("✕", `Hide ${id}`, false, () => {
            this.emit(columns.filter((c) => c !== id), pinned);
          }),
        ),
      );
    });

    const available = (ids: string[]): HTMLElement => {
      const hidden = ids.filter((id) => !columns.includes(id) && matches(id));
      const list = h("ul", { class: "lb-chooser-available" });
      for (const id of hidden.slice(0, MAX_LISTED)) {
        list.append(
          h(
            "li",
            { attrs: { "data-column": id } },
            h(
              "label",
              {},
              h("input", {
                attrs: { type: "checkbox", "aria-label": `Show ${id}` },
                on: { change: () => this.emit([...columns, id], pinned) },
              }),
              h("span", { class: "lb-chooser-label", text: describe(id), title: id }),
            ),
          ),
        );
      }
      if (hidden.length > MAX_LISTED) {
        list.append(h("li", { class: "lb-muted", text: `${hidden.length - MAX_LISTED} more: refine the search` }));
      }
      if (hidden.length === 0) list.append(h("li", { class: "lb-muted", text: "none" }));
      return list;
    };

    replace(
      this.list,
      h("h4", { text: "Shown" }),
      shown,
      h("h4", { text: "Run" }),
      available(META_IDS),
      h("h4", { text: "Config" }),
      keys ? available(keys.config.map((k) => `config.${k}`)) : h("p", { class: "lb-muted", text: "Loading keys…" }),
      h("h4", { text: "Summary" }),
      keys ? available(keys.summary.map((k) => `summary.${k}`)) : null,
    );
  }
}

function describe(id: string): string {
  const col = column(id);
  if (col.kind === "meta") return col.label;
  return `${col.kind === "config" ? "config" : "summary"} · ${col.key}`;
}

function iconButton(text: string, title: string, disabled: boolean, onClick: () => void, extra = ""): HTMLElement {
  return h("button", {
    class: `lb-icon ${extra}`.trim(),
    text,
    title,
    attrs: { "aria-label": title, disabled },
    on: { click: onClick },
  });
}
