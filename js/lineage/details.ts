/**
 * The details panel beside the graph: what the kernel says about the clicked node (an
 * artifact's metadata, aliases, file count; a run's state and config summary).
 */
import { h, replace } from "../dom";
import { describeError } from "../status";

/** A `details` reply (`Lineage._handle_details` in lineage.py). */
export interface Details {
  id: string;
  kind: "artifact" | "run";
  title: string;
  path: string;
  /** Label -> value rows, in order. */
  facts: [string, string][];
  aliases?: string[];
  /** Flattened metadata (artifacts) or config (runs), at most a few dozen keys. */
  entries?: [string, string][];
  entries_title?: string;
  /** More keys than `entries` holds. */
  more?: number;
}

export class DetailsPanel {
  readonly el: HTMLElement;
  private openId: string | null = null;

  constructor(private readonly onClose: () => void) {
    this.el = h("aside", { class: "lb-lineage-details", testid: "lineage-details", attrs: { hidden: true } });
  }

  get shown(): string | null {
    return this.openId;
  }

  loading(id: string, label: string): void {
    this.openId = id;
    this.el.hidden = false;
    this.el.dataset.state = "loading";
    replace(this.el, this.header(label), h("p", { class: "lb-muted", text: "Loading…" }));
  }

  show(details: Details): void {
    if (details.id !== this.openId) return; // another node was clicked since
    this.el.dataset.state = "ready";
    const facts = h("dl", { class: "lb-lineage-facts", testid: "lineage-facts" });
    for (const [label, value] of details.facts) facts.append(h("dt", { text: label }), h("dd", { text: value }));
    const aliases = details.aliases?.length
      ? h(
          "div",
          { class: "lb-lineage-aliases", testid: "lineage-aliases" },
          ...details.aliases.map((a) => h("span", { class: "lb-chip", text: a })),
        )
      : null;
    let entries: HTMLElement | null = null;
    if (details.entries?.length) {
      entries = h("dl", { class: "lb-lineage-entries", testid: "lineage-entries" });
      for (const [key, value] of details.entries) entries.append(h("dt", { text: key }), h("dd", { text: value }));
    }
    replace(
      this.el,
      this.header(details.title),
      h("div", { class: "lb-muted lb-lineage-path", text: details.path }),
      aliases,
      facts,
      entries ? h("h4", { text: details.entries_title ?? "" }) : null,
      entries,
      details.more ? h("p", { class: "lb-muted", text: `… and ${details.more} more` }) : null,
    );
  }

  error(id: string, err: unknown): void {
    if (id !== this.openId) return;
    this.el.dataset.state = "error";
    this.el.append(h("p", { class: "lb-error", text: describeError(err) }));
  }

  close(): void {
    this.openId = null;
    this.el.hidden = true;
    replace(this.el);
  }

  private header(title: string): HTMLElement {
    return h(
      "div",
      { class: "lb-lineage-details-head" },
      h("strong", { text: title, testid: "lineage-details-title" }),
      h("button", {
        class: "lb-btn lb-lineage-close",
        testid: "lineage-details-close",
        title: "Close",
        text: "×",
        on: { click: () => this.onClose() },
      }),
    );
  }
}
