"""The authorization matrix (issue #17): every GraphQL operation and HTTP route x (owner,
teammate, other user, no key, bad key) against a real server, plus the immediate effect of
removing a member, rotating a key and deleting a user.

alice owns `alice/p`; alice and carol are the team `ml`, which owns `ml/tp`; bob is in
neither. Whatever bob (or carol, on alice's own entity) cannot reach must look exactly like
something that does not exist: "not found", never "forbidden".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from liberry.server import ServerHandle, start
from liberry.server.store import accounts
from tests.artifact_wire import Upload
from tests.server.test_views import PROJECT_VIEWS, UPSERT_VIEW, VIEW
from tests.wire import Wire

CREATE_FILES = """
mutation ($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
                         files: $files}) { files { name uploadUrl } }
}"""
RUN = """
query ($entity: String, $project: String!, $run: String!) {
  project(name: $project, entityName: $entity) {
    id run(name: $run) { id name files { edges { node { id name url directUrl } } } }
  }
}"""
UPSERT_SWEEP = """
mutation ($id: ID, $config: String, $entityName: String, $projectName: String, $state: String) {
  upsertSweep(input: {id: $id, config: $config, entityName: $entityName,
                      projectName: $projectName, state: $state}) { sweep { id name state } }
}"""
CREATE_AGENT = """
mutation ($entityName: String, $projectName: String, $sweep: String!) {
  createAgent(input: {host: "h", entityName: $entityName, projectName: $projectName,
                      sweep: $sweep}) { agent { id } }
}"""
SWEEP_CONFIG = yaml.safe_dump(
    {"method": "random", "parameters": {"lr": {"values": [0.1, 0.2]}}, "run_cap": 3}
)

OWNER, TEAMMATE, OTHER, NO_KEY, BAD_KEY = "owner", "teammate", "other", "no key", "bad key"
OK, NOT_FOUND, UNAUTH = "ok", "not found", "401"


@dataclass
class Target:
    """One project's things, made by alice: what each operation is aimed at."""

    entity: str
    project: str
    run_id: str = ""
    run_pk: int = 0
    file_id: str = ""
    file_url: str = ""  # a signed download URL minted for alice
    upload_url: str = ""  # a signed upload URL minted for alice
    sweep_id: str = ""
    sweep_name: str = ""
    agent_id: str = ""
    artifact_id: str = ""
    blob_url: str = ""
    report_id: str = ""
    report_path: str = ""  # the report page: /{entity}/{project}/reports/{name}
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class World:
    server: ServerHandle
    keys: dict[str, str]
    own: Target
    team: Target

    def wire(self, who: str) -> Wire:
        if who == NO_KEY:
            return Wire(self.server.url, None)
        if who == BAD_KEY:
            return Wire(self.server.url, "local-" + "0" * 40)
        return Wire(self.server.url, self.keys[who])


def _make_target(wire: Wire, entity: str, project: str, tag: str) -> Target:
    t = Target(entity, project)
    run = wire.upsert(entity, project, "r", config={"lr": 0.1})["bucket"]
    t.run_id = run["id"]
    wire.log_history(entity, project, "r", [{"_step": 0, "loss": 1.0}])
    files = wire.gql(
        CREATE_FILES, {"entity": entity, "project": project, "run": "r", "files": ["a.txt"]}
    )["createRunFiles"]["files"]
    t.upload_url = files[0]["uploadUrl"]
    assert requests.put(t.upload_url, data=b"hello", timeout=10).status_code == 200
    node = wire.gql(RUN, {"entity": entity, "project": project, "run": "r"})["project"]["run"]
    t.file_id = node["files"]["edges"][0]["node"]["id"]
    t.file_url = node["files"]["edges"][0]["node"]["url"]
    t.run_pk = int(t.file_url.split("/storage/runs/")[1].split("/")[0])
    sweep = wire.gql(
        UPSERT_SWEEP, {"config": SWEEP_CONFIG, "entityName": entity, "projectName": project}
    )["upsertSweep"]["sweep"]
    t.sweep_id, t.sweep_name = sweep["id"], sweep["name"]
    t.agent_id = wire.gql(
        CREATE_AGENT, {"entityName": entity, "projectName": project, "sweep": sweep["name"]}
    )["createAgent"]["agent"]["id"]
    up = Upload(wire, entity, project, "r", f"ds-{tag}", "dataset", {"x.txt": tag.encode()})
    up.log()
    t.artifact_id = up.artifact_id
    art = wire.gql(
        "query ($id: ID!) { artifact(id: $id) { files { edges { node { directUrl } } } } }",
        {"id": up.artifact_id},
    )
    t.blob_url = art["artifact"]["files"]["edges"][0]["node"]["directUrl"]
    view = wire.gql(
        UPSERT_VIEW,
        {"entityName": entity, "projectName": project, "type": "runs", "name": f"rep-{tag}",
         "displayName": "A report", "spec": json.dumps({"blocks": []})},
    )["upsertView"]["view"]  # fmt: skip
    t.report_id = view["id"]
    t.report_path = f"/{entity}/{project}/reports/rep-{tag}"
    return t


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with start(data_dir=tmp_path_factory.mktemp("access"), port=0) as srv:
        store = srv.data.store
        keys: dict[str, str] = {}
        with store.write() as conn:
            for name in ("alice", "bob", "carol"):
                uid = accounts.create_user(conn, name)
                keys[name] = accounts.create_api_key(conn, uid, store.key_secret)
            accounts.create_team(conn, "ml", ["alice", "carol"])
        alice = Wire(srv.url, keys["alice"])
        own = _make_target(alice, "alice", "p", "own")
        team = _make_target(alice, "ml", "tp", "team")
        keys[OWNER], keys[TEAMMATE], keys[OTHER] = keys["alice"], keys["carol"], keys["bob"]
        yield World(srv, keys, own, team)


# -- operations: each returns OK, NOT_FOUND or UNAUTH -----------------------------------------
def _gql(wire: Wire, query: str, variables: dict[str, Any], present: Callable[[Any], bool]) -> str:
    r = wire.post_graphql(query, variables)
    if r.status_code == 401:
        assert "API key" in r.json()["error"]
        return UNAUTH
    assert r.status_code == 200, r.text
    body = r.json()
    if body.get("errors"):
        message = " ".join(e["message"] for e in body["errors"]).lower()
        assert "not found" in message or "no " in message, message
        for word in ("forbidden", "permission", "denied", "not allowed"):
            assert word not in message, message
        return NOT_FOUND
    return OK if present(body["data"]) else NOT_FOUND


def _http(r: requests.Response) -> str:
    if r.status_code == 401:
        return UNAUTH
    if r.status_code == 404:
        return NOT_FOUND
    assert r.status_code == 200, (r.status_code, r.text)
    return OK


def _q_project(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($e: String, $p: String!) { project(name: $p, entityName: $e) { id } }",
        {"e": t.entity, "p": t.project},
        lambda d: d["project"] is not None,
    )


def _q_models(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($e: String) { models(entityName: $e) { edges { node { name } } } }",
        {"e": t.entity},
        lambda d: t.project in [e["node"]["name"] for e in d["models"]["edges"]],
    )


def _q_all_projects(w: Wire, t: Target) -> str:
    """`entity.projects` and the viewer-less listing both filter to what the key reaches."""
    return _gql(
        w,
        "query ($e: String!) { entity(name: $e) { projects { edges { node { name } } } } }",
        {"e": t.entity},
        lambda d: d["entity"] is not None,
    )


def _q_runs(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($e: String, $p: String!) { project(name: $p, entityName: $e) {"
        " runs { edges { node { name historyKeys } } } } }",
        {"e": t.entity, "p": t.project},
        lambda d: (
            d["project"] is not None
            and "r" in [e["node"]["name"] for e in d["project"]["runs"]["edges"]]
        ),
    )


def _q_run(w: Wire, t: Target) -> str:
    return _gql(
        w,
        RUN,
        {"entity": t.entity, "project": t.project, "run": "r"},
        lambda d: d["project"] is not None and d["project"]["run"] is not None,
    )


def _q_sweep(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($e: String, $p: String!, $s: String!) { project(name: $p, entityName: $e) {"
        " sweep(sweepName: $s) { id agents { edges { node { id } } } } } }",
        {"e": t.entity, "p": t.project, "s": t.sweep_name},
        lambda d: d["project"] is not None and d["project"]["sweep"] is not None,
    )


def _q_artifact(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($id: ID!) { artifact(id: $id) { id lineage { nodes { id } } } }",
        {"id": t.artifact_id},
        lambda d: d["artifact"] is not None,
    )


def _q_artifact_by_name(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "query ($e: String, $p: String!, $n: String!) { project(name: $p, entityName: $e) {"
        " artifact(name: $n) { id } } }",
        {
            "e": t.entity,
            "p": t.project,
            "n": f"ds-{'own' if t.entity == 'alice' else 'team'}:latest",
        },
        lambda d: d["project"] is not None and d["project"]["artifact"] is not None,
    )


def _m_upsert_bucket(w: Wire, t: Target) -> str:
    return _gql(
        w,
        'mutation ($e: String, $p: String) { upsertBucket(input: {name: "r", modelName: $p,'
        ' entityName: $e, notes: "hi"}) { bucket { id } } }',
        {"e": t.entity, "p": t.project},
        lambda d: d["upsertBucket"] is not None,
    )


def _m_upsert_bucket_by_id(w: Wire, t: Target) -> str:
    return _gql(
        w,
        'mutation ($id: String) { upsertBucket(input: {id: $id, notes: "x"}) { bucket { id } } }',
        {"id": t.run_id},
        lambda d: d["upsertBucket"] is not None,
    )


def _m_upsert_model(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "mutation ($e: String, $p: String) { upsertModel(input: {name: $p, entityName: $e,"
        ' description: "d"}) { project { id } } }',
        {"e": t.entity, "p": t.project},
        lambda d: d["upsertModel"] is not None,
    )


def _m_create_run_files(w: Wire, t: Target) -> str:
    return _gql(
        w,
        CREATE_FILES,
        {"entity": t.entity, "project": t.project, "run": "r", "files": ["b.txt"]},
        lambda d: d["createRunFiles"] is not None,
    )


def _m_delete_files(w: Wire, t: Target) -> str:
    # Aimed at a file id that the owner's call really deletes: a fresh one each time.
    return _gql(
        w,
        "mutation ($ids: [ID!]!) { deleteFiles(input: {files: $ids}) { success } }",
        {"ids": [t.file_id]},
        lambda d: d["deleteFiles"] is not None,
    )


def _m_sweep_state(w: Wire, t: Target) -> str:
    return _gql(
        w,
        UPSERT_SWEEP,
        {"id": t.sweep_id, "state": "RUNNING"},
        lambda d: d["upsertSweep"] is not None,
    )


def _m_create_agent(w: Wire, t: Target) -> str:
    return _gql(
        w,
        CREATE_AGENT,
        {"entityName": t.entity, "projectName": t.project, "sweep": t.sweep_name},
        lambda d: d["createAgent"] is not None,
    )


def _m_heartbeat(w: Wire, t: Target) -> str:
    return _gql(
        w,
        'mutation ($id: ID!) { agentHeartbeat(input: {id: $id, metrics: "{}",'
        ' runState: "{}"}) { commands } }',
        {"id": t.agent_id},
        lambda d: d["agentHeartbeat"] is not None,
    )


def _m_add_alias(w: Wire, t: Target) -> str:
    return _gql(
        w,
        "mutation ($id: ID!) { addAliases(input: {artifactID: $id,"
        ' aliases: [{artifactCollectionName: "x", alias: "best", entityName: "e",'
        ' projectName: "p"}]}) { success } }',
        {"id": t.artifact_id},
        lambda d: d["addAliases"] is not None,
    )


def _m_update_artifact(w: Wire, t: Target) -> str:
    return _gql(
        w,
        'mutation ($id: ID!) { updateArtifact(input: {artifactID: $id, description: "d"})'
        " { artifact { id } } }",
        {"id": t.artifact_id},
        lambda d: d["updateArtifact"] is not None,
    )


def _file_stream(w: Wire, t: Target) -> str:
    body = {"files": {"wandb-history.jsonl": {"offset": 1, "content": ['{"_step": 1}']}}}
    return _http(w.file_stream(t.entity, t.project, "r", body))


def _download_with_key(w: Wire, t: Target) -> str:
    """GET of a run file without a signature: admitted by the key alone, when it reaches."""
    return _http(w.http.get(t.file_url.split("?")[0], timeout=10))


def _signed_download_with_key(w: Wire, t: Target) -> str:
    """alice's signed URL, sent with the caller's key (as wandb's client sends it)."""
    return _http(w.http.get(t.file_url, timeout=10))


def _signed_upload_with_key(w: Wire, t: Target) -> str:
    return _http(w.http.put(t.upload_url, data=b"hello", timeout=10))


def _blob_with_key(w: Wire, t: Target) -> str:
    return _http(w.http.get(t.blob_url, timeout=10))


def _q_report(w: Wire, t: Target) -> str:
    return _gql(w, VIEW, {"reportId": t.report_id}, lambda d: d["view"] is not None)


def _q_project_reports(w: Wire, t: Target) -> str:
    return _gql(
        w,
        PROJECT_VIEWS,
        {"entity": t.entity, "project": t.project, "reportLimit": 10},
        lambda d: d["project"] is not None and len(d["project"]["allViews"]["edges"]) == 1,
    )


def _m_upsert_report(w: Wire, t: Target) -> str:
    return _gql(
        w,
        UPSERT_VIEW,
        {"id": t.report_id, "displayName": "A report", "spec": json.dumps({"blocks": []})},
        lambda d: d["upsertView"] is not None,
    )


def _report_page(w: Wire, t: Target) -> str:
    return _http(w.http.get(w.url + t.report_path, timeout=10))


def _arrow_export(w: Wire, t: Target) -> str:
    params = {"entity": t.entity, "project": t.project}
    return _http(w.http.get(w.url + "/api/runs.arrow", params=params, timeout=10))


READS = [
    _q_project,
    _q_models,
    _q_all_projects,
    _q_runs,
    _q_run,
    _q_sweep,
    _q_artifact,
    _q_artifact_by_name,
    _q_report,
    _q_project_reports,
]
WRITES = [
    _m_upsert_bucket,
    _m_upsert_bucket_by_id,
    _m_upsert_model,
    _m_create_run_files,
    _m_sweep_state,
    _m_create_agent,
    _m_heartbeat,
    _m_add_alias,
    _m_update_artifact,
    _file_stream,
    _m_upsert_report,
]
ROUTES = [
    _download_with_key,
    _signed_download_with_key,
    _signed_upload_with_key,
    _blob_with_key,
    _report_page,
    _arrow_export,
]
SIGNED = {_signed_download_with_key, _signed_upload_with_key, _blob_with_key}

# (whose key, which project) -> the outcome every operation must have.
MATRIX = [
    (OWNER, "own", OK),
    (TEAMMATE, "own", NOT_FOUND),  # carol shares `ml` with alice, not alice's own entity
    (OTHER, "own", NOT_FOUND),
    (NO_KEY, "own", UNAUTH),
    (BAD_KEY, "own", UNAUTH),
    (OWNER, "team", OK),
    (TEAMMATE, "team", OK),
    (OTHER, "team", NOT_FOUND),
    (NO_KEY, "team", UNAUTH),
    (BAD_KEY, "team", UNAUTH),
]


@pytest.mark.parametrize("op", READS + WRITES + ROUTES, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize(("who", "where", "expected"), MATRIX)
def test_access_matrix(world: World, op: Any, who: str, where: str, expected: str) -> None:
    target = world.own if where == "own" else world.team
    if who == NO_KEY and op in SIGNED:
        # W&B's client sends no key with these: the signature, minted for alice after her
        # access was checked (and re-checked now), admits the request.
        expected = OK
    assert op(world.wire(who), target) == expected


@pytest.mark.parametrize("who", [OTHER, TEAMMATE])
def test_destructive_mutations_of_others_are_not_found_and_change_nothing(
    world: World, who: str
) -> None:
    w, t = world.wire(who), world.own
    for query, variables in [
        ("mutation ($id: ID!) { deleteRun(input: {id: $id}) { clientMutationId } }",
         {"id": t.run_id}),
        ("mutation ($ids: [ID!]!) { deleteFiles(input: {files: $ids}) { success } }",
         {"ids": [t.file_id]}),
        ("mutation ($ids: [ID!]!) { deleteSweeps(input: {ids: $ids}) { affectedCount } }",
         {"ids": [t.sweep_id]}),
        ("mutation ($id: ID!) { deleteArtifact(input: {artifactID: $id}) { artifact { id } } }",
         {"id": t.artifact_id}),
        ("mutation ($id: ID!) { deleteAliases(input: {artifactID: $id,"
         " aliases: [{artifactCollectionName: \"x\", alias: \"latest\", entityName: \"e\","
         " projectName: \"p\"}]}) { success } }",
         {"id": t.artifact_id}),
    ]:  # fmt: skip
        message = w.gql_error(query, variables).lower()
        assert "not found" in message or message.startswith("no "), message
    owner = world.wire(OWNER)
    for op in (_q_run, _q_sweep, _q_artifact, _q_artifact_by_name):
        assert op(owner, t) == OK, op.__name__
    assert owner.http.get(t.file_url, timeout=10).content == b"hello"


def test_not_found_message_is_the_same_as_for_what_does_not_exist(world: World) -> None:
    bob = world.wire(OTHER)
    query = "mutation ($id: String) { upsertBucket(input: {id: $id}) { bucket { id } } }"
    theirs = bob.gql_error(query, {"id": world.own.run_id})
    import base64

    missing = bob.gql_error(query, {"id": base64.b64encode(b"Run:999999").decode()})
    assert theirs == missing
    r_theirs = bob.file_stream("alice", "p", "r", {"files": {}})
    r_missing = bob.file_stream("nobody", "nothing", "r", {"files": {}})
    assert r_theirs.status_code == r_missing.status_code == 404
    assert r_theirs.json()["error"].replace("alice/p", "X") == r_missing.json()["error"].replace(
        "nobody/nothing", "X"
    )


def test_other_users_cannot_create_in_an_entity_they_do_not_reach(world: World) -> None:
    bob = world.wire(OTHER)
    for entity in ("alice", "ml"):
        message = bob.gql_error(
            'mutation ($e: String) { upsertBucket(input: {name: "x", modelName: "new",'
            " entityName: $e}) { bucket { id } } }",
            {"e": entity},
        )
        assert message == f"entity {entity!r} not found"
        message = bob.gql_error(
            UPSERT_SWEEP, {"config": SWEEP_CONFIG, "entityName": entity, "projectName": "new"}
        )
        assert "not found" in message
    # A new entity name is bob's own team from then on, and only his.
    bob.upsert("bobs-team", "p", "r")
    assert _q_project(world.wire(OWNER), Target("bobs-team", "p")) == NOT_FOUND
    assert _q_project(bob, Target("bobs-team", "p")) == OK


def test_lists_show_only_what_the_key_reaches(world: World) -> None:
    bob = world.wire(OTHER)
    data = bob.gql("{ models { edges { node { name entityName } } } }")
    assert all(e["node"]["entityName"] == "bob" for e in data["models"]["edges"])
    users = bob.gql("{ users { edges { node { username } } } }")["users"]["edges"]
    assert [u["node"]["username"] for u in users] == ["bob"]
    assert bob.gql('{ user(userName: "alice") { id } }')["user"] is None
    # The lineage of a team artifact used by a run bob cannot see is cut at that run.
    carol = world.wire(TEAMMATE)
    viewer = carol.gql("{ viewer { username entity teams { edges { node { name } } } } }")
    assert viewer["viewer"]["username"] == "carol"
    assert [e["node"]["name"] for e in viewer["viewer"]["teams"]["edges"]] == ["ml"]


def test_team_removal_takes_effect_at_once(world: World) -> None:
    store = world.server.data.store
    carol = world.wire(TEAMMATE)
    t = world.team
    node = carol.gql(RUN, {"entity": t.entity, "project": t.project, "run": "r"})
    carols_url = node["project"]["run"]["files"]["edges"][0]["node"]["url"]
    assert requests.get(carols_url, timeout=10).status_code == 200
    with store.write() as conn:
        assert accounts.remove_member(conn, "ml", "carol")
    try:
        assert _q_run(carol, t) == NOT_FOUND
        assert _file_stream(carol, t) == NOT_FOUND
        # A URL minted for carol while she was a member dies with her membership.
        assert requests.get(carols_url, timeout=10).status_code == 404
        assert _q_run(world.wire(OWNER), t) == OK
    finally:
        with store.write() as conn:
            accounts.add_member(conn, "ml", "carol")
    assert _q_run(carol, t) == OK
    assert requests.get(carols_url, timeout=10).status_code == 200


def test_rotation_and_deletion_take_effect_at_once(world: World) -> None:
    store = world.server.data.store
    with store.write() as conn:
        uid = accounts.create_user(conn, "dave")
        old = accounts.create_api_key(conn, uid, store.key_secret)
    dave = Wire(world.server.url, old)
    assert dave.gql("{ viewer { username } }")["viewer"]["username"] == "dave"
    with store.write() as conn:
        new = accounts.rotate_keys(conn, uid, store.key_secret)
    assert dave.post_graphql("{ viewer { username } }").status_code == 401
    dave = Wire(world.server.url, new)
    dave.upsert("dave", "p", "r")
    with store.write() as conn:
        accounts.delete_user(conn, "dave")
    r = dave.post_graphql("{ viewer { username } }")
    assert r.status_code == 401
    assert new[-4:] in r.json()["error"] and new not in r.json()["error"]
    # The deleted user's entity stays, out of everyone's reach but an admin's.
    assert _q_project(world.wire(OWNER), Target("dave", "p")) == NOT_FOUND
    admin = Wire(world.server.url, world.server.api_key)
    assert _q_project(admin, Target("dave", "p")) == OK


def test_keys_are_stored_as_keyed_hashes(world: World, tmp_path: Path) -> None:
    from sqlalchemy import select

    from liberry.server.store import tables as t

    store = world.server.data.store
    with store.read() as conn:
        hashes = [r[0] for r in conn.execute(select(t.api_keys.c.key_hash))]
    for key in world.keys.values():
        assert key not in hashes
        assert accounts.legacy_hash(key) not in hashes  # not a bare sha256 either
    secret_file = world.server.data_dir / "key_secret"
    assert secret_file.stat().st_mode & 0o777 == 0o600


def test_json_errors_never_echo_the_key(world: World) -> None:
    key = "local-" + "a" * 36 + "wxyz"
    r = Wire(world.server.url, key).post_graphql("{ viewer { id } }")
    assert r.status_code == 401
    body = json.dumps(r.json())
    assert key not in body and "...wxyz" in body
