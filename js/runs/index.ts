/**
 * `liberry.widgets.Runs`: the run table (front end of `liberry_widgets/runs/widget.py`).
 *
 * The traits hold what the user controls (filters, order, columns, page, selection); the
 * rows come page by page through the shared RPC channel (`paging.ts`), so a project of any
 * size costs one page at a time. The first page the kernel served is kept in `_snapshot`,
 * painted at once, and stays on screen when no kernel answers (a saved notebook, an HTML
 * export).
 */
import type { RenderProps } from "@anywidget/types";
import { afterPaint, h } from "../dom";
import { deepEqual } from "../equal";
import { isCancelled } from "../rpc";
import { describeError } from "../status";
import { type BaseTraits, WidgetView } from "../widget";
import { type ProjectKeys, ColumnChooser, arrange, moveColumn, nextOrder } from "./columns";
import { DetailPanel } from "./detail";
import { Footer } from "./footer";
import { formatRelative } from "./format";
import { type PageQuery, type PageReply, REVALIDATE_AFTER_MS, RunPages, type Snapshot, pageTiming, pagesAhead, samePage } from "./paging";
import type { Filter } from "./query";
import { SearchBox } from "./search";
import { RunTable } from "./table";
import "./styles.css";

/** The synced traits (`Runs` in liberry_widgets/runs/widget.py). */
export interface RunsTraits extends BaseTraits {
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
  _snapshot: Partial<Snapshot>;
}

/** The table dims only when its rows take longer than this to come. */
const DIM_AFTER_MS = 200;

function render(props: RenderProps<RunsTraits>): () => void {
  const { model } = props;
  const view = new WidgetView<RunsTraits>(props, { name: "runs", onTheme: () => detail.retheme() });
  const { rpc, traits, status, root } = view;
  // Trait changes reach the kernel after the rows they ask for are painted (traits.ts).
  const set = <K extends keyof RunsTraits>(name: K, value: RunsTraits[K]): void => traits.set(name, value);
  const restored = (name: keyof RunsTraits): boolean => traits.restored(name);

  let current: PageReply | null = null;
  let live = false;
  let keys: ProjectKeys | null = null;
  let loadSeq = 0;
  const pages = new RunPages(rpc);
  const limit = (): number => model.get("per_page");

  // -- parts ------------------------------------------------------------------------------

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
  const detail = new DetailPanel(rpc, () => view.theme, () => closeDetail());
  const closeDetail = (): void => {
    detail.close();
    table.setActive(null);
    body.classList.remove("lb-with-detail");
  };
  const footer = new Footer({
    offset: () => model.get("offset"),
    limit,
    go: (offset) => setOffset(offset),
    resize(size) {
      set("per_page", size);
      set("offset", Math.floor(model.get("offset") / size) * size);
    },
    clearSelection: () => set("selected", []),
  });

  const columnsButton = h("button", {
    class: "lb-btn",
    testid: "columns-button",
    text: "Columns",
    title: "Show, hide, reorder and pin columns",
    attrs: { "aria-haspopup": "dialog" },
    on: { click: () => chooser.toggle() },
  });
  const refreshButton = view.refreshButton("refresh", "⟳ Refresh", "Reload from the server (keeps the page and the selection)", () => void refresh());
  const autoBox = h("input", {
    testid: "auto-refresh",
    attrs: { type: "checkbox" },
    on: { change: (e) => set("auto_refresh", (e.target as HTMLInputElement).checked) },
  });
  const autoLabel = h(
    "label",
    { class: "lb-auto", title: "Reload every few seconds while a run on this page is running" },
    autoBox,
    "auto-refresh",
  );
  const body = h("div", { class: "lb-body" }, table.el, detail.el);

  // Close the chooser on a click elsewhere (composedPath sees through marimo's shadow DOM).
  const onDocClick = (e: MouseEvent): void => {
    if (!chooser.open) return;
    const path = e.composedPath();
    if (!path.includes(chooser.el) && !path.includes(columnsButton)) chooser.toggle(false);
  };
  document.addEventListener("mousedown", onDocClick);
  view.onDispose(() => document.removeEventListener("mousedown", onDocClick));
  view.onDispose(() => {
    search.dispose();
    detail.dispose();
  });

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
    footer.showPage({ offset: current.offset, shown: current.rows.length, total: current.total });
    footer.showSelection(model.get("selected").length);
    chooser.update({ columns: visibleColumns(), pinned, keys });
  }

  function drawControls(): void {
    footer.setLimit(model.get("per_page"));
    autoBox.checked = model.get("auto_refresh");
  }

  // -- loading ----------------------------------------------------------------------------

  function pageQuery(): PageQuery {
    return { filters: model.get("filters"), order: model.get("order"), columns: model.get("columns") };
  }

  function setOffset(offset: number): void {
    set("offset", Math.max(0, Math.min(offset, footer.lastOffset())));
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
      const ahead = pagesAhead(reply);
      for (const next of ahead.now) pages.prefetch(query, next);
      status.idle();
      draw();
      view.setState("ready");
      // Where this page's time went (benchmarks read it; layout and paint come after).
      root.dataset.timing = JSON.stringify(pageTiming(reply, instant, asked, answered, performance.now()));
      if (reply.rows.length === 0 && reply.total > 0 && reply.offset > 0) {
        setOffset(footer.lastOffset()); // the filter shrank the list below this page
        return;
      }
      afterPaint(() => {
        for (const next of ahead.afterPaint) pages.prefetch(query, next);
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
        const saved = new Error(`${describeError(err)} Showing the snapshot saved ${formatRelative(taken ?? "")}.`);
        view.fail(saved, () => void load(), "snapshot");
      } else {
        view.fail(err, () => void load());
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
    pages.refresh();
    if (!quiet) void loadKeys();
    const id = detail.openId;
    if (id && !quiet) void detail.open(id);
    return load(quiet);
  }

  const scheduleAuto = view.autoRefresh({
    enabled: () => model.get("auto_refresh"),
    interval: () => model.get("refresh_interval"),
    due: () => current?.rows.some((r) => r.state === "running") ?? false,
    reload: () => refresh(true),
  });

  // -- wiring -----------------------------------------------------------------------------

  for (const name of ["filters", "order", "offset", "per_page", "columns"] as const) {
    view.on(`change:${name}`, () => {
      if (!restored(name)) scheduleLoad();
    });
  }
  view.on("change:pinned", () => {
    if (!restored("pinned")) draw();
  });
  view.on("change:selected", () => {
    if (restored("selected")) return;
    table.updateSelection(new Set(model.get("selected")));
    footer.showSelection(model.get("selected").length);
  });
  view.on("change:query", () => {
    if (!restored("query")) search.setText(model.get("query"), model.get("filters"));
  });
  view.on("change:per_page", drawControls);
  view.on("change:auto_refresh", () => {
    if (restored("auto_refresh")) return;
    drawControls();
    scheduleAuto();
  });
  view.on("change:refresh_interval", scheduleAuto);
  view.onRefresh(() => void refresh());

  view.mount(
    h(
      "div",
      { class: "lb-toolbar" },
      search.el,
      h("div", { class: "lb-tools" }, columnsButton, refreshButton, autoLabel),
      chooser.el,
    ),
    status.el,
    body,
    footer.el,
  );
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
    view.setState("snapshot");
  }
  void load();
  void loadKeys();
  scheduleAuto();

  return () => view.dispose();
}

export default { render };
