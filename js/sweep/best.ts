/**
 * The best runs: the top N of the selection by the sweep's metric and goal, as a table.
 * A click on a row picks the run (its line is emphasised in the plots); a double-click opens
 * it (the kernel's `open`: the `opened` trait and `on_open` callbacks in Python).
 */
import { h } from "../dom";
import { formatCount, formatNumber } from "../runs/format";
import type { SweepData } from "./data";

export interface BestEvents {
  pick(index: number): void;
  open(index: number): void;
}

/** A parameter's value in run i as text ("" where it has none). */
export function cellText(data: SweepData, axis: number, i: number): string {
  const a = data.axes[axis];
  const v = a?.values[i] ?? NaN;
  if (!a) return "";
  if (!Number.isFinite(v)) return "";
  return a.kind === "category" ? (a.categories[v] ?? "") : formatNumber(v);
}

export class BestTable {
  readonly el: HTMLElement;
  private readonly caption = h("div", { class: "lb-panel-note", testid: "best-caption" });
  private readonly table = h("table", { class: "lb-table lb-best-table" });
  private picked = -1;

  constructor(private readonly events: BestEvents) {
    this.el = h(
      "section",
      { class: "lb-panel lb-best", testid: "best" },
      h("div", { class: "lb-panel-head" }, h("h3", { class: "lb-panel-title", text: "Best runs" }), this.caption),
      h("div", { class: "lb-best-wrap" }, this.table),
    );
  }

  /** Draw `rows` (run indices, best first) of `selected` runs. */
  render(data: SweepData, rows: number[], selected: number): void {
    const metric = data.metric.name ?? "metric";
    const arrow = data.metric.goal === "maximize" ? "↓ highest first" : "↑ lowest first";
    this.caption.textContent = `top ${rows.length} of ${formatCount(selected)} runs by ${metric} (${arrow})`;
    const head = h(
      "tr",
      {},
      h("th", { text: "#" }),
      h("th", { text: "name" }),
      h("th", { text: "state" }),
      h("th", { class: "lb-num", text: metric }),
      ...data.axes.map((a) => h("th", { class: a.kind === "category" ? "" : "lb-num", text: a.key, title: a.key })),
    );
    const body = rows.map((i, rank) => {
      const state = data.stateNames[data.states[i] ?? -1] ?? "";
      const tr = h(
        "tr",
        {
          class: "lb-best-row",
          testid: "best-row",
          title: "Click to show its line; double-click to open the run",
          attrs: { tabindex: 0 },
          on: {
            click: () => this.pick(i),
            dblclick: () => this.events.open(i),
            keydown: (e) => {
              if ((e as KeyboardEvent).key === "Enter") this.events.open(i);
            },
          },
        },
        h("td", { class: "lb-num", text: String(rank + 1) }),
        h("td", { class: "lb-name", testid: "best-name", text: data.names[i] }),
        h("td", {}, h("span", { class: `lb-badge lb-state-${state}`, text: state })),
        h("td", { class: "lb-num", testid: "best-metric", text: formatNumber(data.metric.values[i] ?? NaN) }),
        ...data.axes.map((a, j) => h("td", { class: a.kind === "category" ? "" : "lb-num", text: cellText(data, j, i) })),
      );
      tr.dataset.runId = data.ids[i];
      tr.dataset.index = String(i);
      tr.classList.toggle("lb-active", i === this.picked);
      return tr;
    });
    const empty = rows.length
      ? []
      : [h("tr", {}, h("td", { class: "lb-empty", attrs: { colspan: 4 + data.axes.length }, text: "No run in the selection has logged the metric." }))];
    this.table.replaceChildren(h("thead", {}, head), h("tbody", {}, ...body, ...empty));
  }

  private pick(i: number): void {
    this.picked = this.picked === i ? -1 : i;
    for (const tr of this.table.querySelectorAll<HTMLElement>("tr[data-index]")) {
      tr.classList.toggle("lb-active", tr.dataset.index === String(this.picked));
    }
    this.events.pick(this.picked);
  }
}
