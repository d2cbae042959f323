"""`liberry.runset_filters`: report run sets (as W&B's report tools save them) as run filters.

The specs here are what `wandb_workspaces.reports.v2` 0.4 wrote for `Runset(filters=...,
order=...)` (filterV2) and what older W&B reports hold (the AND/OR tree); the compat test
`tests/compat/test_reports.py` checks the same against the real tools and server."""

from __future__ import annotations

import pytest

from liberry.filters import validate_filters, validate_order
from liberry.runset_filters import RunSetFilterError, runset_query

V2 = {
    "filters": {
        "filterFormat": "filterV2",
        "filters": [
            {"key": {"section": "config", "name": "lr"}, "op": ">=", "value": 0.01,
             "disabled": False},
            {"key": {"section": "run", "name": "state"}, "op": "=", "value": "finished",
             "disabled": False, "connector": "AND"},
            {"key": {"section": "summary", "name": "loss"}, "op": "<", "value": 0.5,
             "disabled": False, "connector": "OR"},
            {"key": {"section": "tags", "name": "tags"}, "op": "IN", "value": ["a"],
             "disabled": True, "connector": "AND"},
        ],
    },
    "sort": {"keys": [{"key": {"section": "summary", "name": "loss"}, "ascending": True}]},
    "search": {"query": ""},
    "selections": {"root": 1, "bounds": [], "tree": []},
}  # fmt: skip

TREE = {
    "filters": {"op": "OR", "filters": [{"op": "AND", "filters": [
        {"key": {"section": "config", "name": "optimizer.value"}, "op": "IN",
         "value": ["adam", "sgd"]},
        {"key": {"section": "run", "name": "displayName"}, "op": "!=", "value": "x"},
    ]}]},
    "search": {"query": "^base"},
    "selections": {"root": 0, "tree": ["r1", "r2"]},
}  # fmt: skip


def test_filter_v2_reads_and_before_or_and_skips_disabled() -> None:
    query = runset_query(V2)
    assert query.filters == {"$or": [
        {"$and": [{"config.lr": {"$gte": 0.01}}, {"state": {"$eq": "finished"}}]},
        {"summary_metrics.loss": {"$lt": 0.5}},
    ]}  # fmt: skip
    assert query.order == "+summary_metrics.loss"
    validate_filters(query.filters)  # what Api.runs would send is valid
    validate_order(query.order)


def test_tree_search_and_selection() -> None:
    query = runset_query(TREE)
    assert query.filters == {"$and": [
        {"$and": [{"config.optimizer": {"$in": ["adam", "sgd"]}},
                  {"display_name": {"$ne": "x"}}]},
        {"display_name": {"$regex": "^base"}},
        {"name": {"$in": ["r1", "r2"]}},
    ]}  # fmt: skip
    assert query.order is None
    validate_filters(query.filters)


def test_an_empty_run_set_selects_every_run() -> None:
    assert runset_query({}).filters is None
    assert runset_query({"filters": {"filterFormat": "filterV2", "filters": []}}).filters is None


@pytest.mark.parametrize(
    ("leaf", "message"),
    [
        ({"key": {"section": "run", "name": "gpuCount"}, "op": "=", "value": 1},
         "run.gpuCount is not supported"),
        ({"key": {"section": "config", "name": "lr"}, "op": "WITHIN_SECONDS", "value": 5},
         "operator 'WITHIN_SECONDS' (on config.lr) is not supported"),
        ({"op": "="}, "without a key"),
    ],
)  # fmt: skip
def test_unsupported_filters_are_named(leaf: dict, message: str) -> None:
    with pytest.raises(RunSetFilterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        runset_query({"filters": {"filterFormat": "filterV2", "filters": [leaf]}})
