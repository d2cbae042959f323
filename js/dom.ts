/**
 * A few DOM helpers shared by the widgets: element creation without a framework (keeps the
 * bundles small), and a root marker tests can wait on.
 */

type Child = Node | string | number | null | undefined | false;
type Listener = (event: Event) => void;

export interface Props {
  class?: string;
  /** `data-testid`, the stable handle browser tests use. */
  testid?: string;
  title?: string;
  text?: string;
  style?: Partial<CSSStyleDeclaration>;
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: Record<string, Listener>;
}

/** `h("button", {class: "lb-btn", on: {click}}, "Refresh")` */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.title) el.title = props.title;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.style) Object.assign(el.style, props.style);
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? "" : String(value));
  }
  for (const [name, listener] of Object.entries(props.on ?? {})) el.addEventListener(name, listener);
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** Lifecycle of a widget root, for users (styling) and tests (`data-state`, `data-ready`). */
export type ViewState = "loading" | "ready" | "error" | "snapshot";

export function setViewState(root: HTMLElement, state: ViewState): void {
  root.dataset.state = state;
  if (state !== "loading") root.dataset.ready = "true";
}

/** Run `fn` once the browser has painted what the current task changed and has nothing
 * more urgent to do (the next animation frame, then an idle moment, at most `idleMs` later),
 * or after `fallbackMs` when no frame comes (a hidden tab draws none). Work the user does not
 * see (trait syncs, prefetches) then never delays the rows on screen. Returns a canceller. */
export function afterPaint(fn: () => void, idleMs = 50, fallbackMs = 200): () => void {
  let idle: number | undefined;
  let task: ReturnType<typeof setTimeout> | undefined;
  const cancel = (): void => {
    cancelAnimationFrame(frame);
    if (idle !== undefined) cancelIdleCallback(idle);
    clearTimeout(task);
    clearTimeout(fallback);
  };
  const run = (): void => {
    cancel();
    fn();
  };
  const frame = requestAnimationFrame(() => {
    if (typeof requestIdleCallback === "function") idle = requestIdleCallback(run, { timeout: idleMs });
    else task = setTimeout(run, 0); // Safari has no idle callbacks
  });
  const fallback = setTimeout(run, fallbackMs);
  return cancel;
}
