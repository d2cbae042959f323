"""Who the API key belongs to."""

from __future__ import annotations

from ..operation import Operation

VIEWER = Operation.build(
    "Viewer",
    """
query Viewer {
  viewer {
    id
    entity
    username
    email
    teams {
      edges {
        node {
          name
        }
      }
    }
  }
}
""",
)
