/**
 * Follow the host's light/dark theme, and pick the host's own colours.
 *
 * Each host marks its theme differently (checked in this order):
 *
 * - JupyterLab 4 and Notebook 7: `<body data-jp-theme-light="true|false">`, colours in `--jp-*`.
 * - VS Code (every webview, notebook outputs included): `<body data-vscode-theme-kind>` and
 *   the class `vscode-light`, `vscode-dark`, `vscode-high-contrast` or
 *   `vscode-high-contrast-light` (high-contrast light also keeps `vscode-high-contrast`),
 *   colours in `--vscode-*` on `<html style>`.
 * - Colab (the output frame): `<html theme="light|dark">`, `body.theme-light|theme-dark`,
 *   colours in `--colab-*`.
 * - marimo and other pages: a `dark`/`light` (or `dark-theme`, `data-theme`) marker on
 *   `<html>` or `<body>`; else the first opaque background behind the widget; else the
 *   browser's `prefers-color-scheme`.
 *
 * The stylesheet reads `--jp-*` first (see js/runs/styles.css). That is wrong outside
 * JupyterLab: ipywidgets' own stylesheet, which Colab's widget manager and VS Code's widget
 * renderer put in the page, defines light `--jp-layout-color0: white` and friends whatever the
 * host's theme, so a dark Colab would draw light text on white. So in VS Code and Colab this
 * module sets the widget's palette (`--lb-*`) inline on the root from the host's own variables,
 * with the stylesheet's light/dark fallbacks (`--lb-fb-*`, chosen by `data-theme`) behind them.
 */

export type Theme = "light" | "dark";

/** Which notebook front end the widget is in, as far as its page can tell. */
export type Host = "jupyter" | "vscode" | "colab" | "marimo" | "other";

/** The parts of `<html>`/`<body>` this module reads (a small surface, so tests can fake it). */
export interface MarkerElement {
  readonly className: string;
  getAttribute(name: string): string | null;
}

/** What the page says about its host and theme; `readMarkers()` collects it. */
export interface Markers {
  html: MarkerElement | null;
  body: MarkerElement | null;
  /** `window.google.colab` exists: Colab's output frames define it. */
  colab: boolean;
  /** The page is marimo's (`<marimo-*>` elements or marimo's globals). */
  marimo: boolean;
}

/** Attributes whose change can mean a theme switch (watched on `<html>` and `<body>`). */
export const WATCHED_ATTRIBUTES = [
  "class",
  "style",
  "theme",
  "data-theme",
  "data-jp-theme-light",
  "data-vscode-theme-kind",
];

const VSCODE_KINDS = new Map<string, Theme>([
  ["vscode-light", "light"],
  ["vscode-dark", "dark"],
  ["vscode-high-contrast", "dark"],
  ["vscode-high-contrast-light", "light"],
]);

function classes(el: MarkerElement | null): Set<string> {
  return new Set((el?.className ?? "").split(/\s+/).filter(Boolean));
}

function attr(el: MarkerElement | null, name: string): string | null {
  return el?.getAttribute(name) ?? null;
}

function asTheme(value: string | null | undefined): Theme | undefined {
  const v = value?.trim().toLowerCase();
  return v === "dark" || v === "light" ? v : undefined;
}

/** The host the markers point to. */
export function hostFromMarkers(m: Markers): Host {
  if (attr(m.body, "data-jp-theme-light") !== null) return "jupyter";
  const body = classes(m.body);
  if (attr(m.body, "data-vscode-theme-kind") !== null || [...body].some((c) => VSCODE_KINDS.has(c))) {
    return "vscode";
  }
  if (m.colab || asTheme(attr(m.html, "theme")) !== undefined) return "colab";
  if (m.marimo) return "marimo";
  return "other";
}

/** Light or dark from the host's markers; `undefined` when the page says nothing. */
export function themeFromMarkers(m: Markers): Theme | undefined {
  const jp = attr(m.body, "data-jp-theme-light"); // JupyterLab / Notebook 7
  if (jp === "true") return "light";
  if (jp === "false") return "dark";

  const body = classes(m.body);
  const kind = VSCODE_KINDS.get(attr(m.body, "data-vscode-theme-kind") ?? ""); // VS Code
  if (kind) return kind;
  // High-contrast light also carries `vscode-high-contrast` (for older webviews): check it first.
  for (const name of ["vscode-high-contrast-light", "vscode-light", "vscode-high-contrast", "vscode-dark"]) {
    if (body.has(name)) return VSCODE_KINDS.get(name);
  }

  const colab = asTheme(attr(m.html, "theme")); // Colab
  if (colab) return colab;
  if (body.has("theme-dark")) return "dark";
  if (body.has("theme-light")) return "light";

  // marimo and other pages: whole class names or data-theme on <html> or <body>.
  for (const el of [m.html, m.body]) {
    const named = asTheme(attr(el, "data-theme"));
    if (named) return named;
    const cls = classes(el);
    if (cls.has("dark") || cls.has("dark-theme")) return "dark";
    if (cls.has("light") || cls.has("light-theme")) return "light";
  }
  return undefined;
}

/**
 * The widget palette for hosts whose `--jp-*` variables cannot be trusted (see the top of
 * this file); empty for hosts where the stylesheet's own choice is right.
 */
export function hostPalette(host: Host): Record<string, string> {
  const fb = (name: string): string => `var(--lb-fb-${name})`;
  if (host === "vscode") {
    return {
      "--lb-bg": `var(--vscode-editor-background, ${fb("bg")})`,
      "--lb-bg-alt": `var(--vscode-editorWidget-background, ${fb("bg-alt")})`,
      "--lb-hover": `var(--vscode-list-hoverBackground, ${fb("hover")})`,
      "--lb-fg": `var(--vscode-editor-foreground, var(--vscode-foreground, ${fb("fg")}))`,
      "--lb-muted": `var(--vscode-descriptionForeground, ${fb("muted")})`,
      "--lb-border": `var(--vscode-panel-border, var(--vscode-widget-border, ${fb("border")}))`,
      "--lb-accent": `var(--vscode-focusBorder, ${fb("accent")})`,
      "--lb-error": `var(--vscode-errorForeground, ${fb("error")})`,
      "--lb-font": `var(--vscode-font-family, system-ui, -apple-system, "Segoe UI", sans-serif)`,
      "--lb-mono": `var(--vscode-editor-font-family, ui-monospace, "SFMono-Regular", Menlo, monospace)`,
      "--lb-size": "var(--vscode-font-size, 13px)",
    };
  }
  if (host === "colab") {
    // Colab calls its variables unstable, so each has our own colour behind it.
    return {
      "--lb-bg": `var(--colab-primary-surface-color, ${fb("bg")})`,
      "--lb-bg-alt": `var(--colab-secondary-surface-color, ${fb("bg-alt")})`,
      "--lb-hover": `var(--colab-highlighted-surface-color, ${fb("hover")})`,
      "--lb-fg": `var(--colab-primary-text-color, ${fb("fg")})`,
      "--lb-muted": `var(--colab-secondary-text-color, ${fb("muted")})`,
      "--lb-border": `var(--colab-border-color, ${fb("border")})`,
      "--lb-accent": fb("accent"),
      "--lb-error": fb("error"),
    };
  }
  return {};
}

/** The markers of the page the widget is in. */
export function readMarkers(): Markers {
  const g = globalThis as { google?: { colab?: unknown }; __MARIMO_MOUNT_CONFIG__?: unknown };
  const doc = globalThis.document;
  return {
    html: doc?.documentElement ?? null,
    body: doc?.body ?? null,
    colab: g.google?.colab !== undefined,
    marimo:
      g.__MARIMO_MOUNT_CONFIG__ !== undefined ||
      doc?.querySelector?.("marimo-app, marimo-anywidget, [data-marimo-element]") != null,
  };
}

/** Light or dark from the first opaque background behind `el`. */
function backgroundTheme(el: Element): Theme | undefined {
  for (let node: Element | null = el; node; node = node.parentElement ?? shadowHost(node)) {
    const rgb = parseRgb(getComputedStyle(node).backgroundColor);
    if (rgb && rgb[3] > 0.5) return luminance(rgb) < 0.45 ? "dark" : "light";
  }
  return undefined;
}

function shadowHost(node: Element): Element | null {
  const root = node.getRootNode?.();
  return typeof ShadowRoot !== "undefined" && root instanceof ShadowRoot ? root.host : null; // marimo
}

/** `[r, g, b, alpha]` of a computed `rgb()`/`rgba()` colour. */
export function parseRgb(color: string): [number, number, number, number] | undefined {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)/.exec(color);
  if (!m) return undefined;
  const alphaText = m[4];
  const alpha =
    alphaText === undefined ? 1 : alphaText.endsWith("%") ? parseFloat(alphaText) / 100 : parseFloat(alphaText);
  return [Number(m[1]), Number(m[2]), Number(m[3]), alpha];
}

function luminance([r, g, b]: [number, number, number, number]): number {
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

export function detectTheme(el: Element, markers: Markers = readMarkers()): Theme {
  return (
    themeFromMarkers(markers) ??
    backgroundTheme(el) ??
    (globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light")
  );
}

/**
 * Keep `root.dataset.theme` and the root's `color-scheme` (and `root.dataset.host`, and in
 * VS Code and Colab the inline palette) in step with the host; `onChange` hears each switch of
 * light/dark.
 * Returns a function that stops watching.
 */
export function followTheme(root: HTMLElement, onChange?: (theme: Theme) => void): () => void {
  let applied: Record<string, string> = {};
  const update = (): void => {
    const markers = readMarkers();
    const host = hostFromMarkers(markers);
    if (root.dataset.host !== host) {
      root.dataset.host = host;
      const palette = hostPalette(host);
      for (const name of Object.keys(applied)) if (!(name in palette)) root.style.removeProperty(name);
      for (const [name, value] of Object.entries(palette)) root.style.setProperty(name, value);
      applied = palette;
    }
    const theme = detectTheme(root.parentElement ?? root, markers);
    if (root.dataset.theme !== theme) {
      root.dataset.theme = theme;
      // The browser's own parts (checkboxes, selects, placeholders, scrollbars) follow too.
      root.style.setProperty("color-scheme", theme);
      onChange?.(theme);
    }
  };
  update();
  const observer = new MutationObserver(update);
  const options = { attributes: true, attributeFilter: WATCHED_ATTRIBUTES };
  if (document.body) observer.observe(document.body, options);
  observer.observe(document.documentElement, options);
  const media = globalThis.matchMedia?.("(prefers-color-scheme: dark)");
  media?.addEventListener?.("change", update);
  // The view may be attached after render(): check again once it is in the page.
  const timer = setTimeout(update, 0);
  return () => {
    observer.disconnect();
    media?.removeEventListener?.("change", update);
    clearTimeout(timer);
  };
}
