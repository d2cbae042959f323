/**
 * The lazily loaded chart bundle (`static/vega.js`): vega-embed with Vega and Vega-Lite.
 * Expressions run through vega-interpreter, not `new Function`, so charts also render where a
 * content security policy forbids eval (VS Code webviews, some JupyterHub deployments).
 */
import embed from "vega-embed";
import { expressionInterpreter } from "vega-interpreter";
import type { Theme } from "./theme";

export async function render(el: HTMLElement, spec: object, theme: Theme): Promise<() => void> {
  const result = await embed(el, spec as Parameters<typeof embed>[1], {
    actions: false,
    renderer: "svg",
    ast: true,
    expr: expressionInterpreter,
    ...(theme === "dark" ? { theme: "dark" as const } : {}),
  });
  return () => result.finalize();
}
