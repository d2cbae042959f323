"""Issue #14: `liberry.Api` reads artifacts (seeded over W&B's own upload protocol)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import liberry
from liberry.errors import NotFoundError, UsageError
from liberry.server import ServerHandle
from tests.artifact_wire import Upload, use
from tests.stored_objects import object_keys
from tests.wire import Wire

from .conftest import unique

CHAIN = 6  # runs r0..r5: r0 logs stage-0; each r(i) uses stage-(i-1) and logs stage-i


@pytest.fixture(scope="module")
def seeded(server: ServerHandle, entity: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    wire = Wire(server.url, server.api_key)
    project = unique("art-api")
    ref_file = tmp_path_factory.mktemp("refs") / "outside.txt"
    ref_file.write_text("referenced bytes")
    runs = [
        wire.upsert(entity, project, f"r{i}", jobType="step")["bucket"]["name"]
        for i in range(CHAIN)
    ]

    def log(run: str, name: str, kind: str, files: dict[str, bytes], **kw: Any) -> Upload:
        return Upload(wire, entity, project, run, name, kind, files, **kw).log()

    ds0 = log(runs[0], "ds", "dataset", {"a.txt": b"alpha", "sub/b.txt": b"beta"}, aliases=["best"])
    ds1 = log(
        runs[0],
        "ds",
        "dataset",
        {"a.txt": b"alpha", "sub/b.txt": b"beta", "c.txt": b"gamma"},
        refs={"ref.txt": ref_file.as_uri(), "bucket.bin": "s3://bucket/key.bin"},
    )
    log(runs[0], "clf", "model", {"w.bin": b"weights"})
    stages = [log(runs[0], "stage-0", "dataset", {"x": b"stage 0"})]
    for i in range(1, CHAIN):
        use(wire, entity, project, runs[i], stages[-1].artifact_id)
        stages.append(log(runs[i], f"stage-{i}", "dataset", {"x": f"stage {i}".encode()}))
    use(wire, entity, project, runs[1], ds0.artifact_id)
    return {"project": project, "entity": entity, "runs": runs, "ds0": ds0, "ds1": ds1}


def _p(seeded: Any, name: str) -> str:
    return f"{seeded['entity']}/{seeded['project']}/{name}"


def test_artifact_by_alias_and_version(api: liberry.Api, seeded: Any) -> None:
    latest = api.artifact(_p(seeded, "ds:latest"))
    assert (latest.name, latest.version, latest.type) == ("ds:v1", "v1", "dataset")
    assert latest.aliases == ["latest"]
    v0 = api.artifact(_p(seeded, "ds:best"), type="dataset")
    assert v0.version == "v0" and v0.aliases == ["best"]
    assert v0.size == len(b"alpha") + len(b"beta") and v0.digest == seeded["ds0"].digest
    assert v0.metadata == {} and v0.created_at
    assert api.artifact(_p(seeded, "ds")) == latest  # no alias means latest
    assert "ds:v0" in repr(v0) and "dataset" in repr(v0) and "best" in repr(v0)


def test_artifact_errors_name_the_problem(api: liberry.Api, seeded: Any) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        api.artifact(_p(seeded, "nope:latest"))
    with pytest.raises(NotFoundError, match="v9"):
        api.artifact(_p(seeded, "ds:v9"))
    with pytest.raises(UsageError, match="of type 'dataset', not 'model'"):
        api.artifact(_p(seeded, "ds:v0"), type="model")
    with pytest.raises(UsageError, match="malformed artifact name 'ds:v0:x'"):
        api.artifact(_p(seeded, "ds:v0:x"))
    with pytest.raises(NotFoundError, match="project"):
        api.artifact(f"{seeded['entity']}/no-such-project/ds:v0")


def test_types_collections_and_versions(api: liberry.Api, seeded: Any) -> None:
    path = f"{seeded['entity']}/{seeded['project']}"
    assert sorted(t.name for t in api.artifact_types(path)) == ["dataset", "model"]
    assert api.artifact_type("model", path).name == "model"
    with pytest.raises(NotFoundError, match="'table'"):
        api.artifact_type("table", path)
    names = [c.name for c in api.artifact_collections(path, "dataset", per_page=2)]
    assert names == ["ds"] + [f"stage-{i}" for i in range(CHAIN)]
    versions = api.artifact_versions("dataset", _p(seeded, "ds"), per_page=1)
    assert len(versions) == 2
    assert [a.version for a in versions] == ["v1", "v0"]  # newest first, paged by one
    with pytest.raises(NotFoundError, match="'clf' of type 'dataset'"):
        list(api.artifact_versions("dataset", _p(seeded, "clf")))


def test_files_and_download(api: liberry.Api, seeded: Any, tmp_path: Path) -> None:
    art = api.artifact(_p(seeded, "ds:v1"))
    files = {f.name: f for f in art.files(per_page=2)}
    assert sorted(files) == ["a.txt", "bucket.bin", "c.txt", "ref.txt", "sub/b.txt"]
    assert files["bucket.bin"].ref == "s3://bucket/key.bin"
    assert files["a.txt"].ref is None and files["a.txt"].size == 5
    with pytest.warns(UserWarning, match="bucket.bin"):
        root = art.download(tmp_path / "dl")
    got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert got == {
        "a.txt": b"alpha",
        "sub/b.txt": b"beta",
        "c.txt": b"gamma",
        "ref.txt": b"referenced bytes",
    }


def test_logged_by_used_by_and_run_artifacts(api: liberry.Api, seeded: Any) -> None:
    runs = seeded["runs"]
    v0 = api.artifact(_p(seeded, "ds:v0"))
    creator = v0.logged_by()
    assert creator is not None and creator.id == runs[0]
    assert [r.id for r in v0.used_by()] == [runs[1]]
    run0 = api.run(_p(seeded, runs[0]))
    assert [a.name for a in run0.logged_artifacts()] == ["ds:v0", "ds:v1", "clf:v0", "stage-0:v0"]
    assert list(run0.used_artifacts()) == []
    run1 = api.run(_p(seeded, runs[1]))
    assert sorted(a.name for a in run1.used_artifacts()) == ["ds:v0", "stage-0:v0"]


def test_used_by_is_one_request_for_many_runs(
    api: liberry.Api, server: ServerHandle, entity: str
) -> None:
    """The runs around a version come with their fields: no request per run (was N + 1)."""
    wire = Wire(server.url, server.api_key)
    project = unique("used-by")
    made = wire.upsert(entity, project, "maker", config={"lr": 0.1})
    art = Upload(wire, entity, project, made["bucket"]["name"], "ds", "dataset", {"a": b"a"}).log()
    readers = [wire.upsert(entity, project, f"reader-{i}")["bucket"]["name"] for i in range(5)]
    for name in readers:
        use(wire, entity, project, name, art.artifact_id)
    version = api.artifact(f"{entity}/{project}/ds:v0")
    before = sum(api.client.operation_counts.values())
    users = version.used_by()
    maker = version.logged_by()
    assert sum(api.client.operation_counts.values()) - before == 2
    assert sorted(r.id for r in users) == sorted(readers)
    assert maker is not None and maker.config == {"lr": 0.1}
    assert all(r.state and r.url for r in users)  # full runs, read with the one request
    assert sum(api.client.operation_counts.values()) - before == 2
    assert api.run(f"{entity}/{project}/reader-0") is next(r for r in users if r.id == "reader-0")


def _count_requests(api: liberry.Api) -> list[str]:
    sent: list[str] = []
    api.client.session.hooks["response"].append(lambda r, *a, **k: sent.append(r.request.url))
    return sent


def test_lineage_of_a_chain_in_one_request(api: liberry.Api, seeded: Any) -> None:
    runs = seeded["runs"]
    last = api.artifact(_p(seeded, f"stage-{CHAIN - 1}:latest"))
    sent = _count_requests(api)
    graph = last.lineage()
    assert len(sent) == 1
    # r1 also used ds:v0, so it is upstream too.
    stages = {f"stage-{i}:v0" for i in range(CHAIN)}
    assert {n.label for n in graph.artifacts} == stages | {"ds:v0"}
    assert {n.name for n in graph.runs} == set(runs)
    # Each run logs a stage, r1..r5 use one, r1 used ds:v0, which r0 logged.
    assert len(graph.edges) == 2 * CHAIN + 1
    first = next(n for n in graph.artifacts if n.name == "stage-0")
    assert (first.depth, first.type, first.state) == (CHAIN - 1, "dataset", "COMMITTED")
    assert {e.kind for e in graph.edges} == {"input", "output"}
    producer = next(e for e in graph.edges if e.target == last.id)
    assert producer.kind == "output" and graph.node(producer.source).name == runs[-1]


def test_lineage_depth_and_direction(api: liberry.Api, seeded: Any) -> None:
    middle = api.artifact(_p(seeded, "stage-2:v0"))
    up1 = middle.lineage(depth=1, direction="upstream")
    assert {n.label for n in up1.nodes} == {"stage-1:v0", "stage-2:v0", seeded["runs"][2]}
    down = middle.lineage(direction="downstream")
    assert {n.label for n in down.artifacts} == {f"stage-{i}:v0" for i in range(2, CHAIN)}
    both = middle.lineage(depth=1)
    assert {n.label for n in both.artifacts} == {"stage-1:v0", "stage-2:v0", "stage-3:v0"}
    with pytest.raises(UsageError, match="sideways"):
        middle.lineage(direction="sideways")


def test_lineage_to_networkx(api: liberry.Api, seeded: Any) -> None:
    nx = pytest.importorskip("networkx")
    graph = api.artifact(_p(seeded, f"stage-{CHAIN - 1}:v0")).lineage().to_networkx()
    assert nx.is_directed_acyclic_graph(graph)
    assert graph.number_of_nodes() == 2 * CHAIN + 1  # + ds:v0, which r1 used
    order = [graph.nodes[n]["label"] for n in nx.topological_sort(graph)]
    stages = [label for label in order if label.startswith("stage-")]
    assert stages == [f"stage-{i}:v0" for i in range(CHAIN)]


def test_identical_content_shares_one_blob(server: ServerHandle, seeded: Any) -> None:
    md5 = hashlib.md5(b"alpha").hexdigest()
    assert [k for k in object_keys(server) if k.endswith(md5)] == [f"artifacts/{md5[:2]}/{md5}"]


def test_lineage_nodes_carry_what_a_view_draws(api: liberry.Api, seeded: Any) -> None:
    ds0 = api.artifact(_p(seeded, "ds:best"))
    graph = ds0.lineage(depth=1)
    node = graph.node(ds0.id)
    assert (node.entity, node.project) == (seeded["entity"], seeded["project"])
    assert node.size == ds0.size and node.aliases == ("best",)
    assert node.path == ds0.path
    # ds:v0 was logged by r0 and used by r1: two usage edges.
    assert node.degree == 2
    r0 = next(n for n in graph.runs if n.name == seeded["runs"][0])
    # r0 logged ds:v0, ds:v1, clf:v0 and stage-0:v0; the walk reached only some of them.
    assert r0.degree == 4 and r0.path.endswith(f"/{seeded['runs'][0]}")


def test_run_lineage_starts_from_a_run(api: liberry.Api, seeded: Any) -> None:
    runs = seeded["runs"]
    r1 = api.run(_p(seeded, runs[1]))
    near = r1.lineage(depth=1)
    assert near.root == _p(seeded, runs[1])
    assert {n.label for n in near.nodes} == {runs[1], "stage-0:v0", "ds:v0", "stage-1:v0"}
    assert all(n.depth == 1 for n in near.artifacts)
    up = r1.lineage(depth=2, direction="upstream")
    # Two steps up: r1's inputs, the run that logged them (r0), and r0's inputs (none).
    assert {n.label for n in up.runs} == {runs[0], runs[1]}
    assert {n.depth for n in up.runs if n.name == runs[0]} == {1}
    assert r1.lineage(depth=0).nodes[0].label == runs[1]
