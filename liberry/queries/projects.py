"""Projects of an entity."""

from __future__ import annotations

from ..operation import Operation
from .fragments import PAGE_INFO, PROJECT

GET_PROJECTS = Operation.build(
    "GetProjects",
    """
query GetProjects($entity: String, $cursor: String, $perPage: Int = 200) {
  models(entityName: $entity, after: $cursor, first: $perPage) {
    edges {
      node {
        ...ProjectFields
      }
    }
    pageInfo {
      ...PageInfoFields
    }
  }
}
""",
    PROJECT,
    PAGE_INFO,
)

CREATE_PROJECT = Operation.build(
    "CreateProject",
    """
mutation CreateProject($entity: String, $name: String!, $description: String) {
  upsertModel(input: {entityName: $entity, name: $name, description: $description}) {
    project {
      ...ProjectFields
    }
    inserted
  }
}
""",
    PROJECT,
)
