/**
 * `liberry.widgets.Runs`: the run table (front end of `liberry_widgets/runs.py`).
 *
 * The traits hold what the user controls (filters, order, columns, page, selection); the
 * rows come page by page through the shared RPC channel, so a project of any size costs one
 * page at a time. The first page the kernel served is kept in `_snapshot`, painted at once,
 * and stays on screen when no kernel answers (a saved notebook, an HTML export).
 */
import type { RenderProps } from "@anywidget/types";
import { afterPaint, h, setViewState } from "../dom";
import { PageCache, type PageRequest } from "../pages";
import { Rpc, isCancelled } from "../rpc";
import { StatusLine, describeError } from "../status";
import { type Theme, followTheme } from "../theme";
import { TraitWriter } from "../traits";
import {
  type ProjectKeys,
  type Row,
  ColumnChooser,
  arrange,
  moveColumn,
  nextOrder,
} from "./columns";
import { DetailPanel } from "./detail";
import { formatCount, formatRange, formatRelative } from "./format";
import { deepEqual } from "../equal";
import type { Filter } from "./query";
import { SearchBox } from "./search";
import { RunTable } from "./table";
import "./styles.css";

/** The synced traits (`Runs` in runs.py). */
export interface RunsTraits {
  path: string;
  filters: Filter;
  order: string;
  columns: string[];
  pinned: string[];
  query: string;
  selected: string[];
  offset: number;
  per_page: number;
  auto_refresh: boolean;
  refresh_interval: number;
  _refresh: number;
  _snapshot: Partial<Snapshot>;
}

interface PageQuery {
  filters: Filter;
  order: string;
  columns: string[];
}

/** A `page` reply. */
export interface PageReply {
  rows: Row[];
  total: number;
  offset: number;
  limit: number;
  columns: string[];
  /** The kernel's own time for it: waiting for a handler thread, the Api's request to the
   * server, and the whole handler; when the request arrived and the reply left (epoch ms). */
  timing?: { api_ms: number; kernel_ms: number; queued_ms?: number; received_at?: number; sent_at?: number };
}

interface Snapshot extends PageReply {
  filters: Filter;
  order: string;
  taken_at: string;
}

const PAGE_SIZES = [25, 50, 100, 200];
/** A cached page older than this is painted at once, then fetched again quietly. */
const REVALIDATE_AFTER_MS = 10_000;
/** The table dims only when its rows take longer than this to come. */
const DIM_AFTER_MS = 200;

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** The round trip's two legs through Jupyter, for benchmarks (which run the kernel and the
 * browser on one machine, so on one clock). */
function legs(timing: PageReply["timing"], asked: number, answered: number): Record<string, number> {
  if (timing?.received_at === undefined || timing.sent_at === undefined) return {};
  return {
    to_kernel_ms: round(timing.received_at - (performance.timeOrigin + asked)),
    from_kernel_ms: round(performance.timeOrigin + answered - timing.sent_at),
  };
}

function samePage(a: PageReply, b: PageReply): boolean {
  return a.total === b.total && JSON.stringify(a.rows) === JSON.stringify(b.rows);
}

function render({ model, el }: RenderProps<RunsTraits>): () => void {
  const rpc = new Rpc(model);
  const cleanups: (() => void)[] = [];
  const on = (event: string, handler: () => void): void => {
    model.on(event, handler);
    cleanups.push(() => model.off(event as `change:${keyof RunsTraits & string}`, handler));
  };
  // Trait changes reach the kernel after the rows they ask for are painted (traits.ts).
  const traits = new TraitWriter<RunsTraits>(model, deepEqual);
  const set = <K extends keyof RunsTraits>(name: K, value: RunsTraits[K]): void => traits.set(name, value);
  const restored = (name: keyof RunsTraits): boolean => traits.restored(name);
  cleanups.push(() => traits.flush()); // the last change still belongs to the kernel

  let theme: Theme = "light";
  let current: PageReply | null = null;
  let live = false;
  let keys: ProjectKeys | null = null;
  let loadSeq = 0;

  // Set by a refresh: the next page request tells the kernel to drop its kept paging
  // cursors, which point into the listing as it was (a new run would shift every page).
  let fresh = false;
  const pages = new PageCache<PageQuery, PageReply>((query, page, purpose) => {
    const params = { ...query, offset: page.offset, limit: page.limit, ...(fresh ? { fresh } : {}) };
    fresh = false;
    return rpc.request<PageReply>("page", params, purpose === "load" ? { key: "page" } : { timeout: 60_000 });
  });

  // -- parts ------------------------------------------------------------------------------

  const status = new StatusLine("status");
  const search = new SearchBox(rpc, {
    apply(text, filter) {
      set("query", text);
      set("filters", filter);
      set("offset", 0);
    },
  });
  const chooser = new ColumnChooser({
    change(columns, pinned) {
      set("columns", columns);
      set("pinned", pinned);
    },
    reset() {
      set("columns", []);
      set("pinned", ["name"]);
    },
  });
  const table = new RunTable({
    sort(col) {
      const order = nextOrder(col, model.get("order"));
      if (order === null) return;
      set("order", order);
      set("offset", 0);
    },
    aim(col) {
      const order = nextOrder(col, model.get("order"));
      if (order !== null && live) pages.prefetch({ ...pageQuery(), order }, { offset: 0, limit: limit() });
    },
    select(ids, checked) {
      const selected = new Set(model.get("selected"));
      for (const id of ids) {
        if (checked) selected.add(id);
        else selected.delete(id);
      }
      set("selected", [...selected]);
    },
    open(id) {
      if (detail.openId === id) {
        closeDetail();
        return;
      }
      table.setActive(id);
      body.classList.add("lb-with-detail");
      void detail.open(id);
    },
    move(id, before) {
      set("columns", moveColumn(visibleColumns(), id, before));
    },
  });
  const detail = new DetailPanel(rpc, () => theme, () => closeDetail());
  const closeDetail = (): void => {
    detail.close();
    table.setActive(null);
    body.classList.remove("lb-with-detail");
  };

  const columnsButton = h("button", {
    class: "lb-btn",
    testid: "columns-button",
    text: "Columns",
    title: "Show, hide, reorder and pin columns",
    attrs: { "aria-haspopup": "dialog" },
    on: { click: () => chooser.toggle() },
  });
  const refreshButton = h("button", {
    class: "lb-btn",
    testid: "refresh",
    text: "⟳ Refresh",
    title: "Reload from the server (keeps the page and the selection)",
    on: { click: () => refresh() },
  });
  const autoBox = h("input", {
    testid: "auto-refresh",
    attrs: { type: "checkbox" },
    on: {
      change: (e) => {
        set("auto_refresh", (e.target as HTMLInputElement).checked);
      },
    },
  });
  const autoLabel = h(
    "label",
    { class: "lb-auto", title: "Reload every few seconds while a run on this page is running" },
    autoBox,
    "auto-refresh",
  );

  const range = h("span", { class: "lb-range", testid: "range" });
  const selection = h("span", { class: "lb-selection", testid: "selection" });
  const pageButton = (text: string, testid: string, title: string, go: () => number): HTMLButtonElement =>
    h("button", {
      class: "lb-btn lb-page-btn",
      testid,
      text,
      title,
      attrs: { "aria-label": title },
      on: { click: () => setOffset(go()) },
    });
  const limit = (): number => model.get("per_page");
  const total = (): number => current?.total ?? 0;
  const lastOffset = (): number => Math.max(0, Math.floor((total() - 1) / limit()) * limit());
  const first = pageButton("«", "page-first", "First page", () => 0);
  const prev = pageButton("‹", "page-prev", "Previous page", () => model.get("offset") - limit());
  const next = pageButton("›", "page-next", "Next page", () => model.get("offset") + limit());
  const last = pageButton("»", "page-last", "Last page", lastOffset);
  const sizeSelect = h(
    "select",
    {
      class: "lb-select",
      testid: "page-size",
      attrs: { "aria-label": "Runs per page" },
      on: {
        change: (e) => {
          const size = Number((e.target as HTMLSelectElement).value);
          set("per_page", size);
          set("offset", Math.floor(model.get("offset") / size) * size);
        },
      },
    },
  );

  const body = h("div", { class: "lb-body" }, table.el, detail.el);
  const root = h(
    "div",
    { class: "lb-root lb-runs", testid: "liberry-runs" },
    h(
      "div",
      { class: "lb-toolbar" },
      search.el,
      h("div", { class: "lb-tools" }, columnsButton, refreshButton, autoLabel),
      chooser.el,
    ),
    status.el,
    body,
    h(
      "div",
      { class: "lb-footer" },
      range,
      selection,
      h("span", { class: "lb-pager" }, first, prev, next, last, sizeSelect, " per page"),
    ),
  );
  root.dataset.state = "loading";
  cleanups.push(followTheme(root, (t) => {
    theme = t;
    detail.retheme();
  }));
  theme = (root.dataset.theme as Theme | undefined) ?? "light";

  // Close the chooser on a click elsewhere (composedPath sees through marimo's shadow DOM).
  const onDocClick = (e: MouseEvent): void => {
    if (!chooser.open) return;
    const path = e.composedPath();
    if (!path.includes(chooser.el) && !path.includes(columnsButton)) chooser.toggle(false);
  };
  document.addEventListener("mousedown", onDocClick);
  cleanups.push(() => document.removeEventListener("mousedown", onDocClick));

  // -- drawing ----------------------------------------------------------------------------

  function visibleColumns(): string[] {
    const wanted = model.get("columns");
    const have = current?.columns ?? [];
    return wanted.length && wanted.every((id) => have.includes(id)) ? wanted : have;
  }

  function draw(): void {
    if (!current) return;
    const pinned = model.get("pinned");
    table.render({
      rows: current.rows,
      columns: arrange(visibleColumns(), pinned),
      pinned: new Set(pinned),
      order: model.get("order"),
      selected: new Set(model.get("selected")),
      active: detail.openId,
    });
    range.textContent = formatRange(current.offset, current.rows.length, current.total);
    range.dataset.total = String(current.total);
    range.dataset.offset = String(current.offset);
    const offset = current.offset;
    first.disabled = prev.disabled = offset <= 0;
    next.disabled = last.disabled = offset + limit() >= current.total;
    drawSelection();
    chooser.update({ columns: visibleColumns(), pinned, keys });
  }

  function drawSelection(): void {
    const count = model.get("selected").length;
    selection.replaceChildren();
    if (count === 0) return;
    selection.append(
      `${formatCount(count)} selected `,
      h("button", {
        class: "lb-link",
        testid: "selection-clear",
        text: "clear",
        on: {
          click: () => {
            set("selected", []);
          },
        },
      }),
    );
  }

  function drawControls(): void {
    const size = model.get("per_page");
    const sizes = PAGE_SIZES.includes(size) ? PAGE_SIZES : [...PAGE_SIZES, size].sort((a, b) => a - b);
    sizeSelect.replaceChildren(
      ...sizes.map((n) => h("option", { text: String(n), attrs: { value: n, selected: n === size } })),
    );
    autoBox.checked = model.get("auto_refresh");
  }

  // -- loading ----------------------------------------------------------------------------

  function pageQuery(): PageQuery {
    return { filters: model.get("filters"), order: model.get("order"), columns: model.get("columns") };
  }

  function setOffset(offset: number): void {
    set("offset", Math.max(0, Math.min(offset, lastOffset())));
  }

  /** True when what is on screen already answers the traits (e.g. the kernel just adopted
   * the default columns it sent, or columns were only hidden or reordered). */
  function screenIsCurrent(): boolean {
    if (!current || !live) return false;
    const wanted = model.get("columns");
    return (
      deepEqual(model.get("filters"), shownQuery?.filters) &&
      model.get("order") === shownQuery?.order &&
      model.get("offset") === current.offset &&
      model.get("per_page") === current.limit &&
      wanted.every((id) => current?.columns.includes(id))
    );
  }

  let shownQuery: PageQuery | null = null;
  let scheduled = false;
  function scheduleLoad(): void {
    // Several traits often change together (filters + query + offset): load once.
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      if (screenIsCurrent()) draw();
      else void load();
    });
  }

  async function load(quiet = false): Promise<void> {
    const seq = ++loadSeq;
    const query = pageQuery();
    const page = { offset: model.get("offset"), limit: model.get("per_page") };
    const instant = pages.has(query, page);
    let dim: ReturnType<typeof setTimeout> | undefined;
    // The traits that asked for this page reach the kernel once it is painted (traits.ts).
    const release = instant ? null : traits.hold();
    if (!instant && !quiet) {
      status.loading("Loading runs");
      root.classList.add("lb-loading");
      dim = setTimeout(() => root.classList.add("lb-dim"), DIM_AFTER_MS);
    }
    try {
      const asked = performance.now();
      const reply = await pages.load(query, page);
      if (seq !== loadSeq) return;
      const answered = performance.now();
      current = reply;
      shownQuery = query;
      live = true;
      // While paging, the next page is asked for before drawing (a click on "next" may
      // follow as soon as the rows show); after a new order or filter, once the rows are
      // painted (the kernel and the server would otherwise compete with the first paint for
      // the CPU). While paging, the one after it and the previous one (after a jump, going
      // back is never cached) once the rows are painted.
      const ahead = (n: number): PageRequest => ({ offset: reply.offset + n * reply.limit, limit: reply.limit });
      const paging = reply.offset > 0;
      if (paging && ahead(1).offset < reply.total && reply.rows.length > 0) pages.prefetch(query, ahead(1));
      status.idle();
      draw();
      setViewState(root, "ready");
      // Where this page's time went (benchmarks read it; layout and paint come after).
      root.dataset.timing = JSON.stringify({
        source: instant ? "cache" : "kernel",
        asked_at: round(asked), // performance.now() in this page, as the bench's click time
        wait_ms: round(answered - asked),
        draw_ms: round(performance.now() - answered),
        ...(instant ? {} : { ...reply.timing, ...legs(reply.timing, asked, answered) }),
      });
      if (reply.rows.length === 0 && reply.total > 0 && reply.offset > 0) {
        setOffset(lastOffset()); // the filter shrank the list below this page
        return;
      }
      afterPaint(() => {
        if (!paging && ahead(1).offset < reply.total && reply.rows.length > 0) pages.prefetch(query, ahead(1));
        // After a new order or filter, one page ahead is enough until the user turns a page:
        // each prefetch is a kernel and a server request that shares the machine with the
        // next click.
        if (paging && ahead(2).offset < reply.total) pages.prefetch(query, ahead(2));
        if (reply.offset > 0) pages.prefetch(query, { offset: Math.max(0, reply.offset - reply.limit), limit: reply.limit });
      });
      // A page painted from the cache that is no longer fresh (an order shown a while ago):
      // ask again quietly and redraw only when the rows changed.
      if (instant && (pages.age(query, page) ?? 0) > REVALIDATE_AFTER_MS) {
        void pages.revalidate(query, page).then(
          (again) => {
            if (seq !== loadSeq || current !== reply || samePage(again, reply)) return;
            current = again;
            draw();
          },
          () => undefined,
        );
      }
    } catch (err) {
      if (seq !== loadSeq || isCancelled(err)) return;
      if (current && !live) {
        const taken = model.get("_snapshot").taken_at;
        status.error(
          new Error(`${describeError(err)} Showing the snapshot saved ${formatRelative(taken ?? "")}.`),
          () => void load(),
        );
        setViewState(root, "snapshot");
      } else {
        status.error(err, () => void load());
        setViewState(root, "error");
      }
    } finally {
      release?.();
      clearTimeout(dim);
      if (seq === loadSeq) root.classList.remove("lb-loading", "lb-dim");
    }
  }

  async function loadKeys(): Promise<void> {
    try {
      keys = await rpc.request<ProjectKeys>("keys", {}, { key: "keys" });
      search.setKeys(keys);
      chooser.update({ columns: visibleColumns(), pinned: model.get("pinned"), keys });
    } catch (err) {
      if (!isCancelled(err) && live) status.error(err, () => void loadKeys());
    }
  }

  function refresh(quiet = false): Promise<void> {
    pages.clear();
    fresh = true;
    if (!quiet) void loadKeys();
    const id = detail.openId;
    if (id && !quiet) void detail.open(id);
    return load(quiet);
  }

  // -- auto-refresh -----------------------------------------------------------------------

  let autoTimer: ReturnType<typeof setTimeout> | undefined;
  function scheduleAuto(): void {
    clearTimeout(autoTimer);
    if (!model.get("auto_refresh")) return;
    const seconds = Math.max(2, model.get("refresh_interval") || 10);
    autoTimer = setTimeout(() => {
      const running = current?.rows.some((r) => r.state === "running") ?? false;
      if (running && rpc.inFlight === 0) void refresh(true).finally(scheduleAuto);
      else scheduleAuto();
    }, seconds * 1000);
  }
  cleanups.push(() => clearTimeout(autoTimer));

  // -- wiring -----------------------------------------------------------------------------

  for (const name of ["filters", "order", "offset", "per_page", "columns"] as const) {
    on(`change:${name}`, () => {
      if (!restored(name)) scheduleLoad();
    });
  }
  on("change:pinned", () => {
    if (!restored("pinned")) draw();
  });
  on("change:selected", () => {
    if (restored("selected")) return;
    table.updateSelection(new Set(model.get("selected")));
    drawSelection();
  });
  on("change:query", () => {
    if (!restored("query")) search.setText(model.get("query"), model.get("filters"));
  });
  on("change:per_page", drawControls);
  on("change:auto_refresh", () => {
    if (restored("auto_refresh")) return;
    drawControls();
    scheduleAuto();
  });
  on("change:refresh_interval", scheduleAuto);
  on("change:_refresh", () => void refresh());

  el.append(root);
  drawControls();
  search.setText(model.get("query"), model.get("filters"));

  // Paint the kernel's snapshot at once when it shows what the traits ask for.
  const snapshot = model.get("_snapshot");
  if (
    Array.isArray(snapshot.rows) &&
    model.get("offset") === 0 &&
    deepEqual(snapshot.filters ?? {}, model.get("filters")) &&
    snapshot.order === model.get("order")
  ) {
    current = snapshot as Snapshot;
    draw();
    setViewState(root, "snapshot");
  }
  void load();
  void loadKeys();
  scheduleAuto();

  return () => {
    for (const cleanup of cleanups) cleanup();
    rpc.dispose();
    status.dispose();
    search.dispose();
    detail.dispose();
    root.remove();
  };
}

export default { render };
