/**
 * Trait changes made by a view, sent to the kernel once the rows they ask for are painted.
 *
 * A click changes traits (`order`, `offset`) and asks for rows at once; syncing the traits is
 * a message the kernel handles and echoes (and, in Jupyter, a busy/idle pair that the page
 * redraws its status for), so it waits until the answer is on screen: the view `hold`s the
 * writer while a page is on its way, and the changes go after the next paint once nothing
 * holds them (several changes go together). Until then the values are "unsent", and ipywidgets
 * does not protect them: it applies the kernel's echo of an earlier sync over them.
 * `restored` notices such a change and puts the view's value back, so the user's newer click
 * wins.
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

/** A hold never keeps changes from the kernel longer than this (a page that takes long). */
export const MAX_HOLD_MS = 1000;

export class TraitWriter<T> {
  private readonly unsent = new Map<keyof T, unknown>();
  private cancel: (() => void) | null = null;
  private holds = 0;

  constructor(
    private readonly model: TraitModel<T>,
    private readonly equal: (a: unknown, b: unknown) => boolean,
    private readonly schedule: Scheduler = (fn) => afterPaint(fn),
    private readonly timer: Scheduler = (fn) => {
      const id = setTimeout(fn, MAX_HOLD_MS);
      return () => clearTimeout(id);
    },
  ) {}

  /** Set a trait now; it reaches the kernel after the next paint that nothing holds back. */
  set<K extends keyof T>(name: K, value: T[K]): void {
    this.unsent.set(name, value);
    this.model.set(name, value);
    if (this.holds === 0) this.later();
  }

  /** Keep changes back until the returned release is called (or `MAX_HOLD_MS` passed): for
   * the time a page the changes asked for is on its way. */
  hold(): () => void {
    this.holds += 1;
    this.cancel?.(); // a paint before the rows arrive (the header's sort arrow) is too early
    this.cancel = null;
    let released = false;
    const stopTimer = this.timer(() => release());
    const release = (): void => {
      if (released) return;
      released = true;
      stopTimer();
      this.holds -= 1;
      if (this.holds === 0 && this.unsent.size > 0) this.later();
    };
    return release;
  }

  /** Send what is unsent now (also when the view closes: the last change is the kernel's). */
  flush(): void {
    this.cancel?.();
    this.cancel = null;
    if (this.unsent.size === 0) return;
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

  private later(): void {
    this.cancel ??= this.schedule(() => {
      this.cancel = null;
      if (this.holds === 0) this.flush();
    });
  }
}
