"""Runs: listing pages, one run, create/update/delete, and the project's run keys."""

from __future__ import annotations

from ..operation import Operation
from .fragments import PAGE_INFO, RUN_CORE, RUN_EXPORT, RUN_FULL, RUN_LEAN, RUN_TABLE

_RUNS_BODY = """
query {name}($entity: String!, $project: String!, $filters: JSONString, $order: String,
    $cursor: String, $perPage: Int = 50, $withCount: Boolean = false) {{
  project(name: $project, entityName: $entity) {{
    runCount(filters: $filters) @include(if: $withCount)
    runs(filters: $filters, order: $order, after: $cursor, first: $perPage) {{
      edges {{
        node {{
          ...{fragment}
        }}
      }}
      pageInfo {{
        ...PageInfoFields
      }}
    }}
  }}
}}
"""

#: A page of runs to iterate over: ids, names, states, creation times.
RUNS = Operation.build(
    "Runs", _RUNS_BODY.format(name="Runs", fragment="RunCore"), RUN_CORE, PAGE_INFO
)

#: A page of runs with config and summary, for DataFrame exports.
RUNS_EXPORT = Operation.build(
    "RunsExport",
    _RUNS_BODY.format(name="RunsExport", fragment="RunExport"),
    RUN_EXPORT,
    RUN_CORE,
    PAGE_INFO,
)

#: A page of runs with every cheap attribute, config and summary: the run table's view.
RUNS_TABLE = Operation.build(
    "RunsTable",
    _RUNS_BODY.format(name="RunsTable", fragment="RunTable"),
    RUN_TABLE,
    RUN_LEAN,
    PAGE_INFO,
)

#: Moves a cursor `count` runs ahead without transferring them (random page access).
RUNS_CURSOR = Operation.build(
    "RunsCursor",
    """
query RunsCursor($entity: String!, $project: String!, $filters: JSONString, $order: String,
    $cursor: String, $count: Int!) {
  project(name: $project, entityName: $entity) {
    runs(filters: $filters, order: $order, after: $cursor, first: $count) {
      pageInfo {
        ...PageInfoFields
      }
    }
  }
}
""",
    PAGE_INFO,
)

RUN = Operation.build(
    "Run",
    """
query Run($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      ...RunFull
    }
  }
}
""",
    RUN_FULL,
    RUN_LEAN,
)

CREATE_RUN = Operation.build(
    "CreateRun",
    """
mutation CreateRun($entity: String, $project: String, $name: String!, $displayName: String,
    $config: JSONString, $summaryMetrics: JSONString, $tags: [String!], $notes: String,
    $groupName: String, $jobType: String, $state: String, $sweep: String, $host: String) {
  upsertBucket(input: {entityName: $entity, modelName: $project, name: $name,
      displayName: $displayName, config: $config, summaryMetrics: $summaryMetrics,
      tags: $tags, notes: $notes, groupName: $groupName, jobType: $jobType, state: $state,
      sweep: $sweep, host: $host}) {
    bucket {
      ...RunFull
      project {
        name
        entity {
          name
        }
      }
    }
    inserted
  }
}
""",
    RUN_FULL,
    RUN_LEAN,
)

UPDATE_RUN = Operation.build(
    "UpdateRun",
    """
mutation UpdateRun($id: String!, $displayName: String, $notes: String, $description: String,
    $tags: [String!], $config: JSONString, $summaryMetrics: JSONString, $groupName: String,
    $jobType: String) {
  upsertBucket(input: {id: $id, displayName: $displayName, notes: $notes,
      description: $description, tags: $tags, config: $config,
      summaryMetrics: $summaryMetrics, groupName: $groupName, jobType: $jobType}) {
    bucket {
      ...RunFull
    }
  }
}
""",
    RUN_FULL,
    RUN_LEAN,
)

DELETE_RUN = Operation.build(
    "DeleteRun",
    """
mutation DeleteRun($id: ID!) {
  deleteRun(input: {id: $id}) {
    clientMutationId
  }
}
""",
)

#: Older W&B servers lack `deleteArtifacts`, so it is only sent when asked for.
DELETE_RUN_AND_ARTIFACTS = Operation.build(
    "DeleteRun",
    """
mutation DeleteRun($id: ID!) {
  deleteRun(input: {id: $id, deleteArtifacts: true}) {
    clientMutationId
  }
}
""",
)

#: liberry extension: every config/summary key used in a project. W&B lacks `runKeys`, so
#: callers must be ready for an `UnknownFieldError`.
RUN_KEYS = Operation.build(
    "RunKeys",
    """
query RunKeys($entity: String!, $project: String!) {
  project(name: $project, entityName: $entity) {
    runKeys {
      config
      summary
    }
  }
}
""",
)
