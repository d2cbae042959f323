"""The named operations: valid against liberry's schema, and W&B's field names only."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, parse, validate

from liberry import queries

SCHEMA = Path(__file__).resolve().parents[2] / "liberry/server/graphql/schema.graphql"
OPERATIONS = {n: getattr(queries, n) for n in queries.__all__ if n != "Operation"}


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_is_valid(name: str) -> None:
    operation = OPERATIONS[name]
    document = parse(operation.document)
    errors = validate(build_schema(SCHEMA.read_text()), document)
    assert not errors, errors
    defined = [d.name.value for d in document.definitions if hasattr(d, "operation")]
    assert defined == [operation.name]


def test_only_run_keys_uses_a_liberry_extension() -> None:
    users = [n for n, op in OPERATIONS.items() if "runKeys" in op.document]
    assert users == ["RUN_KEYS"]


def test_listings_select_little() -> None:
    """The iteration query must stay small: the server pays per field per run."""
    runs = queries.RUNS.document
    assert "config" not in runs and "summaryMetrics" not in runs and "cursor\n" not in runs
    assert "config" in queries.RUNS_EXPORT.document and "tags" not in queries.RUNS_EXPORT.document
