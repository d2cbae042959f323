"""The demo's artifacts: a dataset, the model versions trained on it, an evaluation report.

Written through W&B's artifact protocol as wandb-core sends it (create the version, its file
URLs, upload, manifest, commit; `useArtifact` for inputs), so `liberry demo` exercises the
same path `run.log_artifact` does and the lineage view has a real graph to draw:

    prepare-data --logs--> cifar10:v0 --used by--> 12 demo training runs --log--> classifier:v0..v11
    classifier:latest --used by--> evaluate --logs--> eval-report:v0
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from .demo import ENTITY, PROJECT, UPSERT_RUN, _Client, plan
from .queries import artifact_writes as ops

#: Demo training runs (the first finished ones) that use the dataset and log a model.
TRAINERS = 12
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


def _run(client: _Client, name: str, job_type: str) -> None:
    client.gql(
        UPSERT_RUN,
        {"name": name, "project": PROJECT, "entity": ENTITY, "jobType": job_type,
         "state": "finished", "host": "demo-gpu-01"},
    )  # fmt: skip


def seed_lineage(base_url: str, api_key: str, *, runs: int = 240) -> int:
    """Log the demo's artifacts unless the project has them; returns versions logged."""
    client = _Client(base_url, api_key)
    found = client.gql(RUN_COUNT, {"entity": ENTITY, "project": PROJECT}).get("project") or {}
    if found.get("artifactType"):
        return 0
    _run(client, "prepare-data", "data")
    dataset = log_artifact(
        client,
        "prepare-data",
        "cifar10",
        "dataset",
        {"train.csv": b"image,label\n" * 500, "test.csv": b"image,label\n" * 100},
        aliases=("best",),
        metadata={"rows": 60000, "classes": 10, "source": "demo"},
    )
    logged = 1
    trainers = [r for r in plan(runs) if r.final_state == "finished"][:TRAINERS]
    for run in trainers:
        use_artifact(client, run.name, dataset)
        weights = f"{run.config['architecture']} lr={run.config['learning_rate']}".encode()
        log_artifact(
            client,
            run.name,
            "classifier",
            "model",
            {"model.pt": weights * 64},
            metadata={"architecture": run.config["architecture"], "quality": run.quality},
        )
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
    return logged + 1
