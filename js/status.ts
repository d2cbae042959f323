/**
 * The line under a widget's toolbar that says what is going on: loading (only when it takes
 * long enough to notice), still waiting for a busy kernel, or what went wrong with a Retry.
 * Never a spinner with no way out.
 */
import { h, replace } from "./dom";
import { RpcError, isCancelled } from "./rpc";

const SHOW_LOADING_AFTER_MS = 250;
const SAY_BUSY_AFTER_MS = 4000;

export type StatusKind = "idle" | "loading" | "busy" | "error" | "info";

export class StatusLine {
  readonly el: HTMLElement;
  private timers: ReturnType<typeof setTimeout>[] = [];

  constructor(testid = "status") {
    this.el = h("div", { class: "lb-status", testid, attrs: { role: "status", "aria-live": "polite" } });
    this.set("idle");
  }

  /** Show "Loading…" if the work is not done soon, then say the kernel may be busy. */
  loading(what = "Loading"): void {
    this.clearTimers();
    this.timers.push(
      setTimeout(() => this.set("loading", `${what}…`), SHOW_LOADING_AFTER_MS),
      setTimeout(
        () => this.set("busy", `${what}… still waiting for the kernel (is a cell running?)`),
        SAY_BUSY_AFTER_MS,
      ),
    );
  }

  idle(): void {
    this.clearTimers();
    this.set("idle");
  }

  info(message: string): void {
    this.clearTimers();
    this.set("info", message);
  }

  /** Report a failure; cancellations (superseded requests) are not failures and clear it. */
  error(err: unknown, retry?: () => void): void {
    this.clearTimers();
    if (isCancelled(err)) {
      this.set("idle");
      return;
    }
    const button = retry
      ? h("button", { class: "lb-btn lb-retry", testid: "retry", text: "Retry", on: { click: () => retry() } })
      : null;
    this.set("error", describeError(err), button);
  }

  dispose(): void {
    this.clearTimers();
  }

  private set(kind: StatusKind, message = "", extra: HTMLElement | null = null): void {
    this.el.dataset.kind = kind;
    replace(this.el, message ? h("span", { class: "lb-status-text", text: message }) : null, extra);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}

/** One sentence for the user. */
export function describeError(err: unknown): string {
  if (err instanceof RpcError) return err.message;
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}
