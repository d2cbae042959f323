"""The demo's artifacts: logged through the artifact protocol, a real lineage to draw."""

from __future__ import annotations

from liberry import Api, demo, demo_lineage
from liberry.server import ServerHandle


def test_demo_lineage_is_logged_once(fresh_server: ServerHandle) -> None:
    url, key = fresh_server.url, fresh_server.api_key
    demo.seed(url, key, runs=30, steps=(20, 40))
    assert demo_lineage.seed_lineage(url, key, runs=30) == 2 + demo_lineage.TRAINERS
    assert demo_lineage.seed_lineage(url, key, runs=30) == 0  # already there
    api = Api(overrides={"base_url": url}, api_key=key)
    path = f"{demo.ENTITY}/{demo.PROJECT}"
    dataset = api.artifact(f"{path}/cifar10:best")
    assert dataset.version == "v0" and dataset.metadata["classes"] == 10
    assert {f.name for f in dataset.files()} == {"train.csv", "test.csv"}
    assert len(dataset.used_by()) == demo_lineage.TRAINERS
    latest = api.artifact(f"{path}/classifier:latest")
    assert latest.version == f"v{demo_lineage.TRAINERS - 1}"
    graph = dataset.lineage()
    kinds = [n.kind for n in graph.nodes]
    # the data run, the dataset, 12 trainers, 12 models, the evaluation run and its report
    assert kinds.count("artifact") == 1 + demo_lineage.TRAINERS + 1
    assert kinds.count("run") == 1 + demo_lineage.TRAINERS + 1
    assert any(n.name == "eval-report" for n in graph.nodes)
