"""The operations that log and use an artifact version, in wandb-core 0.31's order.

`liberry.Api` only reads artifacts; these are for code that writes them through the wire
protocol the official client speaks (the demo's lineage, tests that stop an upload half-way).
Texts follow ../shared/reference/wandb-protocol/OPERATIONS.md.
"""

from __future__ import annotations

CREATE_ARTIFACT = """
mutation CreateArtifact ($input: CreateArtifactInput!) {
  createArtifact(input: $input) { artifact { id state artifactSequence { latestArtifact { id } } } }
}"""

CREATE_ARTIFACT_MANIFEST = """
mutation CreateArtifactManifest ($artifactID: ID!, $baseArtifactID: ID, $name: String!,
  $digest: String!, $entityName: String!, $projectName: String!, $runName: String!,
  $manifestType: ArtifactManifestType!, $includeUpload: Boolean!) {
  createArtifactManifest(input: {artifactID:$artifactID,baseArtifactID:$baseArtifactID,
    name:$name,digest:$digest,entityName:$entityName,projectName:$projectName,
    runName:$runName,type:$manifestType}) {
    artifactManifest { id file { id uploadUrl @include(if: $includeUpload)
                                 uploadHeaders @include(if: $includeUpload) } }
  }
}"""

CREATE_ARTIFACT_FILES = """
mutation CreateArtifactFiles ($input: CreateArtifactFilesInput!) {
  createArtifactFiles(input: $input) { files { edges { node {
    storagePath uploadUrl uploadHeaders
    uploadMultipartUrls { uploadID uploadUrlParts { partNumber uploadUrl } }
    artifact { id } } } } }
}"""

COMMIT_ARTIFACT = """
mutation CommitArtifact ($artifactID: ID!) {
  commitArtifact(input: {artifactID:$artifactID}) { artifact { id digest } }
}"""

USE_ARTIFACT = """
mutation UseArtifact($entityName: String!, $projectName: String!, $runName: String!,
  $artifactID: ID!) {
  useArtifact(input: {entityName: $entityName, projectName: $projectName, runName: $runName,
    artifactID: $artifactID}) { artifact { id digest state } }
}"""
