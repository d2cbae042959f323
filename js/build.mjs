// Build the widgets' front end into liberry_widgets/static/ (shipped in the wheel).
//
//   node js/build.mjs            minified bundles (what `pip install` runs via `npm run build`)
//   node js/build.mjs --dev      readable bundles with inline source maps
//   node js/build.mjs --watch    rebuild on change (implies --dev)
//
// runs.js and sweep.js must stay small (each loads with its widget); vega.js holds the charting
// libraries and is fetched only when a chart is first drawn (js/assets.ts).
import * as esbuild from "esbuild";
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "liberry_widgets", "static");
const watch = process.argv.includes("--watch");
const dev = watch || process.argv.includes("--dev");

/** Widget entry points (each an anywidget ES module) and lazily loaded assets. */
const entries = {
  runs: "js/runs/index.ts",
  lineage: "js/lineage/index.ts",
  sweep: "js/sweep/index.ts",
  vega: "js/vega.ts",
};
/** Size budgets in bytes (minified, before gzip). */
const budgets = {
  "runs.js": 150_000,
  "runs.css": 40_000,
  // dagre (~70 KB) is bundled: it lays out every graph, so fetching it later saves nothing.
  "lineage.js": 150_000,
  "lineage.css": 30_000,
  // The sweep explorer draws on canvas without a chart library: it must stay small too.
  "sweep.js": 120_000,
  "sweep.css": 50_000,
};

const options = {
  absWorkingDir: root,
  entryPoints: entries,
  outdir,
  bundle: true,
  format: "esm",
  target: ["es2022", "chrome100", "firefox100", "safari16"],
  minify: !dev,
  sourcemap: dev ? "inline" : false,
  legalComments: dev ? "inline" : "eof",
  logLevel: "info",
  define: { "process.env.NODE_ENV": JSON.stringify(dev ? "development" : "production") },
};

if (watch) {
  const context = await esbuild.context(options);
  await context.watch();
  console.log("watching js/ for changes…");
} else {
  await esbuild.build(options);
  let over = false;
  const built = ["runs.js", "runs.css", "sweep.js", "sweep.css", "lineage.js", "lineage.css", "vega.js"];
  for (const name of built) {
    const size = statSync(join(outdir, name)).size;
    const budget = budgets[name];
    const flag = budget && size > budget ? `  OVER BUDGET (${budget})` : "";
    if (flag) over = true;
    console.log(`${name.padEnd(10)} ${(size / 1024).toFixed(1).padStart(8)} KiB${flag}`);
  }
  if (over && !dev) process.exit(1);
}
