"""The GraphQL endpoint: W&B's schema (schema-first SDL) and its resolvers."""

from .executor import BadRequest, GraphQLService

__all__ = ["BadRequest", "GraphQLService"]
