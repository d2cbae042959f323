/**
 * The base every liberry widget view stands on (mirrors `LiberryWidget` in
 * `liberry_widgets/_base.py`): the RPC channel, trait writes after paint, the status line
 * that shows errors with a Retry, the root element that follows the host's theme, the
 * kernel's `refresh()`, an auto-refresh timer, and one teardown for all of it.
 *
 *   const view = new WidgetView(props, { name: "runs", onTheme: (t) => ... });
 *   view.on("change:order", load);
 *   view.mount(toolbar, view.status.el, body);   // into the page, theme followed from here
 *   return () => view.dispose();
 *
 * No secret ever reaches a view: the kernel keeps the `liberry.Api` and its key, and the
 * traits hold paths and what the user chose.
 */
import type { AnyModel, RenderProps } from "@anywidget/types";
import { h, setViewState, type ViewState } from "./dom";
import { deepEqual } from "./equal";
import { Rpc } from "./rpc";
import { StatusLine } from "./status";
import { type Theme, followTheme } from "./theme";
import { TraitWriter } from "./traits";

export interface WidgetOptions {
  /** The widget's name: the root's class `lb-<name>` and test id `liberry-<name>`. */
  name: string;
  /** Test id of the status line (`status` by default). */
  statusTestid?: string;
  /** Called on every switch between light and dark after `mount` (and once at it). */
  onTheme?: (theme: Theme) => void;
  /** How trait values compare (an echo of the view's own value is no change). */
  equal?: (a: unknown, b: unknown) => boolean;
}

/** Traits every widget has (`LiberryWidget` in _base.py). */
export interface BaseTraits {
  path: string;
  /** Bumped by the kernel's `refresh()`. */
  _refresh: number;
}

export class WidgetView<T extends BaseTraits> {
  readonly model: AnyModel<T>;
  readonly rpc: Rpc;
  /** Trait changes made here reach the kernel after the next paint nothing holds back. */
  readonly traits: TraitWriter<T>;
  readonly status: StatusLine;
  readonly root: HTMLElement;
  private readonly el: HTMLElement;
  private readonly options: WidgetOptions;
  private readonly cleanups: (() => void)[] = [];
  private disposed = false;

  constructor({ model, el }: RenderProps<T>, options: WidgetOptions) {
    this.model = model;
    this.el = el;
    this.options = options;
    this.rpc = new Rpc(model);
    this.traits = new TraitWriter<T>(model, options.equal ?? deepEqual);
    this.status = new StatusLine(options.statusTestid ?? "status");
    this.root = h("div", { class: `lb-root lb-${options.name}`, testid: `liberry-${options.name}` });
    this.root.dataset.state = "loading";
    // The last change still belongs to the kernel.
    this.cleanups.push(() => this.traits.flush());
  }

  /** The host's theme as last seen ("light" until `mount`). */
  get theme(): Theme {
    return (this.root.dataset.theme as Theme | undefined) ?? "light";
  }

  /** Listen to the model until the view is disposed. */
  on(event: `change:${keyof T & string}`, handler: () => void): void {
    this.model.on(event, handler);
    this.cleanups.push(() => this.model.off(event, handler));
  }

  /** Run `fn` when the view is disposed (timers, listeners on `document`, parts). */
  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }

  /** Call `reload` when the kernel's `refresh()` bumps `_refresh`. */
  onRefresh(reload: () => void): void {
    this.on("change:_refresh" as `change:${keyof T & string}`, reload);
  }

  /** Put `children` in the root, the root in the page, and start following the theme. */
  mount(...children: HTMLElement[]): void {
    this.root.append(...children);
    this.el.append(this.root);
    this.cleanups.push(followTheme(this.root, this.options.onTheme));
  }

  /** `data-state` for users' styles and tests: loading, ready, error, snapshot. */
  setState(state: ViewState): void {
    setViewState(this.root, state);
  }

  /** Show a failure in the status line (with Retry when given), and mark the root as failed
   * unless there is still something worth looking at. */
  fail(err: unknown, retry?: () => void, state: ViewState | null = "error"): void {
    this.status.error(err, retry);
    if (state) this.setState(state);
  }

  /** A "⟳ Refresh"-style toolbar button. */
  refreshButton(testid: string, text: string, title: string, click: () => void): HTMLButtonElement {
    return h("button", { class: "lb-btn", testid, text, title, on: { click: () => click() } });
  }

  /** Reload every `interval()` seconds (at least 2) while `enabled()`, when `due()` says the
   * data may change and no request is on its way. Returns the function that (re)starts the
   * timer: call it when the setting changes. */
  autoRefresh(options: AutoRefreshOptions): () => void {
    const timer = new AutoRefresh({ ...options, busy: () => this.disposed || this.rpc.inFlight > 0 });
    this.cleanups.push(() => timer.stop());
    return () => timer.schedule();
  }

  /** Stop everything this view started and take it out of the page; safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const cleanup of this.cleanups) cleanup();
    this.rpc.dispose();
    this.status.dispose();
    this.root.remove();
  }
}

export interface AutoRefreshOptions {
  /** The auto-refresh setting (a trait). */
  enabled: () => boolean;
  /** Seconds between reloads (a trait); at least 2, 10 when unset. */
  interval: () => number;
  /** True when the data may have changed (a run is running). */
  due: () => boolean;
  reload: () => Promise<void>;
}

/** The timer behind `WidgetView.autoRefresh`: one reload at a time, never while the view
 * waits for the kernel (`busy`), the next one counted from the end of the last. */
export class AutoRefresh {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(private readonly options: AutoRefreshOptions & { busy: () => boolean }) {}

  /** (Re)start the timer from now, or stop it when auto-refresh is off. */
  schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped || !this.options.enabled()) return;
    const seconds = Math.max(2, this.options.interval() || 10);
    this.timer = setTimeout(() => {
      if (this.options.due() && !this.options.busy()) void this.options.reload().finally(() => this.schedule());
      else this.schedule();
    }, seconds * 1000);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
