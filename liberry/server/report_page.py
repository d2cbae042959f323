"""A report's web page: a read-only HTML rendering of its blocks.

Served at the URL W&B's tools give a report (`/{entity}/{project}/reports/{Title}--{id}`, or
`.../reports/{name}`). Headings, text, lists, code and quotes are drawn as HTML; each panel
grid lists its run sets and panels, and its line plots are drawn with the widgets' charts
(Altair -> Vega-Lite, rendered by the widgets' own `vega.js` bundle served beside the page).
Without JavaScript the panel list remains. Everything from the spec is escaped, and the page
carries no credentials: the browser's own Basic-auth login fetches it.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from ..report_blocks import Block, Panel, RunSetRef, read_blocks
from ..runset_filters import RunSetFilterError
from .access import Access
from .store import runs as run_store
from .store import views
from .store.errors import StoreError
from .store.history import sampled_history

#: Runs drawn per run set: the first of its filter and sort (newest first by default).
RUNS_PER_RUNSET = 10
#: Points per run and metric: enough for a smooth line, small enough for a page.
SAMPLES = 300
_X_AXES = {"_step", "_runtime", "_timestamp"}
_LINE_PLOTS = {"Run History Line Plot", "run-history-line-plot"}

_STYLE = """
body{font:15px/1.55 system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;
color:#1a1a1a}
header .meta{color:#666;font-size:13px}
pre{background:#f5f5f5;padding:.75rem;overflow:auto;border-radius:4px}
blockquote{border-left:3px solid #ccc;margin:0;padding-left:1rem;color:#444}
section.panel-grid{border:1px solid #e0e0e0;border-radius:6px;padding:.75rem 1rem;margin:1rem 0}
section.panel-grid h4{margin:.25rem 0;font-size:13px;color:#555;font-weight:600}
.panel{margin:.5rem 0}.chart{width:100%;min-height:40px}
.empty{color:#888;font-style:italic}
"""


def vega_bundle() -> Path | None:
    """The widgets' chart bundle (vega-embed with Vega and Vega-Lite), when it was built."""
    path = Path(str(resources.files("liberry_widgets").joinpath("static", "vega.js")))
    return path if path.is_file() else None


def find_report(
    access: Access, entity: str, project: str, slug: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(view, project) for a URL's last part: `Title--<id>` (W&B's form) or a report name;
    None when it does not exist or the caller may not see it (the same answer)."""
    from .graphql.views import view_pk

    conn = access.conn
    proj = access.project(entity, project)
    if proj is None:
        return None
    row = None
    if "--" in slug:
        try:
            row = views.get_view(conn, view_pk(slug.rsplit("--", 1)[1]))
        except StoreError:
            row = None
    if row is None:
        row = views.get_view_by_name(conn, proj["id"], slug)
    if row is None or row["project_id"] != proj["id"]:
        return None
    return row, proj


def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _script_json(value: Any) -> str:
    # Inside <script>, "</script>" or "<!--" in a metric name would end the element early.
    return json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")


def _runs_of(
    access: Access, runset: RunSetRef, default: dict[str, Any]
) -> tuple[list[dict[str, Any]], str | None]:
    """The first runs of a run set, by its filters and sort, from a project the reader may
    see; with a note when its filter could not be applied (then no runs, never other runs)."""
    proj = default
    if runset.entity and runset.project:
        proj = access.project(runset.entity, runset.project) or {}
    if not proj:
        return [], None
    try:
        query = runset.query()
        page, _, _ = run_store.list_runs(
            access.conn,
            proj["id"],
            filters=query.filters,
            order=query.order or "-created_at",
            first=RUNS_PER_RUNSET,
            after=None,
        )
    except (RunSetFilterError, StoreError) as exc:
        return [], f"{runset.name}: its filter is not drawn ({exc})"
    return page, None


def _chart(conn: Connection, panel: Panel, runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The Vega-Lite spec of a line plot: one line per run and metric."""
    from liberry_widgets.charts import history_chart

    if panel.view_type not in _LINE_PLOTS or not panel.metrics or not runs:
        return None
    x = panel.x if panel.x in _X_AXES else "_step"
    rows: list[dict[str, Any]] = []
    labels: list[str] = []
    for run in runs:
        who = run.get("display_name") or run["name"]
        for metric in panel.metrics:
            label = f"{who}: {metric}" if len(runs) > 1 else metric
            labels.append(label)
            for point in sampled_history(conn, run, [x, metric], SAMPLES):
                if metric in point and x in point:
                    rows.append({x: point[x], label: point[metric]})
    if not rows:
        return None
    spec: dict[str, Any] = history_chart(rows, labels, x=x, title=panel.title).to_dict()
    return spec


def _panel_grid(access: Access, block: Block, project: dict[str, Any], charts: list) -> str:
    conn = access.conn
    runsets = block.runsets or [RunSetRef("Run set", None, None)]
    drawn = [_runs_of(access, rs, project) for rs in runsets]
    runs = [r for rows, _ in drawn for r in rows]
    parts = ['<section class="panel-grid">']
    names = ", ".join(
        f"{rs.name} ({rs.entity or project['entity_name']}/{rs.project or project['name']})"
        for rs in runsets
    )
    parts.append(f"<h4>Run sets: {_esc(names)} &middot; {len(runs)} run(s)</h4>")
    parts.extend(f'<p class="empty">{_esc(note)}</p>' for _, note in drawn if note)
    if not block.panels:
        parts.append('<p class="empty">no panels</p>')
    for panel in block.panels:
        caption = panel.title or ", ".join(panel.metrics) or panel.view_type
        parts.append(
            f'<div class="panel"><h4>{_esc(caption)} '
            f"<small>({_esc(panel.view_type)}; x: {_esc(panel.x)})</small></h4>"
        )
        spec = _chart(conn, panel, runs)
        if spec is not None:
            charts.append(spec)
            parts.append(f'<div class="chart" data-chart="{len(charts) - 1}"></div>')
        elif panel.view_type in _LINE_PLOTS:
            parts.append('<p class="empty">no data logged for these metrics yet</p>')
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _block_html(access: Access, block: Block, project: dict[str, Any], charts: list) -> str:
    kind = block.type
    if kind == "heading":
        level = min(max(block.level or 1, 1), 6)
        return f"<h{level}>{_esc(block.text)}</h{level}>"
    if kind == "paragraph":
        return f"<p>{_esc(block.text)}</p>"
    if kind == "list":
        tag = "ol" if block.raw.get("ordered") else "ul"
        items = "".join(f"<li>{_esc(i)}</li>" for i in block.items)
        return f"<{tag}>{items}</{tag}>"
    if kind in ("code-block", "markdown-block", "latex"):
        return f'<pre class="{_esc(kind)}">{_esc(block.text)}</pre>'
    if kind in ("block-quote", "callout-block"):
        return f"<blockquote>{_esc(block.text)}</blockquote>"
    if kind == "horizontal-rule":
        return "<hr>"
    if kind == "image":
        url = str(block.raw.get("url") or "")
        caption = _esc(block.text)
        if url.startswith(("http://", "https://")):
            img = f'<img src="{_esc(url)}" alt="{caption}">'
            return f"<figure>{img}<figcaption>{caption}</figcaption></figure>"
        return f"<p>[image] {caption}</p>"
    if kind == "panel-grid":
        return _panel_grid(access, block, project, charts)
    if block.text:
        return f"<p>{_esc(block.text)}</p>"
    return f'<p class="empty">[{_esc(kind)} block]</p>'


_LOADER = """<script type="module">
import { render } from "/static/liberry/vega.js";
const specs = JSON.parse(document.getElementById("liberry-charts").textContent);
for (const el of document.querySelectorAll("[data-chart]")) {
  render(el, specs[Number(el.dataset.chart)], "light")
    .catch((e) => { el.textContent = String(e); });
}
</script>"""


def render_report(access: Access, view: dict[str, Any], project: dict[str, Any]) -> str:
    """The page's HTML (one document, styles inline, charts as Vega-Lite JSON)."""
    spec = json.loads(view["spec"])
    blocks = read_blocks(spec if isinstance(spec, dict) else {})
    charts: list[dict[str, Any]] = []
    body = "\n".join(_block_html(access, b, project, charts) for b in blocks)
    title = view.get("display_name") or view["name"]
    meta = (
        f"{_esc(project['entity_name'])}/{_esc(project['name'])} &middot; "
        f"by {_esc(view.get('username') or 'unknown')} &middot; "
        f"updated {_esc(view['updated_at'][:19])}"
    )
    description = f"<p>{_esc(view['description'])}</p>" if view.get("description") else ""
    script = ""
    if charts and vega_bundle() is not None:
        script = (
            f'<script type="application/json" id="liberry-charts">{_script_json(charts)}</script>'
            + _LOADER
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head>\n<body>"
        f'<header><h1>{_esc(title)}</h1>{description}<p class="meta">{meta}</p></header>\n'
        f"<main>{body}</main>\n{script}</body></html>\n"
    )
