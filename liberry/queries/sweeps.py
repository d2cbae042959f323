"""Sweeps: one sweep by id, and a project's sweeps.

The selections are exactly those of the official client's `GetSweep` / `GetSweeps`
(`wandb/apis/_generated/operations.py`), so they work on W&B's server as on liberry's. The
listing passes no `filters` argument: W&B's servers before 0.81.4 lack it, and the official
client leaves it out there too.
"""

from __future__ import annotations

from ..operation import Operation
from .fragments import PAGE_INFO

SWEEP_FIELDS = """
fragment SweepFields on Sweep {
  id
  name
  displayName
  method
  state
  description
  bestLoss
  config
  createdAt
  updatedAt
  runCount
  runCountExpected
}
"""

#: One sweep by the id users type (W&B's `Sweep.name`).
GET_SWEEP = Operation.build(
    "GetSweep",
    """
query GetSweep($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    sweep(sweepName: $name) {
      ...SweepFields
    }
  }
}
""",
    SWEEP_FIELDS,
)

#: A page of a project's sweeps; `totalSweeps` only when the caller needs the count.
GET_SWEEPS = Operation.build(
    "GetSweeps",
    """
query GetSweeps($entity: String!, $project: String!, $cursor: String, $perPage: Int = 50,
    $withCount: Boolean = false) {
  project(name: $project, entityName: $entity) {
    totalSweeps @include(if: $withCount)
    sweeps(after: $cursor, first: $perPage) {
      edges {
        node {
          ...SweepFields
        }
      }
      pageInfo {
        ...PageInfoFields
      }
    }
  }
}
""",
    SWEEP_FIELDS,
    PAGE_INFO,
)
