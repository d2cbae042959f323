"""The run table (issue #5) in a real JupyterLab 4, driven through Debian Chromium.

The test opens `notebooks/quickstart.ipynb`, runs it against the seeded demo server and then
works the table as a user would: rows, paging, sorting, selecting (and reading the selection
back in Python), logging a new run and refreshing, filtering with the search box, the detail
panel and the dark theme. Every expectation about data is checked against the kernel: either
the widget's own Python side (`table.*`) or an independent `liberry.Api()` query.

Each step is named; a failing step reports the widget's visible state (range, status line,
search message, rows) next to the error, and conftest.py saves a screenshot of the page to
`test-artifacts/`.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, expect

from .conftest import kernel_eval, kernel_exec, open_and_run

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROJECT = "demo/image-classification"
PER_PAGE = 50
# The quickstart's code cell that reads the selection back, found by its source.
SELECTION_CELL = "for run in table.selected_runs"
# What the widget's footer says; an en dash between the bounds.
RANGE = "showing {}\u2013{} of {} runs"
# Expectations wait this long: the machine may be busy, but nothing here should take longer.
WAIT_MS = 45_000

expect.set_options(timeout=WAIT_MS)


# -- helpers ---------------------------------------------------------------------------------------

STATE_JS = """() => {
  const root = document.querySelector('[data-testid=liberry-runs]');
  if (!root) return {widget: 'not on the page'};
  const q = (id) => root.querySelector(`[data-testid=${id}]`);
  const rows = [...root.querySelectorAll('[data-testid=run-row]')];
  return {
    state: root.dataset.state, theme: root.dataset.theme,
    loading: root.classList.contains('lb-loading'),
    range: q('range')?.textContent, status: q('status')?.textContent,
    search: q('search')?.value, searchMessage: q('search-message')?.textContent,
    selection: q('selection')?.textContent, rows: rows.length,
    firstRows: rows.slice(0, 3).map((r) => r.dataset.runId),
    detail: q('detail')?.hidden ? 'closed' : q('detail')?.dataset.state,
  };
}"""


class Story:
    """The test's page, kernel and timing, with named steps that explain their failures."""

    def __init__(self, page: Page, lab: dict[str, Any], notebook: str) -> None:
        self.page = page
        self.lab = lab
        self.notebook = notebook
        self.started = time.monotonic()
        self.root = page.get_by_test_id("liberry-runs")

    def eval(self, expr: str) -> Any:
        return kernel_eval(self.lab, self.notebook, expr)

    def exec(self, code: str) -> None:
        kernel_exec(self.lab, self.notebook, code)

    def part(self, testid: str) -> Locator:
        return self.root.get_by_test_id(testid)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        except (AssertionError, PlaywrightError) as exc:
            try:
                state = json.dumps(self.page.evaluate(STATE_JS), indent=1, ensure_ascii=False)
            except PlaywrightError as inner:
                state = f"(could not read: {inner})"
            errors = getattr(self.page, "liberry_errors", [])
            raise AssertionError(
                f"step {name!r} failed after {time.monotonic() - began:.1f} s: {exc}\n"
                f"widget state: {state}\npage errors: {errors}"
            ) from exc
        print(f"[browser {time.monotonic() - self.started:6.1f}s] {name}", flush=True)

    # -- reading the table -----------------------------------------------------------------------

    def dom_ids(self) -> list[str]:
        return self.part("run-row").evaluate_all("rows => rows.map(r => r.dataset.runId)")

    def expect_ids(self, expected: list[str], what: str) -> None:
        """Wait until the rows on screen are exactly `expected` (run ids, in order)."""
        try:
            self.page.wait_for_function(
                """(want) => {
                  const root = document.querySelector('[data-testid=liberry-runs]');
                  if (!root || root.classList.contains('lb-loading')) return false;
                  const ids = [...root.querySelectorAll('[data-testid=run-row]')]
                    .map(r => r.dataset.runId);
                  return JSON.stringify(ids) === JSON.stringify(want); }""",
                arg=expected,
                timeout=WAIT_MS,
            )
        except PlaywrightError:
            shown = self.dom_ids()
            pairs = enumerate(zip(shown, expected, strict=False))
            first = next((i for i, (a, b) in pairs if a != b), min(len(shown), len(expected)))
            raise AssertionError(
                f"{what}: the table shows {len(shown)} rows, expected {len(expected)}; first "
                f"difference at row {first}: shown {shown[first : first + 3]} vs expected "
                f"{expected[first : first + 3]}"
            ) from None

    def expect_range(self, start: int, stop: int, total: int) -> None:
        expect(self.part("range")).to_have_text(RANGE.format(start, stop, total))

    def poll(self, expr: str, want: Any) -> None:
        """Wait until `expr`, evaluated in the kernel, equals `want`."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while (got := self.eval(expr)) != want:
            assert time.monotonic() < deadline, f"kernel: {expr} = {got!r}, expected {want!r}"
            time.sleep(0.2)

    def server_ids(self, offset: int = 0, limit: int = PER_PAGE, **query: Any) -> list[str]:
        """Run ids from an independent `liberry.Api()` query in the kernel."""
        args = ", ".join(f"{k}={v!r}" for k, v in query.items())
        return self.eval(
            f"[r.id for r in __import__('liberry').Api().runs({PROJECT!r}, {args}"
            f"{', ' if args else ''}per_page={limit}).page({offset}, {limit})]"
        )

    def server_count(self, filters: dict[str, Any]) -> int:
        return self.eval(f"len(__import__('liberry').Api().runs({PROJECT!r}, filters={filters!r}))")


def _column_numbers(story: Story, column: str) -> list[float]:
    texts = story.root.locator(
        f"[data-testid=run-row] td[data-column='{column}']"
    ).all_text_contents()
    return [float(t.replace(",", "")) for t in texts]


# -- the test --------------------------------------------------------------------------------------


# Click a header (no pointer, so nothing is fetched ahead) and time, in the page, when the rows
# change and when the comm messages carrying the view's requests and its trait sync are sent.
SYNC_AFTER_ROWS_JS = r"""async (root, column) => {
  const ids = () => [...root.querySelectorAll('[data-testid=run-row]')]
    .map((r) => r.dataset.runId).join(',');
  const before = ids();
  const decode = (d) => typeof d === 'string' ? d
    : new TextDecoder().decode(d instanceof ArrayBuffer ? new Uint8Array(d) : d);
  const out = {rows_at: null, update_at: null, requests_before_rows: 0, order: null};
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    try {
      const text = decode(data);
      if (text.includes('"comm_msg"')) {
        const at = performance.now();
        const order = text.match(/"method": ?"update", ?"state": ?\{[^}]*"order": ?"([^"]+)"/);
        if (order && out.update_at === null) { out.update_at = at; out.order = order[1]; }
        else if (text.includes('"type": "request"') || text.includes('"type":"request"')) {
          if (out.rows_at === null) out.requests_before_rows += 1;
        }
      }
    } catch (e) { /* not text: not ours */ }
    return send.call(this, data);
  };
  try {
    const th = root.querySelector(`th[data-column='${column}']`);
    if (!th) return {error: 'no header for ' + column};
    const changed = new Promise((resolve) => {
      const mo = new MutationObserver(() => {
        if (ids() !== before) { mo.disconnect(); resolve(performance.now()); }
      });
      mo.observe(root, {subtree: true, childList: true, attributes: true,
                        attributeFilter: ['data-run-id']});
      setTimeout(() => { mo.disconnect(); resolve(null); }, 30000);
    });
    th.click();
    out.rows_at = await changed;
    const deadline = performance.now() + 5000;
    while (out.update_at === null && performance.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    return out;
  } finally {
    WebSocket.prototype.send = send;
  }
}"""


def test_quickstart_run_table(page: Page, lab: dict[str, Any], notebook: str) -> None:
    story = Story(page, lab, notebook)
    root, part = story.root, story.part

    with story.step("open notebooks/quickstart.ipynb and run all cells"):
        open_and_run(page, lab, notebook)
        expect(root).to_have_count(1)
        expect(root).to_have_attribute("data-state", "ready")

    with story.step("real rows, with the 'showing 1-50 of N runs' count"):
        total = story.server_count({})
        assert total >= 120, f"the demo project has {total} runs, expected the 120 seeded"
        story.expect_range(1, PER_PAGE, total)
        # The widget's own query and an independent Api query agree with the screen.
        first_page = story.server_ids(order="-created_at")
        assert story.eval(f"[r.id for r in table.runs.page(0, {PER_PAGE})]") == first_page
        story.expect_ids(first_page, "first page")
        expect(root.get_by_test_id("state-badge").first).to_have_text(
            story.eval("table.runs.page(0, 1)[0].state"))  # fmt: skip
        names = root.locator("[data-testid=run-row] td[data-column=name]").all_text_contents()
        assert names[:3] == story.eval("[r.name for r in table.runs.page(0, 3)]")

    with story.step("page forward and back"):
        part("page-next").click()
        story.expect_range(PER_PAGE + 1, 2 * PER_PAGE, total)
        story.expect_ids(story.server_ids(PER_PAGE, order="-created_at"), "page 2")
        story.poll("table.offset", PER_PAGE)
        part("page-last").click()
        last = (total - 1) // PER_PAGE * PER_PAGE
        story.expect_range(last + 1, total, total)
        expect(part("page-next")).to_be_disabled()
        part("page-prev").click()
        story.expect_range(last - PER_PAGE + 1, last, total)
        part("page-first").click()
        story.expect_range(1, PER_PAGE, total)
        expect(part("page-prev")).to_be_disabled()
        story.expect_ids(first_page, "back on page 1")
        story.poll("(table.offset, table.page)", [0, 0])

    with story.step("sort by clicking column headers"):
        lr = root.locator("th[data-column='config.learning_rate']")
        lr.click()  # a config column sorts ascending first
        expect(lr).to_have_attribute("aria-sort", "ascending")
        story.poll("table.order", "+config.learning_rate")
        story.expect_ids(story.server_ids(order="+config.learning_rate"), "sorted by learning rate")
        rates = _column_numbers(story, "config.learning_rate")
        assert rates == sorted(rates), f"learning rates on screen are not ascending: {rates}"
        lr.click()  # the same header again flips it
        expect(lr).to_have_attribute("aria-sort", "descending")
        story.expect_ids(
            story.server_ids(order="-config.learning_rate"), "learning rate, descending"
        )
        accuracy = root.locator("th[data-column='summary.accuracy']")
        accuracy.click()  # metrics sort largest first
        expect(accuracy).to_have_attribute("aria-sort", "descending")
        expect(lr).not_to_have_attribute("aria-sort", "descending")
        story.poll("table.order", "-summary_metrics.accuracy")
        story.expect_ids(story.eval(f"[r.id for r in table.runs.page(0, {PER_PAGE})]"),
                         "sorted by accuracy")  # fmt: skip
        story.expect_ids(story.server_ids(order="-summary_metrics.accuracy"), "sorted by accuracy")
        # The header is updated in place on a sort (not rebuilt): the arrow still fits.
        clipped = root.evaluate(
            """(root) => [...root.querySelectorAll('thead th[data-column]')]
                .filter((th) => th.scrollWidth > th.clientWidth + 1)
                .map((th) => th.dataset.column)"""
        )
        assert clipped == [], f"headers clipped after sorting: {clipped}"

    with story.step("a sort's trait sync reaches the kernel after its rows are drawn"):
        # Sent earlier, the kernel would handle and echo it (and JupyterLab redraw its busy
        # status) while the page is being fetched: traits.ts holds it until the rows paint.
        sent = root.evaluate(SYNC_AFTER_ROWS_JS, "summary.loss")
        assert "error" not in sent, sent
        assert sent["update_at"] is not None, f"no trait sync after the sort: {sent}"
        assert sent["rows_at"] is not None and sent["update_at"] >= sent["rows_at"], sent
        assert sent["requests_before_rows"] == 1, sent  # only the page request went first
        story.poll("table.order", sent["order"])

    with story.step("order set from Python reaches the view"):
        story.exec("table.order = '-created_at'")
        expect(root.locator("th[data-column=created_at]")).to_have_attribute(
            "aria-sort", "descending"
        )
        story.expect_ids(first_page, "back to newest first")

    rows = part("run-row")
    with story.step("select rows with checkboxes and read the selection from Python"):
        picked = [first_page[1], first_page[3]]
        rows.nth(1).locator("input[type=checkbox]").check()
        rows.nth(3).locator("input[type=checkbox]").check()
        expect(part("selection")).to_contain_text("2 selected")
        expect(part("detail")).to_be_hidden()  # ticking a box does not open the row
        # The trait travels view -> kernel asynchronously: poll the kernel until it agrees.
        story.poll("table.selected", picked)
        picked_names = story.eval("[r.name for r in table.selected_runs]")
        assert picked_names == [story.eval(f"table.api.run({PROJECT + '/' + i!r}).name")
                                for i in picked]  # fmt: skip
        # The quickstart's own cell shows the same runs when re-run.
        cell = page.evaluate(
            """async (source) => { const app = window.jupyterapp;
                const nb = app.shell.currentWidget.content;
                const i = nb.widgets.findIndex(c => c.model.type === 'code'
                    && c.model.sharedModel.getSource().includes(source));
                if (i < 0) return -1;
                nb.activeCellIndex = i;
                return await app.commands.execute('notebook:run-cell') === false ? -2 : i; }""",
            SELECTION_CELL,
        )
        assert cell >= 0, f"no quickstart cell reading {SELECTION_CELL!r}, or it failed ({cell})"
        out = page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".jp-OutputArea-output")
        for name in picked_names:
            expect(out).to_contain_text(repr(name))

    new_id = f"e2e{uuid.uuid4().hex[:8]}"
    with story.step("log a new run from Python, then Refresh keeps selection and position"):
        part("page-next").click()
        story.expect_range(PER_PAGE + 1, 2 * PER_PAGE, total)
        story.exec(
            f"__import__('liberry').Api().create_run(project={PROJECT!r}, run_id={new_id!r}, "
            "display_name='e2e-new-run', state='finished', "
            "config={'optimizer': 'adam', 'learning_rate': 0.001, 'architecture': 'resnet18'}, "
            "summary={'accuracy': 0.5, 'loss': 1.0})"
        )
        assert story.server_count({}) == total + 1
        story.expect_range(PER_PAGE + 1, 2 * PER_PAGE, total)  # nothing moves by itself
        part("refresh").click()
        story.expect_range(PER_PAGE + 1, 2 * PER_PAGE, total + 1)
        story.expect_ids(story.server_ids(PER_PAGE, order="-created_at"), "page 2 after refresh")
        expect(part("selection")).to_contain_text("2 selected")
        story.poll("(table.offset, table.selected)", [PER_PAGE, picked])
        part("page-first").click()
        expect(rows.first).to_have_attribute("data-run-id", new_id)
        expect(rows.first.locator("td[data-column=name]")).to_have_text("e2e-new-run")
        for i in picked:  # still ticked, one row further down
            expect(root.locator(f"[data-run-id='{i}'] input[type=checkbox]")).to_be_checked()

    search = part("search")
    message = part("search-message")
    with story.step("filter with the search box: parse error, live count, Enter applies"):
        search.fill("lr>=")
        expect(message).to_contain_text('Expected a value after ">="')
        expect(search).to_have_attribute("aria-invalid", "true")
        text = "optimizer:adam state:finished"
        want = story.server_count({"config.optimizer": "adam", "state": "finished"})
        assert 0 < want < PER_PAGE, f"{want} runs match {text!r}; the demo data changed?"
        search.fill(text)
        noun = "run matches" if want == 1 else "runs match"
        expect(message).to_contain_text(f"{want} {noun}")
        expect(search).not_to_have_attribute("aria-invalid", "true")
        search.press("Enter")
        story.expect_range(1, want, want)
        story.poll("table.query", text)
        # The filter the view compiled selects the same runs as a hand-written one.
        assert story.eval(f"len(__import__('liberry').Api().runs({PROJECT!r}, "
                          "filters=table.filters))") == want  # fmt: skip
        story.expect_ids(story.server_ids(filters={"config.optimizer": "adam",
                                                   "state": "finished"},
                                          order="-created_at"), "filtered")  # fmt: skip
        assert new_id in story.dom_ids()
        states = set(rows.evaluate_all("rows => rows.map(r => r.dataset.state)"))
        assert states == {"finished"}, states
        expect(part("selection")).to_contain_text("2 selected")  # filtering keeps the selection
        part("search-clear").click()
        story.expect_range(1, PER_PAGE, total + 1)
        story.poll("(table.query, table.filters)", ["", {}])

    with story.step("open a row's detail panel, with its history chart"):
        row = rows.nth(2)
        run_id = row.get_attribute("data-run-id")
        name = row.locator("td[data-column=name]").text_content()
        row.locator("td[data-column=name]").click()
        detail = part("detail")
        expect(detail).to_be_visible()
        expect(detail).to_have_attribute("data-state", "ready")
        expect(detail).to_have_attribute("data-run-id", run_id or "")
        expect(detail.get_by_test_id("detail-title")).to_have_text(name or "")
        expect(row).to_have_class(re.compile(r"\blb-active\b"))
        chart = detail.get_by_test_id("detail-chart")
        expect(chart).to_have_attribute("data-ready", "true", timeout=90_000)
        assert chart.locator("svg path").count() > 0, "the history chart drew no lines"
        detail.get_by_test_id("detail-close").click()
        expect(detail).to_be_hidden()

    with story.step("follow JupyterLab's dark theme"):
        look = "(el) => { const s = getComputedStyle(el); return [s.backgroundColor, s.color]; }"
        light = root.evaluate(look)
        switch = "(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})"
        page.evaluate(switch, "JupyterLab Dark")
        try:
            expect(root).to_have_attribute("data-theme", "dark")
            page.wait_for_function(
                """([el, before]) => { const s = getComputedStyle(el);
                    return s.backgroundColor !== before[0] && s.color !== before[1]; }""",
                arg=[root.element_handle(), light],
                timeout=WAIT_MS,
            )
            dark = root.evaluate(look)
            assert _luminance(dark[0]) < _luminance(light[0]), (light, dark)
            assert _luminance(dark[1]) > _luminance(light[1]), (light, dark)
        finally:  # the theme is a saved setting: put it back for the other tests
            page.evaluate(switch, "JupyterLab Light")
        expect(root).to_have_attribute("data-theme", "light")

    with story.step("no page errors, no request leaving 127.0.0.1"):
        # Altair is pinned below 6 so the quickstart's chart renders offline (JupyterLab 4's
        # own Vega-Lite renderer); nothing, the widget included, may reach for a CDN.
        errors = page.liberry_errors  # type: ignore[attr-defined]
        outside = page.liberry_outside  # type: ignore[attr-defined]
        assert errors == [], f"errors in the page: {errors}"
        assert outside == [], f"requests that left 127.0.0.1: {outside}"


def _luminance(css: str) -> float:
    """Relative brightness of an `rgb(...)`/`rgba(...)` colour, 0 to 1."""
    r, g, b = (float(x) for x in re.findall(r"[\d.]+", css)[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
