"""How W&B stores a run's config and summary, and the JSON they travel as: wrap and unwrap
config values (`{"lr": {"value": 0.1}}`), flatten nested keys to dotted columns, and JSON text
that takes numpy values and datetimes."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy arrays and scalars, torch tensors
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r} cannot be stored as JSON")


def json_dumps(value: Any) -> str:
    """JSON text for config/summary values; numpy values and datetimes are converted."""
    return json.dumps(value, default=_default, separators=(",", ":"), allow_nan=True)


def unwrap_config(raw: Mapping[str, Any]) -> dict[str, Any]:
    """W&B stores config as `{"lr": {"value": 0.1}}`; users see `{"lr": 0.1}`.

    Internal keys (`_wandb`, ...) are left out, as `wandb.Api` does.
    """
    return {
        k: v["value"] if isinstance(v, dict) and "value" in v else v
        for k, v in raw.items()
        if not k.startswith("_")
    }


def wrap_config(config: Mapping[str, Any], raw: Mapping[str, Any] | None) -> dict[str, Any]:
    """The inverse of `unwrap_config`, keeping the internal keys of the stored config."""
    wrapped = {k: v for k, v in (raw or {}).items() if k.startswith("_")}
    wrapped.update({k: {"value": v} for k, v in config.items()})
    return wrapped


def flatten(
    prefix: str, value: Mapping[str, Any], out: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`{"opt": {"lr": 1}}` → `{"<prefix>.opt.lr": 1}`; W&B media objects (`_type`) stay whole."""
    out = {} if out is None else out
    for key, item in value.items():
        name = f"{prefix}.{key}"
        if isinstance(item, dict) and item and "_type" not in item:
            flatten(name, item, out)
        else:
            out[name] = item
    return out
