"""The sweep explorer (issue #15) in a real JupyterLab 4 and in marimo, driven through Chromium.

A synthetic sweep is made through the real sweep protocol (`upsertSweep`, an agent's
`agentHeartbeat`s, each run's `upsertBucket` and `file_stream`, as `wandb.agent` sends them):
its metric `score` depends on `lr` only, so the importance panel must put `lr` first. The test
opens a notebook that displays `liberry.widgets.Sweep` for it (and one for a sweep that does
not exist), then works the widget as a user would: axes named by text, a brush dragged on the
`lr` axis narrows the best-runs table to exactly the runs whose `lr` is in the brushed range
(checked against an independent `liberry.Api` query), the selection reaches Python, a new run
logged from the kernel appears after a click on Refresh, JupyterLab's dark theme is followed.
Screenshots of each stage are saved in the test's tmp dir (the path is printed).
"""

from __future__ import annotations

import math
import random
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
import requests
from playwright.sync_api import Locator, Page, expect

import liberry
from liberry import demo_sweep
from liberry.server import ServerHandle

from .conftest import TOKEN, kernel_eval, kernel_exec, open_and_run, run_marimo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENTITY = "admin"
PROJECT = "sweep-e2e"
RUNS = 60
WAIT_MS = 45_000
expect.set_options(timeout=WAIT_MS)

CONFIG: dict[str, Any] = {
    "method": "random",
    "metric": {"name": "score", "goal": "maximize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
        "optimizer": {"values": ["adam", "sgd", "rmsprop"]},
        "dropout": {"distribution": "uniform", "min": 0.0, "max": 0.5},
        "batch_size": {"values": [16, 32, 64, 128]},
    },
}


def score_of_lr(params: dict[str, Any], rng: random.Random) -> tuple[dict[str, Any], list[Any]]:
    """The synthetic metric: best at lr = 10^-2.5, blind to every other parameter."""
    score = 1 - (math.log10(params["lr"]) + 2.5) ** 2 + rng.gauss(0, 0.01)
    return {"score": round(score, 6)}, []


@pytest.fixture(scope="session")
def sweep_path(liberry_server: ServerHandle) -> str:
    url, key = liberry_server.url, liberry_server.api_key
    sweep_id = demo_sweep.create_sweep(url, key, CONFIG, entity=ENTITY, project=PROJECT)
    made = demo_sweep.play_agent(url, key, sweep_id, score_of_lr, entity=ENTITY, project=PROJECT,
                                 count=RUNS, seed=1)  # fmt: skip
    assert made == RUNS
    return f"{ENTITY}/{PROJECT}/{sweep_id}"


def _notebook(root: Path, sweep: str) -> str:
    """A notebook showing the sweep (`w`) and a sweep that does not exist (`missing`)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(f"import liberry\nw = liberry.widgets.Sweep({sweep!r})\nw"),
        nbformat.v4.new_code_cell(
            f"missing = liberry.widgets.Sweep({sweep.rsplit('/', 1)[0] + '/nosuchsweep'!r})\n"
            "missing"
        ),
    ]
    name = f"sweep-{uuid.uuid4().hex[:8]}.ipynb"
    nbformat.write(nb, root / name)
    return name


@pytest.fixture
def sweep_notebook(lab: dict[str, Any], sweep_path: str) -> Iterator[str]:
    name = _notebook(lab["root"], sweep_path)
    yield name
    headers = {"Authorization": f"token {TOKEN}"}
    for s in requests.get(f"{lab['base']}/api/sessions", headers=headers, timeout=10).json():
        if s["path"].endswith(name):
            requests.delete(f"{lab['base']}/api/sessions/{s['id']}", headers=headers, timeout=10)


def _drag(page: Page, area: Locator, top: float, bottom: float) -> None:
    """Drag along an axis' brush area from `top` to `bottom` (fractions of its height)."""
    area.scroll_into_view_if_needed()
    box = area.bounding_box()
    assert box, "the axis has no box"
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + box["height"] * top)
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * (top + bottom) / 2, steps=4)
    page.mouse.move(x, box["y"] + box["height"] * bottom, steps=4)
    page.mouse.up()


def _luminance(css: str) -> float:
    r, g, b = (float(x) for x in re.findall(r"[\d.]+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_sweep_explorer_in_jupyterlab(
    page: Page,
    lab: dict[str, Any],
    sweep_notebook: str,
    sweep_path: str,
    liberry_server: ServerHandle,
    tmp_path: Path,
) -> None:
    api = liberry.Api({"base_url": liberry_server.url}, api_key=liberry_server.api_key)
    runs = api.sweep(sweep_path).runs.to_records(progress=False)
    print(f"screenshots: {tmp_path}")

    open_and_run(page, lab, sweep_notebook)
    widgets = page.get_by_test_id("liberry-sweep")
    expect(widgets).to_have_count(2)
    root, missing = widgets.nth(0), widgets.nth(1)
    expect(root).to_have_attribute("data-state", "ready")
    expect(root).to_have_attribute("data-runs", str(RUNS))

    # Axes named by text: every parameter, then the metric; a log axis and a category axis.
    labels = root.get_by_test_id("axis-label")
    expect(labels).to_have_text(["lr", "optimizer", "dropout", "batch_size", "score"])
    expect(root.locator("[data-testid=axis][data-key=lr]")).to_have_attribute("data-scale", "log")
    optimizer = root.locator("[data-testid=axis][data-key=optimizer]")
    expect(optimizer).to_have_attribute("data-scale", "category")
    expect(optimizer.locator(".lb-pc-tick")).to_have_text(["adam", "sgd", "rmsprop"])
    expect(root.get_by_test_id("sweep-meta")).to_contain_text(f"maximize score · {RUNS} runs")

    # The best runs: the top 10 by score, highest first, names as text.
    best = sorted(runs, key=lambda r: -r["summary.score"])
    expect(root.get_by_test_id("best-name")).to_have_text([r["name"] for r in best[:10]])

    # Importance over all runs: lr (the only parameter the score depends on) comes first.
    expect(root.get_by_test_id("importance-name").first).to_have_text("lr")
    assert kernel_eval(lab, sweep_notebook, "w.importance[0]['name']") == "lr"
    page.screenshot(path=str(tmp_path / "1-loaded.png"), full_page=True)

    # Brush the lr axis (its upper part): the table narrows to exactly the runs in range.
    area = root.locator("[data-testid=axis-brush-area][data-key=lr]")
    _drag(page, area, 0.1, 0.45)
    expect(root.get_by_test_id("clear-brushes")).to_be_visible()
    low, high = _poll(lambda: kernel_eval(lab, sweep_notebook, "w.brushes.get('lr')"))
    assert 1e-4 <= low < high <= 1e-1, (low, high)
    inside = [r for r in runs if low <= r["config.lr"] <= high]
    assert 0 < len(inside) < RUNS, (low, high, len(inside))
    expect(root.get_by_test_id("selection")).to_have_attribute("data-count", str(len(inside)))
    want = sorted(inside, key=lambda r: -r["summary.score"])[:10]
    expect(root.get_by_test_id("best-row")).to_have_count(len(want))
    assert root.get_by_test_id("best-row").evaluate_all(
        "rows => rows.map(r => r.dataset.runId)"
    ) == [r["id"] for r in want]
    # The selection reached Python: the trait and the Run objects.
    selected = _poll(lambda: kernel_eval(lab, sweep_notebook, "sorted(w.selected)") or None)
    assert selected == sorted(r["id"] for r in inside)
    assert kernel_eval(lab, sweep_notebook, "sorted(r.id for r in w.selected_runs)") == selected
    expect(root.get_by_test_id("importance-scope")).to_have_text(f"the {len(inside)} brushed runs")
    expect(root.get_by_test_id("importance")).to_have_attribute("data-state", "ready")
    # A second brush (a category axis) combines with the first.
    _drag(page, root.locator("[data-testid=axis-brush-area][data-key=optimizer]"), 0.0, 0.5)
    kept = _poll(lambda: kernel_eval(lab, sweep_notebook, "w.brushes.get('optimizer')"))
    both = [r for r in inside if r["config.optimizer"] in kept]
    assert len(both) < len(inside), (kept, len(both))
    expect(root.get_by_test_id("selection")).to_have_attribute("data-count", str(len(both)))
    page.screenshot(path=str(tmp_path / "2-brushed.png"), full_page=True)
    root.get_by_test_id("clear-brushes").click()
    expect(root.get_by_test_id("selection")).to_have_attribute("data-count", str(RUNS))
    assert _poll(lambda: kernel_eval(lab, sweep_notebook, "w.brushes") == {} or None)

    # Double-click a best run: its path in the view, the run in Python.
    first = root.get_by_test_id("best-row").first
    first.dblclick()
    top_id = best[0]["id"]
    expect(root.get_by_test_id("opened-path")).to_have_text(f"{ENTITY}/{PROJECT}/{top_id}")
    assert kernel_eval(lab, sweep_notebook, "w.opened_run.id") == top_id

    # A new run logged by an agent (from the kernel), then Refresh: it appears, and it is the
    # best (its score is above any other's).
    kernel_exec(
        lab,
        sweep_notebook,
        "import os\nfrom liberry import demo_sweep\n"
        "demo_sweep.play_agent(os.environ['LIBERRY_BASE_URL'], os.environ['LIBERRY_API_KEY'], "
        f"{sweep_path.rsplit('/', 1)[1]!r}, lambda p, r: ({{'score': 5.0}}, []), "
        f"entity={ENTITY!r}, project={PROJECT!r}, count=1)",
    )
    root.get_by_test_id("refresh").click()
    expect(root).to_have_attribute("data-runs", str(RUNS + 1))
    expect(root.get_by_test_id("best-metric").first).to_have_text("5")
    newest = api.sweep(sweep_path).refresh().runs.to_records(progress=False)[-1]["id"]
    expect(root.get_by_test_id("best-row").first).to_have_attribute("data-run-id", newest)

    # JupyterLab's dark theme.
    look = "(el) => getComputedStyle(el).backgroundColor"
    light = root.evaluate(look)
    switch = "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})"
    page.evaluate(switch, "JupyterLab Dark")
    try:
        expect(root).to_have_attribute("data-theme", "dark")
        page.wait_for_function(
            "([el, before]) => getComputedStyle(el).backgroundColor !== before",
            arg=[root.element_handle(), light],
        )
        assert _luminance(root.evaluate(look)) < 0.3 < _luminance(light)
        root.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "3-dark.png"), full_page=True)
    finally:  # a saved setting: put it back for the other tests
        page.evaluate(switch, "JupyterLab Light")
    expect(root).to_have_attribute("data-theme", "light")

    # The missing sweep: a clear message in the widget, no plots.
    expect(missing).to_have_attribute("data-state", "error")
    expect(missing.get_by_test_id("error")).to_contain_text("nosuchsweep not found")
    expect(missing.get_by_test_id("sweep-body")).to_be_hidden()
    missing.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "4-missing.png"), full_page=True)

    # No secret in the widget's state (what a saved notebook would keep).
    key = liberry_server.api_key
    state = kernel_eval(lab, sweep_notebook, "str(w.get_state()) + str(missing.get_state())")
    assert key not in state
    assert page.liberry_errors == [], page.liberry_errors  # type: ignore[attr-defined]
    assert page.liberry_outside == [], page.liberry_outside  # type: ignore[attr-defined]


def _poll(read: Any, timeout: float = 30.0) -> Any:
    """`read()` once it is truthy (a trait the view syncs after painting)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if value or time.monotonic() > deadline:
            assert value, "timed out waiting for the kernel to see the view's change"
            return value
        time.sleep(0.3)


# -- marimo --------------------------------------------------------------------------------------

MARIMO_NOTEBOOK = """
import marimo

app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo

    import liberry

    return liberry, mo


@app.cell
def _(liberry, mo):
    explorer = mo.ui.anywidget(liberry.widgets.Sweep({path!r}))
    explorer
    return (explorer,)


@app.cell
def _(explorer, mo):
    _ids = explorer.value.get("selected") or []
    mo.md(f"**Brushed runs:** {{len(_ids)}}")
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.fixture
def marimo_sweep(
    liberry_server: ServerHandle, sweep_path: str, tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """`marimo run` on a notebook that shows the sweep."""
    (tmp_path / "sweep_marimo.py").write_text(MARIMO_NOTEBOOK.format(path=sweep_path))
    with run_marimo(liberry_server, tmp_path, "sweep_marimo.py") as app:
        yield app


def test_sweep_explorer_in_marimo(
    page: Page, marimo_sweep: dict[str, Any], sweep_path: str, tmp_path: Path
) -> None:
    root = page.get_by_test_id("liberry-sweep")
    page.goto(marimo_sweep["url"])
    expect(root).to_have_count(1, timeout=60_000)
    expect(root).to_have_attribute("data-state", "ready")
    expect(root).to_have_attribute("data-host", "marimo")
    # The binary `_data` trait arrived through marimo's own channel.
    expect(root).to_have_attribute("data-runs", re.compile(r"^\d+$"))
    runs = int(root.get_attribute("data-runs") or 0)
    assert runs >= RUNS
    expect(root.get_by_test_id("axis-label")).to_have_text(
        ["lr", "optimizer", "dropout", "batch_size", "score"]
    )
    expect(root.get_by_test_id("importance-name").first).to_have_text("lr")
    # A brush: the count narrows, the kernel's importance answers over custom messages, and
    # the notebook's cell that reads the selection re-runs with it.
    _drag(page, root.locator("[data-testid=axis-brush-area][data-key=lr]"), 0.1, 0.45)
    count = root.get_by_test_id("selection")
    expect(count).not_to_have_attribute("data-count", str(runs))
    brushed = int(count.get_attribute("data-count") or -1)
    assert 0 < brushed < runs
    expect(root.get_by_test_id("importance-scope")).to_have_text(f"the {brushed} brushed runs")
    expect(root.get_by_test_id("importance")).to_have_attribute("data-state", "ready")
    expect(page.get_by_text(f"Brushed runs: {brushed}")).to_be_visible()
    page.screenshot(path=str(tmp_path / "marimo.png"), full_page=True)
    assert page.liberry_errors == [], page.liberry_errors  # type: ignore[attr-defined]
