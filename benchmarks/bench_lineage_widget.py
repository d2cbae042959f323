"""Lineage widget benchmark (issue #16): a 1,000-node lineage graph drawn in Chromium.

Targets (printed with PASS/MISS marks, never asserted):
  * first layout + render of the graph <= 1 s;
  * expanding a cluster <= 200 ms.

How: a temporary liberry server gets the graph through W&B's own artifact protocol (the
`tests/artifact_wire.py` steps the official client sends: create, manifest, files, commit,
use): run `make-0` logs `raw:v0`; N runs each use `raw:v0` and log a version of `feat`; N
more each use one `feat` version and log a version of `model` (2 + 4N nodes, runs included;
N = 250 gives 1,002). The kernel side is the real widget: `Lineage(...)._fetch_graph(0)`
walks it with one request. The view is the built `liberry_widgets/static/lineage.js`, rendered in
Debian Chromium (Playwright) on a bare page with an in-page model holding that graph in
`_graph`, so the figure is the view's own work (no JupyterLab boot, no kernel round trip:
the widget puts the graph in its state before the view renders).

"first render" = from `render()` to the first frame after it (dagre layout + SVG + paint);
"expand" = from the click on the biggest cluster to the next frame. Also printed: the graph
with every cluster open (1,002 boxes, opened one by one), which the view never draws by
default.

    python benchmarks/bench_lineage_widget.py            # N = 250 (1,002 nodes)
    python benchmarks/bench_lineage_widget.py --n 100    # a quicker run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (puts the project root on sys.path)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/lib/chromium/chromium"

PAGE_JS = """async ([esm, css, graph]) => {
  const style = document.createElement('style');
  style.textContent = css;
  document.head.append(style);
  const url = URL.createObjectURL(new Blob([esm], {type: 'text/javascript'}));
  const mod = (await import(url)).default;
  const state = {path: '', root: 'bench', depth: 0, direction: 'both', query: '', selected_id: '',
                 _refresh: 0, _graph: graph};
  const model = {get: (k) => state[k], set: (k, v) => { state[k] = v; }, on() {}, off() {},
                 send() {}, save_changes() {}};
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  const el = document.getElementById('host');
  el.replaceChildren();
  const t0 = performance.now();
  mod.render({model, el});
  await frame();
  const first = performance.now() - t0;
  const root = el.querySelector('[data-testid=liberry-lineage]');
  const clusters = [...root.querySelectorAll('[data-testid=lineage-cluster]')];
  const size = (c) => Number(c.querySelector('text').textContent.split('\\u00d7')[1] || 0);
  clusters.sort((a, b) => size(b) - size(a));
  const out = {first_ms: first, layout_ms: Number(root.dataset.drawMs),
               drawn: Number(root.dataset.nodes), clusters: clusters.length,
               biggest: clusters.length ? size(clusters[0]) : 0};
  if (clusters.length) {
    const t1 = performance.now();
    clusters[0].dispatchEvent(new PointerEvent('pointerdown', {bubbles: true, button: 0}));
    clusters[0].dispatchEvent(new PointerEvent('pointerup', {bubbles: true, button: 0}));
    await frame();
    out.expand_ms = performance.now() - t1;
    out.expand_layout_ms = Number(root.dataset.expandMs);
    out.after_expand = Number(root.dataset.nodes);
    // Every cluster open: what the view would draw if the user opened them all.
    const t2 = performance.now();
    for (let c; (c = root.querySelector('[data-testid=lineage-cluster]')); ) {
      c.dispatchEvent(new PointerEvent('pointerdown', {bubbles: true, button: 0}));
      c.dispatchEvent(new PointerEvent('pointerup', {bubbles: true, button: 0}));
    }
    await frame();
    out.all_open_ms = performance.now() - t2;
    out.all_open_drawn = Number(root.dataset.nodes);
  }
  return out;
}"""


def seed(srv: Any, entity: str, n: int) -> tuple[str, float]:
    """The graph, through the artifact protocol; returns the root's name and seconds taken."""
    from tests.artifact_wire import Upload, use
    from tests.wire import Wire

    wire = Wire(srv.url, srv.api_key)
    project = "lineage-bench"
    t0 = time.perf_counter()

    def run(name: str) -> str:
        return str(wire.upsert(entity, project, name, jobType=name.split("-")[0])["bucket"]["name"])

    raw = Upload(wire, entity, project, run("make-0"), "raw", "dataset", {"x": b"raw"}).log()
    feats = []
    for i in range(n):
        r = run(f"feature-{i}")
        use(wire, entity, project, r, raw.artifact_id)
        files = {"x": f"f{i}".encode()}
        feats.append(Upload(wire, entity, project, r, "feat", "dataset", files).log())
    for i, feat in enumerate(feats):
        r = run(f"train-{i}")
        use(wire, entity, project, r, feat.artifact_id)
        Upload(wire, entity, project, r, "model", "model", {"w": f"m{i}".encode()}).log()
    return f"{entity}/{project}/raw:v0", time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=250, help="runs per stage (4n + 2 nodes)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    import liberry
    from liberry.server import start
    from liberry_widgets import Lineage

    esm = (ROOT / "liberry_widgets/static/lineage.js").read_text()
    css = (ROOT / "liberry_widgets/static/lineage.css").read_text()
    with tempfile.TemporaryDirectory() as tmp, start(data_dir=Path(tmp), port=0) as srv:
        api = liberry.Api(overrides={"base_url": srv.url}, api_key=srv.api_key)
        entity = api.default_entity
        assert entity
        print(f"seeding {4 * args.n + 2} nodes through the artifact protocol ...", flush=True)
        root, seconds = seed(srv, entity, args.n)
        print(f"  seeded in {seconds:.1f} s")
        widget = Lineage(root, api=api, depth=0)
        t0 = time.perf_counter()
        graph = widget._fetch_graph(0, "both")
        kernel_ms = (time.perf_counter() - t0) * 1e3
        size_kb = len(json.dumps(graph)) / 1e3
        print(f"kernel: lineage walk of {len(graph['nodes'])} nodes, {len(graph['edges'])} edges "
              f"in {kernel_ms:.0f} ms (one request; {size_kb:.0f} kB)")  # fmt: skip

        results = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu"])  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_content("<div id=host style='width:1200px'></div>")
            for _ in range(args.repeat):
                results.append(page.evaluate(PAGE_JS, [esm, css, graph]))
            browser.close()

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    r0 = results[0]
    print(f"\nview ({args.repeat} renders in Chromium, median; the module is imported before "
          f"the clock starts)")  # fmt: skip
    print(f"  graph: {len(graph['nodes'])} nodes -> {r0['drawn']} boxes drawn "
          f"({r0['clusters']} clusters, the biggest of {r0['biggest']})")  # fmt: skip
    rows = [
        ("first layout + render", med("first_ms"), 1000.0, f"layout+SVG {med('layout_ms'):.0f} ms"),
        ("expand biggest cluster", med("expand_ms"), 200.0,
         f"layout+SVG {med('expand_layout_ms'):.0f} ms, {r0['after_expand']} boxes after"),
        ("open every cluster (1 by 1)", med("all_open_ms"), None,
         f"{r0['all_open_drawn']} boxes drawn at the end"),
    ]  # fmt: skip
    print(f"  {'what':<26}{'median':>10}{'target':>10}  ")
    for name, value, target, note in rows:
        mark = "" if target is None else ("PASS" if value <= target else "MISS")
        target_text = "-" if target is None else f"{target:.0f} ms"
        print(f"  {name:<26}{value:>8.0f} ms{target_text:>10}  {mark:<5} {note}")
    print("  first render, all runs (ms):", [round(r["first_ms"]) for r in results])
    print("  expand, all runs (ms):      ", [round(r["expand_ms"]) for r in results])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
