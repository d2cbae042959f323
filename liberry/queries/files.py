"""A run's files: listing (with download URLs) and upload slots."""

from __future__ import annotations

from ..operation import Operation
from .fragments import FILE, PAGE_INFO

RUN_FILES = Operation.build(
    "RunFiles",
    """
query RunFiles($entity: String!, $project: String!, $name: String!, $fileNames: [String],
    $cursor: String, $perPage: Int = 50, $pattern: String) {
  project(name: $project, entityName: $entity) {
    run(name: $name) {
      fileCount
      files(names: $fileNames, after: $cursor, first: $perPage, pattern: $pattern) {
        edges {
          node {
            ...FileFields
          }
          cursor
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  }
}
""",
    FILE,
    PAGE_INFO,
)

CREATE_RUN_FILES = Operation.build(
    "CreateRunFiles",
    """
mutation CreateRunFiles($entity: String!, $project: String!, $name: String!, $files: [String!]!) {
  createRunFiles(input: {entityName: $entity, projectName: $project, runName: $name,
      files: $files}) {
    runID
    uploadHeaders
    files {
      name
      uploadUrl
    }
  }
}
""",
)
