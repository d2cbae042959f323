"""Seed runs on a server over the wire, the way W&B clients write them.

`upsertBucket` creates the run (config wrapped as `{"k": {"value": v}}`), `file_stream` sends
history rows and the summary and finishes it, `createRunFiles` + PUT uploads files. Used by
the API tests and `benchmarks/bench_api.py`; it never touches the server's internals.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

UPSERT = """
mutation Seed($entity: String, $project: String, $name: String, $config: JSONString,
    $displayName: String, $tags: [String!], $groupName: String, $jobType: String,
    $notes: String, $state: String, $summaryMetrics: JSONString, $sweep: String) {
  upsertBucket(input: {entityName: $entity, modelName: $project, name: $name, config: $config,
      displayName: $displayName, tags: $tags, groupName: $groupName, jobType: $jobType,
      notes: $notes, state: $state, summaryMetrics: $summaryMetrics, sweep: $sweep}) {
    bucket { id name project { name entity { name } } }
  }
}
"""

CREATE_FILES = """
mutation SeedFiles($entity: String!, $project: String!, $run: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $run,
      files: $files}) {
    uploadHeaders
    files { name uploadUrl }
  }
}
"""

_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass
class RunSpec:
    """What to write for one run. `exitcode=None` leaves it running."""

    project: str
    run_id: str = field(default_factory=new_run_id)
    config: Mapping[str, Any] | None = None
    summary: Mapping[str, Any] | None = None
    history: Sequence[Mapping[str, Any]] = ()
    display_name: str | None = None
    tags: Sequence[str] | None = None
    group: str | None = None
    job_type: str | None = None
    notes: str | None = None
    exitcode: int | None = 0
    files: Mapping[str, bytes] = field(default_factory=dict)


class Seeder:
    """Writes runs to one server as a W&B client would."""

    def __init__(self, base_url: str, api_key: str, entity: str = "admin") -> None:
        self.base_url = base_url.rstrip("/")
        self.entity = entity
        self.session = requests.Session()
        self.session.auth = ("api", api_key)
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=32)
        self.session.mount("http://", adapter)

    def gql(self, query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
        r = self.session.post(
            f"{self.base_url}/graphql", json={"query": query, "variables": dict(variables)},
            timeout=120,
        )  # fmt: skip
        r.raise_for_status()
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(f"seed query failed: {body['errors']}")
        return dict(body["data"])

    def file_stream(self, project: str, run_id: str, payload: Mapping[str, Any]) -> None:
        url = f"{self.base_url}/files/{self.entity}/{project}/{run_id}/file_stream"
        r = self.session.post(url, json=dict(payload), timeout=120)
        r.raise_for_status()

    def write(self, spec: RunSpec, chunk: int = 10_000) -> str:
        """Create, fill and (unless `exitcode` is None) finish one run; returns its id.

        A run without history or files takes one request: `upsertBucket` with the summary
        and final state, as `wandb sync` / the public API can write them.
        """
        config = {k: {"value": v} for k, v in (spec.config or {}).items()}
        variables: dict[str, Any] = {
            "entity": self.entity,
            "project": spec.project,
            "name": spec.run_id,
            "config": json.dumps(config),
            "displayName": spec.display_name,
            "tags": list(spec.tags) if spec.tags is not None else None,
            "groupName": spec.group,
            "jobType": spec.job_type,
            "notes": spec.notes,
        }
        if not spec.history and not spec.files:
            state = (
                "running"
                if spec.exitcode is None
                else "finished"
                if not spec.exitcode
                else "failed"
            )
            summary = dict(spec.summary or {})
            self.gql(UPSERT, {**variables, "summaryMetrics": json.dumps(summary), "state": state})
            return spec.run_id
        self.gql(UPSERT, variables)
        rows = [json.dumps(r) for r in spec.history]
        summary = dict(spec.summary) if spec.summary is not None else last_values(spec.history)
        for start in range(0, len(rows), chunk):
            self.file_stream(
                spec.project, spec.run_id,
                {"files": {"wandb-history.jsonl": {"offset": start,
                                                   "content": rows[start : start + chunk]}}},
            )  # fmt: skip
        final: dict[str, Any] = {
            "files": {"wandb-summary.json": {"offset": 0, "content": [json.dumps(summary)]}}
        }
        if spec.exitcode is not None:
            final.update(complete=True, exitcode=spec.exitcode)
        self.file_stream(spec.project, spec.run_id, final)
        if spec.files:
            self.upload(spec.project, spec.run_id, spec.files)
        return spec.run_id

    def upload(self, project: str, run_id: str, files: Mapping[str, bytes]) -> None:
        data = self.gql(
            CREATE_FILES,
            {"entity": self.entity, "project": project, "run": run_id, "files": list(files)},
        )
        for slot in data["createRunFiles"]["files"]:
            r = requests.put(slot["uploadUrl"], data=files[slot["name"]], timeout=120)
            r.raise_for_status()

    def write_many(self, specs: Iterable[RunSpec], workers: int = 4) -> list[str]:
        """Write runs concurrently. Runs without history or files go in batches of aliased
        `upsertBucket` mutations (one GraphQL document, many runs), in order."""
        specs = list(specs)
        light = [s for s in specs if not s.history and not s.files]
        heavy = [s for s in specs if s.history or s.files]
        batches = [light[i : i + 100] for i in range(0, len(light), 100)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(self._write_batch, batches))
            list(pool.map(self.write, heavy))
        return [s.run_id for s in specs]

    def _write_batch(self, specs: Sequence[RunSpec]) -> None:
        params, fields, variables = [], [], {}
        for i, spec in enumerate(specs):
            params.append(
                f"$n{i}: String, $c{i}: JSONString, $s{i}: JSONString, $t{i}: [String!],"
                f" $d{i}: String, $st{i}: String"
            )
            fields.append(
                f"r{i}: upsertBucket(input: {{entityName: $entity, modelName: $project, "
                f"name: $n{i}, config: $c{i}, summaryMetrics: $s{i}, tags: $t{i}, "
                f"displayName: $d{i}, state: $st{i}}}) {{ bucket {{ id }} }}"
            )
            variables.update(
                {
                    f"n{i}": spec.run_id,
                    f"c{i}": json.dumps({k: {"value": v} for k, v in (spec.config or {}).items()}),
                    f"s{i}": json.dumps(dict(spec.summary or {})),
                    f"t{i}": list(spec.tags) if spec.tags is not None else None,
                    f"d{i}": spec.display_name,
                    f"st{i}": {None: "running", 0: "finished"}.get(spec.exitcode, "failed"),
                }
            )
        projects = {s.project for s in specs}
        assert len(projects) == 1, "one project per batch"
        query = (
            f"mutation SeedBatch($entity: String, $project: String, {', '.join(params)}) "
            f"{{ {' '.join(fields)} }}"
        )
        self.gql(query, {"entity": self.entity, "project": projects.pop(), **variables})


def last_values(history: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """W&B's default summary: the last logged value of every key."""
    summary: dict[str, Any] = {}
    for row in history:
        summary.update(row)
    return summary
