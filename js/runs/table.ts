/**
 * The table itself: a header that sorts and reorders, rows with checkboxes, state badges,
 * tags and readable numbers, and pinned columns that stay put while scrolling sideways.
 * It only draws what it is given (each cell as `cells.ts` says); `index.ts` owns the data.
 */
import { afterPaint, h } from "../dom";
import { type CellParts, cellParts, esc, patchCell, setAttr, spanHtml } from "./cells";
import { type Column, type Row, parseOrder } from "./columns";

export interface TableEvents {
  sort(col: Column): void;
  /** The pointer rests on a sortable header: a click may follow (fetch that order ahead). */
  aim(col: Column): void;
  select(ids: string[], checked: boolean): void;
  open(id: string): void;
  move(id: string, before: string | null): void;
}

/** How long the pointer rests on a header before its order is fetched ahead: long enough to
 * skip headers the pointer only crosses, well under the time from resting to clicking. */
const AIM_MS = 80;

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
  private readonly thead: HTMLTableSectionElement;
  private readonly tbody: HTMLTableSectionElement;
  private view: TableView | null = null;
  private dragging: string | null = null;
  /** What the header was last drawn for: it is rebuilt only when this changes. */
  private headKey = "";
  /** Sticky `left` of each pinned column index, as last measured (CSS variables). */
  private offsets: number[] = [];
  /** The widest each header cell has been (its `width`), for the header as last built. */
  private widths: number[] = [];
  private pinFrame = 0;
  private aimTimer: ReturnType<typeof setTimeout> | undefined;
  /** The columns the body rows were built for ("" when they are not run rows); the order is
   * not part of it, so a sort change rewrites the cells in place instead of rebuilding. */
  private bodyKey = "";
  /** What each body cell shows (row by column), as last written: a new page compares with
   * this instead of reading every cell back from the DOM. */
  private shown: CellParts[][] = [];
  /** The body cells (row by column, without the checkbox), found once per rebuilt body. */
  private tds: HTMLTableCellElement[][] | null = null;
  /** The scroll area as last measured (in frames the browser lays out anyway). */
  private viewport = { top: 0, height: 0, rowHeight: 0 };
  /** Cancels writing the rows out of view, left for the frame after a new page's paint. */
  private cancelRest: (() => void) | null = null;

  constructor(private readonly events: TableEvents) {
    this.thead = h("thead");
    this.tbody = h("tbody");
    this.table = h("table", { class: "lb-table", testid: "runs-table" }, this.thead, this.tbody);
    this.el = h("div", { class: "lb-table-wrap", testid: "runs-table-wrap" }, this.table);
    // Pinned cells need `position: sticky` only once the table scrolls sideways (styles.css).
    this.el.addEventListener(
      "scroll",
      () => {
        this.el.classList.toggle("lb-scrolled-x", this.el.scrollLeft > 0);
        this.viewport.top = this.el.scrollTop;
      },
      { passive: true },
    );
    // One set of listeners for every row (rows are redrawn as one HTML string per page).
    const rowOf = (e: Event): HTMLTableRowElement | null => {
      const tr = (e.target as Element | null)?.closest?.("tr");
      return tr && tr.parentElement === this.tbody && tr.dataset.runId !== undefined ? (tr as HTMLTableRowElement) : null;
    };
    this.tbody.addEventListener("click", (e) => {
      const target = e.target as Element;
      if (target instanceof HTMLInputElement && target.type === "checkbox") return;
      const tr = rowOf(e);
      if (tr) this.events.open(tr.dataset.runId ?? "");
    });
    this.tbody.addEventListener("keydown", (e) => {
      if (e.key !== "Enter" || e.target instanceof HTMLInputElement) return;
      const tr = rowOf(e);
      if (tr) this.events.open(tr.dataset.runId ?? "");
    });
    this.tbody.addEventListener("change", (e) => {
      const box = e.target;
      if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
      const tr = rowOf(e);
      if (tr) this.events.select([tr.dataset.runId ?? ""], box.checked);
    });
  }

  render(view: TableView): void {
    this.view = view;
    const bodyKey = JSON.stringify([view.columns.map((c) => c.id), [...view.pinned]]);
    // Only the order changed: move the sort marker; a new header would be laid out anew.
    if (bodyKey !== this.headKey || !this.thead.firstChild) {
      this.headKey = bodyKey;
      this.thead.replaceChildren(this.head(view));
      this.widths = [];
    } else this.markSorted(view.order);
    this.cancelRest?.();
    this.cancelRest = null;
    if (!this.patchBody(view, bodyKey)) {
      this.tbody.innerHTML = this.bodyHtml(view);
      this.bodyKey = view.rows.length ? bodyKey : "";
    }
    this.syncSelectAll();
    this.pin();
  }

  /** Tick boxes again after `selected` changed, without redrawing the rows. */
  updateSelection(selected: ReadonlySet<string>): void {
    if (!this.view) return;
    this.view = { ...this.view, selected };
    for (const tr of this.tbody.rows) {
      const id = tr.dataset.runId ?? "";
      const box = tr.querySelector<HTMLInputElement>("input[type=checkbox]");
      if (box) box.checked = selected.has(id);
      tr.classList.toggle("lb-selected", selected.has(id));
    }
    this.syncSelectAll();
  }

  setActive(id: string | null): void {
    if (this.view) this.view = { ...this.view, active: id };
    for (const tr of this.tbody.rows) tr.classList.toggle("lb-active", tr.dataset.runId === id);
  }

  private head(view: TableView): HTMLElement {
    const { field, descending } = parseOrder(view.order);
    const all = h("input", {
      testid: "select-all",
      attrs: { type: "checkbox", "aria-label": "Select every run on this page" },
      on: {
        change: (e) => {
          const checked = (e.target as HTMLInputElement).checked;
          this.events.select((this.view?.rows ?? []).map((r) => r.id), checked);
        },
      },
    });
    const cells: HTMLElement[] = [h("th", { class: "lb-check lb-pinned", style: { left: "var(--lb-pin-0, 0px)" } }, all)];
    view.columns.forEach((col, index) => {
      const sorted = col.sortField !== null && col.sortField === field;
      const pinned = view.pinned.has(col.id);
      const th = h(
        "th",
        {
          class: [
            pinned ? "lb-pinned" : "",
            col.sortField ? "lb-sortable" : "",
            col.kind !== "meta" ? `lb-${col.kind}` : "",
          ].join(" ").trim(),
          title: col.sortField ? `${col.id}: click to sort, drag to move` : `${col.id}: drag to move`,
          style: pinned ? { left: `var(--lb-pin-${index + 1}, 0px)` } : undefined,
          attrs: {
            "data-column": col.id,
            draggable: "true",
            "aria-sort": sorted ? (descending ? "descending" : "ascending") : undefined,
          },
          on: {
            click: () => this.events.sort(col),
            pointerenter: () => {
              clearTimeout(this.aimTimer);
              if (col.sortField) this.aimTimer = setTimeout(() => this.events.aim(col), AIM_MS);
            },
            pointerleave: () => clearTimeout(this.aimTimer),
            // A click lands when the button comes up, a tenth of a second after it went down
            // (or a touch with no hover at all): ask for the order already.
            pointerdown: (e) => {
              clearTimeout(this.aimTimer);
              if (col.sortField && (e as PointerEvent).button === 0) this.events.aim(col);
            },
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
        col.sortField ? h("span", { class: "lb-sort", text: sortMark(sorted, descending) }) : null,
      );
      cells.push(th);
    });
    return h("tr", {}, ...cells);
  }

  /** Show `order` on the header drawn for the same columns (aria-sort and the arrow). */
  private markSorted(order: string): void {
    const { field, descending } = parseOrder(order);
    const columns = this.view?.columns ?? [];
    const cells = this.thead.rows[0]?.cells;
    if (!cells) return;
    columns.forEach((col, index) => {
      const th = cells[index + 1];
      if (!th) return;
      const sorted = col.sortField !== null && col.sortField === field;
      setAttr(th, "aria-sort", sorted ? (descending ? "descending" : "ascending") : undefined);
      const mark = th.querySelector(".lb-sort");
      const text = sortMark(sorted, descending);
      if (mark && mark.textContent !== text) mark.textContent = text;
    });
  }

  /** Every row as one HTML string: one parse instead of thousands of DOM calls per page. */
  private bodyHtml(view: TableView): string {
    if (view.rows.length === 0) {
      this.shown = [];
      this.tds = null;
      return `<tr class="lb-empty"><td colspan="${view.columns.length + 1}">No runs match.</td></tr>`;
    }
    const now = new Date();
    const cols = view.columns.map((col, index) => ({
      col,
      pinned: view.pinned.has(col.id),
      open: `<td${view.pinned.has(col.id) ? ` style="left:var(--lb-pin-${index + 1},0px)"` : ""} data-column="${esc(col.id)}"`,
    }));
    const out: string[] = [];
    this.shown = [];
    this.tds = null;
    for (const row of view.rows) {
      const shown: CellParts[] = [];
      this.shown.push(shown);
      const selected = view.selected.has(row.id);
      const cls = [selected ? "lb-selected" : "", view.active === row.id ? "lb-active" : ""].join(" ").trim();
      out.push(
        `<tr${cls ? ` class="${cls}"` : ""} data-testid="run-row" data-run-id="${esc(row.id)}" ` +
          `data-state="${esc(row.state ?? "")}" tabindex="0">` +
          `<td class="lb-check lb-pinned" style="left:var(--lb-pin-0,0px)"><input type="checkbox" ` +
          `aria-label="${esc(`Select ${row.name}`)}"${selected ? " checked" : ""}></td>`,
      );
      for (const { col, pinned, open } of cols) {
        const cell = cellParts(row, col, pinned, now);
        shown.push(cell);
        out.push(
          `${open}${cell.cls ? ` class="${cell.cls}"` : ""}` +
            `${cell.title !== undefined ? ` title="${esc(cell.title)}"` : ""}>` +
            `${cell.html ?? (cell.span ? spanHtml(cell.span) : esc(cell.text ?? ""))}</td>`,
        );
      }
      out.push("</tr>");
    }
    return out.join("");
  }

  /** Same columns and as many rows as on screen: rewrite only the text and attributes that
   * changed, keeping every element (the browser then re-lays out far less than for new rows).
   * Rows in view are written now; the others right after the next paint, so a new order or
   * page shows after laying out about half the cells. */
  private patchBody(view: TableView, bodyKey: string): boolean {
    const trs = this.tbody.rows;
    if (!this.bodyKey || this.bodyKey !== bodyKey || trs.length !== view.rows.length) return false;
    if (this.shown.length !== trs.length || this.shown.some((cells) => cells.length !== view.columns.length)) return false;
    const tds = (this.tds ??= [...trs].map((tr) => [...tr.cells].slice(1)));
    if (tds.some((cells) => cells.length !== view.columns.length)) return false;
    const now = new Date();
    const [first, end] = this.rowsInView(view.rows.length);
    for (let r = first; r < end; r++) this.patchRow(r, view, now);
    if (first > 0 || end < view.rows.length) {
      this.cancelRest = afterPaint(() => {
        this.cancelRest = null;
        // The same page (a selection may have changed since: draw what is current).
        const current = this.view;
        if (current?.rows !== view.rows) return;
        for (let r = 0; r < current.rows.length; r++) if (r < first || r >= end) this.patchRow(r, current, now);
      }, 1, 100);
    }
    return true;
  }

  /** Rows `[first, end)` that show in the scroll area, with two more on each side. */
  private rowsInView(count: number): [number, number] {
    const { top, height, rowHeight } = this.viewport;
    if (rowHeight <= 0 || height <= 0) return [0, count];
    const first = Math.max(0, Math.floor(top / rowHeight) - 2);
    return [Math.min(first, count), Math.min(count, Math.ceil((top + height) / rowHeight) + 2)];
  }

  private patchRow(r: number, view: TableView, now: Date): void {
    const row = view.rows[r] as Row;
    const tr = this.tbody.rows[r] as HTMLTableRowElement;
    const selected = view.selected.has(row.id);
    const cls = [selected ? "lb-selected" : "", view.active === row.id ? "lb-active" : ""].join(" ").trim();
    if (tr.className !== cls) tr.className = cls;
    if (tr.dataset.runId !== row.id) tr.dataset.runId = row.id;
    if (tr.dataset.state !== (row.state ?? "")) tr.dataset.state = row.state ?? "";
    const box = tr.cells[0]?.firstElementChild;
    if (box instanceof HTMLInputElement) {
      box.checked = selected;
      const label = `Select ${row.name}`;
      if (box.getAttribute("aria-label") !== label) box.setAttribute("aria-label", label);
    }
    const cells = this.tds?.[r] as HTMLTableCellElement[];
    const shown = this.shown[r] as CellParts[];
    view.columns.forEach((col, i) => {
      const cell = cellParts(row, col, view.pinned.has(col.id), now);
      patchCell(cells[i] as HTMLTableCellElement, shown[i] as CellParts, cell);
      shown[i] = cell;
    });
  }

  private syncSelectAll(): void {
    const all = this.thead.querySelector<HTMLInputElement>("input[type=checkbox]");
    if (!all || !this.view) return;
    const ids = this.view.rows.map((r) => r.id);
    const count = ids.filter((id) => this.view?.selected.has(id)).length;
    all.checked = ids.length > 0 && count === ids.length;
    all.indeterminate = count > 0 && count < ids.length;
  }

  /** After the browser laid out a new page (in the next frame, when it lays out anyway):
   * give pinned columns their sticky `left` offsets, as CSS variables on the table so a new
   * page costs no style writes per cell; hold every column at the widest it has been, so
   * the next page or order cannot narrow it (a column that changes width lays out every row
   * again: ~20 ms for a page here, against well under 1 ms when only text changes); and note
   * the scroll area and a row's height. Everything is read before anything is written. */
  private pin(): void {
    if (this.pinFrame) return;
    this.pinFrame = requestAnimationFrame(() => {
      this.pinFrame = 0;
      const headCells = [...(this.thead.rows[0]?.cells ?? [])];
      const widths = headCells.map((cell) => cell.getBoundingClientRect().width);
      const row = this.tbody.rows[0];
      this.viewport = {
        top: this.el.scrollTop,
        height: this.el.clientHeight,
        rowHeight: row && this.bodyKey ? row.getBoundingClientRect().height : this.viewport.rowHeight,
      };
      let left = 0;
      const offsets: number[] = [];
      headCells.forEach((cell, i) => {
        if (cell.classList.contains("lb-pinned")) {
          offsets[i] = left;
          left += widths[i] ?? 0;
        }
        const width = Math.ceil(widths[i] ?? 0);
        if (i > 0 && width > (this.widths[i] ?? 0)) {
          this.widths[i] = width;
          cell.style.width = `${width}px`;
        }
      });
      offsets.forEach((offset, i) => {
        if (this.offsets[i] !== offset) this.table.style.setProperty(`--lb-pin-${i}`, `${offset}px`);
      });
      this.offsets = offsets;
    });
  }
}

function sortMark(sorted: boolean, descending: boolean): string {
  return sorted ? (descending ? "▼" : "▲") : "";
}
