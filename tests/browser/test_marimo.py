"""The run table (issue #5) in marimo: `notebooks/quickstart_marimo.py` under `marimo run`.

marimo hosts anywidgets itself (`mo.ui.anywidget`), without Jupyter's widget manager: the view
lives in a shadow root, traits sync over marimo's own channel, and the widget's request/reply
channel rides on custom messages (`model.send` / `msg:custom`). This drives the real notebook
against the real seeded server: rows, a sort click, the search box, and a ticked row reaching
Python (the notebook's selection cell re-runs and shows it).

Playwright's `get_by_test_id` pierces the open shadow root; `document.querySelector` would not.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

import liberry

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "demo/image-classification"
PER_PAGE = 50
WAIT_MS = 45_000

ROW_IDS = "rows => rows.map(r => r.dataset.runId)"

# What marimo does to <body> when its theme changes (its useTheme hook).
MARIMO_THEME_JS = """(theme) => { const body = document.body;
  body.classList.remove('light', 'light-theme', 'dark', 'dark-theme');
  body.classList.add(theme, theme + '-theme'); body.dataset.theme = theme; }"""


def _ids(api: liberry.Api, **query: Any) -> list[str]:
    return [r.id for r in api.runs(PROJECT, per_page=PER_PAGE, **query).page(0, PER_PAGE)]


def test_marimo_run_table(page: Page, marimo_app: dict[str, Any]) -> None:
    srv = marimo_app["server"]
    api = liberry.Api({"base_url": srv.url}, api_key=srv.api_key)  # independent of the widget
    root = page.get_by_test_id("liberry-runs")
    rows = root.get_by_test_id("run-row")

    page.goto(marimo_app["url"])
    expect(root).to_have_count(1, timeout=60_000)
    expect(root).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    expect(root).to_have_attribute("data-host", "marimo")
    # The widget is inside marimo's shadow DOM, not in the light DOM.
    assert page.evaluate("document.querySelector('[data-testid=liberry-runs]')") is None

    # Real rows, as the server orders them.
    total = len(api.runs(PROJECT))
    expect(root.get_by_test_id("range")).to_have_text(
        f"showing 1\u2013{PER_PAGE} of {total} runs", timeout=WAIT_MS
    )
    expect(rows).to_have_count(PER_PAGE)
    assert rows.evaluate_all(ROW_IDS) == _ids(api, order="-created_at")

    # A sort click: the request goes to Python over custom messages, the rows come back.
    lr = root.locator("th[data-column='config.learning_rate']")
    lr.click()
    expect(lr).to_have_attribute("aria-sort", "ascending")
    want_ids = _ids(api, order="+config.learning_rate")
    expect(rows.first).to_have_attribute("data-run-id", want_ids[0], timeout=WAIT_MS)
    expect(root).not_to_have_class(re.compile(r"\blb-loading\b"))
    assert rows.evaluate_all(ROW_IDS) == want_ids

    # The search box: a parse error, the live count, then Enter filters.
    search = root.get_by_test_id("search")
    message = root.get_by_test_id("search-message")
    search.fill("lr>=")
    expect(message).to_contain_text('Expected a value after ">="')
    want = len(api.runs(PROJECT, filters={"config.optimizer": "adam", "state": "finished"}))
    assert 0 < want < PER_PAGE, want
    search.fill("optimizer:adam state:finished")
    expect(message).to_contain_text(f"{want} run")
    search.press("Enter")
    expect(root.get_by_test_id("range")).to_have_text(f"showing 1\u2013{want} of {want} runs")
    assert set(rows.evaluate_all("rows => rows.map(r => r.dataset.state)")) == {"finished"}

    # A row's detail panel: its history chart needs the Vega bundle, which the kernel sends
    # over the same custom-message channel (a large reply) and the view imports from a blob.
    row = rows.nth(0)
    row.locator("td[data-column=name]").click()
    detail = root.get_by_test_id("detail")
    expect(detail).to_have_attribute("data-state", "ready", timeout=WAIT_MS)
    expect(detail).to_have_attribute("data-run-id", row.get_attribute("data-run-id") or "")
    chart = detail.get_by_test_id("detail-chart")
    expect(chart).to_have_attribute("data-ready", "true", timeout=60_000)
    assert chart.locator("svg path").count() > 0, "the history chart drew no lines"
    detail.get_by_test_id("detail-close").click()
    expect(detail).to_be_hidden()

    # marimo's dark theme: marimo marks <body> ("dark dark-theme", data-theme); there are no
    # --jp-* variables here, so the widget's own dark colours apply.
    light_bg = root.evaluate("el => getComputedStyle(el).backgroundColor")
    page.evaluate(MARIMO_THEME_JS, "dark")
    expect(root).to_have_attribute("data-theme", "dark")
    dark_bg = root.evaluate("el => getComputedStyle(el).backgroundColor")
    assert _luminance(dark_bg) < 0.2 < 0.8 < _luminance(light_bg), (light_bg, dark_bg)
    page.evaluate(MARIMO_THEME_JS, "light")
    expect(root).to_have_attribute("data-theme", "light")

    # Ticking a row reaches Python: the notebook's selection cell re-runs with the run's name.
    picked = rows.nth(1)
    picked_name = picked.locator("td[data-column=name]").text_content() or ""
    assert picked_name
    # The paragraph holding the bold "Selected runs:" label.
    selected_cell = page.get_by_text("Selected runs:", exact=True).locator("xpath=..")
    expect(selected_cell).to_contain_text("none yet", timeout=WAIT_MS)
    picked.locator("input[type=checkbox]").check()
    expect(root.get_by_test_id("selection")).to_contain_text("1 selected")
    expect(selected_cell).to_contain_text(picked_name, timeout=WAIT_MS)

    assert page.liberry_errors == [], page.liberry_errors  # type: ignore[attr-defined]
    assert page.liberry_outside == [], page.liberry_outside  # type: ignore[attr-defined]


def _luminance(css: str) -> float:
    r, g, b = (float(x) for x in re.findall(r"[\d.]+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
