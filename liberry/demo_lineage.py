"""The demo's artifacts: a dataset, the model versions trained on it, an evaluation report.

Written through W&B's artifact protocol as wandb-core sends it (create the version, its file
URLs, upload, manifest, commit; `useArtifact` for inputs), so `liberry demo` exercises the
same path `run.log_artifact` does and the lineage view has a real graph to draw, in a project
of its own (`demo/model-pipeline`):

    prepare-data --logs--> cifar10:v0 --used by--> train-00..11 --log--> classifier:v0..v11
    classifier:latest --used by--> evaluate --logs--> eval-report:v0
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from typing import Any

from .demo import ENTITY, UPSERT_RUN, _Client, plan
from .queries import artifact_writes as ops

PROJECT = "model-pipeline"
#: Training runs that use the dataset and log a model (configs from the demo's plan).
TRAINERS = 12
EPOCHS = 20
RUN_COUNT = """
query DemoArtifacts($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) { artifactType(name: "dataset") { name } }
}
"""


def _b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def log_artifact(
    client: _Client,
    run: str,
    name: str,
    kind: str,
    files: dict[str, bytes],
    *,
    aliases: tuple[str, ...] = (),
    metadata: dict[str, Any] | None = None,
) -> str:
    """Log a version of `name` from `run`; returns its id (an existing one on equal content)."""
    digests = {n: _b64md5(d) for n, d in files.items()}
    digest = hashlib.md5("\n".join(sorted(f"{n}:{d}" for n, d in digests.items())).encode())
    names = ["latest", *aliases]
    created = client.gql(
        ops.CREATE_ARTIFACT,
        {
            "input": {
                "artifactTypeName": kind,
                "artifactCollectionName": name,
                "entityName": ENTITY,
                "projectName": PROJECT,
                "runName": run,
                "digest": digest.hexdigest(),
                "digestAlgorithm": "MANIFEST_MD5",
                "metadata": json.dumps(metadata or {}),
                "aliases": [{"alias": a, "artifactCollectionName": name} for a in names],
                "enableDigestDeduplication": True,
            }
        },
    )["createArtifact"]["artifact"]
    artifact_id: str = created["id"]
    if created["state"] == "COMMITTED":  # the same content again: that version
        return artifact_id

    def manifest_call(file_digest: str, include_upload: bool) -> dict[str, Any]:
        variables = {
            "artifactID": artifact_id,
            "baseArtifactID": None,
            "name": "wandb_manifest.json",
            "digest": file_digest,
            "entityName": ENTITY,
            "projectName": PROJECT,
            "runName": run,
            "manifestType": "FULL",
            "includeUpload": include_upload,
        }
        data = client.gql(ops.CREATE_ARTIFACT_MANIFEST, variables)
        return dict(data["createArtifactManifest"]["artifactManifest"])

    manifest_id = manifest_call("", False)["id"]
    specs = [
        {
            "artifactID": artifact_id,
            "artifactManifestID": manifest_id,
            "name": n,
            "md5": digests[n],
            "mimetype": None,
            "uploadPartsInput": None,
        }
        for n in files
    ]
    edges = client.gql(
        ops.CREATE_ARTIFACT_FILES, {"input": {"artifactFiles": specs, "storageLayout": "V2"}}
    )["createArtifactFiles"]["files"]["edges"]
    for data, edge in zip(files.values(), edges, strict=True):
        if edge["node"]["uploadUrl"]:  # None: the server has these bytes already
            client.put(edge["node"]["uploadUrl"], data)
    manifest = json.dumps(
        {
            "version": 1,
            "storagePolicy": "wandb-storage-policy-v1",
            "storagePolicyConfig": {"storageLayout": "V2"},
            "contents": {n: {"digest": digests[n], "size": len(d)} for n, d in files.items()},
        }
    ).encode()
    client.put(manifest_call(_b64md5(manifest), True)["file"]["uploadUrl"], manifest)
    client.gql(ops.COMMIT_ARTIFACT, {"artifactID": artifact_id})
    return artifact_id


def use_artifact(client: _Client, run: str, artifact_id: str) -> None:
    client.gql(
        ops.USE_ARTIFACT,
        {"entityName": ENTITY, "projectName": PROJECT, "runName": run, "artifactID": artifact_id},
    )


def _run(
    client: _Client, name: str, job_type: str, config: dict[str, Any] | None = None
) -> None:
    client.gql(
        UPSERT_RUN,
        {"name": name, "project": PROJECT, "entity": ENTITY, "jobType": job_type,
         "host": "demo-gpu-01", "config": json.dumps({k: {"value": v}
                                                      for k, v in (config or {}).items()})},
    )  # fmt: skip


def _train(client: _Client, name: str, config: dict[str, Any], quality: float) -> None:
    """A short training history, then the run ends (file_stream, as wandb-core sends it)."""
    rows = []
    for epoch in range(EPOCHS):
        progress = (epoch + 1) / EPOCHS
        accuracy = round(quality * (1 - math.exp(-4 * progress)), 5)
        rows.append({"_step": epoch, "epoch": epoch, "accuracy": accuracy,
                     "loss": round(2.3 * math.exp(-3 * progress) + 1 - quality, 5)})  # fmt: skip
    payload = {
        "files": {
            "wandb-history.jsonl": {"offset": 0, "content": [json.dumps(r) for r in rows]},
            "wandb-summary.json": {"offset": 0, "content": [json.dumps(rows[-1])]},
        },
        "complete": True,
        "exitcode": 0,
    }
    client.stream(name, payload, project=PROJECT)


def _finish(client: _Client, name: str) -> None:
    client.stream(name, {"files": {}, "complete": True, "exitcode": 0}, project=PROJECT)


def seed_lineage(base_url: str, api_key: str) -> int:
    """Log the demo's artifacts unless the project has them; returns versions logged."""
    client = _Client(base_url, api_key)
    found = client.gql(RUN_COUNT, {"entity": ENTITY, "project": PROJECT}).get("project") or {}
    if found.get("artifactType"):
        return 0
    _run(client, "prepare-data", "data", {"source": "cifar10", "val_split": 0.1})
    dataset = log_artifact(
        client,
        "prepare-data",
        "cifar10",
        "dataset",
        {"train.csv": b"image,label\n" * 500, "test.csv": b"image,label\n" * 100},
        aliases=("best",),
        metadata={"rows": 60000, "classes": 10, "source": "demo"},
    )
    _finish(client, "prepare-data")
    logged = 1
    for i, planned in enumerate(plan(TRAINERS)):
        name = f"train-{i:02d}"
        config = {k: planned.config[k] for k in ("architecture", "optimizer", "learning_rate")}
        _run(client, name, "train", config)
        use_artifact(client, name, dataset)
        log_artifact(
            client,
            name,
            "classifier",
            "model",
            {"model.pt": json.dumps(config).encode() * 64},
            metadata={**config, "quality": round(planned.quality, 4)},
        )
        _train(client, name, config, planned.quality)
        logged += 1
    _run(client, "evaluate", "eval")
    best = client.gql(
        """query($e: String!, $p: String!) { project(name: $p, entityName: $e) {
             artifact(name: "classifier:latest") { id } } }""",
        {"e": ENTITY, "p": PROJECT},
    )["project"]["artifact"]["id"]
    use_artifact(client, "evaluate", best)
    log_artifact(
        client, "evaluate", "eval-report", "report", {"report.json": b'{"accuracy": 0.91}'}
    )
    _finish(client, "evaluate")
    return logged + 1
