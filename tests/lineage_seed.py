"""A lineage made by the official `wandb` client, for the Lineage widget's tests.

One training script (a subprocess, as users run it) makes, in one project:

- the chain: run `make-data` logs `mnist` (dataset, metadata, alias `best`); run `trainer`
  uses `mnist:latest` and logs `clf` (model); run `evaluator` uses `clf:latest`;
- a wide fan-out: `FANOUT` runs of job type `finetune`, each using `mnist:v0` and logging a
  version of `ft-model` (v0 .. v{FANOUT-1});
- an orphan: `lonely` (dataset) whose run is then deleted, so nothing logged or used it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from liberry.server import ServerHandle

FANOUT = 6

SCRIPT = r"""
import sys, wandb
project, fanout = sys.argv[1], int(sys.argv[2])
open("data.txt", "w").write("digits " * 100)
open("w.bin", "w").write("weights " * 50)
out = {}

with wandb.init(project=project, job_type="data", name="make-data") as run:
    art = wandb.Artifact("mnist", type="dataset", metadata={"rows": 70000, "source": "yann"})
    art.add_file("data.txt")
    run.log_artifact(art, aliases=["best"]).wait()
    out["make-data"] = run.id

with wandb.init(project=project, job_type="train", name="trainer",
                config={"lr": 0.01, "epochs": 3, "optimizer": {"name": "adam"}}) as run:
    run.use_artifact("mnist:latest")
    model = wandb.Artifact("clf", type="model", metadata={"accuracy": 0.97})
    model.add_file("w.bin")
    model.add_file("data.txt", name="extra/notes.txt")
    run.log_artifact(model).wait()
    out["trainer"] = run.id

with wandb.init(project=project, job_type="eval", name="evaluator") as run:
    run.use_artifact("clf:latest")
    out["evaluator"] = run.id

out["finetune"] = []
for i in range(fanout):
    with wandb.init(project=project, job_type="finetune", name=f"ft-{i}",
                    config={"seed": i}) as run:
        run.use_artifact("mnist:v0")
        open("ft.bin", "w").write(f"finetuned {i}")
        art = wandb.Artifact("ft-model", type="model")
        art.add_file("ft.bin")
        run.log_artifact(art).wait()
        out["finetune"].append(run.id)

with wandb.init(project=project, job_type="scratch", name="doomed") as run:
    art = wandb.Artifact("lonely", type="dataset")
    art.add_file("data.txt")
    run.log_artifact(art).wait()
    out["doomed"] = run.id
emit(out)
"""


def seed_lineage(server: ServerHandle, root: Path, entity: str, project: str) -> dict[str, Any]:
    """Run the script against `server`; returns the run ids and the project's path."""
    import liberry
    from tests.compat.conftest import WandbClient

    client = WandbClient(server, root, entity)
    try:
        out = client.run(SCRIPT, args=[project, str(FANOUT)], timeout=300).result
    finally:
        client.kill_leftovers()
    api = liberry.Api(overrides={"base_url": server.url}, api_key=server.api_key)
    api.run(f"{entity}/{project}/{out['doomed']}").delete()  # `lonely` keeps no lineage
    return {**out, "entity": entity, "project": project, "path": f"{entity}/{project}"}
