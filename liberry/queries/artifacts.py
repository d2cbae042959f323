"""Artifacts: versions by name, types, collections, files, the runs around them, lineage.

W&B's own field names throughout, except `Artifact.lineage` (liberry's one-request graph).
"""

from __future__ import annotations

from ..operation import Operation
from .fragments import PAGE_INFO, RUN_FULL, RUN_LEAN

ARTIFACT_FIELDS = """
fragment ArtifactFields on Artifact {
  id
  versionIndex
  state
  digest
  size
  fileCount
  description
  metadata
  createdAt
  updatedAt
  ttlDurationSeconds
  tags {
    name
  }
  artifactType {
    name
  }
  artifactSequence {
    name
    project {
      name
      entityName
    }
  }
  aliases {
    alias
  }
}
"""

TYPE_FIELDS = """
fragment ArtifactTypeFields on ArtifactType {
  id
  name
  description
  createdAt
}
"""

ARTIFACT_BY_NAME = Operation.build(
    "ArtifactByName",
    """
query ArtifactByName($entity: String!, $project: String!, $name: String!) {
  project(name: $project, entityName: $entity) {
    artifact(name: $name) {
      ...ArtifactFields
    }
  }
}
""",
    ARTIFACT_FIELDS,
)

ARTIFACT_FILES = Operation.build(
    "ArtifactFiles",
    """
query ArtifactFiles($id: ID!, $names: [String!], $cursor: String, $perPage: Int) {
  artifact(id: $id) {
    files(names: $names, after: $cursor, first: $perPage) {
      totalCount
      edges {
        node {
          id
          name
          sizeBytes
          md5
          directUrl
        }
      }
      pageInfo {
        ...PageInfoFields
      }
    }
  }
}
""",
    PAGE_INFO,
)

ARTIFACT_TYPE = Operation.build(
    "ProjectArtifactType",
    """
query ProjectArtifactType($entity: String!, $project: String!, $type: String!) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      ...ArtifactTypeFields
    }
  }
}
""",
    TYPE_FIELDS,
)

ARTIFACT_TYPES = Operation.build(
    "ProjectArtifactTypes",
    """
query ProjectArtifactTypes($entity: String!, $project: String!, $cursor: String,
    $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactTypes(after: $cursor, first: $perPage) {
      edges {
        node {
          ...ArtifactTypeFields
        }
      }
      pageInfo {
        ...PageInfoFields
      }
    }
  }
}
""",
    TYPE_FIELDS,
    PAGE_INFO,
)

ARTIFACT_COLLECTIONS = Operation.build(
    "ArtifactTypeArtifactCollections",
    """
query ArtifactTypeArtifactCollections($entity: String!, $project: String!, $type: String!,
    $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollections(after: $cursor, first: $perPage) {
        totalCount
        edges {
          node {
            id
            name
            description
            createdAt
            updatedAt
          }
        }
        pageInfo {
          ...PageInfoFields
        }
      }
    }
  }
}
""",
    PAGE_INFO,
)

ARTIFACT_VERSIONS = Operation.build(
    "ProjectArtifacts",
    """
query ProjectArtifacts($entity: String!, $project: String!, $type: String!,
    $collection: String!, $cursor: String, $perPage: Int) {
  project(name: $project, entityName: $entity) {
    artifactType(name: $type) {
      artifactCollection(name: $collection) {
        artifacts(after: $cursor, first: $perPage) {
          totalCount
          edges {
            version
            node {
              ...ArtifactFields
            }
          }
          pageInfo {
            ...PageInfoFields
          }
        }
      }
    }
  }
}
""",
    ARTIFACT_FIELDS,
    PAGE_INFO,
)


def _run_artifacts(name: str, field: str) -> Operation:
    return Operation.build(
        name,
        f"""
query {name}($entity: String!, $project: String!, $run: String!, $cursor: String,
    $perPage: Int) {{
  project(name: $project, entityName: $entity) {{
    run(name: $run) {{
      artifacts: {field}(after: $cursor, first: $perPage) {{
        totalCount
        edges {{
          node {{
            ...ArtifactFields
          }}
        }}
        pageInfo {{
          ...PageInfoFields
        }}
      }}
    }}
  }}
}}
""",
        ARTIFACT_FIELDS,
        PAGE_INFO,
    )


RUN_OUTPUT_ARTIFACTS = _run_artifacts("RunOutputArtifacts", "outputArtifacts")
RUN_INPUT_ARTIFACTS = _run_artifacts("RunInputArtifacts", "inputArtifacts")

# Every field `Run` keeps, so the runs around an artifact need no request of their own.
RUN_REF = """
fragment RunRef on Run {
  ...RunFull
  project {
    name
    entityName
  }
}
"""

ARTIFACT_CREATED_BY = Operation.build(
    "ArtifactCreatedBy",
    """
query ArtifactCreatedBy($id: ID!) {
  artifact(id: $id) {
    createdBy {
      __typename
      ... on Run {
        ...RunRef
      }
    }
  }
}
""",
    RUN_REF,
    RUN_FULL,
    RUN_LEAN,
)

ARTIFACT_USED_BY = Operation.build(
    "ArtifactUsedBy",
    """
query ArtifactUsedBy($id: ID!) {
  artifact(id: $id) {
    usedBy {
      edges {
        node {
          ...RunRef
        }
      }
    }
  }
}
""",
    RUN_REF,
    RUN_FULL,
    RUN_LEAN,
)

# liberry only: the whole graph around a version, resolved by one recursive query.
LINEAGE_GRAPH = """
fragment LineageGraph on ArtifactLineage {
  nodes {
    id
    kind
    name
    displayName
    version
    type
    state
    depth
    entityName
    projectName
    size
    aliases
    degree
  }
  edges {
    source
    target
    kind
  }
}
"""

ARTIFACT_LINEAGE = Operation.build(
    "ArtifactLineage",
    """
query ArtifactLineage($id: ID!, $depth: Int, $direction: String) {
  artifact(id: $id) {
    lineage(depth: $depth, direction: $direction) {
      ...LineageGraph
    }
  }
}
""",
    LINEAGE_GRAPH,
)

# liberry's own: the lineage graph around a run (its artifacts are one depth step out).
RUN_LINEAGE = Operation.build(
    "RunLineage",
    """
query RunLineage($entity: String!, $project: String!, $run: String!, $depth: Int,
                 $direction: String) {
  project(name: $project, entityName: $entity) {
    run(name: $run) {
      lineage(depth: $depth, direction: $direction) {
        ...LineageGraph
      }
    }
  }
}
""",
    LINEAGE_GRAPH,
)
