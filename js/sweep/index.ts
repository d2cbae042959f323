/**
 * `liberry.widgets.Sweep`: the sweep explorer (front end of `liberry_widgets/sweep.py`).
 *
 * Every run of the sweep arrives at once as columns in one binary buffer (the `_data` trait,
 * `data.ts`), so brushing, the best-runs table and the scatter are computed here, frame by
 * frame, with no kernel round trip. The kernel is asked only for what needs Python: the
 * importance of a brushed selection (one request when a drag ends), a reload, and a
 * double-clicked run. The brushes and the selected run ids go back as traits once the
 * importance they asked for is painted (`traits.ts`): one message per user action.
 */
import type { RenderProps } from "@anywidget/types";
import { h } from "../dom";
import { deepEqual } from "../equal";
import { isCancelled } from "../rpc";
import { formatCount } from "../runs/format";
import { type BaseTraits, WidgetView } from "../widget";
import { BestTable } from "./best";
import {
  type BrushValue,
  type Brushes,
  type Column,
  anyBrush,
  countSelected,
  maskToBase64,
  sameBrushes,
  selectionMask,
  topRuns,
} from "./brush";
import { metricBuckets } from "./color";
import { type BinaryLike, type SweepData, decode, emptyData, extent } from "./data";
import { type ImportanceItem, ImportancePanel } from "./importance";
import { type ParallelAxis, ParallelPlot } from "./parallel";
import { axisScale, linearScale } from "./scales";
import { ScatterPlot } from "./scatter";
import { cellText } from "./best";
import "./styles.css";

/** The synced traits (`Sweep` in sweep.py). */
export interface SweepTraits extends BaseTraits {
  _data: BinaryLike;
  info: SweepInfo;
  error: string;
  notice: string;
  importance: ImportanceItem[];
  brushes: Brushes;
  selected: string[];
  opened: string;
  top_n: number;
  auto_refresh: boolean;
  refresh_interval: number;
}

interface SweepInfo {
  path?: string;
  name?: string;
  state?: string | null;
  method?: string | null;
  metric?: string | null;
  goal?: string | null;
  url?: string;
  runs?: number;
  expected_runs?: number | null;
}

interface ImportanceReply {
  importance: ImportanceItem[];
  count: number;
  version: number;
}

interface OpenReply {
  path: string;
  url: string;
}

function render(props: RenderProps<SweepTraits>): () => void {
  const { model } = props;
  const view = new WidgetView<SweepTraits>(props, {
    name: "sweep",
    onTheme: () => {
      parallel.retheme();
      scatter.retheme();
    },
  });
  const { rpc, traits, status, root } = view;
  const on = view.on.bind(view);

  let data: SweepData = emptyData();
  let columns: Column[] = [];
  let brushes: Brushes = { ...model.get("brushes") };
  let mask: Uint8Array | null = null;
  let picked = -1;

  // -- parts ------------------------------------------------------------------------------

  const title = h("h2", { class: "lb-sweep-title", testid: "sweep-name" });
  const stateBadge = h("span", { class: "lb-badge", testid: "sweep-state" });
  const meta = h("span", { class: "lb-sweep-meta", testid: "sweep-meta" });
  const refreshButton = view.refreshButton("refresh", "⟳ Refresh", "Fetch the sweep's runs again", () => void refresh(false));
  const autoBox = h("input", {
    testid: "auto-refresh",
    attrs: { type: "checkbox" },
    on: { change: (e) => traits.set("auto_refresh", (e.target as HTMLInputElement).checked) },
  });
  const autoLabel = h(
    "label",
    { class: "lb-auto", title: "Reload every few seconds while the sweep is running" },
    autoBox,
    "follow",
  );
  const notice = h("div", { class: "lb-notice", testid: "notice", attrs: { role: "note", hidden: true } });
  const errorBox = h("div", { class: "lb-error-box", testid: "error", attrs: { role: "alert", hidden: true } });
  const selectionText = h("span", { testid: "selection" });
  const clearButton = h("button", {
    class: "lb-link",
    testid: "clear-brushes",
    text: "clear brushes",
    attrs: { hidden: true },
    on: { click: () => setBrushes({}, true) },
  });
  const opened = h("div", { class: "lb-opened", testid: "opened", attrs: { hidden: true } });

  const parallel = new ParallelPlot({
    brushing: (key, value) => setBrushes(withBrush(key, value), false),
    brushed: (key, value) => setBrushes(withBrush(key, value), true),
  });
  const importance = new ImportancePanel();
  const scatter = new ScatterPlot((i) => pick(i));
  const best = new BestTable({ pick: (i) => pick(i), open: (i) => void open(i) });

  const plots = h(
    "div",
    { class: "lb-sweep-body", testid: "sweep-body" },
    h("div", { class: "lb-selection-bar" }, selectionText, clearButton),
    parallel.el,
    h(
      "div",
      { class: "lb-sweep-grid" },
      importance.el,
      h(
        "section",
        { class: "lb-panel lb-over-time" },
        h("div", { class: "lb-panel-head" }, h("h3", { class: "lb-panel-title", text: "Metric over time" }),
          h("div", { class: "lb-panel-note", text: "each run by creation time; the line is the best so far" })),
        scatter.el,
      ),
    ),
    best.el,
    opened,
  );
  view.mount(
    h(
      "div",
      { class: "lb-toolbar" },
      h("div", { class: "lb-sweep-heading" }, title, stateBadge, meta),
      h("div", { class: "lb-tools" }, refreshButton, autoLabel),
    ),
    status.el,
    errorBox,
    notice,
    plots,
  );
  view.onDispose(() => {
    parallel.dispose();
    scatter.dispose();
  });

  // -- drawing ----------------------------------------------------------------------------

  function drawHeader(): void {
    const info = model.get("info");
    title.textContent = info.name || info.path || model.get("path");
    title.title = info.path ?? "";
    const state = (info.state ?? "").toLowerCase();
    stateBadge.textContent = state;
    stateBadge.className = `lb-badge lb-state-${state === "running" ? "running" : state === "finished" ? "finished" : "other"}`;
    stateBadge.hidden = !state;
    const parts: string[] = [];
    if (info.method) parts.push(info.method);
    if (info.metric) parts.push(`${info.goal === "maximize" ? "maximize" : "minimize"} ${info.metric}`);
    const runs = info.runs ?? data.n;
    parts.push(`${formatCount(runs)}${info.expected_runs ? ` of ${formatCount(info.expected_runs)}` : ""} runs`);
    meta.textContent = parts.join(" · ");
    autoBox.checked = model.get("auto_refresh");
    const err = model.get("error");
    errorBox.hidden = !err;
    errorBox.textContent = err;
    const note = model.get("notice");
    notice.hidden = !note;
    notice.textContent = note;
    plots.hidden = !!err && data.n === 0;
  }

  function applyData(): void {
    const started = performance.now();
    let decoded: SweepData | null;
    try {
      decoded = decode(model.get("_data"));
    } catch (err) {
      status.error(err);
      return;
    }
    data = decoded ?? emptyData();
    const metricName = data.metric.name;
    const metricRange = extent(data.metric.values);
    const axes: ParallelAxis[] = data.axes.map((a) => ({ key: a.key, label: a.key, scale: axisScale(a), values: a.values }));
    columns = data.axes.map((a) => ({ key: a.key, values: a.values, categories: a.categories }));
    if (metricName && metricRange) {
      axes.push({ key: metricName, label: metricName, scale: linearScale(metricRange), values: data.metric.values, metric: true });
      columns.push({ key: metricName, values: data.metric.values });
    }
    const buckets = metricBuckets(data.metric.values, metricRange, data.metric.goal);
    parallel.setData(axes, buckets, data.n);
    scatter.setData({
      names: data.names,
      created: data.created,
      metric: data.metric.values,
      metricName: metricName ?? "metric",
      goal: data.metric.goal,
      buckets,
      describe: (i) => data.axes.map((a, j) => `${a.key}: ${cellText(data, j, i)}`),
    });
    root.dataset.runs = String(data.n);
    root.dataset.version = String(data.version);
    drawHeader();
    select(brushes, true);
    parallel.drawNow();
    // How long the runs took from the buffer to lines on the canvas (benchmarks read it).
    root.dataset.applyMs = (performance.now() - started).toFixed(1);
  }

  /** Apply brushes: the mask, the plots, the count, the table; with `final`, the
   * importance and (when `sync`) the traits too. */
  function select(next: Brushes, final: boolean, sync = true): void {
    brushes = next;
    mask = anyBrush(columns, brushes) ? selectionMask(columns, brushes, data.n) : null;
    const count = mask ? countSelected(mask) : data.n;
    parallel.setSelection(mask, brushes, !final);
    selectionText.textContent = mask
      ? `${formatCount(count)} of ${formatCount(data.n)} runs in the brushes`
      : `${formatCount(data.n)} runs (drag along an axis to brush)`;
    selectionText.dataset.count = String(count);
    clearButton.hidden = !mask;
    // The count and the lines follow every frame of a drag; the table and the scatter (a
    // sort and 10,000 points) follow when it ends, so the drag keeps its frame rate.
    if (!final) return;
    scatter.setSelection(mask);
    best.render(data, topRuns(data.metric.values, data.metric.goal, model.get("top_n"), mask), count);
    const release = sync ? traits.hold() : null;
    if (sync) {
      if (!sameBrushes(brushes, model.get("brushes"))) traits.set("brushes", { ...brushes });
      const ids = mask ? data.ids.filter((_, i) => mask?.[i]) : [];
      if (!deepEqual(ids, model.get("selected"))) traits.set("selected", ids);
    }
    void drawImportance(count).finally(() => release?.());
  }

  function withBrush(key: string, value: BrushValue | null): Brushes {
    const next = { ...brushes };
    if (value === null) delete next[key];
    else next[key] = value;
    return next;
  }

  function setBrushes(next: Brushes, final: boolean): void {
    select(next, final);
  }

  let importanceSeq = 0;
  async function drawImportance(count: number): Promise<void> {
    const seq = ++importanceSeq;
    const metric = data.metric.name;
    if (!mask) {
      rpc.cancelKey("importance");
      const items = model.get("importance");
      const scope = `all ${formatCount(data.n)} runs`;
      // The kernel computes it after sending the runs (see sweep.py): it is on its way.
      if (!items.length && data.metric.logged > 0 && data.axes.length) importance.pending(`${scope}: computing…`);
      else importance.render(items, scope, metric);
      return;
    }
    const scope = `the ${formatCount(count)} brushed runs`;
    importance.pending(scope);
    try {
      const reply = await rpc.request<ImportanceReply>(
        "importance",
        { mask: maskToBase64(mask), version: data.version },
        { key: "importance", timeout: 60_000 },
      );
      if (seq !== importanceSeq) return;
      importance.render(reply.importance, scope, metric);
      status.idle();
    } catch (err) {
      if (seq !== importanceSeq || isCancelled(err)) return;
      status.error(err, () => void drawImportance(count));
    }
  }

  function pick(i: number): void {
    picked = picked === i ? -1 : i;
    parallel.setHighlight(picked);
  }

  async function open(i: number): Promise<void> {
    const id = data.ids[i];
    try {
      const reply = await rpc.request<OpenReply>("open", { id });
      opened.replaceChildren(
        "Opened ",
        h("code", { testid: "opened-path", text: reply.path }),
        ` (${data.names[i]}): widget.opened_run in Python · `,
        h("a", { text: "web page", attrs: { href: reply.url, target: "_blank", rel: "noopener" } }),
      );
    } catch (err) {
      // No kernel (a saved notebook): still say which run it is.
      opened.replaceChildren("Run ", h("code", { testid: "opened-path", text: `${model.get("info").path ?? ""} · ${id}` }));
      if (!isCancelled(err)) status.error(err);
    }
    opened.hidden = false;
  }

  // -- refresh ----------------------------------------------------------------------------

  async function refresh(auto: boolean): Promise<void> {
    if (!auto) status.loading("Refreshing");
    refreshButton.disabled = !auto;
    try {
      await rpc.request("refresh", auto ? { auto } : {}, { key: "refresh", timeout: 120_000 });
      status.idle();
    } catch (err) {
      if (!auto) status.error(err, () => void refresh(false));
    } finally {
      refreshButton.disabled = false;
    }
  }

  const scheduleAuto = view.autoRefresh({
    enabled: () => model.get("auto_refresh"),
    interval: () => model.get("refresh_interval"),
    // While the sweep runs and a view shows it.
    due: () => (model.get("info").state ?? "").toUpperCase() === "RUNNING" && root.isConnected && !document.hidden,
    reload: () => refresh(true),
  });

  // -- wiring -----------------------------------------------------------------------------

  on("change:_data", applyData);
  on("change:info", drawHeader);
  on("change:error", drawHeader);
  on("change:notice", drawHeader);
  on("change:importance", () => {
    if (!mask) void drawImportance(data.n);
  });
  on("change:brushes", () => {
    if (traits.restored("brushes")) return;
    const next = model.get("brushes");
    if (!sameBrushes(next, brushes)) select({ ...next }, true);
  });
  on("change:top_n", () => select(brushes, false));
  on("change:auto_refresh", () => {
    if (traits.restored("auto_refresh")) return;
    autoBox.checked = model.get("auto_refresh");
    scheduleAuto();
  });
  on("change:refresh_interval", scheduleAuto);

  parallel.retheme();
  scatter.retheme();
  applyData();
  view.setState(model.get("error") && data.n === 0 ? "error" : "ready");
  on("change:error", () => view.setState(model.get("error") && data.n === 0 ? "error" : "ready"));
  scheduleAuto();

  return () => view.dispose();
}

export default { render };
