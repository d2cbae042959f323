/**
 * The table itself: a header that sorts and reorders, rows with checkboxes, state badges,
 * tags and readable numbers, and pinned columns that stay put while scrolling sideways.
 * It only draws what it is given; `index.ts` owns the data.
 */
import { h, replace } from "../dom";
import { type Column, type Row, cellValue, parseOrder } from "./columns";
import { formatDate, formatRelative, formatValue, parseTime } from "./format";

export interface TableEvents {
  sort(col: Column): void;
  select(ids: string[], checked: boolean): void;
  open(id: string): void;
  move(id: string, before: string | null): void;
}

export interface TableView {
  rows: Row[];
  columns: Column[];
  pinned: ReadonlySet<string>;
  order: string;
  selected: ReadonlySet<string>;
  active: string | null;
}

export class RunTable {
  readonly el: HTMLElement;
  private readonly table: HTMLTableElement;
  private view: TableView | null = null;
  private dragging: string | null = null;

  constructor(private readonly events: TableEvents) {
    this.table = h("table", { class: "lb-table", testid: "runs-table" });
    this.el = h("div", { class: "lb-table-wrap", testid: "runs-table-wrap" }, this.table);
  }

  render(view: TableView): void {
    this.view = view;
    replace(this.table, this.head(view), this.body(view));
    this.pin();
  }

  /** Tick boxes again after `selected` changed, without redrawing the rows. */
  updateSelection(selected: ReadonlySet<string>): void {
    if (!this.view) return;
    this.view = { ...this.view, selected };
    for (const tr of this.table.tBodies[0]?.rows ?? []) {
      const id = tr.dataset.runId ?? "";
      const box = tr.querySelector<HTMLInputElement>("input[type=checkbox]");
      if (box) box.checked = selected.has(id);
      tr.classList.toggle("lb-selected", selected.has(id));
    }
    this.syncSelectAll();
  }

  setActive(id: string | null): void {
    if (this.view) this.view = { ...this.view, active: id };
    for (const tr of this.table.tBodies[0]?.rows ?? []) tr.classList.toggle("lb-active", tr.dataset.runId === id);
  }

  private head(view: TableView): HTMLElement {
    const { field, descending } = parseOrder(view.order);
    const all = h("input", {
      testid: "select-all",
      attrs: { type: "checkbox", "aria-label": "Select every run on this page" },
      on: {
        change: (e) => {
          const checked = (e.target as HTMLInputElement).checked;
          this.events.select(view.rows.map((r) => r.id), checked);
        },
      },
    });
    const cells: HTMLElement[] = [h("th", { class: "lb-check lb-pinned" }, all)];
    for (const col of view.columns) {
      const sorted = col.sortField !== null && col.sortField === field;
      const th = h(
        "th",
        {
          class: [
            view.pinned.has(col.id) ? "lb-pinned" : "",
            col.sortField ? "lb-sortable" : "",
            col.kind !== "meta" ? `lb-${col.kind}` : "",
          ].join(" ").trim(),
          title: col.sortField ? `${col.id}: click to sort, drag to move` : `${col.id}: drag to move`,
          attrs: {
            "data-column": col.id,
            draggable: "true",
            "aria-sort": sorted ? (descending ? "descending" : "ascending") : undefined,
          },
          on: {
            click: () => this.events.sort(col),
            dragstart: (e) => {
              this.dragging = col.id;
              (e as DragEvent).dataTransfer?.setData("text/plain", col.id);
            },
            dragover: (e) => {
              if (this.dragging && this.dragging !== col.id) e.preventDefault();
            },
            drop: (e) => {
              e.preventDefault();
              if (this.dragging && this.dragging !== col.id) this.events.move(this.dragging, col.id);
              this.dragging = null;
            },
            dragend: () => {
              this.dragging = null;
            },
          },
        },
        col.kind !== "meta" ? h("span", { class: "lb-col-kind", text: col.kind === "config" ? "c" : "s" }) : null,
        h("span", { class: "lb-col-label", text: col.label }),
        sorted ? h("span", { class: "lb-sort", text: descending ? " ▼" : " ▲" }) : null,
      );
      cells.push(th);
    }
    queueMicrotask(() => this.syncSelectAll());
    return h("thead", {}, h("tr", {}, ...cells));
  }

  private body(view: TableView): HTMLElement {
    const tbody = h("tbody");
    if (view.rows.length === 0) {
      tbody.append(
        h(
          "tr",
          { class: "lb-empty" },
          h("td", { attrs: { colspan: view.columns.length + 1 }, text: "No runs match." }),
        ),
      );
      return tbody;
    }
    for (const row of view.rows) {
      const selected = view.selected.has(row.id);
      const box = h("input", {
        attrs: { type: "checkbox", "aria-label": `Select ${row.name}`, checked: selected },
        on: {
          click: (e) => e.stopPropagation(),
          change: (e) => this.events.select([row.id], (e.target as HTMLInputElement).checked),
        },
      });
      const tr = h(
        "tr",
        {
          class: [selected ? "lb-selected" : "", view.active === row.id ? "lb-active" : ""].join(" ").trim(),
          testid: "run-row",
          attrs: { "data-run-id": row.id, "data-state": row.state ?? "", tabindex: 0 },
          on: {
            click: () => this.events.open(row.id),
            keydown: (e) => {
              if ((e as KeyboardEvent).key === "Enter") this.events.open(row.id);
            },
          },
        },
        h("td", { class: "lb-check lb-pinned" }, box),
        ...view.columns.map((col) => this.cell(row, col, view.pinned.has(col.id))),
      );
      tbody.append(tr);
    }
    return tbody;
  }

  private cell(row: Row, col: Column, pinned: boolean): HTMLElement {
    const value = cellValue(row, col);
    const td = h("td", { class: pinned ? "lb-pinned" : "", attrs: { "data-column": col.id } });
    switch (col.id) {
      case "name":
        td.classList.add("lb-name");
        td.append(h("span", { text: row.name || row.id, title: `${row.name}\nid: ${row.id}` }));
        return td;
      case "id":
        td.classList.add("lb-mono");
        td.textContent = row.id;
        return td;
      case "state":
        td.append(stateBadge(row.state));
        return td;
      case "created_at":
      case "heartbeat_at": {
        const text = typeof value === "string" ? value : null;
        const date = parseTime(text);
        td.textContent = formatRelative(text);
        if (date) td.title = formatDate(date);
        return td;
      }
      case "tags":
        for (const tag of row.tags ?? []) td.append(h("span", { class: "lb-tag", text: tag }));
        return td;
      default: {
        const text = formatValue(value, col.key);
        td.textContent = text;
        if (typeof value === "number") td.classList.add("lb-num");
        if (text.length > 24) td.title = text;
        return td;
      }
    }
  }

  private syncSelectAll(): void {
    const all = this.table.querySelector<HTMLInputElement>("thead input[type=checkbox]");
    if (!all || !this.view) return;
    const ids = this.view.rows.map((r) => r.id);
    const count = ids.filter((id) => this.view?.selected.has(id)).length;
    all.checked = ids.length > 0 && count === ids.length;
    all.indeterminate = count > 0 && count < ids.length;
  }

  /** Give pinned cells their sticky `left` offsets, measured from the header. */
  private pin(): void {
    requestAnimationFrame(() => {
      const headCells = [...(this.table.tHead?.rows[0]?.cells ?? [])];
      let left = 0;
      const offsets: number[] = [];
      headCells.forEach((cell, i) => {
        if (cell.classList.contains("lb-pinned")) {
          offsets[i] = left;
          left += cell.getBoundingClientRect().width;
        }
      });
      for (const tr of [...(this.table.tHead?.rows ?? []), ...(this.table.tBodies[0]?.rows ?? [])]) {
        [...tr.cells].forEach((cell, i) => {
          const offset = offsets[i];
          if (offset !== undefined) cell.style.left = `${offset}px`;
        });
      }
    });
  }
}

export function stateBadge(state: string | null): HTMLElement {
  const name = state ?? "unknown";
  return h("span", { class: `lb-badge lb-state-${name.replace(/[^a-z]/g, "")}`, testid: "state-badge", text: name });
}
