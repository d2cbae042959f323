import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  type Markers,
  type MarkerElement,
  WATCHED_ATTRIBUTES,
  detectTheme,
  followTheme,
  hostFromMarkers,
  hostPalette,
  parseRgb,
  themeFromMarkers,
} from "./theme";

/** A stand-in for `<html>` or `<body>`: a class list and attributes, changeable by the test. */
class FakeElement implements MarkerElement {
  className = "";
  attrs = new Map<string, string>();
  background = "rgba(0, 0, 0, 0)";
  parentElement: FakeElement | null = null;

  constructor(className = "", attrs: Record<string, string> = {}) {
    this.className = className;
    for (const [k, v] of Object.entries(attrs)) this.attrs.set(k, v);
  }
  getAttribute(name: string): string | null {
    return this.attrs.get(name) ?? null;
  }
  getRootNode(): unknown {
    return {};
  }
}

function markers(
  html: FakeElement | null,
  body: FakeElement | null,
  extra: Partial<Markers> = {},
): Markers {
  return { html, body, colab: false, marimo: false, ...extra };
}

const el = (className = "", attrs: Record<string, string> = {}): FakeElement =>
  new FakeElement(className, attrs);

describe("themeFromMarkers and hostFromMarkers", () => {
  it("reads JupyterLab and Notebook 7's data-jp-theme-light", () => {
    expect(themeFromMarkers(markers(el(), el("", { "data-jp-theme-light": "true" })))).toBe("light");
    const dark = markers(el(), el("", { "data-jp-theme-light": "false" }));
    expect(themeFromMarkers(dark)).toBe("dark");
    expect(hostFromMarkers(dark)).toBe("jupyter");
  });

  it.each([
    ["vscode-light", "light"],
    ["vscode-dark", "dark"],
    ["vscode-high-contrast", "dark"],
    ["vscode-high-contrast-light", "light"],
  ])("reads VS Code's data-vscode-theme-kind=%s", (kind, theme) => {
    const m = markers(el(), el(kind, { "data-vscode-theme-kind": kind }));
    expect(themeFromMarkers(m)).toBe(theme);
    expect(hostFromMarkers(m)).toBe("vscode");
  });

  it("reads VS Code's body classes when the attribute is missing", () => {
    expect(themeFromMarkers(markers(el(), el("vscode-dark")))).toBe("dark");
    expect(themeFromMarkers(markers(el(), el("vscode-light vscode-reduce-motion")))).toBe("light");
    expect(themeFromMarkers(markers(el(), el("vscode-high-contrast")))).toBe("dark");
    // High-contrast light keeps the old `vscode-high-contrast` class too: still light.
    const hcLight = markers(el(), el("vscode-high-contrast vscode-high-contrast-light"));
    expect(themeFromMarkers(hcLight)).toBe("light");
    expect(hostFromMarkers(hcLight)).toBe("vscode");
  });

  it("reads Colab's <html theme> and body classes", () => {
    const dark = markers(el("", { theme: "dark" }), el());
    expect(themeFromMarkers(dark)).toBe("dark");
    expect(hostFromMarkers(dark)).toBe("colab");
    expect(themeFromMarkers(markers(el("", { theme: "light" }), el()))).toBe("light");
    expect(themeFromMarkers(markers(el(), el("theme-dark")))).toBe("dark");
    // An output frame without the attribute is still Colab (google.colab exists), theme unknown.
    const frame = markers(el(), el(), { colab: true });
    expect(hostFromMarkers(frame)).toBe("colab");
    expect(themeFromMarkers(frame)).toBeUndefined();
  });

  it("reads generic dark/light markers (marimo and others) as whole class names", () => {
    expect(themeFromMarkers(markers(el("dark"), el()))).toBe("dark");
    expect(themeFromMarkers(markers(el(), el("dark-theme")))).toBe("dark");
    expect(themeFromMarkers(markers(el("", { "data-theme": "light" }), el("dark")))).toBe("light");
    expect(themeFromMarkers(markers(el(), el("light")))).toBe("light");
    // Words that merely contain "dark" say nothing, nor do names inherited by every object.
    expect(hostFromMarkers(markers(el(), el("constructor toString")))).toBe("other");
    expect(themeFromMarkers(markers(el(), el("", { "data-vscode-theme-kind": "toString" })))).toBeUndefined();
    expect(themeFromMarkers(markers(el("darkroom"), el("not-dark-yet x-dark")))).toBeUndefined();
    expect(hostFromMarkers(markers(el(), el(), { marimo: true }))).toBe("marimo");
    expect(hostFromMarkers(markers(el(), el()))).toBe("other");
  });

  it("prefers JupyterLab's marker over anything generic on the page", () => {
    const m = markers(el("dark"), el("light", { "data-jp-theme-light": "false" }));
    expect(themeFromMarkers(m)).toBe("dark");
    expect(hostFromMarkers(m)).toBe("jupyter");
  });

  it("survives a page without <html> or <body> (a detached document)", () => {
    expect(themeFromMarkers(markers(null, null))).toBeUndefined();
    expect(hostFromMarkers(markers(null, null))).toBe("other");
  });
});

describe("hostPalette", () => {
  it("takes VS Code's colours from --vscode-* with our fallbacks behind them", () => {
    const p = hostPalette("vscode");
    expect(p["--lb-bg"]).toBe("var(--vscode-editor-background, var(--lb-fb-bg))");
    expect(p["--lb-fg"]).toContain("--vscode-editor-foreground");
    // Never from --jp-*: ipywidgets' stylesheet defines those as light whatever the theme.
    expect(Object.values(p).join(" ")).not.toContain("--jp-");
  });

  it("takes Colab's colours from --colab-*, each with a fallback", () => {
    const p = hostPalette("colab");
    expect(p["--lb-bg"]).toBe("var(--colab-primary-surface-color, var(--lb-fb-bg))");
    expect(p["--lb-fg"]).toBe("var(--colab-primary-text-color, var(--lb-fb-fg))");
    for (const value of Object.values(p)) expect(value).toContain("var(--lb-fb-");
  });

  it("leaves JupyterLab, marimo and other pages to the stylesheet", () => {
    expect(hostPalette("jupyter")).toEqual({});
    expect(hostPalette("marimo")).toEqual({});
    expect(hostPalette("other")).toEqual({});
  });
});

describe("parseRgb", () => {
  it("parses computed colours, with and without alpha", () => {
    expect(parseRgb("rgb(30, 30, 30)")).toEqual([30, 30, 30, 1]);
    expect(parseRgb("rgba(255, 255, 255, 0.5)")).toEqual([255, 255, 255, 0.5]);
    expect(parseRgb("rgb(1 2 3 / 40%)")).toEqual([1, 2, 3, 0.4]);
    expect(parseRgb("transparent")).toBeUndefined();
  });
});

// -- followTheme against a fake page ---------------------------------------------------------------

interface FakeRoot {
  dataset: Record<string, string>;
  style: { props: Map<string, string>; setProperty(n: string, v: string): void; removeProperty(n: string): void };
  parentElement: FakeElement | null;
  getRootNode(): unknown;
}

class FakeObserver {
  static all: FakeObserver[] = [];
  observed: { target: unknown; filter: string[] }[] = [];
  connected = true;
  constructor(readonly callback: () => void) {
    FakeObserver.all.push(this);
  }
  observe(target: unknown, options: { attributeFilter: string[] }): void {
    this.observed.push({ target, filter: options.attributeFilter });
  }
  disconnect(): void {
    this.connected = false;
  }
  static fire(): void {
    for (const o of FakeObserver.all) if (o.connected) o.callback();
  }
}

describe("followTheme", () => {
  let html: FakeElement;
  let body: FakeElement;
  let root: FakeRoot;
  let prefersDark: boolean;

  beforeEach(() => {
    vi.useFakeTimers();
    FakeObserver.all = [];
    prefersDark = false;
    html = el();
    body = el();
    const parent = el();
    root = {
      dataset: {},
      style: {
        props: new Map(),
        setProperty(n, v) {
          this.props.set(n, v);
        },
        removeProperty(n) {
          this.props.delete(n);
        },
      },
      parentElement: parent,
      getRootNode: () => ({}),
    };
    parent.parentElement = body;
    vi.stubGlobal("document", { documentElement: html, body, querySelector: () => null });
    vi.stubGlobal("MutationObserver", FakeObserver);
    vi.stubGlobal("getComputedStyle", (node: FakeElement) => ({ backgroundColor: node.background }));
    vi.stubGlobal("matchMedia", () => ({
      get matches() {
        return prefersDark;
      },
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    }));
  });

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  const follow = (onChange?: (t: string) => void): (() => void) =>
    followTheme(root as unknown as HTMLElement, onChange);

  it("follows a VS Code theme switch and uses VS Code's colours", () => {
    body.className = "vscode-light";
    body.attrs.set("data-vscode-theme-kind", "vscode-light");
    const seen: string[] = [];
    const stop = follow((t) => seen.push(t));
    expect(root.dataset.theme).toBe("light");
    expect(root.dataset.host).toBe("vscode");
    expect(root.style.props.get("--lb-bg")).toContain("--vscode-editor-background");
    // Both <html> and <body> are watched, for every attribute a host flips.
    const watched = FakeObserver.all[0]?.observed ?? [];
    expect(watched.map((w) => w.target)).toEqual([body, html]);
    expect(watched[0]?.filter).toEqual(WATCHED_ATTRIBUTES);
    expect(WATCHED_ATTRIBUTES).toContain("data-vscode-theme-kind");

    body.className = "vscode-dark";
    body.attrs.set("data-vscode-theme-kind", "vscode-dark");
    FakeObserver.fire();
    expect(root.dataset.theme).toBe("dark");
    expect(root.style.props.get("color-scheme")).toBe("dark");
    expect(seen).toEqual(["light", "dark"]);
    FakeObserver.fire(); // no change, no call
    expect(seen).toEqual(["light", "dark"]);
    stop();
    expect(FakeObserver.all[0]?.connected).toBe(false);
  });

  it("follows Colab's <html theme> and sets Colab's palette over ipywidgets' light --jp-*", () => {
    html.attrs.set("theme", "dark");
    body.background = "rgb(255, 255, 255)"; // what a light --jp-layout-color0 would paint
    follow();
    expect(root.dataset.theme).toBe("dark");
    expect(root.dataset.host).toBe("colab");
    expect(root.style.props.get("--lb-bg")).toBe("var(--colab-primary-surface-color, var(--lb-fb-bg))");
    html.attrs.set("theme", "light");
    FakeObserver.fire();
    expect(root.dataset.theme).toBe("light");
  });

  it("keeps JupyterLab's colours to the stylesheet (no inline palette)", () => {
    body.attrs.set("data-jp-theme-light", "false");
    follow();
    expect(root.dataset).toMatchObject({ theme: "dark", host: "jupyter" });
    expect([...root.style.props.keys()]).toEqual(["color-scheme"]);
    expect(root.style.props.get("color-scheme")).toBe("dark");
  });

  it("removes an inline palette when the page stops looking like VS Code", () => {
    body.className = "vscode-dark";
    follow();
    expect(root.style.props.get("--lb-bg")).toContain("--vscode-");
    body.className = "";
    FakeObserver.fire();
    expect(root.dataset.host).toBe("other");
    expect([...root.style.props.keys()].filter((k) => k.startsWith("--"))).toEqual([]);
  });

  it("without markers, judges the background behind the widget, then prefers-color-scheme", () => {
    body.background = "rgb(24, 24, 27)";
    follow();
    expect(root.dataset.theme).toBe("dark");
    body.background = "rgba(0, 0, 0, 0)";
    FakeObserver.fire();
    expect(root.dataset.theme).toBe("light");
    prefersDark = true;
    expect(detectTheme(root.parentElement as unknown as Element)).toBe("dark");
  });
});
