"""Every GraphQL operation the client sends, by name, in one place.

Each operation selects only what its caller reads; the selections are W&B's own field names
so the same operations work against W&B's server (the one liberry-only field, `runKeys`, is
marked where it is defined).
"""

from __future__ import annotations

from ..operation import Operation
from .files import CREATE_RUN_FILES, RUN_FILES
from .history import HISTORY_PAGE, RUN_FULL_HISTORY, RUN_HISTORY_KEYS, RUN_SAMPLED_HISTORY
from .projects import CREATE_PROJECT, GET_PROJECTS
from .runs import (
    CREATE_RUN,
    DELETE_RUN,
    DELETE_RUN_AND_ARTIFACTS,
    RUN,
    RUN_KEYS,
    RUNS,
    RUNS_CURSOR,
    RUNS_EXPORT,
    RUNS_TABLE,
    UPDATE_RUN,
)
from .sweeps import GET_SWEEP, GET_SWEEPS
from .viewer import SERVER_FEATURES, VIEWER

__all__ = [
    "CREATE_PROJECT",
    "CREATE_RUN",
    "CREATE_RUN_FILES",
    "DELETE_RUN",
    "DELETE_RUN_AND_ARTIFACTS",
    "GET_PROJECTS",
    "GET_SWEEP",
    "GET_SWEEPS",
    "HISTORY_PAGE",
    "RUN",
    "RUNS",
    "RUNS_CURSOR",
    "RUNS_EXPORT",
    "RUNS_TABLE",
    "RUN_FILES",
    "RUN_FULL_HISTORY",
    "RUN_HISTORY_KEYS",
    "RUN_KEYS",
    "RUN_SAMPLED_HISTORY",
    "SERVER_FEATURES",
    "UPDATE_RUN",
    "VIEWER",
    "Operation",
]
