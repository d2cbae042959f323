/**
 * Follow the host's light/dark theme.
 *
 * Colours come from the host's own CSS variables where it has them (JupyterLab's `--jp-*`,
 * VS Code's `--vscode-*`; see the stylesheets); this module only decides light or dark, for
 * the fallbacks and for charts, and tells the widget when the host switches.
 */

export type Theme = "light" | "dark";

/** Host markers, most specific first; `undefined` means "this host says nothing". */
function hostTheme(): Theme | undefined {
  const body = document.body;
  const html = document.documentElement;
  const jp = body?.dataset.jpThemeLight; // JupyterLab / Notebook 7
  if (jp === "true") return "light";
  if (jp === "false") return "dark";
  const classes = `${body?.className ?? ""} ${html.className}`;
  if (/\bvscode-(dark|high-contrast)\b/.test(classes) && !/\bvscode-high-contrast-light\b/.test(classes)) {
    return "dark";
  }
  if (/\bvscode-(light|high-contrast-light)\b/.test(classes)) return "light";
  const colab = html.getAttribute("theme"); // Colab
  if (colab === "dark" || colab === "light") return colab;
  if (/\b(dark|dark-theme)\b/.test(classes)) return "dark"; // marimo and others
  if (/\b(light|light-theme)\b/.test(classes)) return "light";
  return undefined;
}

/** Light or dark from the first opaque background behind `el`. */
function backgroundTheme(el: Element): Theme | undefined {
  for (let node: Element | null = el; node; node = node.parentElement ?? hostOf(node)) {
    const rgb = parseRgb(getComputedStyle(node).backgroundColor);
    if (rgb && rgb[3] > 0.5) return luminance(rgb) < 0.45 ? "dark" : "light";
  }
  return undefined;
}

function hostOf(node: Element): Element | null {
  const root = node.getRootNode();
  return root instanceof ShadowRoot ? root.host : null; // marimo renders in a shadow root
}

function parseRgb(color: string): [number, number, number, number] | undefined {
  const m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:[,\s/]+([\d.]+%?))?\s*\)/.exec(color);
  if (!m) return undefined;
  const alphaText = m[4];
  const alpha = alphaText === undefined ? 1 : alphaText.endsWith("%") ? parseFloat(alphaText) / 100 : parseFloat(alphaText);
  return [Number(m[1]), Number(m[2]), Number(m[3]), alpha];
}

function luminance([r, g, b]: [number, number, number, number]): number {
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

export function detectTheme(el: Element): Theme {
  return (
    hostTheme() ??
    backgroundTheme(el) ??
    (globalThis.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light")
  );
}

/**
 * Keep `root.dataset.theme` in step with the host; `onChange` hears each switch.
 * Returns a function that stops watching.
 */
export function followTheme(root: HTMLElement, onChange?: (theme: Theme) => void): () => void {
  const update = (): void => {
    const theme = detectTheme(root.parentElement ?? root);
    if (root.dataset.theme !== theme) {
      root.dataset.theme = theme;
      onChange?.(theme);
    }
  };
  update();
  const observer = new MutationObserver(update);
  const options = { attributes: true, attributeFilter: ["class", "data-jp-theme-light", "theme", "style"] };
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
