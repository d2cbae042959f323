"""Runs as the view's rows: the identity every row has, and the config / summary values of
the columns shown (`Row` in `js/runs/columns.ts`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from liberry import Run

__all__ = ["HIDDEN_SUMMARY", "flat", "identity", "is_number", "row"]

#: Summary keys W&B adds to every run; shown in the chooser only when useful.
HIDDEN_SUMMARY = ("_timestamp", "_wandb")


def flat(mapping: Mapping[str, Any], skip: Sequence[str] = ()) -> dict[str, Any]:
    """Nested dicts as dotted keys (`optimizer.lr`), as `Api.run_keys` names them."""
    from liberry.runs import flatten

    kept = {k: v for k, v in mapping.items() if not (skip and k.startswith(tuple(skip)))}
    return {k[1:]: v for k, v in flatten("", kept).items()}


def is_number(value: Any) -> bool:
    """True for ints and floats, not bools."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def identity(run: Run) -> dict[str, Any]:
    """The fields every row and the detail panel show."""
    return {
        "id": run.id,
        "name": run.name,
        "state": run.state,
        "created_at": run.created_at,
        "heartbeat_at": run.heartbeat_at,
        "tags": run.tags,
        "group": run.group,
        "job_type": run.job_type,
        "sweep": run.sweep_name,
    }


def row(run: Run, columns: Sequence[str]) -> dict[str, Any]:
    """One table row: the run's identity, and `values` for its config / summary columns."""
    values: dict[str, Any] = {}
    config: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    for column in columns:
        if column.startswith("config."):
            config = config if config is not None else flat(run.config)
            values[column] = config.get(column[len("config.") :])
        elif column.startswith("summary."):
            summary = summary if summary is not None else flat(run.summary)
            values[column] = summary.get(column[len("summary.") :])
    return {**identity(run), "notes": run.notes if "notes" in columns else None,
            "values": values}  # fmt: skip
