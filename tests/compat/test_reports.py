"""Reports written by W&B's own report library (`wandb_workspaces.reports.v2`, in a
subprocess, unchanged), read back by `liberry.Api`, `wandb.Api().reports` and the report's web
page; edited with `Report.from_url(url)` + `save()`, and deleted."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from liberry.errors import NotFoundError
from tests.compat.conftest import WandbClient

pytest.importorskip("wandb_workspaces")

LOG_RUNS = """
import wandb
for i in range(2):
    run = wandb.init(project={project!r}, name=f"run-{{i}}", config={{"lr": 0.1 * (i + 1)}})
    for step in range(10):
        run.log({{"loss": 1.0 / (step + 1 + i), "acc": step / 10}})
    run.finish()
"""

SAVE_REPORT = """
import json
import wandb_workspaces.reports.v2 as wr
report = wr.Report(
    project={project!r}, entity={entity!r}, title="Loss study: v1", description="two runs",
    blocks=[
        wr.H1("Results"),
        wr.P("The loss falls."),
        wr.UnorderedList(["first point", "second point"]),
        wr.PanelGrid(runsets=[wr.Runset(entity={entity!r}, project={project!r})],
                     panels=[wr.LinePlot(x="Step", y=["loss"])]),
    ],
)
report.save()
emit({{"id": report.id, "url": report.url}})
"""

EDIT_REPORT = """
import wandb_workspaces.reports.v2 as wr
report = wr.Report.from_url({url!r})
emit({{"title": report.title, "blocks": [type(b).__name__ for b in report.blocks]}})
report.title = "Loss study: v2"
report.blocks = report.blocks + [wr.H2("Appendix")]
report.save()
emit({{"id": report.id, "url": report.url}})
"""

SAVE_FILTERED = """
import wandb_workspaces.reports.v2 as wr
runset = wr.Runset(entity={entity!r}, project={project!r}, name="big lr",
                   filters="Config('lr') >= 0.15", order=[wr.OrderBy(wr.Config("lr"))])
report = wr.Report(project={project!r}, entity={entity!r}, title="Filtered",
                   blocks=[wr.PanelGrid(runsets=[runset], panels=[wr.LinePlot(y=["loss"])])])
report.save()
emit({{"id": report.id, "url": report.url}})
"""

DELETE_REPORT = """
import wandb_workspaces.reports.v2 as wr
emit(wr.Report.from_url({url!r}).delete())
"""


@pytest.fixture(scope="module")
def saved(wandb_client: WandbClient) -> dict[str, Any]:
    """A project with two logged runs and a report saved by wandb_workspaces."""
    project = f"reports-{uuid.uuid4().hex[:6]}"
    wandb_client.run(LOG_RUNS.format(project=project), timeout=180)
    out = wandb_client.run(SAVE_REPORT.format(project=project, entity=wandb_client.entity))
    return {"project": project, **out.result}


def test_wandb_workspaces_report_reads_back_in_liberry(
    wandb_client: WandbClient, saved: dict[str, Any]
) -> None:
    api = wandb_client.liberry_api()
    path = f"{wandb_client.entity}/{saved['project']}"
    reports = list(api.reports(path))
    assert len(reports) == 1
    report = reports[0]
    assert report.id == saved["id"]
    assert report.title == report.display_name == "Loss study: v1"
    assert report.description == "two runs"
    assert report.user and report.user["username"] == wandb_client.entity
    assert report.updated_at and report.name
    # wandb_workspaces keeps the id's base64 padding and the title's ':'; W&B's app (and
    # wandb.Api, and liberry) drop both. The server opens either form.
    assert report.url == saved["url"].replace("Loss-study:-v1", "Loss-study-v1").rstrip("=")
    assert [(b.type, b.text) for b in report.blocks[:2]] == [
        ("heading", "Results"), ("paragraph", "The loss falls.")
    ]  # fmt: skip
    assert report.blocks[2].items == ["first point", "second point"]
    grid = report.blocks[3]
    assert grid.type == "panel-grid"
    assert [(p.view_type, p.metrics) for p in grid.panels] == [("Run History Line Plot", ["loss"])]
    runsets = [(r.entity, r.project) for r in grid.runsets]
    assert runsets == [(wandb_client.entity, saved["project"])]
    # Direct lookups: by the URL the report tools printed, and by name.
    assert api.report(saved["url"]).spec_text == report.spec_text
    assert api.report(f"{path}/{report.name}").id == report.id
    assert list(api.reports(path, name="no-such-report")) == []
    with pytest.raises(NotFoundError, match="no report named 'nope'"):
        api.report(f"{path}/nope")


def test_wandb_api_lists_the_report(wandb_client: WandbClient, saved: dict[str, Any]) -> None:
    reports = list(wandb_client.api().reports(f"{wandb_client.entity}/{saved['project']}"))
    assert [r.display_name for r in reports] == ["Loss study: v1"]
    theirs = reports[0]
    ours = wandb_client.liberry_api().reports(f"{wandb_client.entity}/{saved['project']}")[0]
    assert theirs.id == ours.id and theirs.name == ours.name
    assert theirs.url == ours.url  # the same URL rules as wandb.Api's BetaReport.url
    assert theirs.spec == ours.spec


def test_report_page_shows_title_blocks_and_chart(
    wandb_client: WandbClient, saved: dict[str, Any]
) -> None:
    page = requests.get(saved["url"], auth=("api", wandb_client.api_key), timeout=30)
    assert page.status_code == 200, page.text
    ours = wandb_client.liberry_api().report(saved["url"]).url
    assert ours != saved["url"]
    assert requests.get(ours, auth=("api", wandb_client.api_key), timeout=30).text == page.text
    text = page.text
    assert "<h1>Loss study: v1</h1>" in text
    assert "<h1>Results</h1>" in text and "<p>The loss falls.</p>" in text
    assert "<li>first point</li>" in text
    assert "Run History Line Plot" in text and "2 run(s)" in text
    assert 'data-chart="0"' in text and '"metric": "run-0: loss"' in text
    assert wandb_client.api_key not in text
    assert requests.get(saved["url"], timeout=30).status_code == 401


def test_edit_with_from_url_then_delete(wandb_client: WandbClient, saved: dict[str, Any]) -> None:
    # Its own report, so the other tests keep theirs.
    made = wandb_client.run(SAVE_REPORT.format(project=saved["project"],
                                               entity=wandb_client.entity)).result  # fmt: skip
    edited = wandb_client.run(EDIT_REPORT.format(url=made["url"]))
    loaded, again = edited.results
    assert loaded == {"title": "Loss study: v1",
                      "blocks": ["H1", "P", "UnorderedList", "PanelGrid"]}  # fmt: skip
    assert again["id"] == made["id"]  # saved in place, not copied
    api = wandb_client.liberry_api()
    report = api.report(again["url"])
    assert report.title == "Loss study: v2"
    assert [b.text for b in report.blocks if b.type == "heading"] == ["Results", "Appendix"]
    titles = sorted(r.title or "" for r in api.reports(f"{wandb_client.entity}/{saved['project']}"))
    assert titles == ["Loss study: v1", "Loss study: v2"]
    assert wandb_client.run(DELETE_REPORT.format(url=again["url"])).result is True
    with pytest.raises(NotFoundError, match="not found"):
        api.report(again["url"])


def test_run_set_filters_choose_the_runs_drawn(
    wandb_client: WandbClient, saved: dict[str, Any]
) -> None:
    """A run set saved with a filter draws only its runs on the page, and its query gives
    `Api.runs` the same runs."""
    made = wandb_client.run(SAVE_FILTERED.format(project=saved["project"],
                                                 entity=wandb_client.entity)).result  # fmt: skip
    api = wandb_client.liberry_api()
    runset = api.report(made["url"]).blocks[0].runsets[0]
    query = runset.query()
    assert query.filters == {"config.lr": {"$gte": 0.15}}
    path = f"{wandb_client.entity}/{saved['project']}"
    assert [r.name for r in api.runs(path, filters=query.filters)] == ["run-1"]  # lr 0.2
    page = requests.get(made["url"], auth=("api", wandb_client.api_key), timeout=30).text
    assert "1 run(s)" in page
    assert '"metric": "loss"' in page  # one run: its lines are named by metric alone
