"""The lean executor answers exactly as graphql-core's own: data, nulls and errors alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import ExecutionContext

from liberry.server.datadir import DataDir
from liberry.server.graphql import GraphQLService
from liberry.server.graphql.lean import LeanExecutionContext
from liberry.server.store import accounts, history, projects, runs


class PlainService(GraphQLService):
    execution_context_class = ExecutionContext


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, dict]]:
    data = DataDir.open(Path(tmp_path_factory.mktemp("lean")))
    with data.store.write() as conn:
        user = accounts.user_by_name(conn, "admin")
        assert user is not None
        proj, _ = projects.upsert_project(conn, "admin", "p", user_id=user["id"])
        for i in range(30):
            fields: dict[str, Any] = {
                "config": json.dumps({"lr": {"value": 10.0**-i, "desc": None}}),
                "summaryMetrics": json.dumps({"loss": 1.0 / (i + 1), "nan": float("nan")}),
                "tags": ["a", "b"] if i % 2 else [],
                "state": ("running", "finished", "failed")[i % 3],
            }
            if i % 4:
                fields["groupName"] = f"g{i % 4}"
                fields["displayName"] = f"run number {i}"
            run, _ = runs.upsert_run(
                conn, proj["id"], pk=None, name=f"r{i:02d}", user_id=user["id"], fields=fields
            )
            lines = [json.dumps({"_step": s, "loss": 1.0 / (s + 1)}) for s in range(5)]
            history.write_history(conn, run, 0, lines)
    yield GraphQLService(data.store, data.blobs), PlainService(data.store, data.blobs), user
    data.store.close()


QUERIES = [
    # A page as the Api and wandb.Api ask for it, with aliases and __typename.
    """{ project(name: "p", entityName: "admin") { id name runCount
         runs(first: 7, order: "-summary_metrics.loss") {
           edges { cursor node { __typename id name displayName state config summaryMetrics
             systemMetrics tags group jobType notes createdAt updatedAt heartbeatAt exitcode
             historyLineCount projectId user { username name } project { name entityName } } }
           pageInfo { endCursor hasNextPage startCursor hasPreviousPage } } } }""",
    # Fragments, a field asked twice under one name and under an alias, arguments on leaves.
    """fragment R on Run { name state n2: name wandbConfig(keys: ["x"]) historyKeys }
       { project(name: "p", entityName: "admin") { runs(first: 40) { totalCount
           edges { node { ...R name history(samples: 2) } } } } }""",
    # Nulls: a missing run, a missing project, nullable fields left empty.
    """{ a: project(name: "p", entityName: "admin") { run(name: "nope") { name } }
         b: project(name: "nope", entityName: "admin") { name }
         c: project(name: "p", entityName: "admin") { run(name: "r00") { group notes } } }""",
    # Errors: a malformed filter and a bad cursor, each located at its field.
    """{ project(name: "p", entityName: "admin") {
         runs(filters: "{\\"$bogus\\": 1}") { edges { node { name } } } } }""",
    """{ project(name: "p", entityName: "admin") {
         runs(after: "not-a-cursor") { edges { node { name } } } } }""",
    """{ viewer { username entity admin }
         serverInfo { latestLocalVersionInfo { versionOnThisInstanceString } } }""",
]


@pytest.mark.parametrize("query", QUERIES)
def test_lean_answers_as_graphql_core(services: tuple[Any, Any, dict], query: str) -> None:
    lean, plain, user = services
    got = lean.execute({"query": query}, user, "http://127.0.0.1:1")
    want = plain.execute({"query": query}, user, "http://127.0.0.1:1")
    assert got == want
    assert "data" in got


def test_service_uses_the_lean_executor() -> None:
    assert GraphQLService.execution_context_class is LeanExecutionContext


def test_non_null_leaf_that_is_null_is_an_error_on_both(
    services: tuple[Any, Any, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A non-null scalar resolving to None must fail the same way on the short path."""
    lean, plain, user = services
    from liberry.server.graphql import objects

    original = objects.RunObj.__init__

    def without_state(self: Any, *args: Any) -> None:
        original(self, *args)
        self.name = None  # Run.name is `String!`

    monkeypatch.setattr(objects.RunObj, "__init__", without_state)
    query = (
        '{ project(name: "p", entityName: "admin") { runs(first: 2) { edges { node { name } } } } }'
    )
    got = lean.execute({"query": query}, user, "http://127.0.0.1:1")
    want = plain.execute({"query": query}, user, "http://127.0.0.1:1")
    assert got == want
    assert got["errors"] and got["errors"][0]["path"][-1] == "name"
