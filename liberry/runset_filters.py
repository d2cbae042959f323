"""A report run set's filters, sort and search as liberry's run filter and order.

W&B's report editor (and `wandb_workspaces.reports.v2.Runset(filters=..., order=...)`) stores a
run set's choice of runs in the report spec: `filters` (either `filterFormat: "filterV2"`, a
flat list joined by `connector`s, or the older tree of `{"op": "AND"|"OR", "filters": [...]}`),
`sort.keys`, `search.query` and `selections`. `runset_query` turns that into the MongoDB-style
filter and order string that `Api.runs` and the server's store take, so a report draws the
same runs the editor showed. A filter this module does not understand raises
`RunSetFilterError` naming it, rather than silently drawing other runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RunSetFilterError", "RunSetQuery", "runset_query"]

#: W&B's run-section key names -> liberry's run fields.
_RUN_FIELDS = {
    "name": "name",
    "id": "name",
    "displayName": "display_name",
    "state": "state",
    "createdAt": "created_at",
    "heartbeatAt": "heartbeat_at",
    "updatedAt": "updated_at",
    "username": "username",
    "userName": "username",
    "group": "group",
    "jobType": "job_type",
    "host": "host",
    "notes": "notes",
    "sweep": "sweep",
    "tags": "tags",
}
_COMPARE = {"=": "$eq", "!=": "$ne", "<": "$lt", ">": "$gt", "<=": "$lte", ">=": "$gte"}
_SETS = {"IN": "$in", "NIN": "$nin"}


class RunSetFilterError(ValueError):
    """A run set's filter uses a key section or operator liberry cannot apply."""


@dataclass(frozen=True)
class RunSetQuery:
    """What a run set selects: `filters` for `Api.runs(filters=...)` (None: every run) and
    `order` (None: newest first)."""

    filters: dict[str, Any] | None
    order: str | None


def _field(key: Mapping[str, Any]) -> str:
    section, name = key.get("section"), key.get("name")
    if not isinstance(name, str) or not name:
        raise RunSetFilterError(f"run-set filter key without a name: {dict(key)!r}")
    if section == "config":
        # W&B's UI writes config keys as `lr.value`; both forms name the same key.
        return "config." + name.removesuffix(".value")
    if section == "summary":
        return "summary_metrics." + name
    if section == "tags":
        return "tags"
    if section == "run" and name in _RUN_FIELDS:
        return _RUN_FIELDS[name]
    raise RunSetFilterError(
        f"run-set filter key {section}.{name} is not supported: use config, summary, tags or "
        f"one of the run fields {', '.join(sorted(_RUN_FIELDS))}"
    )


def _leaf(item: Mapping[str, Any]) -> dict[str, Any]:
    key = item.get("key")
    if not isinstance(key, Mapping):
        raise RunSetFilterError(f"run-set filter without a key: {dict(item)!r}")
    field, op, value = _field(key), item.get("op"), item.get("value")
    if key.get("section") == "tags" and key.get("name") != "tags" and op == "=":
        # The editor's per-tag toggle: {section: tags, name: <tag>, value: true|false}.
        tag = key["name"]
        return {"tags": tag} if value else {"tags": {"$ne": tag}}
    if op in _COMPARE:
        return {field: {_COMPARE[op]: value}}
    if op in _SETS:
        values = value if isinstance(value, list) else [value]
        return {field: {_SETS[op]: values}}
    raise RunSetFilterError(
        f"run-set filter operator {op!r} (on {field}) is not supported: use one of "
        f"{', '.join([*_COMPARE, *_SETS])}"
    )


def _combine(op: str, parts: list[dict[str, Any]]) -> dict[str, Any] | None:
    parts = [p for p in parts if p]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {op: parts}


def _tree(node: Mapping[str, Any]) -> dict[str, Any] | None:
    if node.get("disabled"):
        return None
    op = node.get("op")
    if op in ("AND", "OR"):
        children = [_tree(c) for c in node.get("filters") or [] if isinstance(c, Mapping)]
        return _combine("$and" if op == "AND" else "$or", [c for c in children if c])
    return _leaf(node)


def _flat(items: list[Any]) -> dict[str, Any] | None:
    """filterV2: `a, AND b, OR c` reads as `(a and b) or c`, AND binding tighter."""
    groups: list[list[dict[str, Any]]] = [[]]
    for item in items:
        if not isinstance(item, Mapping) or item.get("disabled"):
            continue
        if item.get("connector") == "OR" and groups[-1]:
            groups.append([])
        part = _tree(item) if item.get("op") in ("AND", "OR") else _leaf(item)
        if part:
            groups[-1].append(part)
    return _combine("$or", [g for g in (_combine("$and", group) for group in groups) if g])


def _filters(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        return None
    if raw.get("filterFormat") == "filterV2" or ("op" not in raw and "filters" in raw):
        items = raw.get("filters")
        return _flat(items) if isinstance(items, list) else None
    return _tree(raw)


def _selected(selections: Any) -> dict[str, Any] | None:
    """`selections`: `root` 1 = every run but those in `tree`, 0 = only those in `tree`."""
    if not isinstance(selections, Mapping):
        return None
    tree = [t for t in selections.get("tree") or [] if isinstance(t, str)]
    if selections.get("root", 1) == 0:
        return {"name": {"$in": tree}}
    return {"name": {"$nin": tree}} if tree else None


def _order(sort: Any) -> str | None:
    keys = sort.get("keys") if isinstance(sort, Mapping) else None
    if not keys or not isinstance(keys[0], Mapping) or not isinstance(keys[0].get("key"), Mapping):
        return None
    field = _field(keys[0]["key"])
    if field == "tags":
        return None
    return ("+" if keys[0].get("ascending") else "-") + field


def runset_query(runset: Mapping[str, Any]) -> RunSetQuery:
    """The filter and order a report run set (one entry of a panel grid's `runSets`) stands for.

    Raises `RunSetFilterError` for a key or operator with no liberry equivalent."""
    search = runset.get("search")
    query = search.get("query") if isinstance(search, Mapping) else None
    parts = [
        _filters(runset.get("filters")),
        {"display_name": {"$regex": query}} if isinstance(query, str) and query else None,
        _selected(runset.get("selections")),
    ]
    return RunSetQuery(_combine("$and", [p for p in parts if p]), _order(runset.get("sort")))
