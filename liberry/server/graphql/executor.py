"""Run one GraphQL request: parse (cached), validate, pick a transaction, execute, format.

Queries run in one read transaction (a consistent snapshot). A mutation runs in one write
transaction that is rolled back when any error occurs, so bad input never half-writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_schema,
    execute,
    parse,
    specified_rules,
    validate,
)

from ..blobs import Blobs
from ..store import Store
from ..store.db import RUN_WRITE
from ..store.errors import NeedsPlainWrite, StoreError
from . import limits
from .context import RequestContext
from .lean import LeanExecutionContext, never_awaitable
from .root import Mutation, Query

log = logging.getLogger(__name__)


# W&B's clients declare variables and fragments some operations never use; be lenient there.
_RULES = [
    rule
    for rule in specified_rules
    if rule.__name__ not in ("NoUnusedVariablesRule", "NoUnusedFragmentsRule")
]


class BadRequest(ValueError):
    """The request body is not a GraphQL request; maps to HTTP 400."""


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _json_value(value: Any) -> Any:
    """Serialize a `JSON` scalar: non-finite numbers become W&B's strings "NaN", "Infinity"
    and "-Infinity" (what its backend sends; a bare NaN is not JSON and broke responses)."""
    if type(value) is dict:
        for v in value.values():  # fast path: a flat row of finite numbers and strings
            if (type(v) is float and v - v != 0) or type(v) in (dict, list):
                break
        else:
            return value
        return {k: _json_value(v) for k, v in value.items()}
    if type(value) is list:
        return [_json_value(v) for v in value]
    if isinstance(value, float) and value - value != 0:
        return _NON_FINITE[repr(value)]
    return value


def load_schema() -> GraphQLSchema:
    sdl = resources.files(__package__).joinpath("schema.graphql").read_text()
    schema = build_schema(sdl)
    json_scalar = schema.type_map["JSON"]
    assert isinstance(json_scalar, GraphQLScalarType)
    json_scalar.serialize = _json_value  # type: ignore[method-assign]
    return schema


class GraphQLService:
    # graphql-core's executor with a short path for plain leaf fields (see lean.py); tests
    # swap in graphql-core's own to check both give the same answers.
    execution_context_class: type[ExecutionContext] = LeanExecutionContext

    def __init__(self, store: Store, blobs: Blobs) -> None:
        self.store = store
        self.blobs = blobs
        self.schema = load_schema()
        self._query_root = Query()
        self._mutation_root = Mutation()
        self._document = lru_cache(maxsize=512)(self._parse_and_validate)
        # SQLite has one writer at a time whatever the mode: a run write there would only
        # add a retry, so it stays a plain write.
        self._run_writes = store.engine.dialect.name == "postgresql"

    def _parse_and_validate(self, text: str) -> DocumentNode | list[GraphQLError]:
        if len(text) > limits.MAX_QUERY_CHARS:
            message = (
                f"the query is {len(text)} characters long; the limit is {limits.MAX_QUERY_CHARS}"
            )
            return [GraphQLError(message)]
        try:
            document = parse(text, max_tokens=limits.MAX_TOKENS)
            limits.check_document(document)
        except GraphQLError as exc:
            # graphql-core's own words name no number: say which limit was hit.
            if "more than" in exc.message and "tokens" in exc.message:
                exc = GraphQLError(
                    f"the query has more than {limits.MAX_TOKENS} tokens (the limit)"
                )
            elif "nested too deeply" in exc.message:
                exc = GraphQLError(
                    f"the query is nested deeper than {limits.MAX_DEPTH} levels (the limit)"
                )
            return [exc]
        except RecursionError:  # a document nested past the parser's own recursion limit
            return [
                GraphQLError(
                    f"the query is nested deeper than {limits.MAX_DEPTH} levels (the limit)"
                )
            ]
        errors = validate(self.schema, document, _RULES, max_errors=50)
        return list(errors) if errors else document

    def execute(self, body: Any, user: dict[str, Any], base_url: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise BadRequest(
                'expected a JSON object {"query": "...", "variables": {...}, '
                '"operationName": "..."}'
            )
        variables = body.get("variables")
        if variables is not None and not isinstance(variables, dict):
            raise BadRequest("`variables` must be a JSON object")
        op_name = body.get("operationName") or None
        doc = self._document(body["query"])
        if isinstance(doc, list):
            return {"data": None, "errors": [_format(e) for e in doc]}
        operation = _operation(doc, op_name)
        if operation is None:
            msg = (
                f"no operation named {op_name!r} in the document"
                if op_name
                else "the document has several operations: set operationName"
            )
            return {"data": None, "errors": [{"message": msg}]}
        if operation.operation != OperationType.MUTATION:
            read = self._run(doc, variables, op_name, user, base_url, write=False)
            assert read is not None  # only run writes give up
            return read
        if self._run_writes and _run_scoped(operation):
            # First as a run write, side by side with file_stream; a resolver that must do
            # more (create the run, say) gives up and the whole mutation runs again below.
            done = self._run(doc, variables, op_name, user, base_url, write=RUN_WRITE)
            if done is not None:
                return done
        result = self._run(doc, variables, op_name, user, base_url, write=True)
        assert result is not None  # only run writes give up
        return result

    def _run(
        self,
        doc: DocumentNode,
        variables: dict[str, Any] | None,
        op_name: str | None,
        user: dict[str, Any],
        base_url: str,
        *,
        write: bool | str,
    ) -> dict[str, Any] | None:
        """Execute in one transaction: a read, a write, or (`write=RUN_WRITE`) a run write,
        which returns None when a resolver raised NeedsPlainWrite (nothing is kept)."""
        opts = {"liberry_write": write} if write else {}
        after_commit: list[Callable[[], None]] = []
        with self.store.engine.connect().execution_options(**opts) as conn:
            tx = conn.begin()
            ctx = RequestContext(
                self.store, conn, user, base_url, self.blobs, run_write=write == RUN_WRITE
            )
            try:
                result: ExecutionResult = execute(  # type: ignore[assignment]
                    self.schema,
                    doc,
                    root_value=self._mutation_root if write else self._query_root,
                    context_value=ctx,
                    variable_values=variables,
                    operation_name=op_name,
                    execution_context_class=self.execution_context_class,
                    is_awaitable=never_awaitable,
                )
            except BaseException:
                tx.rollback()
                raise
            if write and result.errors:
                tx.rollback()
                if ctx.run_write and any(
                    isinstance(e.original_error, NeedsPlainWrite) for e in result.errors
                ):
                    return None
            else:
                tx.commit()
                after_commit = ctx.memo.get("after_commit", [])
        for hook in after_commit:
            try:
                hook()
            except Exception:
                # Deleting stored bytes (S3 unreachable, say) after the rows are gone: the
                # answer stands; the bytes are orphaned, not the data corrupt.
                log.exception("clean-up after a committed mutation failed; bytes may remain")
        out: dict[str, Any] = {"data": result.data}
        if result.errors:
            out["errors"] = [_format(e) for e in result.errors]
        return out


#: Mutations that usually change one existing run's rows only: tried as run writes first.
RUN_SCOPED_MUTATIONS = frozenset({"upsertBucket", "createRunFiles", "markRunFilesUploaded"})


def _run_scoped(operation: OperationDefinitionNode) -> bool:
    """One root field, of RUN_SCOPED_MUTATIONS (what wandb sends while a run is live)."""
    fields = operation.selection_set.selections
    return (
        len(fields) == 1
        and isinstance(fields[0], FieldNode)
        and fields[0].name.value in RUN_SCOPED_MUTATIONS
    )


def _operation(doc: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    ops = [d for d in doc.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return ops[0] if len(ops) == 1 else None
    for op in ops:
        if op.name and op.name.value == name:
            return op
    return None


def _format(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is not None and not isinstance(original, StoreError | GraphQLError):
        log.exception("unexpected error in resolver", exc_info=original)
        message = f"internal server error ({type(original).__name__}); see the server log"
    else:
        message = error.message
    out: dict[str, Any] = {"message": message}
    if error.path:
        out["path"] = list(error.path)
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    return out
