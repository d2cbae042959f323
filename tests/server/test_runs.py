"""Runs over GraphQL: upsert semantics, pagination under concurrent inserts, delete, errors."""

from __future__ import annotations

import json
import threading

from liberry.server import ServerHandle
from tests.wire import Wire

PAGE = """
query Runs($e: String!, $p: String!, $cursor: String, $perPage: Int, $order: String,
           $filters: JSONString) {
  project(name: $p, entityName: $e) {
    internalId
    runCount(filters: $filters)
    runs(filters: $filters, after: $cursor, first: $perPage, order: $order) {
      edges { node { id name projectId state config summaryMetrics tags group jobType
                     displayName notes createdAt heartbeatAt user { username } } cursor }
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""


def _all(
    w: Wire,
    project: str,
    per_page: int,
    order: str | None = None,
    filters: dict | None = None,
    between_pages=None,
) -> list[str]:
    names, cursor = [], None
    while True:
        data = w.gql(
            PAGE,
            {
                "e": "admin",
                "p": project,
                "cursor": cursor,
                "perPage": per_page,
                "order": order,
                "filters": json.dumps(filters) if filters else None,
            },
        )
        conn = data["project"]["runs"]
        names += [e["node"]["name"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return names
        cursor = conn["pageInfo"]["endCursor"]
        if between_pages:
            between_pages()


def test_upsert_creates_then_updates(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    first = w.upsert(
        "admin",
        project_name,
        "r1",
        config={"lr": 0.1},
        tags=["a", "b"],
        groupName="g",
        jobType="train",
        displayName="nice",
        notes="n",
    )
    assert first["inserted"] is True
    bucket = first["bucket"]
    assert bucket["name"] == "r1" and bucket["displayName"] == "nice"
    assert (
        bucket["project"]["name"] == project_name and bucket["project"]["entity"]["name"] == "admin"
    )
    assert json.loads(bucket["config"]) == {"lr": {"value": 0.1}}
    again = w.upsert("admin", project_name, "r1", config={"lr": 0.2}, tags=["c"])
    assert again["inserted"] is False
    assert json.loads(again["bucket"]["config"]) == {"lr": {"value": 0.2}}
    assert again["bucket"]["tags"] == ["c"]
    assert again["bucket"]["displayName"] == "nice"  # untouched fields stay
    by_id = w.upsert("admin", project_name, None, id=bucket["id"], summary={"loss": 0.5})
    assert by_id["bucket"]["name"] == "r1"
    assert json.loads(by_id["bucket"]["summaryMetrics"]) == {"loss": 0.5}


def test_upsert_without_name_generates_an_id(server: ServerHandle, project_name: str) -> None:
    bucket = Wire(server.url, server.api_key).upsert("admin", project_name)["bucket"]
    assert len(bucket["name"]) == 8 and bucket["state"] == "running"


def test_upsert_errors_roll_back(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    from tests.wire import UPSERT

    msg = w.gql_error(
        UPSERT, {"entity": "admin", "project": project_name, "name": "x", "config": "{bad json"}
    )
    assert "config is not valid JSON" in msg
    msg = w.gql_error(
        UPSERT, {"entity": "admin", "project": project_name, "name": "x", "config": "[1, 2]"}
    )
    assert "config must be a JSON object" in msg
    msg = w.gql_error(
        UPSERT, {"entity": "admin", "project": project_name, "name": "x", "state": "exploded"}
    )
    assert "unknown run state 'exploded'" in msg
    assert "invalid run id" in w.gql_error(
        UPSERT, {"entity": "admin", "project": project_name, "name": "a/b"}
    )
    assert "malformed run id" in w.gql_error(UPSERT, {"id": "zzz", "config": "{}"})
    # Nothing was half-written: not even the project the failed mutations named.
    assert (
        w.gql(f'{{ project(name: "{project_name}", entityName: "admin") {{ id }} }}')["project"]
        is None
    )


def test_pagination_is_stable_under_concurrent_inserts(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    for i in range(60):
        w.upsert("admin", project_name, f"r{i:03d}", summary={"loss": (i * 37) % 11})
    original = {f"r{i:03d}" for i in range(60)}
    counter = iter(range(1000))

    def insert_more() -> None:
        n = next(counter)
        w.upsert("admin", project_name, f"new{n:03d}", summary={"loss": n % 11})

    for order in ("-created_at", "+created_at", "-summary_metrics.loss", "+summary_metrics.loss"):
        seen = _all(w, project_name, 7, order=order, between_pages=insert_more)
        assert len(seen) == len(set(seen)), f"{order}: a run was repeated"
        assert original <= set(seen), f"{order}: a run was skipped"


def test_run_count_page_info_and_fields(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    for i in range(5):
        w.upsert("admin", project_name, f"r{i}", tags=["t"])
    data = w.gql(PAGE, {"e": "admin", "p": project_name, "perPage": 2})["project"]
    assert data["runCount"] == 5
    node = data["runs"]["edges"][0]["node"]
    assert node["projectId"] == data["internalId"] and node["projectId"].isdigit()
    assert node["user"]["username"] == "admin" and node["tags"] == ["t"]
    assert len(node["createdAt"]) == 19  # W&B's `2026-01-31T12:00:00`
    assert _all(w, project_name, 2) == [f"r{i}" for i in reversed(range(5))]


def test_delete_run(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    run_id = w.upsert("admin", project_name, "gone")["bucket"]["id"]
    w.log_history("admin", project_name, "gone", [{"_step": 0, "x": 1}])
    q = "mutation DeleteRun($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }"
    w.gql(q, {"id": run_id, "deleteArtifacts": False})
    assert (
        w.gql(
            f'{{ project(name: "{project_name}", entityName: "admin") '
            '{ run(name: "gone") { id } } }'
        )["project"]["run"]
        is None
    )
    assert "no run with that id" in w.gql_error(q, {"id": run_id})


def test_bad_filters_and_orders_are_graphql_errors(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r")
    base = {"e": "admin", "p": project_name}
    assert "$gtx" in w.gql_error(PAGE, {**base, "filters": '{"config.lr": {"$gtx": 1}}'})
    msg = w.gql_error(PAGE, {**base, "filters": "{nope"})
    assert "JSON" in msg
    assert "bogus" in w.gql_error(PAGE, {**base, "order": "-bogus"})
    assert "cursor" in w.gql_error(PAGE, {**base, "cursor": "!!!"}).lower()


def test_concurrent_writers_do_not_lose_rows(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    names = [f"c{i}" for i in range(8)]
    for n in names:
        w.upsert("admin", project_name, n)

    def work(name: str) -> None:
        mine = Wire(server.url, server.api_key)
        for chunk in range(10):
            rows = [{"_step": chunk * 100 + i, "v": i} for i in range(100)]
            mine.log_history("admin", project_name, name, rows, offset=chunk * 100)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    q = (
        'query($p: String!, $n: String!) { project(name: $p, entityName: "admin") {'
        " run(name: $n) { historyLineCount } } }"
    )
    for n in names:
        assert w.gql(q, {"p": project_name, "n": n})["project"]["run"]["historyLineCount"] == 1000


SKIP = """
query Skip($e: String!, $p: String!, $cursor: String, $n: Int, $order: String,
           $filters: JSONString) {
  project(name: $p, entityName: $e) {
    runs(filters: $filters, after: $cursor, first: $n, order: $order) {
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

SKIP_WITH_EDGES = """
fragment Names on RunConnection { edges { node { name } cursor } }
query Skip($e: String!, $p: String!, $cursor: String, $n: Int, $order: String,
           $filters: JSONString) {
  project(name: $p, entityName: $e) {
    runs(filters: $filters, after: $cursor, first: $n, order: $order) {
      ...Names
      pageInfo { endCursor hasNextPage }
    }
  }
}
"""

# Asking for startCursor too: the server cannot read the last run of the page alone.
SKIP_WITH_START = """
fragment Ends on PageInfo { startCursor endCursor hasNextPage }
query Skip($e: String!, $p: String!, $cursor: String, $n: Int, $order: String,
           $filters: JSONString) {
  project(name: $p, entityName: $e) {
    runs(filters: $filters, after: $cursor, first: $n, order: $order) {
      pageInfo { ...Ends }
    }
  }
}
"""


def test_skipping_without_edges_gives_the_same_cursors(
    server: ServerHandle, project_name: str
) -> None:
    """A pageInfo-only query (how clients jump ahead) reads only the page's last run, passing
    over the others in the database; its cursors must be exactly those of a full page, for
    every kind of order, page size (a last page shorter than `first` too) and filter."""
    w = Wire(server.url, server.api_key)
    for i in range(23):
        summary = {"loss": round(1 / (i + 1), 3)} if i % 4 else {}  # some lack the key
        if i % 7 == 3:
            summary = {"loss": "diverged"}  # a string: a sort group of its own
        w.upsert("admin", project_name, f"r{i:02d}", config={"lr": i % 5}, summary=summary)
    orders = ["-created_at", "+created_at", "+config.lr.value", "-summary_metrics.loss",
              "+summary_metrics.loss"]  # fmt: skip
    filters = [None, json.dumps({"config.lr": {"$gte": 1}})]
    pages = 0
    for order in orders:
        for filt in filters:
            for n in (1, 4, 9, 30):
                cursor = None
                while True:
                    args = {"e": "admin", "p": project_name, "cursor": cursor, "n": n,
                            "order": order, "filters": filt}  # fmt: skip
                    lean = w.gql(SKIP, args)["project"]["runs"]["pageInfo"]
                    full = w.gql(SKIP_WITH_EDGES, args)["project"]["runs"]
                    ends = w.gql(SKIP_WITH_START, args)["project"]["runs"]["pageInfo"]
                    where = (order, filt, n, cursor)
                    assert full["edges"], where
                    assert lean == full["pageInfo"], where
                    assert lean["endCursor"] == full["edges"][-1]["cursor"], where
                    assert ends == {**lean, "startCursor": full["edges"][0]["cursor"]}, where
                    pages += 1
                    if not lean["hasNextPage"]:
                        break
                    cursor = lean["endCursor"]
    assert pages > 100


def test_a_page_of_runs_reads_no_user_per_run(server: ServerHandle, project_name: str) -> None:
    """W&B's clients ask every run of a page for `user { username }`: it comes with the page's
    own query (a join), never one lookup per run."""
    from sqlalchemy import event

    wire = Wire(server.url, server.api_key)
    for i in range(12):
        wire.upsert("admin", project_name, f"u{i}")
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "WHERE users.id =" in statement:
            lookups.append(statement)

    engine = server.data.store.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        data = wire.gql(
            """query ($e: String!, $p: String!) { project(name: $p, entityName: $e) {
                 runs(first: 12) { edges { node { name user { username } } } } } }""",
            {"e": "admin", "p": project_name},
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)
    users = [e["node"]["user"]["username"] for e in data["project"]["runs"]["edges"]]
    assert users == ["admin"] * 12
    assert lookups == []
