"""Reports: a project's reports (W&B's views of type `runs`) and one report by id.

`GET_REPORTS` selects what the official client's `ProjectViews` does, so it works on W&B's
server too; `GET_REPORT` is the `view(id:)` query W&B's report tools send.
"""

from __future__ import annotations

from ..operation import Operation
from .fragments import PAGE_INFO

REPORT_FIELDS = """
fragment ReportFields on View {
  id
  name
  displayName
  description
  user {
    username
    name
    email
  }
  spec
  updatedAt
  createdAt
}
"""

#: A page of a project's reports, newest first; only the one called `$name` when given.
GET_REPORTS = Operation.build(
    "ProjectViews",
    """
query ProjectViews($entity: String!, $project: String!, $cursor: String, $perPage: Int!,
    $viewType: String = "runs", $name: String) {
  project(name: $project, entityName: $entity) {
    allViews(viewType: $viewType, viewName: $name, first: $perPage, after: $cursor) {
      edges {
        node {
          ...ReportFields
        }
      }
      pageInfo {
        ...PageInfoFields
      }
    }
  }
}
""",
    REPORT_FIELDS,
    PAGE_INFO,
)

#: One report by its id (the part after the last `--` of its URL).
GET_REPORT = Operation.build(
    "SpecificReport",
    """
query SpecificReport($id: ID!) {
  view(id: $id) {
    ...ReportFields
    project {
      name
      entityName
    }
  }
}
""",
    REPORT_FIELDS,
)
