"""A tiny raw-HTTP client for tests that speak W&B's wire protocol directly (no liberry.Api)."""

from __future__ import annotations

import json
from typing import Any

import requests

UPSERT = """
mutation UpsertBucket($id: String, $name: String, $project: String, $entity: String,
  $config: JSONString, $summaryMetrics: JSONString, $tags: [String!], $groupName: String,
  $jobType: String, $displayName: String, $notes: String, $state: String, $sweep: String) {
  upsertBucket(input: {id: $id, name: $name, modelName: $project, entityName: $entity,
    config: $config, summaryMetrics: $summaryMetrics, tags: $tags, groupName: $groupName,
    jobType: $jobType, displayName: $displayName, notes: $notes, state: $state, sweep: $sweep}) {
    bucket { id name displayName state config summaryMetrics tags
             project { id name entity { id name } } historyLineCount }
    inserted
  }
}
"""


class Wire:
    def __init__(self, url: str, api_key: str | None) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        if api_key is not None:
            self.http.auth = ("api", api_key)

    def post_graphql(
        self, query: str, variables: dict[str, Any] | None = None, **kw: Any
    ) -> requests.Response:
        return self.http.post(
            f"{self.url}/graphql", json={"query": query, "variables": variables or {}}, **kw
        )

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """`data` of a successful request; fails the test on HTTP or GraphQL errors."""
        r = self.post_graphql(query, variables)
        assert r.status_code == 200, r.text
        body = r.json()
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def gql_error(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """The first GraphQL error message (HTTP 200); fails the test if there is none."""
        r = self.post_graphql(query, variables)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body.get("errors"), body
        return str(body["errors"][0]["message"])

    def upsert(
        self,
        entity: str,
        project: str,
        name: str | None = None,
        *,
        config: dict[str, Any] | None = None,
        summary: dict[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        variables = {"entity": entity, "project": project, "name": name, **fields}
        if config is not None:
            variables["config"] = json.dumps({k: {"value": v} for k, v in config.items()})
        if summary is not None:
            variables["summaryMetrics"] = json.dumps(summary)
        return self.gql(UPSERT, variables)["upsertBucket"]

    def file_stream(
        self, entity: str, project: str, run: str, body: Any, **kw: Any
    ) -> requests.Response:
        return self.http.post(
            f"{self.url}/files/{entity}/{project}/{run}/file_stream", json=body, **kw
        )

    def log_history(
        self,
        entity: str,
        project: str,
        run: str,
        rows: list[dict[str, Any]],
        offset: int = 0,
        **extra: Any,
    ) -> None:
        body = {
            "files": {
                "wandb-history.jsonl": {"offset": offset, "content": [json.dumps(r) for r in rows]}
            },
            **extra,
        }
        r = self.file_stream(entity, project, run, body)
        assert r.status_code == 200, r.text
