"""Errors the store raises; the GraphQL layer turns them into client-facing messages."""

from __future__ import annotations


class StoreError(ValueError):
    """Bad input to a store operation; the message says what is wrong and what to do."""


class NotFound(StoreError):
    """The named entity, project, run or file does not exist."""


class FilterError(StoreError):
    """A filter, order or cursor that cannot be used; the message says where and what to do."""


class NeedsPlainWrite(Exception):
    """Raised inside a run write (`Store.run_write`) that found it must do more than change
    rows of one existing, locked run (create a project or run, hand a sweep's run over...):
    the caller rolls it back and does the whole operation again as a plain write."""
