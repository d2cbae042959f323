"""The file_stream write path: offsets, retried chunks, summary, final state, bad chunks."""

from __future__ import annotations

import json

from liberry.server import ServerHandle
from tests.wire import Wire

RUN_QUERY = """
query R($e: String!, $p: String!, $n: String!) {
  project(name: $p, entityName: $e) { run(name: $n) {
    state exitcode summaryMetrics historyLineCount logLineCount history(samples: 100000)
    historyKeys
  } }
}
"""


def _run(w: Wire, project: str, name: str) -> dict:
    return w.gql(RUN_QUERY, {"e": "admin", "p": project, "n": name})["project"]["run"]


def test_retried_chunk_overwrites_instead_of_duplicating(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r1")
    rows = [{"_step": i, "loss": 1.0 / (i + 1)} for i in range(10)]
    w.log_history("admin", project_name, "r1", rows[:6])
    w.log_history("admin", project_name, "r1", rows[:6])  # retry of the same chunk
    w.log_history("admin", project_name, "r1", rows[6:], offset=6)
    w.log_history("admin", project_name, "r1", rows[4:], offset=4)  # overlapping retry
    run = _run(w, project_name, "r1")
    assert run["historyLineCount"] == 10
    assert [json.loads(x) for x in run["history"]] == rows
    # Type counts are not inflated by retries either.
    assert run["historyKeys"]["keys"]["loss"]["typeCounts"] == [{"type": "number", "count": 10}]
    assert run["historyKeys"]["lastStep"] == 9


def test_summary_replaces_and_complete_sets_state(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "ok")
    w.upsert("admin", project_name, "bad")
    for name, code in (("ok", 0), ("bad", 3)):
        for summary in ({"a": 1, "b": 2}, {"a": 5}):
            r = w.file_stream(
                "admin",
                project_name,
                name,
                {"files": {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}}},
            )
            assert r.status_code == 200
        assert _run(w, project_name, name)["state"] == "running"
        r = w.file_stream(
            "admin",
            project_name,
            name,
            {
                "files": {"output.log": {"offset": 0, "content": ["hello", "world"]}},
                "complete": True,
                "exitcode": code,
            },
        )
        assert r.status_code == 200 and r.json() == {"exitcode": None, "limits": {}}
        run = _run(w, project_name, name)
        assert json.loads(run["summaryMetrics"]) == {"a": 5}
        assert run["logLineCount"] == 2
        assert run["exitcode"] == code
        assert run["state"] == ("finished" if code == 0 else "failed")


def test_bad_chunks_are_400_and_write_nothing(server: ServerHandle, project_name: str) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r")
    good = json.dumps({"_step": 0, "x": 1})
    bad_bodies = [
        ([1, 2], "JSON object"),
        ({"files": []}, "files"),
        ({"files": {"wandb-history.jsonl": {"offset": -1, "content": [good]}}}, "offset"),
        ({"files": {"wandb-history.jsonl": {"offset": "0", "content": [good]}}}, "offset"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": "x"}}}, "content"),
        ({"files": {"wandb-history.jsonl": {"offset": 0, "content": [good, "{oops"]}}}, "line 1"),
        (
            {"files": {"wandb-history.jsonl": {"offset": 0, "content": [good, "[1]"]}}},
            "JSON object",
        ),
        ({"files": {"wandb-summary.json": {"offset": 0, "content": ["nope"]}}}, "wandb-summary"),
        ({"files": {}, "exitcode": "1"}, "exitcode"),
        ({"files": {}, "complete": "yes"}, "complete"),
    ]
    for body, needle in bad_bodies:
        r = w.file_stream("admin", project_name, "r", body)
        assert r.status_code == 400, (body, r.text)
        assert needle in r.json()["errors"][0]["message"], (needle, r.text)
    r = w.http.post(f"{server.url}/files/admin/{project_name}/r/file_stream", data=b"{x")
    assert r.status_code == 400
    run = _run(w, project_name, "r")
    assert run["historyLineCount"] == 0 and run["history"] == []  # the good line was not kept


def test_unknown_run_is_404(server: ServerHandle, project_name: str) -> None:
    r = Wire(server.url, server.api_key).file_stream("admin", project_name, "ghost", {"files": {}})
    assert r.status_code == 404
    assert "upsertBucket" in r.json()["errors"][0]["message"]


def test_live_chunk_after_crash_marks_running_again(
    server: ServerHandle, project_name: str
) -> None:
    w = Wire(server.url, server.api_key)
    w.upsert("admin", project_name, "r", state="crashed")
    assert _run(w, project_name, "r")["state"] == "crashed"
    w.log_history("admin", project_name, "r", [{"_step": 0, "x": 1}])
    assert _run(w, project_name, "r")["state"] == "running"
