"""Exceptions raised by `liberry.Api`.

Every error a user can see derives from `LiberryError`. Server-side failures are split by what
the user should do about them (fix the path, fix the key, fix the query, retry later), and
each message says that.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthenticationError",
    "BadQueryError",
    "CommError",
    "FilterError",
    "LiberryError",
    "NotFoundError",
    "PermissionDeniedError",
    "ServerError",
    "ServerUnavailableError",
    "UnknownFieldError",
    "UsageError",
]


class LiberryError(Exception):
    """Base class of every error raised by liberry."""


class UsageError(LiberryError, ValueError):
    """A bad argument: malformed path, missing entity, invalid option.

    Subclasses `ValueError` so code written against `wandb.Api` keeps working.
    """


class FilterError(UsageError):
    """A run filter or order that would be rejected, found before anything is sent.

    `location` names the offending part, e.g. `filters["$or"][1]["config.lr"]`.
    """

    def __init__(self, message: str, location: str = "filters") -> None:
        super().__init__(f"{location}: {message}")
        self.location = location


class ServerError(LiberryError):
    """The server answered, or failed to, in a way that stops the request.

    `status` is the HTTP status (None when there was no answer) and `errors` the GraphQL
    `errors` list, when the server sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        errors: list[dict[str, Any]] | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors or []
        self.url = url


#: The name `wandb.Api` users catch; every server-side liberry error is one.
CommError = ServerError


class NotFoundError(ServerError, ValueError):
    """The entity, project, run or file does not exist (or is not visible to this key)."""


class AuthenticationError(ServerError):
    """The server rejected the API key (HTTP 401) or none was configured."""


class PermissionDeniedError(AuthenticationError):
    """The key is valid but may not do this (HTTP 403)."""


class BadQueryError(ServerError):
    """The server rejected the request itself: invalid GraphQL, bad variables, HTTP 4xx."""


class UnknownFieldError(BadQueryError):
    """The server's schema lacks a field we asked for (e.g. a liberry-only extension).

    `field` and `type_name` say which, so callers can fall back.
    """

    def __init__(self, message: str, *, field: str, type_name: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field
        self.type_name = type_name


class ServerUnavailableError(ServerError):
    """No usable answer after retries: connection refused, timeout, HTTP 429 or 5xx."""
