"""graphql-core's executor with a short path for plain fields.

A page of 1,000 runs resolves some 10,000 fields. For each, graphql-core builds a resolve-info
object, a path and an argument dict, checks the result for awaitables and walks its
completion chain: ~7 µs a field, most of a large page's cost. A field that the default
resolver would read straight off its source (an attribute or a key, no arguments) needs none
of that when its type is a scalar, an enum, an object or a list of objects: it is read and
completed in place. Anything else, or anything unusual about a value (a method, a null, a
value a serializer refuses), takes graphql-core's own path, which also raises the errors
exactly as it would; errors inside a short-path object are located and nulled the same way.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    ExecutionContext,
    FieldNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    Undefined,
    is_leaf_type,
    located_error,
)
from graphql.pyutils import Path


@dataclass(frozen=True, slots=True)
class _Short:
    """How to complete one plain field without graphql-core's per-field machinery."""

    name: str  # the attribute or key the default resolver reads
    field_type: GraphQLOutputType
    non_null: bool
    serialize: Callable[[Any], Any] | None = None  # a scalar or enum
    object_type: GraphQLObjectType | None = None  # an object, or the items of a list
    item_type: GraphQLOutputType | None = None  # set for a list of objects


_Plan = list[tuple[str, list[FieldNode], _Short | None]]

# graphql-core 3.2.x releases differ in whether `handle_field_error` also takes the path.
_HANDLE_TAKES_PATH = "path" in inspect.signature(ExecutionContext.handle_field_error).parameters


def never_awaitable(_value: Any) -> bool:
    """Every resolver here is synchronous: skip graphql-core's awaitable check per field."""
    return False


class LeanExecutionContext(ExecutionContext):
    _plans: dict[tuple[str, int], tuple[Any, _Plan]]

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        fields: dict[str, list[FieldNode]],
    ) -> Any:
        results: dict[str, Any] = {}
        is_mapping = isinstance(source_value, Mapping)
        for response_name, field_nodes, short in self._plan(parent_type, fields):
            if short is not None:
                value = (
                    source_value.get(short.name)
                    if is_mapping
                    else getattr(source_value, short.name, None)
                )
                if value is None and not short.non_null:
                    results[response_name] = None
                    continue
                if value is not None and not callable(value):
                    out = self._complete_short(
                        short, field_nodes, Path(path, response_name, parent_type.name), value
                    )
                    if out is not Undefined:
                        results[response_name] = out
                        continue
            field_path = Path(path, response_name, parent_type.name)
            result = self.execute_field(parent_type, source_value, field_nodes, field_path)
            if result is not Undefined:
                results[response_name] = result
        return results

    def _complete_short(
        self, short: _Short, field_nodes: list[FieldNode], path: Path, value: Any
    ) -> Any:
        """The completed value, or Undefined to hand the field to graphql-core."""
        if short.serialize is not None:
            try:
                out = short.serialize(value)
            except Exception:  # graphql-core raises and locates it
                return Undefined
            return Undefined if out is None else out
        object_type = short.object_type
        assert object_type is not None
        if short.item_type is not None and (type(value) is not list or None in value):
            return Undefined
        try:
            sub = self.collect_subfields(object_type, field_nodes)
            if short.item_type is None:
                return self.execute_fields(object_type, value, path, sub)
            items = []
            for index, item in enumerate(value):
                item_path = path.add_key(index, None)
                try:
                    items.append(self.execute_fields(object_type, item, item_path, sub))
                except Exception as raw:
                    error = located_error(raw, field_nodes, item_path.as_list())
                    self._field_error(error, short.item_type, item_path)
                    items.append(None)
            return items
        except Exception as raw:
            error = located_error(raw, field_nodes, path.as_list())
            self._field_error(error, short.field_type, path)
            return None

    def _field_error(self, error: Exception, field_type: GraphQLOutputType, path: Path) -> None:
        """Raise for a non-null type, else record the error (the field becomes null)."""
        handle: Any = self.handle_field_error
        if _HANDLE_TAKES_PATH:
            handle(error, field_type, path)
        else:
            handle(error, field_type)

    def _plan(self, parent_type: GraphQLObjectType, fields: dict[str, list[FieldNode]]) -> _Plan:
        # `fields` comes from graphql-core's per-execution subfield cache, so the same dict
        # is seen for every item of a list; keeping it in the value keeps its id unique.
        try:
            plans = self._plans
        except AttributeError:
            plans = self._plans = {}
        key = (parent_type.name, id(fields))
        hit = plans.get(key)
        if hit is not None:
            return hit[1]
        plan: _Plan = [
            (name, nodes, _short_of(parent_type, nodes)) for name, nodes in fields.items()
        ]
        plans[key] = (fields, plan)
        return plan


def _short_of(parent_type: GraphQLObjectType, nodes: list[FieldNode]) -> _Short | None:
    node = nodes[0]
    field = parent_type.fields.get(node.name.value)
    if field is None or field.resolve is not None or node.arguments:
        return None
    kind = field.type
    non_null = isinstance(kind, GraphQLNonNull)
    inner = kind.of_type if isinstance(kind, GraphQLNonNull) else kind
    name = node.name.value
    if is_leaf_type(inner) and len(nodes) == 1:
        return _Short(name, kind, non_null, serialize=inner.serialize)
    if isinstance(inner, GraphQLObjectType) and inner.is_type_of is None:
        return _Short(name, kind, non_null, object_type=inner)
    if isinstance(inner, GraphQLList):
        item = inner.of_type
        item_object = item.of_type if isinstance(item, GraphQLNonNull) else item
        if isinstance(item_object, GraphQLObjectType) and item_object.is_type_of is None:
            return _Short(name, kind, non_null, object_type=item_object, item_type=item)
    return None
