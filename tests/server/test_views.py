"""Reports on the wire: W&B's view operations (`upsertView`, `view`, `deleteView`,
`project { allViews }`) as `wandb_workspaces` and `wandb.Api().reports` send them, and the
report page. The operations are the ones recorded in tests/compat/protocol/reports/."""

from __future__ import annotations

import json
from typing import Any

import requests

from liberry.server import ServerHandle
from tests.wire import Wire

# wandb_workspaces/reports/v2/gql.py, verbatim selections.
UPSERT_VIEW = """
mutation upsertView($id: ID, $entityName: String, $projectName: String, $type: String,
    $name: String, $displayName: String, $description: String, $spec: String!) {
  upsertView(input: {id: $id, entityName: $entityName, projectName: $projectName, name: $name,
      displayName: $displayName, description: $description, type: $type,
      createdUsing: WANDB_SDK, spec: $spec}) {
    view { id type name displayName description project { id name entityName } spec updatedAt }
    inserted
  }
}
"""
VIEW = """
query SpecificReport($reportId: ID!) {
  view(id: $reportId) {
    id name displayName description project { id name entityName } createdAt updatedAt spec
  }
}
"""
DELETE_VIEW = """
mutation deleteView($id: ID!, $deleteDrafts: Boolean) {
  deleteView(input: { id: $id, deleteDrafts: $deleteDrafts }) { success pendingDrafts __typename }
}
"""
# wandb/apis/public/reports.py `Reports.QUERY`.
PROJECT_VIEWS = """
query ProjectViews($project: String!, $entity: String!, $reportCursor: String,
    $reportLimit: Int!, $viewType: String = "runs", $viewName: String) {
  project(name: $project, entityName: $entity) {
    allViews(viewType: $viewType, viewName: $viewName, first: $reportLimit,
        after: $reportCursor) {
      edges { node { id name displayName description user { username photoUrl email }
                     spec updatedAt createdAt } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

# Odd spacing, key order, unicode and a float that JSON round-trips would change: a server
# that re-serialized the spec would not give these bytes back.
SPEC = '{"version": 5,  "width":"readable", "blocks": [{"type":"heading","level":1,\n' \
    '"children":[{"text":"Résumé ✓ <b>"}]}], "x": 1.10, "panelSettings": {}}'  # fmt: skip


def _save(wire: Wire, entity: str, project: str, **extra: Any) -> dict[str, Any]:
    variables = {"entityName": entity, "projectName": project, "displayName": "T",
                 "description": "d", "type": "runs", "spec": SPEC, **extra}  # fmt: skip
    data: dict[str, Any] = wire.gql(UPSERT_VIEW, variables)["upsertView"]
    return data


def _list(wire: Wire, entity: str, project: str, **extra: Any) -> dict[str, Any]:
    variables = {"entity": entity, "project": project, "reportLimit": 50, **extra}
    data: dict[str, Any] = wire.gql(PROJECT_VIEWS, variables)["project"]["allViews"]
    return data


def test_spec_is_returned_byte_for_byte(server: ServerHandle, project_name: str) -> None:
    wire = Wire(server.url, server.api_key)
    saved = _save(wire, "admin", project_name)
    assert saved["inserted"] is True
    assert saved["view"]["spec"] == SPEC
    assert saved["view"]["project"] == {
        "id": saved["view"]["project"]["id"], "name": project_name, "entityName": "admin"
    }  # fmt: skip
    again = wire.gql(VIEW, {"reportId": saved["view"]["id"]})["view"]
    assert again["spec"] == SPEC
    listed = _list(wire, "admin", project_name)["edges"]
    assert [e["node"]["spec"] for e in listed] == [SPEC]
    assert listed[0]["node"]["user"]["username"] == "admin"


def test_update_by_id_keeps_name_and_changes_fields(
    server: ServerHandle, project_name: str
) -> None:
    wire = Wire(server.url, server.api_key)
    first = _save(wire, "admin", project_name, name="keepme")["view"]
    # The report tools send a fresh random name with every save of an existing report.
    second = _save(wire, "admin", project_name, id=first["id"], name="random123",
                   displayName="New title", spec='{"blocks": []}')  # fmt: skip
    assert second["inserted"] is False
    assert second["view"]["id"] == first["id"]
    assert second["view"]["name"] == "keepme"
    assert second["view"]["displayName"] == "New title"
    assert second["view"]["spec"] == '{"blocks": []}'
    assert len(_list(wire, "admin", project_name)["edges"]) == 1


def test_malformed_spec_is_refused_naming_the_problem(
    server: ServerHandle, project_name: str
) -> None:
    wire = Wire(server.url, server.api_key)
    base = {"entityName": "admin", "projectName": project_name, "displayName": "T"}
    cases = {
        '{"blocks": [': "not valid JSON",
        "[1, 2]": "must be a JSON object, got list",
        '"text"': "must be a JSON object, got str",
    }
    for spec, expected in cases.items():
        message = wire.gql_error(UPSERT_VIEW, {**base, "spec": spec})
        assert "spec" in message and expected in message, message
    # The mutation rolled back whole: not even the project it would have created exists.
    variables = {"entity": "admin", "project": project_name, "reportLimit": 50}
    assert wire.gql(PROJECT_VIEWS, variables)["project"] is None


def test_unknown_name_lists_nothing_and_unknown_id_is_an_error(
    server: ServerHandle, project_name: str
) -> None:
    wire = Wire(server.url, server.api_key)
    _save(wire, "admin", project_name, name="exists")
    assert _list(wire, "admin", project_name, viewName="nope")["edges"] == []
    assert len(_list(wire, "admin", project_name, viewName="exists")["edges"]) == 1
    assert _list(wire, "admin", project_name, viewType="project-view")["edges"] == []
    message = wire.gql_error(VIEW, {"reportId": "Vmlldzo5OTk5OTk="})  # View:999999
    assert "not found" in message
    message = wire.gql_error(VIEW, {"reportId": "garbage!"})
    assert "malformed report id" in message


def test_pages_and_delete(server: ServerHandle, project_name: str) -> None:
    wire = Wire(server.url, server.api_key)
    ids = [_save(wire, "admin", project_name, displayName=f"r{i}")["view"]["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = _list(wire, "admin", project_name, reportLimit=2, reportCursor=cursor)
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        cursor = page["pageInfo"]["endCursor"]
    assert seen == ids[::-1]  # newest first, each once
    gone = wire.gql(DELETE_VIEW, {"id": ids[0], "deleteDrafts": True})["deleteView"]
    assert gone["success"] is True
    assert ids[0] not in [e["node"]["id"] for e in _list(wire, "admin", project_name)["edges"]]
    assert "not found" in wire.gql_error(DELETE_VIEW, {"id": ids[0]})


def test_report_page(server: ServerHandle, project_name: str) -> None:
    wire = Wire(server.url, server.api_key)
    view = _save(wire, "admin", project_name, name="pg")["view"]
    unpadded = view["id"].rstrip("=")
    url = f"{server.url}/admin/{project_name}/reports/Some-Title--{unpadded}"
    page = requests.get(url, auth=("api", server.api_key), timeout=10)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>T</h1>" in page.text
    assert "Résumé ✓ &lt;b&gt;" in page.text  # escaped, never raw HTML from the spec
    assert server.api_key not in page.text
    by_name = requests.get(f"{server.url}/admin/{project_name}/reports/pg",
                           auth=("api", server.api_key), timeout=10)  # fmt: skip
    assert by_name.status_code == 200 and "Résumé" in by_name.text
    assert requests.get(url, timeout=10).status_code == 401  # the browser asks for the key
    missing = requests.get(f"{server.url}/admin/{project_name}/reports/X--Vmlldzo5OTk5OTk",
                           auth=("api", server.api_key), timeout=10)  # fmt: skip
    assert missing.status_code == 404 and "not found" in missing.text
    elsewhere = requests.get(f"{server.url}/admin/other-project/reports/X--{unpadded}",
                             auth=("api", server.api_key), timeout=10)  # fmt: skip
    assert elsewhere.status_code == 404


def test_spec_json_in_page_cannot_close_the_script(server: ServerHandle, project_name: str) -> None:
    """A metric named like a closing tag stays inside the chart data."""
    wire = Wire(server.url, server.api_key)
    wire.upsert("admin", project_name, "r1")
    wire.log_history("admin", project_name, "r1",
                     [{"_step": i, "</script><i>x": i * 0.5} for i in range(3)])  # fmt: skip
    spec = {"blocks": [{"type": "panel-grid", "metadata": {"panelBankSectionConfig": {"panels": [
        {"viewType": "Run History Line Plot", "config": {"metrics": ["</script><i>x"]}}]}}}]}
    view = _save(wire, "admin", project_name, spec=json.dumps(spec))["view"]
    page = requests.get(f"{server.url}/admin/{project_name}/reports/a--{view['id']}",
                        auth=("api", server.api_key), timeout=10)  # fmt: skip
    assert page.status_code == 200
    assert "</script><i>" not in page.text
    assert "&lt;/script&gt;&lt;i&gt;x" in page.text
    assert "\\u003c/script\\u003e\\u003ci\\u003ex" in page.text  # drawn, in the chart data
