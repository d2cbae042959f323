"""Bounds on a GraphQL document, checked after parsing and before validation and execution,
so a hostile query costs little: a 5,000-alias query took 0.6 s to validate and run before
these limits; refusing it now takes about a millisecond per 1,000 tokens.

Every refusal names the limit. W&B's own operations stay far inside them (its largest,
RunFragment queries, have ~80 fields and depth ~8).
"""

from __future__ import annotations

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

MAX_QUERY_CHARS = 100_000
# W&B's largest recorded operation has 237 tokens, liberry.Api's 174, but batches of aliased
# mutations (100 upsertBuckets in one document, as tests/seed.py sends) reach ~6,000. Lexing
# costs ~25 us a token, so a refused document costs at most ~0.25 s of one worker.
MAX_TOKENS = 10_000
MAX_DEPTH = 20
MAX_FIELDS = 2_000  # field selections with fragments expanded (a fragment used twice counts twice)
MAX_ALIASES = 500


class _Counter:
    def __init__(self, fragments: dict[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.fields = 0
        self.aliases = 0

    def walk(
        self, selection_set: SelectionSetNode | None, depth: int, seen: tuple[str, ...]
    ) -> None:
        if selection_set is None:
            return
        if depth > MAX_DEPTH:
            raise GraphQLError(f"the query is nested deeper than {MAX_DEPTH} levels (the limit)")
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                self.fields += 1
                if node.alias is not None:
                    self.aliases += 1
                if self.fields > MAX_FIELDS:
                    raise GraphQLError(
                        f"the query selects more than {MAX_FIELDS} fields, fragments expanded "
                        f"(the limit); split it into several requests"
                    )
                if self.aliases > MAX_ALIASES:
                    raise GraphQLError(
                        f"the query uses more than {MAX_ALIASES} aliases (the limit)"
                    )
                self.walk(node.selection_set, depth + 1, seen)
            elif isinstance(node, InlineFragmentNode):
                self.walk(node.selection_set, depth, seen)
            elif isinstance(node, FragmentSpreadNode):
                name = node.name.value
                fragment = self.fragments.get(name)
                # A cycle or an unknown fragment is left for validation to report.
                if fragment is not None and name not in seen:
                    self.walk(fragment.selection_set, depth, (*seen, name))


def check_document(document: DocumentNode) -> None:
    """GraphQLError naming the limit when the document is too deep or too wide."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Counter(fragments)
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            counter.walk(definition.selection_set, 1, ())
