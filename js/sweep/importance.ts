/**
 * Parameter importance as a sorted bar list (the kernel computes it, `importance.py`): per
 * parameter the random forest's importance (a share, bars to scale with the largest) and the
 * correlation with the metric (a diverging bar: left negative, right positive; categorical
 * parameters have an unsigned correlation ratio). All DOM, so the numbers read as text.
 */
import { h } from "../dom";
import { formatNumber } from "../runs/format";

export interface ImportanceItem {
  name: string;
  importance: number | null;
  correlation: number | null;
}

/** Where a correlation's bar sits in a track centred on 0: left offset and width, in %. */
export function correlationBar(c: number | null): { left: number; width: number } {
  if (c === null || !Number.isFinite(c)) return { left: 50, width: 0 };
  const w = Math.min(1, Math.abs(c)) * 50;
  return c < 0 ? { left: 50 - w, width: w } : { left: 50, width: w };
}

/** Importance as a percentage with one decimal, "–" when the forest had too few runs. */
export function formatShare(share: number | null): string {
  return share === null || !Number.isFinite(share) ? "–" : `${(share * 100).toFixed(1)}%`;
}

export class ImportancePanel {
  readonly el: HTMLElement;
  private readonly scope = h("div", { class: "lb-imp-scope", testid: "importance-scope" });
  private readonly list = h("div", { class: "lb-imp-list", testid: "importance-list", attrs: { role: "list" } });

  constructor() {
    this.el = h(
      "section",
      { class: "lb-panel lb-imp", testid: "importance" },
      h(
        "div",
        { class: "lb-panel-head" },
        h("h3", { class: "lb-panel-title", text: "Parameter importance" }),
        this.scope,
      ),
      h(
        "div",
        { class: "lb-imp-row lb-imp-header", attrs: { "aria-hidden": "true" } },
        h("span", { text: "parameter" }),
        h("span", { text: "importance" }),
        h("span", { text: "correlation" }),
      ),
      this.list,
    );
  }

  /** Draw the bars; `scope` says which runs they are about. */
  render(items: ImportanceItem[], scope: string, metric: string | null): void {
    this.scope.textContent = scope;
    this.el.dataset.state = "ready";
    if (!items.length) {
      this.list.replaceChildren(
        h("div", {
          class: "lb-empty",
          testid: "importance-empty",
          text: metric ? `Needs runs that logged ${metric}.` : "Needs a metric.",
        }),
      );
      return;
    }
    const top = Math.max(1e-12, ...items.map((i) => i.importance ?? 0));
    this.list.replaceChildren(
      ...items.map((item) => {
        const share = item.importance ?? 0;
        const corr = correlationBar(item.correlation);
        const row = h(
          "div",
          { class: "lb-imp-row", testid: "importance-row", attrs: { role: "listitem" } },
          h("span", { class: "lb-imp-name", testid: "importance-name", text: item.name, title: item.name }),
          h(
            "span",
            { class: "lb-imp-cell" },
            h("span", { class: "lb-bar-track" }, h("span", { class: "lb-bar", style: { width: `${(share / top) * 100}%` } })),
            h("span", { class: "lb-num", testid: "importance-value", text: formatShare(item.importance) }),
          ),
          h(
            "span",
            { class: "lb-imp-cell" },
            h(
              "span",
              { class: "lb-bar-track lb-diverging" },
              h("span", {
                class: `lb-bar ${item.correlation !== null && item.correlation < 0 ? "lb-neg" : "lb-pos"}`,
                style: { left: `${corr.left}%`, width: `${corr.width}%` },
              }),
            ),
            h("span", {
              class: "lb-num",
              testid: "correlation-value",
              text: item.correlation === null ? "–" : formatNumber(Number(item.correlation.toFixed(3))),
            }),
          ),
        );
        row.dataset.name = item.name;
        return row;
      }),
    );
  }

  /** Dim the bars while the kernel recomputes them for a new selection. */
  pending(scope: string): void {
    this.el.dataset.state = "loading";
    this.scope.textContent = scope;
  }
}
