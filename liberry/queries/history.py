"""A run's history: sampled, per-key sampled, and step-ranged pages for full scans."""

from __future__ import annotations

from ..operation import Operation

RUN_FULL_HISTORY = Operation.build(
    "RunFullHistory",
    """
query RunFullHistory($entity: String!, $project: String!, $name: String!, $samples: Int) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      history(samples: $samples)
    }
  }
}
""",
)

RUN_SAMPLED_HISTORY = Operation.build(
    "RunSampledHistory",
    """
query RunSampledHistory($entity: String!, $project: String!, $name: String!,
    $specs: [JSONString!]!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      sampledHistory(specs: $specs)
    }
  }
}
""",
)

RUN_HISTORY_KEYS = Operation.build(
    "RunHistoryKeys",
    """
query RunHistoryKeys($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      historyKeys
    }
  }
}
""",
)

HISTORY_PAGE = Operation.build(
    "HistoryPage",
    """
query HistoryPage($entity: String!, $project: String!, $name: String!, $minStep: Int64!,
    $maxStep: Int64!, $pageSize: Int!) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      history(minStep: $minStep, maxStep: $maxStep, samples: $pageSize)
    }
  }
}
""",
)
