"""The lineage graph (issue #16) in a real JupyterLab 4, driven through Debian Chromium.

The lineage is logged by the official `wandb` client (tests/lineage_seed.py: a dataset, a
trainer run, a model, an evaluation run, and six fine-tune runs fanning out of the dataset).
A notebook written here draws `Lineage("…/mnist:latest")` and an unknown artifact; the test
reads node names as DOM text, expands a cluster, loads a node's neighbours lazily, searches,
clicks a node (and reads `w.selected` in the kernel), switches to the dark theme, and checks
the unknown artifact's message. Screenshots go to the test's tmp dir.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

import liberry
from tests.lineage_seed import FANOUT, seed_lineage

from .conftest import kernel_eval, open_and_run, run_marimo

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 45_000
expect.set_options(timeout=WAIT_MS)
LABELS = "els => els.map(e => e.textContent)"


@pytest.fixture(scope="module")
def lineage(liberry_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    api = liberry.Api(overrides={"base_url": liberry_server.url}, api_key=liberry_server.api_key)
    entity = api.default_entity
    assert entity
    project = f"lineage-{uuid.uuid4().hex[:6]}"
    return seed_lineage(liberry_server, tmp_path_factory.mktemp("wandb"), entity, project)


def _notebook(lab: dict[str, Any], path: str) -> str:
    name = f"lineage-{uuid.uuid4().hex[:8]}.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            f"import liberry\nw = liberry.widgets.Lineage({path + '/mnist:latest'!r}, depth=2)\nw"
        ),
        nbformat.v4.new_code_cell(f"bad = liberry.widgets.Lineage({path + '/nope:latest'!r})\nbad"),
    ]
    nbformat.write(nb, lab["root"] / name)
    return name


def _labels(root: Locator) -> list[str]:
    return list(root.get_by_test_id("lineage-node-label").evaluate_all(LABELS))


def _node(root: Locator, label: str) -> Locator:
    return root.locator("[data-node]", has=root.page.locator(f"text='{label}'")).first


def test_lineage_in_jupyterlab(page: Page, lab: dict[str, Any], lineage: dict[str, Any],
                               tmp_path: Path) -> None:  # fmt: skip
    name = _notebook(lab, lineage["path"])
    open_and_run(page, lab, name)
    widgets = page.get_by_test_id("liberry-lineage")
    expect(widgets).to_have_count(2)
    root, bad = widgets.nth(0), widgets.nth(1)
    expect(root).to_have_attribute("data-state", "ready")
    root.scroll_into_view_if_needed()

    # Node names are DOM text; the fan-out is drawn as two stacks.
    expect(root.get_by_test_id("lineage-title")).to_have_text("mnist:v0 (dataset)")
    expect(root.get_by_test_id("lineage-node-label").filter(has_text="evaluator")).to_have_count(1)
    shown = set(_labels(root))
    assert {"mnist:v0", "make-data", "trainer", "clf:v0", "evaluator"} <= shown, shown
    assert {f"ft-model \u00d7{FANOUT}", f"finetune \u00d7{FANOUT}"} <= shown, shown
    assert "ft-model:v3" not in shown
    page.screenshot(path=str(tmp_path / "1-collapsed.png"))

    # Expand a cluster: a click, no kernel message, its versions drawn one by one.
    root.get_by_test_id("lineage-cluster").filter(has_text="ft-model").click()
    expect(root.get_by_test_id("lineage-node-label").filter(has_text="ft-model:v")).to_have_count(
        FANOUT
    )
    assert f"ft-model \u00d7{FANOUT}" not in _labels(root)
    page.screenshot(path=str(tmp_path / "2-expanded.png"))

    # Search: the match highlights (its cluster opens) and the view pans to it.
    before = (
        root.get_by_test_id("lineage-svg").locator("g.lb-lineage-layer").get_attribute("transform")
    )
    root.get_by_test_id("lineage-search").fill("ft-3")
    expect(root.get_by_test_id("lineage-search-count")).to_have_text("1 match")
    match = root.locator("[data-node].lb-match")
    expect(match).to_have_count(1)
    expect(match.get_by_test_id("lineage-node-label")).to_have_text("ft-3")
    after = root.locator("g.lb-lineage-layer").get_attribute("transform")
    assert after != before
    # The text reaches the kernel once typing stops.
    assert _kernel_poll(lab, name, "w.query", "ft-3") == "ft-3"
    root.get_by_test_id("lineage-search").fill("")
    page.screenshot(path=str(tmp_path / "3-search.png"))

    # Click a node: the details panel, and `w.selected` in Python is the Run.
    root.get_by_test_id("lineage-fit").click()  # the search panned to ft-3
    _node(root, "trainer").click()
    details = root.get_by_test_id("lineage-details")
    expect(details.get_by_test_id("lineage-details-title")).to_have_text("trainer")
    expect(details.get_by_test_id("lineage-entries")).to_contain_text("optimizer.name")
    expect(details.get_by_test_id("lineage-facts")).to_contain_text("finished")
    # The selection reaches the kernel after the panel is painted.
    picked = _kernel_poll(lab, name, "[type(w.selected).__name__, w.selected and w.selected.name]",
                          ["Run", "trainer"])  # fmt: skip
    assert picked == ["Run", "trainer"]
    _node(root, "mnist:v0").click()
    expect(details.get_by_test_id("lineage-aliases")).to_contain_text("best")
    expect(details.get_by_test_id("lineage-facts")).to_contain_text("files")
    picked = _kernel_poll(lab, name, "[type(w.selected).__name__, w.selected.name]",
                          ["Artifact", "mnist:v0"])  # fmt: skip
    assert picked == ["Artifact", "mnist:v0"]
    page.screenshot(path=str(tmp_path / "4-details.png"))

    # Depth 1: the evaluator is two steps out; clf's "+1" loads it from the kernel.
    root.get_by_test_id("lineage-depth").select_option("1")
    expect(root.get_by_test_id("lineage-node-label").filter(has_text="evaluator")).to_have_count(0)
    root.get_by_test_id("lineage-fit").click()
    clf = _node(root, "clf:v0")
    expect(clf.get_by_test_id("lineage-expand").locator("text")).to_have_text("+1")
    clf.get_by_test_id("lineage-expand").click()
    expect(root.get_by_test_id("lineage-node-label").filter(has_text="evaluator")).to_have_count(1)
    expect(clf.get_by_test_id("lineage-expand")).to_have_count(0)
    assert _kernel_poll(lab, name, "w.depth", 1) == 1
    assert "evaluator" in kernel_eval(lab, name, "[n['label'] for n in w.nodes]")

    # The host's dark theme.
    switch = "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})"
    page.evaluate(switch, "JupyterLab Dark")
    try:
        expect(root).to_have_attribute("data-theme", "dark")
        page.wait_for_timeout(500)  # JupyterLab swaps its stylesheet after the attribute
        page.screenshot(path=str(tmp_path / "5-dark.png"))
        fill = (
            _node(root, "mnist:v0")
            .locator("rect")
            .first.evaluate("(el) => getComputedStyle(el).fill")
        )
        text = (
            _node(root, "mnist:v0")
            .locator("text")
            .first.evaluate("(el) => getComputedStyle(el).fill")
        )
        assert _luminance(text) > _luminance(fill), (text, fill)
    finally:
        page.evaluate(switch, "JupyterLab Light")
    expect(root).to_have_attribute("data-theme", "light")

    # The unknown artifact says so in its widget.
    bad.scroll_into_view_if_needed()
    expect(bad.get_by_test_id("lineage-message")).to_contain_text("not found")
    expect(bad.get_by_test_id("lineage-message")).to_contain_text("nope")
    expect(bad).to_have_attribute("data-error", "true")
    page.screenshot(path=str(tmp_path / "6-unknown.png"))

    assert page.liberry_errors == []  # type: ignore[attr-defined]
    assert page.liberry_outside == []  # type: ignore[attr-defined]


def _kernel_poll(lab: dict[str, Any], name: str, expr: str, want: Any, tries: int = 40) -> Any:
    """`expr` in the kernel once it equals `want` (or its last value after `tries`): the
    view syncs traits after painting, so Python sees a click a moment later."""
    import time

    got = None
    for _ in range(tries):
        got = kernel_eval(lab, name, expr)
        if got == want:
            break
        time.sleep(0.15)
    return got


def _luminance(color: str) -> float:
    import re

    # rgb(0-255 ...) or, from color-mix(), color(srgb 0-1 ...)
    scale = 255.0 if color.startswith("color(") else 1.0
    r, g, b = (float(v) * scale for v in re.findall(r"[\d.]+", color.split("srgb")[-1])[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


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
    graph = mo.ui.anywidget(liberry.widgets.Lineage({path!r}, depth=2))
    graph
    return (graph,)


@app.cell
def _(graph, mo):
    mo.md(f"**Selected:** {{graph.widget.selected.name if graph.widget.selected else 'none'}}")
    return


if __name__ == "__main__":
    app.run()
"""


@pytest.fixture
def marimo_lineage(
    liberry_server: Any, lineage: dict[str, Any], tmp_path: Path
) -> Iterator[dict[str, Any]]:
    """`marimo run` on a notebook that draws the lineage of `mnist:latest`."""
    source = MARIMO_NOTEBOOK.format(path=lineage["path"] + "/mnist:latest")
    (tmp_path / "lineage_marimo.py").write_text(source)
    with run_marimo(liberry_server, tmp_path, "lineage_marimo.py") as app:
        yield app


def test_lineage_in_marimo(page: Page, marimo_lineage: dict[str, Any], tmp_path: Path) -> None:
    root = page.get_by_test_id("liberry-lineage")
    page.goto(marimo_lineage["url"])
    expect(root).to_have_count(1)
    expect(root).to_have_attribute("data-state", "ready")
    expect(root).to_have_attribute("data-host", "marimo")
    # The walk came through marimo's own channel; names are DOM text.
    expect(root.get_by_test_id("lineage-title")).to_have_text("mnist:v0 (dataset)")
    shown = set(_labels(root))
    assert {"mnist:v0", "make-data", "trainer", "clf:v0"} <= shown, shown
    # A cluster opens without the kernel; a click on a node reaches Python, and the cell that
    # reads the selection re-runs with it.
    root.get_by_test_id("lineage-cluster").filter(has_text="ft-model").click()
    expect(root.get_by_test_id("lineage-node-label").filter(has_text="ft-model:v")).to_have_count(
        FANOUT
    )
    root.get_by_test_id("lineage-fit").click()
    _node(root, "trainer").click()
    expect(root.get_by_test_id("lineage-details-title")).to_have_text("trainer")
    expect(page.get_by_text("Selected: trainer")).to_be_visible()
    page.screenshot(path=str(tmp_path / "marimo.png"), full_page=True)
    assert page.liberry_errors == []  # type: ignore[attr-defined]
