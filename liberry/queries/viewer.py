"""Who the API key belongs to, and which liberry extensions the server offers."""

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

SERVER_FEATURES = Operation.build(
    "ServerFeatures",
    """
query ServerFeatures {
  serverInfo {
    features {
      name
      isEnabled
    }
  }
}
""",
)
