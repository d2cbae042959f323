/**
 * The panel a row click opens: the run's fields, config and summary, and a line chart of the
 * metrics the user picks (from the sampled history; the kernel builds it with Altair).
 */
import { renderChart } from "../chart";
import { h, replace } from "../dom";
import { type Rpc, isCancelled } from "../rpc";
import { StatusLine } from "../status";
import type { Theme } from "../theme";
import { formatDate, formatRelative, formatValue, parseTime } from "./format";
import type { Row } from "./columns";
import { stateBadge } from "./cells";

/** One run in full, as the kernel's `detail` reply sends it: a table row's fields and more. */
export interface RunDetail extends Omit<Row, "values"> {
  url: string | null;
  config: Record<string, unknown>;
  summary: Record<string, unknown>;
  metrics: string[];
  history_rows: number;
}

interface ChartReply {
  spec: object | null;
  metrics: string[];
  points: number;
}

const DEFAULT_METRICS = 3;

export class DetailPanel {
  readonly el: HTMLElement;
  private readonly status = new StatusLine("detail-status");
  private readonly content: HTMLElement;
  private runId: string | null = null;
  private detail: RunDetail | null = null;
  private metrics: string[] = [];
  private x = "_step";
  private freeChart: (() => void) | null = null;
  private chartBox: HTMLElement | null = null;
  private chartStatus: StatusLine | null = null;
  private lastSpec: object | null = null;

  constructor(
    private readonly rpc: Rpc,
    private readonly theme: () => Theme,
    private readonly onClose: () => void,
  ) {
    this.content = h("div", { class: "lb-detail-content" });
    this.el = h(
      "aside",
      { class: "lb-detail", testid: "detail", attrs: { "aria-label": "Run details" } },
      h("button", {
        class: "lb-icon lb-detail-close",
        testid: "detail-close",
        text: "✕",
        title: "Close",
        attrs: { "aria-label": "Close the run details" },
        on: { click: () => this.onClose() },
      }),
      this.status.el,
      this.content,
    );
    this.el.hidden = true;
  }

  get openId(): string | null {
    return this.runId;
  }

  async open(runId: string): Promise<void> {
    if (this.runId !== runId) this.metrics = [];
    this.runId = runId;
    this.el.hidden = false;
    this.el.dataset.runId = runId;
    this.el.dataset.state = "loading";
    this.status.loading("Loading the run");
    try {
      const detail = await this.rpc.request<RunDetail>("run", { id: runId }, { key: "detail" });
      if (this.runId !== runId) return;
      this.status.idle();
      this.detail = detail;
      if (this.metrics.length === 0) this.metrics = detail.metrics.slice(0, DEFAULT_METRICS);
      this.draw(detail);
      this.el.dataset.state = "ready";
      void this.loadChart();
    } catch (err) {
      if (this.runId !== runId || isCancelled(err)) return;
      this.el.dataset.state = "error";
      this.status.error(err, () => void this.open(runId));
    }
  }

  close(): void {
    this.rpc.cancelKey("detail");
    this.rpc.cancelKey("chart");
    this.runId = null;
    this.detail = null;
    this.el.hidden = true;
    this.dropChart();
    replace(this.content);
  }

  /** Redraw the chart in the new theme's colours. */
  retheme(): void {
    if (this.lastSpec && this.chartBox) void this.drawChart(this.lastSpec);
  }

  dispose(): void {
    this.dropChart();
    this.status.dispose();
    this.chartStatus?.dispose();
  }

  private draw(d: RunDetail): void {
    const created = parseTime(d.created_at);
    const fields: [string, Node | string | null][] = [
      ["ID", h("code", { text: d.id })],
      ["State", stateBadge(d.state)],
      ["Created", created ? `${formatDate(created)} (${formatRelative(d.created_at)})` : ""],
      ["Heartbeat", d.heartbeat_at ? formatRelative(d.heartbeat_at) : ""],
      ["Group", d.group],
      ["Job type", d.job_type],
      ["Sweep", d.sweep],
      ["Tags", d.tags.length ? h("span", {}, ...d.tags.map((t) => h("span", { class: "lb-tag", text: t }))) : null],
      ["Notes", d.notes],
      ["History", `${d.history_rows.toLocaleString("en-US")} rows`],
    ];
    const dl = h("dl", { class: "lb-fields" });
    for (const [label, value] of fields) {
      if (value === null || value === "") continue;
      dl.append(h("dt", { text: label }), h("dd", {}, value));
    }

    this.chartBox = h("div", { class: "lb-chart", testid: "detail-chart" });
    this.chartStatus?.dispose();
    this.chartStatus = new StatusLine("chart-status");
    const xSelect = h(
      "select",
      {
        class: "lb-select",
        testid: "chart-x",
        attrs: { "aria-label": "x axis" },
        on: {
          change: (e) => {
            this.x = (e.target as HTMLSelectElement).value;
            void this.loadChart();
          },
        },
      },
      ...[
        ["_step", "step"],
        ["_runtime", "runtime"],
        ["_timestamp", "time"],
      ].map(([value, label]) => h("option", { text: label, attrs: { value, selected: value === this.x } })),
    );
    const picker = h("div", { class: "lb-metric-picker", testid: "metric-picker" });
    for (const metric of d.metrics) {
      picker.append(
        h(
          "label",
          { class: "lb-chip" },
          h("input", {
            attrs: { type: "checkbox", checked: this.metrics.includes(metric), "data-metric": metric },
            on: {
              change: (e) => {
                const on = (e.target as HTMLInputElement).checked;
                this.metrics = on ? [...this.metrics, metric] : this.metrics.filter((m) => m !== metric);
                void this.loadChart();
              },
            },
          }),
          metric,
        ),
      );
    }

    replace(
      this.content,
      h("h3", { class: "lb-detail-title", testid: "detail-title", text: d.name || d.id }),
      dl,
      h(
        "section",
        { class: "lb-detail-chart" },
        h("div", { class: "lb-detail-chart-head" }, h("h4", { text: "History" }), xSelect),
        d.metrics.length ? picker : h("p", { class: "lb-muted", text: "No numeric metrics in the history yet." }),
        this.chartStatus.el,
        this.chartBox,
      ),
      kvSection("Config", d.config, "detail-config"),
      kvSection("Summary", d.summary, "detail-summary"),
    );
  }

  private async loadChart(): Promise<void> {
    const runId = this.runId;
    const status = this.chartStatus;
    if (!runId || !this.chartBox || !status) return;
    if (this.metrics.length === 0) {
      this.dropChart();
      status.info("Pick metrics to plot.");
      return;
    }
    status.loading("Loading the chart");
    try {
      const reply = await this.rpc.request<ChartReply>(
        "chart",
        { id: runId, metrics: this.metrics, x: this.x, samples: 500 },
        { key: "chart", timeout: 60_000 },
      );
      if (this.runId !== runId) return;
      if (!reply.spec || reply.points === 0) {
        this.dropChart();
        status.info("No history for these metrics yet.");
        return;
      }
      await this.drawChart(reply.spec);
      status.idle();
    } catch (err) {
      if (this.runId === runId) status.error(err, () => void this.loadChart());
    }
  }

  private async drawChart(spec: object): Promise<void> {
    const box = this.chartBox;
    if (!box) return;
    this.lastSpec = spec;
    // Draw in place: a "container"-wide chart measures its parent, which must be on the page.
    const target = h("div", { class: "lb-chart-inner" });
    this.freeChart?.();
    this.freeChart = null;
    replace(box, target);
    delete box.dataset.ready;
    const free = await renderChart(this.rpc, target, spec, this.theme());
    if (this.chartBox !== box || !target.isConnected) {
      free();
      return;
    }
    this.freeChart = free;
    box.dataset.ready = "true";
  }

  private dropChart(): void {
    this.freeChart?.();
    this.freeChart = null;
    this.lastSpec = null;
    if (this.chartBox) {
      replace(this.chartBox);
      delete this.chartBox.dataset.ready;
    }
  }
}

function kvSection(title: string, values: Record<string, unknown>, testid: string): HTMLElement {
  const entries = Object.entries(values);
  const table = h("table", { class: "lb-kv" });
  for (const [key, value] of entries) {
    const text = formatValue(value, key);
    table.append(
      h(
        "tr",
        {},
        h("th", { text: key, title: key }),
        h("td", { class: typeof value === "number" ? "lb-num" : "", text, title: text.length > 40 ? text : "" }),
      ),
    );
  }
  return h(
    "details",
    { class: "lb-detail-section", testid, attrs: { open: true } },
    h("summary", { text: `${title} (${entries.length})` }),
    entries.length ? table : h("p", { class: "lb-muted", text: "empty" }),
  );
}
