/**
 * The search box: parses as you type (the message under the box says where the text fails),
 * shows how many runs the text would match, and applies it on Enter. Filters set from
 * Python arrive as text through `setText`.
 */
import { h } from "../dom";
import { type Rpc, isCancelled } from "../rpc";
import { describeError } from "../status";
import { formatCount } from "./format";
import { deepEqual } from "../equal";
import { type Filter, type KeyContext, parseQuery } from "./query";

const COUNT_DELAY_MS = 300;

export const SYNTAX_HELP = [
  "lr>=0.01 optimizer:adam state:finished tag:baseline",
  "terms side by side must all match; OR, NOT (or -term) and ( ) combine them",
  "operators  :  =  !=  >  >=  <  <=  ~ (regex)  !~",
  "state:running,crashed matches any of a list; bare words search the run name",
  'config.x / summary.x pick a side; {"config.lr": 0.1} is a raw MongoDB filter',
].join("\n");

export interface SearchEvents {
  apply(text: string, filter: Filter): void;
}

export class SearchBox {
  readonly el: HTMLElement;
  private readonly input: HTMLInputElement;
  private readonly message: HTMLElement;
  private applied = "";
  private appliedFilter: Filter = {};
  private keys: KeyContext = {};
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly rpc: Rpc,
    private readonly events: SearchEvents,
  ) {
    this.input = h("input", {
      class: "lb-input lb-search-input",
      testid: "search",
      attrs: {
        type: "text",
        spellcheck: "false",
        autocomplete: "off",
        placeholder: "Filter runs: lr>=0.01 state:finished tag:baseline",
        "aria-label": "Filter runs",
      },
      on: {
        input: () => this.onInput(),
        keydown: (e) => this.onKey(e as KeyboardEvent),
      },
    });
    this.message = h("div", { class: "lb-search-message", testid: "search-message", attrs: { "aria-live": "polite" } });
    const clear = h("button", {
      class: "lb-icon lb-search-clear",
      testid: "search-clear",
      text: "✕",
      title: "Clear the filter",
      attrs: { "aria-label": "Clear the filter" },
      on: {
        click: () => {
          this.input.value = "";
          this.apply();
        },
      },
    });
    const help = h("span", { class: "lb-help", text: "?", title: SYNTAX_HELP, attrs: { "aria-label": SYNTAX_HELP } });
    this.el = h(
      "div",
      { class: "lb-search" },
      h("div", { class: "lb-search-row" }, this.input, clear, help),
      this.message,
    );
  }

  /** Show text that was applied elsewhere (Python, or the initial state). */
  setText(text: string, filter: Filter): void {
    this.applied = text;
    this.appliedFilter = filter;
    if (document.activeElement !== this.input || this.input.value === "") {
      this.input.value = text;
      this.showState();
    }
  }

  /** The project's keys arrived: bare keys like `loss` can now resolve to summary metrics. */
  setKeys(keys: KeyContext): void {
    this.keys = keys;
  }

  /** Ask for the live count again (after a refresh). */
  recount(): void {
    this.onInput();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private onKey(e: KeyboardEvent): void {
    if (e.key === "Enter") {
      e.preventDefault();
      this.apply();
    } else if (e.key === "Escape") {
      this.input.value = this.applied;
      this.showState();
    }
  }

  private apply(): void {
    const text = this.input.value;
    const result = parseQuery(text, this.keys);
    if (!result.ok) {
      this.showError(text, result.error.message, result.error.start);
      return;
    }
    clearTimeout(this.timer);
    this.rpc.cancelKey("count");
    this.applied = text;
    this.appliedFilter = result.filter;
    this.showState();
    this.events.apply(text.trim(), result.filter);
  }

  private onInput(): void {
    clearTimeout(this.timer);
    this.rpc.cancelKey("count");
    const text = this.input.value;
    const result = parseQuery(text, this.keys);
    if (!result.ok) {
      this.showError(text, result.error.message, result.error.start);
      return;
    }
    if (deepEqual(result.filter, this.appliedFilter)) {
      this.showState();
      return;
    }
    this.markValid();
    this.setMessage("pending", "Counting…  ↵ to apply");
    const filter = result.filter;
    this.timer = setTimeout(() => {
      this.rpc
        .request<{ total: number }>("count", { filters: filter }, { key: "count", timeout: 15_000 })
        .then(({ total }) => {
          const noun = total === 1 ? "run matches" : "runs match";
          this.setMessage("count", `${formatCount(total)} ${noun}  ·  ↵ to apply, Esc to undo`);
        })
        .catch((err: unknown) => {
          if (!isCancelled(err)) this.setMessage("error", describeError(err));
        });
    }, COUNT_DELAY_MS);
  }

  private showState(): void {
    this.markValid();
    this.setMessage("idle", "");
  }

  /** Text that parses again is no longer shown as wrong (it was, after a parse error). */
  private markValid(): void {
    this.input.classList.remove("lb-invalid");
    this.input.removeAttribute("aria-invalid");
  }

  private showError(text: string, message: string, start: number): void {
    this.input.classList.add("lb-invalid");
    this.input.setAttribute("aria-invalid", "true");
    const where = text.trim() ? ` (at column ${start + 1})` : "";
    this.setMessage("error", `${message}${where}`);
  }

  private setMessage(kind: "idle" | "pending" | "count" | "error", text: string): void {
    this.message.dataset.kind = kind;
    this.message.textContent = text;
  }
}
