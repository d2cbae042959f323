"""Sweep explorer benchmark (issue #15): `liberry.widgets.Sweep` on a 10,000-run sweep with 8
parameters, in a real JupyterLab + Chromium and in the kernel.

Targets (printed with PASS/MISS marks, never asserted):
  * first render <= 1 s: from the start of the cell that `display`s the widget to the lines
    drawn (the view's root `data-state="ready"` with every run on the canvas, then a frame);
    this includes the kernel reading all 10,000 runs from the server;
  * a brush drag redraws at >= 30 frames/s in Chromium: pointer moves along an axis, one per
    animation frame, each narrowing the brush; frames/s = moves / elapsed time, with the
    plot's own draw time per frame beside it;
  * importance (correlation + forest) <= 1 s in the kernel, for all runs and for a brushed
    half, timed in-process (`compute_importance`).
Also printed: the size of the binary `_data` buffer (typed arrays, no JSON per run) and the
kernel's time to build it.

How: a bayes sweep is created by the server's own controller (`create_sweep`) and its runs are
bulk-inserted into the data dir's SQLite before the server starts (as bench_sweeps.py does),
8 parameters (3 log-uniform, 2 uniform, 1 int, 2 categorical) and a metric; then `python -m
liberry.cli server`, JupyterLab and Debian Chromium (Playwright), as bench_widget.py does.

    python benchmarks/bench_sweep_widget.py            # 10,000 runs
    python benchmarks/bench_sweep_widget.py --runs 2000
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import _common as C

ENTITY = "admin"
PROJECT = "bench-sweep-widget"
CHROMIUM = "/usr/bin/chromium"

SPACE: dict[str, Any] = {
    "lr": {"distribution": "log_uniform_values", "min": 1e-5, "max": 1e-1},
    "weight_decay": {"distribution": "log_uniform_values", "min": 1e-6, "max": 1e-2},
    "warmup": {"distribution": "log_uniform_values", "min": 1, "max": 1000},
    "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
    "momentum": {"distribution": "uniform", "min": 0.8, "max": 0.99},
    "layers": {"distribution": "int_uniform", "min": 2, "max": 12},
    "optimizer": {"values": ["adam", "sgd", "adamw", "rmsprop"]},
    "activation": {"values": ["relu", "gelu", "silu"]},
}


def params(rng: random.Random) -> dict[str, Any]:
    return {
        "lr": 10 ** rng.uniform(-5, -1), "weight_decay": 10 ** rng.uniform(-6, -2),
        "warmup": 10 ** rng.uniform(0, 3), "dropout": rng.uniform(0, 0.5),
        "momentum": rng.uniform(0.8, 0.99), "layers": rng.randint(2, 12),
        "optimizer": rng.choice(["adam", "sgd", "adamw", "rmsprop"]),
        "activation": rng.choice(["relu", "gelu", "silu"]),
    }  # fmt: skip


def loss_of(p: dict[str, Any], rng: random.Random) -> float:
    loss = (math.log10(p["lr"]) + 3) ** 2 * 0.3 + (p["dropout"] - 0.2) ** 2
    loss += 0.05 * abs(p["layers"] - 6) + (p["optimizer"] == "sgd") * 0.1
    return round(loss + rng.gauss(0, 0.02), 6)


def bulk_sweep(data_dir: Path, n: int) -> str:
    """A sweep made by the server's controller and `n` finished runs in it, inserted straight
    into the SQLite file (the way bench_sweeps.py seeds its 10,000-run sweep)."""
    import yaml
    from sqlalchemy import insert

    from liberry.server.datadir import DataDir
    from liberry.server.store import accounts, tables
    from liberry.server.store import projects as store_projects
    from liberry.server.store.values import reindex_runs
    from liberry.server.sweeps import controller

    rng = random.Random(7)
    data = DataDir.open(data_dir)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    config = {"method": "bayes", "metric": {"name": "loss", "goal": "minimize"},
              "parameters": SPACE}  # fmt: skip
    with data.store.write() as conn:
        admin = accounts.user_by_name(conn, "admin")
        assert admin is not None
        proj, _ = store_projects.upsert_project(conn, ENTITY, PROJECT, user_id=admin["id"])
        text = yaml.safe_dump(config, sort_keys=False)
        sweep, _ = controller.create_sweep(conn, proj, admin["id"], {"config": text})
        batch: list[dict[str, Any]] = []
        for i in range(n):
            p = params(rng)
            ts = (base + timedelta(seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            summary = {"loss": loss_of(p, rng), "_step": 99, "_timestamp": 1.79e9 + i}
            batch.append({
                "project_id": proj["id"], "name": f"s{i:07d}", "display_name": f"run-{i}",
                "state": "finished", "config": json.dumps({k: {"value": v} for k, v in p.items()}),
                "summary": json.dumps(summary), "user_id": admin["id"],
                "sweep_name": sweep["name"], "created_at": ts, "updated_at": ts,
                "heartbeat_at": ts, "exitcode": 0,
            })  # fmt: skip
            if len(batch) == 5000:
                conn.execute(insert(tables.runs), batch)
                batch.clear()
        if batch:
            conn.execute(insert(tables.runs), batch)
        reindex_runs(conn, project_id=proj["id"])
    data.store.close()
    return f"{ENTITY}/{PROJECT}/{sweep['name']}"


# --------------------------------------------------------------------------- in-page JS

# Run the notebook's cell `index`; time until the sweep widget is ready with every line drawn.
DISPLAY_JS = """
async ([index, runs, timeoutMs]) => {
  const app = window.jupyterapp;
  const nb = app.shell.currentWidget.content;
  const ready = () => [...document.querySelectorAll('[data-testid=liberry-sweep]')].find(r =>
    r.dataset.state === 'ready' &&
    r.querySelector('[data-testid=parallel]')?.dataset.shown === String(runs));
  const done = new Promise((resolve) => {
    const mo = new MutationObserver(() => {
      if (ready()) { mo.disconnect(); resolve(performance.now()); }
    });
    mo.observe(document.body, {childList: true, subtree: true, attributes: true,
                               attributeFilter: ['data-state', 'data-shown']});
    setTimeout(() => { mo.disconnect(); resolve(null); }, timeoutMs);
  });
  nb.activeCellIndex = index;
  const t0 = performance.now();
  app.commands.execute('notebook:run-cell');
  const t = await done;
  if (t === null) return {error: 'not drawn within ' + timeoutMs + ' ms'};
  await new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const root = ready();
  return {drawn: t - t0, painted: performance.now() - t0, apply: Number(root.dataset.applyMs)};
}"""

# Drag along an axis' brush area with synthetic pointer events, one move per animation frame.
DRAG_JS = """
async ([key, frames]) => {
  const root = document.querySelector('[data-testid=liberry-sweep]');
  const hit = root.querySelector(`[data-testid=axis-brush-area][data-key="${key}"]`);
  const plot = root.querySelector('[data-testid=parallel]');
  hit.scrollIntoView({block: 'center'});
  const box = hit.getBoundingClientRect();
  const x = box.left + box.width / 2;
  const ev = (type, y) => new PointerEvent(type, {bubbles: true, clientX: x, clientY: y,
                                                  pointerId: 1, button: 0, buttons: 1});
  const frame = () => new Promise(r => requestAnimationFrame(r));
  hit.dispatchEvent(ev('pointerdown', box.top + 2));
  await frame();
  const draws = [];
  const t0 = performance.now();
  for (let k = 1; k <= frames; k++) {
    // The lower end sweeps down and up the axis, so the selection changes at every frame.
    const f = 0.1 + 0.85 * Math.abs(Math.sin(k / frames * Math.PI * 2));
    hit.dispatchEvent(ev('pointermove', box.top + box.height * f));
    await frame();
    draws.push(Number(plot.dataset.drawMs));
  }
  const elapsed = performance.now() - t0;
  hit.dispatchEvent(ev('pointerup', box.top + box.height * 0.5));
  await frame();
  return {frames, elapsed, draws, shown: Number(plot.dataset.shown)};
}"""


def write_notebook(path: Path, sweep: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nb.cells = [
        nbformat.v4.new_code_cell("import liberry\nimport liberry.widgets\nliberry.Api()\nNone"),
        nbformat.v4.new_code_cell(f"w = liberry.widgets.Sweep({sweep!r})\nw"),
    ]
    nbformat.write(nb, str(path))


def mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def kernel_side(url: str, key: str, sweep: str, runs: int) -> dict[str, Any]:
    """Build the widget in this process (as the kernel does) and time its parts."""
    import numpy as np

    import liberry
    from liberry_widgets import Sweep
    from liberry_widgets.importance import compute_importance
    from liberry_widgets.sweep_data import pack

    api = liberry.Api({"base_url": url}, api_key=key)
    t0 = time.perf_counter()
    widget = Sweep(sweep, api=api)
    build = time.perf_counter() - t0
    table = widget._table
    assert table is not None and len(table) == runs, widget.error
    t0 = time.perf_counter()
    records = api.sweep(sweep).refresh().runs.to_records(progress=False)
    fetch = time.perf_counter() - t0
    t0 = time.perf_counter()
    pack(table, metric="loss", goal="minimize", version=1)
    packing = time.perf_counter() - t0
    all_runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        compute_importance(table.features(), table.metric)
        all_runs.append(time.perf_counter() - t0)
    half = np.asarray(table.values[0]) < np.nanmedian(table.values[0])
    brushed = []
    for _ in range(3):
        t0 = time.perf_counter()
        compute_importance(table.features(half), table.metric[half])
        brushed.append(time.perf_counter() - t0)
    top = widget.importance[0]["name"]
    widget.close()
    return {"build": build, "fetch": fetch, "records": len(records), "pack": packing,
            "bytes": len(widget._data), "importance_all": statistics.median(all_runs),
            "importance_half": statistics.median(brushed), "top": top}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--displays", type=int, default=2, help="warm displays after the cold")
    args = parser.parse_args()

    import bench_widget as W  # JupyterLab start/stop and notebook helpers

    C.log(f"liberry sweep explorer benchmark (issue #15): {C.machine_line()}; "
          f"1-min load average {C.load_average():.1f}")
    work = Path(tempfile.mkdtemp(prefix="liberry-bench-sweep-widget-"))
    server = lab = None
    base: str | None = None
    try:
        data_dir = work / "liberry"
        server, url, key = C.liberry_server(data_dir)
        lab, lab_root, lab_state = W.start_lab(work, url, key)
        with C.stopwatch() as sw:
            sweep = bulk_sweep(data_dir, args.runs)
        C.log(f"\n== a {args.runs:,}-run sweep with {len(SPACE)} parameters: {sweep} "
              f"(seeded in {C.fmt_s(sw[0])})")
        server.start()

        C.log("\n== kernel side (in this process, as the kernel runs it)")
        k = kernel_side(url, key, sweep, args.runs)
        C.log(f"  Sweep(path): {C.fmt_s(k['build'])} in all; of which reading the "
              f"{k['records']:,} runs {C.fmt_s(k['fetch'])}, packing {C.fmt_s(k['pack'])}")
        C.log(f"  _data: {k['bytes'] / 1024:.0f} KiB binary ({k['bytes'] / args.runs:.0f} "
              "bytes a run: typed arrays, no JSON per run)")
        C.log(f"  importance, all runs: {C.fmt_s(k['importance_all'])}; a brushed half: "
              f"{C.fmt_s(k['importance_half'])} (most important: {k['top']})")

        base = W.wait_lab(lab, lab_state)
        name = "bench_sweep_widget.ipynb"
        write_notebook(Path(lab_root) / name, sweep)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                      "--disable-background-networking", "--disable-quic", "--no-first-run",
                      "--disable-extensions"])  # fmt: skip
            ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
            ctx.set_default_timeout(120_000)
            page = ctx.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            W.open_notebook(page, base, name)
            C.log("\n== first render in JupyterLab (display -> every line drawn)")
            displays = []
            for i in range(1 + args.displays):
                d = page.evaluate(DISPLAY_JS, [1, args.runs, 120_000])
                if "error" in d:
                    raise RuntimeError(f"display: {d['error']}")
                displays.append(d)
                C.log(f"  {'cold' if i == 0 else 'warm'}: drawn {d['drawn']:.0f} ms, painted "
                      f"{d['painted']:.0f} ms (of which the view's decode + draw "
                      f"{d['apply']:.0f} ms)")
                page.wait_for_function(
                    """() => window.jupyterapp.shell.currentWidget.sessionContext.session
                             .kernel.status === 'idle'""")
                time.sleep(1.0)
            C.log(f"\n== brush drag ({args.frames} pointer moves, one per frame)")
            drags = []
            for key in ("lr", "optimizer", "loss"):
                d = page.evaluate(DRAG_JS, [key, args.frames])
                fps = d["frames"] / (d["elapsed"] / 1e3)
                drags.append(fps)
                C.log(f"  axis {key}: {fps:.0f} frames/s; the plot's draw per frame p50 "
                      f"{statistics.median(d['draws']):.1f} ms, max {max(d['draws']):.1f} ms")
            if errors:
                C.log(f"  page errors: {errors}")
            browser.close()

        first = displays[0]["painted"]
        warm = statistics.median(d["painted"] for d in displays[1:]) if displays[1:] else first
        fps = min(drags)
        imp = max(k["importance_all"], k["importance_half"])
        C.log("\n== summary (targets from issue #15; timings are noisy on a shared machine)")
        C.print_table(
            ["what", "figure", "target", ""],
            [
                ["first render, cold (display -> drawn)", f"{first:.0f} ms", "<= 1000 ms",
                 mark(first <= 1000)],
                ["first render, warm", f"{warm:.0f} ms", "<= 1000 ms", mark(warm <= 1000)],
                ["brush drag, slowest axis", f"{fps:.0f} frames/s", ">= 30", mark(fps >= 30)],
                ["importance in the kernel, slowest", f"{imp * 1e3:.0f} ms", "<= 1000 ms",
                 mark(imp <= 1)],
                ["data over the wire", f"{k['bytes'] / 1024:.0f} KiB binary", "compact", ""],
            ],
        )  # fmt: skip
    finally:
        if lab is not None:
            W.stop_lab(lab, base)
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
