"""Selection sets shared by several operations.

Views of a run, from cheapest to fullest. A server pays for every field of every run (a
GraphQL server resolves them one by one), so listings ask for as little as they can:
`RUN_CORE` for iterating (what `repr` shows), `RUN_EXPORT` adds config and summary (DataFrame
exports), `RUN_LEAN` is every cheap attribute and `RUN_TABLE` adds config and summary to it
(the run table, and filling in a page of iterated runs on first use), `RUN_FULL` is everything
a single `Run` shows. Only fields W&B's own server also has.
"""

from __future__ import annotations

PAGE_INFO = """
fragment PageInfoFields on PageInfo {
  endCursor
  hasNextPage
}
"""

RUN_CORE = """
fragment RunCore on Run {
  name
  displayName
  state
  createdAt
}
"""

RUN_EXPORT = """
fragment RunExport on Run {
  ...RunCore
  config
  summaryMetrics
}
"""

RUN_LEAN = """
fragment RunLean on Run {
  id
  name
  displayName
  state
  tags
  group
  jobType
  sweepName
  notes
  createdAt
  heartbeatAt
}
"""

RUN_TABLE = """
fragment RunTable on Run {
  ...RunLean
  config
  summaryMetrics
}
"""

RUN_FULL = """
fragment RunFull on Run {
  ...RunLean
  config
  summaryMetrics
  description
  commit
  host
  historyLineCount
  historyKeys
  user {
    name
    username
  }
}
"""

FILE = """
fragment FileFields on File {
  id
  name
  url
  directUrl
  sizeBytes
  mimetype
  updatedAt
  md5
}
"""

PROJECT = """
fragment ProjectFields on Project {
  id
  name
  entityName
  createdAt
}
"""
