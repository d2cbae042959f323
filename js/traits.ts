/**
 * Trait changes made by a view, sent to the kernel once the browser has painted.
 *
 * A click changes traits (`order`, `offset`) and asks for rows at once; syncing the traits is
 * a message the kernel handles and echoes, and the browser handles its replies too, so it
 * waits until the new rows are on screen (several changes in one frame go together). Until
 * then the values are "unsent", and ipywidgets does not protect them: it applies the kernel's
 * echo of an earlier sync over them. `restored` notices such a change and puts the view's
 * value back, so the user's newer click wins.
 */
import { afterPaint } from "./dom";

/** The part of anywidget's model used here. */
export interface TraitModel<T> {
  get<K extends keyof T>(name: K): T[K];
  set<K extends keyof T>(name: K, value: T[K]): void;
  save_changes(): void;
}

/** Runs `fn` later and returns a canceller (`afterPaint` in the browser). */
export type Scheduler = (fn: () => void) => () => void;

export class TraitWriter<T> {
  private readonly unsent = new Map<keyof T, unknown>();
  private cancel: (() => void) | null = null;

  constructor(
    private readonly model: TraitModel<T>,
    private readonly equal: (a: unknown, b: unknown) => boolean,
    private readonly schedule: Scheduler = (fn) => afterPaint(fn),
  ) {}

  /** Set a trait now; it reaches the kernel after the next paint. */
  set<K extends keyof T>(name: K, value: T[K]): void {
    this.unsent.set(name, value);
    this.model.set(name, value);
    this.cancel ??= this.schedule(() => this.flush());
  }

  /** Send what is unsent now (also when the view closes: the last change is the kernel's). */
  flush(): void {
    if (!this.cancel) return;
    this.cancel();
    this.cancel = null;
    this.unsent.clear();
    this.model.save_changes();
  }

  /** Call first in a `change:name` handler: true when the change contradicted an unsent value
   * (an echo of an older sync), which is then set again (and the handler runs once more). */
  restored<K extends keyof T>(name: K): boolean {
    if (!this.unsent.has(name)) return false;
    const mine = this.unsent.get(name) as T[K];
    if (this.equal(this.model.get(name), mine)) return false;
    this.model.set(name, mine);
    return true;
  }
}
