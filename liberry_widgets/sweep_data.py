"""A sweep's runs as columns, and their compact binary form for the view (`js/sweep/data.ts`).

The explorer draws every run of a sweep at once, so it needs all of them in the browser: for a
10,000-run sweep with 8 parameters that is 100,000 numbers. They travel as typed arrays in one
binary buffer (a `Bytes` trait, which ipywidgets and marimo send as a binary buffer, and which
a saved notebook keeps as the widget's last state), never as JSON objects per run:

    b"LBSW"  u32 header length (little endian)  header JSON (UTF-8)  padding to 8  blocks...

The header describes the columns and where each block starts (byte offsets from the first
block, each a multiple of 8 so the view can view it as a `Float64Array` without copying):

- `ids`, `names`: the runs' ids and display names, UTF-8, separated by U+001F;
- `created`: creation times (ms since the epoch, float64); `state`: codes into `states` (u8);
- `metric`: the sweep metric from each run's summary (float64, NaN where not logged);
- `axes`: one per swept parameter: `kind` "number" (float64 values; `log` for a log
  distribution; `domain` from the search space, widened to the values seen) or "category"
  (float64 codes into `categories`; NaN where the run has no value).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt

from .importance import Feature

__all__ = ["MAGIC", "Axis", "SweepTable", "axes_from_config", "build_table", "pack"]

MAGIC = b"LBSW"
VERSION = 1
SEPARATOR = "\x1f"
#: Run states in the order of their codes (anything else is "other").
STATES = ("running", "finished", "crashed", "failed", "killed", "preempted", "pending", "other")
LOG_DISTRIBUTIONS = {
    "log_uniform", "log_uniform_values", "q_log_uniform", "q_log_uniform_values",
    "inv_log_uniform", "inv_log_uniform_values",
}  # fmt: skip

FloatArray = npt.NDArray[np.float64]


@dataclass
class Axis:
    """A swept parameter: its dotted config key and how to draw it."""

    key: str
    kind: str = "number"  # or "category"
    log: bool = False
    #: The search space's bounds (numbers), before the values seen widen them.
    bounds: tuple[float, float] | None = None
    #: Category labels, in the config's order (values seen later are appended).
    categories: list[str] = field(default_factory=list)

    def feature(self, values: FloatArray) -> Feature:
        return Feature(self.key, values, categorical=self.kind == "category", log=self.log)


@dataclass
class SweepTable:
    """Every run of a sweep as columns, in the sweep's run order (oldest first)."""

    ids: list[str]
    names: list[str]
    states: list[str]
    created: FloatArray
    metric: FloatArray
    axes: list[Axis]
    values: list[FloatArray]

    def __len__(self) -> int:
        return len(self.ids)

    def features(self, rows: npt.NDArray[np.bool_] | None = None) -> list[Any]:
        """The parameters as importance `Feature`s, for all runs or the `rows` mask."""
        return [
            a.feature(v if rows is None else v[rows])
            for a, v in zip(self.axes, self.values, strict=True)
        ]

    @property
    def logged(self) -> int:
        """How many runs have a value for the metric."""
        return int(np.isfinite(self.metric).sum())


def axes_from_config(config: Mapping[str, Any]) -> list[Axis]:
    """The swept parameters of a W&B sweep config, nested ones as dotted keys
    (`optimizer.name`); constants (`value`) are left out, they have nothing to explore."""
    axes: list[Axis] = []

    def walk(prefix: str, parameters: Mapping[str, Any]) -> None:
        for name, spec in parameters.items():
            key = f"{prefix}{name}"
            if not isinstance(spec, Mapping):
                continue
            if isinstance(spec.get("parameters"), Mapping):
                walk(f"{key}.", spec["parameters"])
                continue
            if "value" in spec and "values" not in spec and "distribution" not in spec:
                continue
            axes.append(_axis(key, spec))

    parameters = config.get("parameters")
    if isinstance(parameters, Mapping):
        walk("", parameters)
    return axes


def _axis(key: str, spec: Mapping[str, Any]) -> Axis:
    values = spec.get("values")
    if isinstance(values, list):
        if values and all(_is_number(v) for v in values):
            numbers = [float(v) for v in values]
            return Axis(key, bounds=(min(numbers), max(numbers)))
        return Axis(key, kind="category", categories=list(dict.fromkeys(_label(v) for v in values)))
    distribution = str(spec.get("distribution") or "")
    log = distribution in LOG_DISTRIBUTIONS
    given = spec.get("min"), spec.get("max")
    bounds = None
    if _is_number(given[0]) and _is_number(given[1]):
        low, high = float(given[0]), float(given[1])
        if distribution in ("log_uniform", "q_log_uniform"):  # bounds given as natural logs
            low, high = math.exp(low), math.exp(high)
        if not distribution.startswith("inv_"):
            bounds = (low, high)
    return Axis(key, log=log, bounds=bounds)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _label(value: Any) -> str:
    """A category's text: strings as they are, anything else as JSON (`true`, `[1, 2]`)."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _epoch_ms(text: Any) -> float:
    if not isinstance(text, str) or not text:
        return math.nan
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return math.nan
    if when.tzinfo is None:  # W&B sends naive UTC
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp() * 1e3


def build_table(
    columns: Mapping[str, Sequence[Any]], axes: list[Axis], metric: str | None
) -> SweepTable:
    """The table from `Runs.to_columns()` (`id`, `name`, `state`, `created_at`, flat
    `config.<key>` / `summary.<key>`, None where a run lacks the key).

    A number axis whose runs hold text (a config the sweep did not write) becomes a category
    axis, so no value is dropped silently.
    """
    ids = [str(i) for i in columns.get("id", ())]
    n = len(ids)
    absent: Sequence[Any] = [None] * n
    values: list[FloatArray] = []
    for axis in axes:
        column = columns.get(f"config.{axis.key}", absent)
        if axis.kind == "number" and any(v is not None and not _is_number(v) for v in column):
            axis.kind, axis.log, axis.bounds = "category", False, None
            axis.categories = []
        if axis.kind == "number":
            values.append(
                np.array([v if _is_number(v) else math.nan for v in column], dtype=np.float64)
            )
            continue
        index = {label: i for i, label in enumerate(axis.categories)}
        codes = np.full(n, math.nan)
        for i, v in enumerate(column):
            if v is None:
                continue
            label = _label(v)
            code = index.get(label)
            if code is None:
                code = index[label] = len(axis.categories)
                axis.categories.append(label)
            codes[i] = code
        values.append(codes)
    metric_column = columns.get(f"summary.{metric}", absent) if metric else absent
    names = columns.get("name", absent)
    states = columns.get("state", absent)
    return SweepTable(
        ids=ids,
        names=[str(name or rid) for name, rid in zip(names, ids, strict=True)],
        states=[str(state or "other") for state in states],
        created=np.array(
            [_epoch_ms(c) for c in columns.get("created_at", absent)], dtype=np.float64
        ),
        metric=np.array([_metric(v) for v in metric_column], dtype=np.float64),
        axes=axes,
        values=values,
    )


def _metric(value: Any) -> float:
    """A summary value as a number: W&B summaries hold numbers, or for some metrics a dict
    such as `{"min": ..., "max": ...}`, which has no single value here."""
    if _is_number(value):
        return float(value)
    return math.nan


def _domain(axis: Axis, values: FloatArray) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if axis.log:
        finite = finite[finite > 0]
    lows = [float(finite.min())] if len(finite) else []
    highs = [float(finite.max())] if len(finite) else []
    if axis.bounds is not None:
        lows.append(axis.bounds[0])
        highs.append(axis.bounds[1])
    if not lows:
        return None
    return [min(lows), max(highs)]


def pack(table: SweepTable, *, metric: str | None, goal: str | None, version: int) -> bytes:
    """The table in the binary form described at the top of this module."""
    blocks: list[bytes] = []
    offset = 0

    def block(data: bytes) -> dict[str, int]:
        nonlocal offset
        start = offset
        padded = data + b"\0" * (-len(data) % 8)
        blocks.append(padded)
        offset += len(padded)
        return {"offset": start, "length": len(data)}

    def strings(items: Iterable[str]) -> dict[str, int]:
        return block(SEPARATOR.join(s.replace(SEPARATOR, " ") for s in items).encode("utf-8"))

    state_codes = bytes(STATES.index(s) if s in STATES else len(STATES) - 1 for s in table.states)
    header: dict[str, Any] = {
        "version": VERSION,
        "data_version": version,
        "n": len(table),
        "ids": strings(table.ids),
        "names": strings(table.names),
        "states": list(STATES),
        "state": block(state_codes),
        "created": block(np.ascontiguousarray(table.created, dtype="<f8").tobytes()),
        "metric": {
            "name": metric,
            "goal": goal,
            "logged": table.logged,
            **block(np.ascontiguousarray(table.metric, dtype="<f8").tobytes()),
        },
        "axes": [],
    }
    for axis, values in zip(table.axes, table.values, strict=True):
        entry: dict[str, Any] = {"key": axis.key, "kind": axis.kind, "log": axis.log}
        if axis.kind == "category":
            entry["categories"] = axis.categories
        else:
            entry["domain"] = _domain(axis, values)
        entry.update(block(np.ascontiguousarray(values, dtype="<f8").tobytes()))
        header["axes"].append(entry)
    head = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    start = 8 + len(head)
    head += b" " * (-start % 8)
    return MAGIC + struct.pack("<I", len(head)) + head + b"".join(blocks)
