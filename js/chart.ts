/**
 * Render a Vega-Lite spec (built with Altair in `liberry_widgets/charts.py`) into an element.
 * vega-embed lives in its own bundle (`js/vega.ts` → `static/vega.js`), loaded on first use
 * so the widgets' main bundles stay small.
 */
import { loadAsset } from "./assets";
import type { Rpc } from "./rpc";
import type { Theme } from "./theme";

/** What `static/vega.js` exports. */
export interface VegaBundle {
  render(el: HTMLElement, spec: object, theme: Theme): Promise<() => void>;
}

/** Draw `spec` in `el`; resolves with a function that frees the chart. */
export async function renderChart(rpc: Rpc, el: HTMLElement, spec: object, theme: Theme): Promise<() => void> {
  const vega = await loadAsset<VegaBundle>(rpc, "vega");
  return vega.render(el, spec, theme);
}
