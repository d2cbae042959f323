/**
 * The run table's footer: which rows are shown of how many, the selection count with its
 * "clear", the pager buttons and the page size.
 */
import { h } from "../dom";
import { formatCount, formatRange } from "./format";

export const PAGE_SIZES = [25, 50, 100, 200];

export interface FooterActions {
  /** The offset and page size the traits ask for (they move on a click, before the page
   * they ask for arrives, so rapid clicks go on from the last one). */
  offset(): number;
  limit(): number;
  /** Go to this row offset (the caller clamps it). */
  go(offset: number): void;
  /** Show `size` rows per page. */
  resize(size: number): void;
  clearSelection(): void;
}

/** What the footer needs to know about the page on screen. */
export interface FooterPage {
  offset: number;
  shown: number;
  total: number;
}

export class Footer {
  readonly el: HTMLElement;
  private readonly range = h("span", { class: "lb-range", testid: "range" });
  private readonly selection = h("span", { class: "lb-selection", testid: "selection" });
  private readonly first: HTMLButtonElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly last: HTMLButtonElement;
  private readonly sizeSelect: HTMLSelectElement;
  private total = 0;

  constructor(private readonly actions: FooterActions) {
    const button = (text: string, testid: string, title: string, go: () => number): HTMLButtonElement =>
      h("button", {
        class: "lb-btn lb-page-btn",
        testid,
        text,
        title,
        attrs: { "aria-label": title },
        on: { click: () => actions.go(go()) },
      });
    this.first = button("«", "page-first", "First page", () => 0);
    this.prev = button("‹", "page-prev", "Previous page", () => actions.offset() - actions.limit());
    this.next = button("›", "page-next", "Next page", () => actions.offset() + actions.limit());
    this.last = button("»", "page-last", "Last page", () => this.lastOffset());
    this.sizeSelect = h("select", {
      class: "lb-select",
      testid: "page-size",
      attrs: { "aria-label": "Runs per page" },
      on: { change: () => actions.resize(Number(this.sizeSelect.value)) },
    });
    this.el = h(
      "div",
      { class: "lb-footer" },
      this.range,
      this.selection,
      h("span", { class: "lb-pager" }, this.first, this.prev, this.next, this.last, this.sizeSelect, " per page"),
    );
  }

  /** The offset of the last page of the list on screen. */
  lastOffset(): number {
    const limit = this.actions.limit();
    return Math.max(0, Math.floor((this.total - 1) / limit) * limit);
  }

  /** The page on screen: the range text and which pager buttons work. */
  showPage(page: FooterPage): void {
    this.total = page.total;
    this.range.textContent = formatRange(page.offset, page.shown, page.total);
    this.range.dataset.total = String(page.total);
    this.range.dataset.offset = String(page.offset);
    this.first.disabled = this.prev.disabled = page.offset <= 0;
    this.next.disabled = this.last.disabled = page.offset + this.actions.limit() >= page.total;
  }

  /** The page size the traits ask for (kept even before the page with it arrives). */
  setLimit(limit: number): void {
    const sizes = PAGE_SIZES.includes(limit) ? PAGE_SIZES : [...PAGE_SIZES, limit].sort((a, b) => a - b);
    this.sizeSelect.replaceChildren(
      ...sizes.map((n) => h("option", { text: String(n), attrs: { value: n, selected: n === limit } })),
    );
  }

  /** "N selected · clear", or nothing. */
  showSelection(count: number): void {
    this.selection.replaceChildren();
    if (count === 0) return;
    this.selection.append(
      `${formatCount(count)} selected `,
      h("button", { class: "lb-link", testid: "selection-clear", text: "clear", on: { click: () => this.actions.clearSelection() } }),
    );
  }
}
