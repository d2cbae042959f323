/**
 * Search: which nodes match the typed text (name, version, type, aliases, run id or name),
 * and the box in the toolbar. The view highlights the matches, expands the clusters that
 * hide them and pans to them.
 */
import { h } from "../dom";
import type { LineageGraph, LineageNode } from "./graph";

/** Ids of the nodes matching `text`: every space-separated word must occur (case-insensitive)
 * in the node's label, name, type or aliases. Empty text matches nothing. */
export function matchNodes(graph: LineageGraph, text: string): string[] {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  return graph.nodes.filter((n) => {
    const hay = haystack(n);
    return words.every((w) => hay.includes(w));
  }).map((n) => n.id);
}

function haystack(n: LineageNode): string {
  return [n.label, n.name, n.version, n.type, ...(n.aliases ?? [])]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
}

/** The search box: reports each change (debounced by the browser's input events only: the
 * match is local, so no request is made). */
export class SearchBox {
  readonly el: HTMLElement;
  readonly input: HTMLInputElement;
  private readonly count: HTMLElement;

  constructor(onChange: (text: string) => void, onSubmit: () => void) {
    this.input = h("input", {
      class: "lb-input lb-lineage-search",
      testid: "lineage-search",
      attrs: { type: "search", placeholder: "Search nodes…", "aria-label": "Search nodes", spellcheck: "false" },
      on: {
        input: () => onChange(this.input.value),
        keydown: (e) => {
          if ((e as KeyboardEvent).key === "Enter") onSubmit();
        },
      },
    });
    this.count = h("span", { class: "lb-muted", testid: "lineage-search-count" });
    this.el = h("label", { class: "lb-lineage-searchbox" }, this.input, this.count);
  }

  /** Show the number of matches (nothing for empty text). */
  setCount(text: string, found: number): void {
    this.count.textContent = text.trim() ? (found === 1 ? "1 match" : `${found} matches`) : "";
  }

  setText(text: string): void {
    if (this.input.value !== text) this.input.value = text;
  }
}
