"""A run's history: sampled views (`Run.history`) and complete scans (`Run.scan_history`)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import queries
from .errors import NotFoundError
from .paths import RunPath

if TYPE_CHECKING:
    import pandas as pd

    from .transport import Transport

__all__ = ["merge_on_step", "sampled_history", "scan_history"]

#: Step-range specs per sampledHistory request when looking up x-axis values.
_SPECS_PER_REQUEST = 250


def _run_node(client: Transport, data: dict[str, Any], path: RunPath) -> dict[str, Any]:
    project = data.get("project")
    run = (project or {}).get("run")
    if run is None:
        what = f"project {path.entity}/{path.project}" if project is None else f"run {path}"
        raise NotFoundError(f"{what} not found at {client.where}; check the path")
    node: dict[str, Any] = run
    return node


def _variables(path: RunPath, **extra: Any) -> dict[str, Any]:
    return {"entity": path.entity, "project": path.project, "name": path.run_id, **extra}


def _parse_rows(lines: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for line in lines:
        row = json.loads(line) if isinstance(line, str) else line
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _sort_key(x_axis: str) -> Any:
    def key(row: dict[str, Any]) -> tuple[int, Any, Any]:
        x, step = row.get(x_axis), row.get("_step")
        numeric = isinstance(x, int | float) and not isinstance(x, bool)
        # Numbers first in numeric order, anything else after in text order, ties by step.
        return (0, x, step if step is not None else -1) if numeric else (1, str(x), step or 0)

    return key


def merge_on_step(spec_rows: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Outer-join the rows of several sampled specs on `_step`, in step order."""
    merged: dict[Any, dict[str, Any]] = {}
    for rows in spec_rows:
        for row in rows:
            step = row.get("_step")
            if step is None:
                continue
            merged.setdefault(step, {}).update(row)
    return [merged[s] for s in sorted(merged)]


def sampled_history(
    client: Transport,
    path: RunPath,
    *,
    samples: int = 500,
    keys: list[str] | None = None,
    x_axis: str = "_step",
    pandas: bool = True,
) -> pd.DataFrame | list[dict[str, Any]]:
    """See `Run.history`."""
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    if isinstance(keys, str):
        keys = [keys]
    if keys:
        columns = list(dict.fromkeys([x_axis, *keys]))
        metrics = [k for k in columns if k not in ("_step", x_axis)] or [x_axis]
        # One spec per key, so a key never loses rows because another key is missing there
        # (W&B returns only rows having every key of a spec); outer-joined on `_step`.
        specs = [json.dumps({"keys": ["_step", k], "samples": samples}) for k in metrics]
        data = client.execute(queries.RUN_SAMPLED_HISTORY, _variables(path, specs=specs))
        sampled = _run_node(client, data, path).get("sampledHistory") or []
        rows = merge_on_step([_parse_rows(s) for s in sampled])
        if x_axis != "_step" and x_axis not in metrics:
            xs = _values_at_steps(client, path, x_axis, [r["_step"] for r in rows])
            for row in rows:
                if row["_step"] in xs:
                    row[x_axis] = xs[row["_step"]]
        rows = [r for r in rows if x_axis in r]
        rows.sort(key=_sort_key(x_axis))
        rows = [{k: r[k] for k in columns if k in r} for r in rows]
    else:
        data = client.execute(queries.RUN_FULL_HISTORY, _variables(path, samples=samples))
        rows = _parse_rows(_run_node(client, data, path).get("history") or [])
        rows.sort(key=_sort_key(x_axis))
        columns = [x_axis]
    if not pandas:
        return rows
    import pandas as pd

    frame = pd.DataFrame.from_records(rows)
    if frame.empty:
        return pd.DataFrame(columns=columns)
    first = [c for c in columns if c in frame.columns]
    return frame[first + [c for c in frame.columns if c not in first]]


def _step_ranges(steps: list[int]) -> list[tuple[int, int]]:
    """Sorted steps as inclusive ranges of consecutive steps."""
    ranges: list[tuple[int, int]] = []
    for step in sorted(set(steps)):
        if ranges and step == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], step)
        else:
            ranges.append((step, step))
    return ranges


def _values_at_steps(
    client: Transport, path: RunPath, key: str, steps: list[int]
) -> dict[int, Any]:
    """`key` at exactly these steps: one step-range spec per run of consecutive steps.

    Sampling `key` on its own would pick other steps than the metrics' samples; asking for
    the steps themselves keeps the x axis exact on every server.
    """
    values: dict[int, Any] = {}
    ranges = _step_ranges([s for s in steps if isinstance(s, int)])
    for start in range(0, len(ranges), _SPECS_PER_REQUEST):
        specs = [
            json.dumps({"keys": ["_step", key], "minStep": lo, "maxStep": hi,
                        "samples": hi - lo + 1})
            for lo, hi in ranges[start : start + _SPECS_PER_REQUEST]
        ]  # fmt: skip
        data = client.execute(queries.RUN_SAMPLED_HISTORY, _variables(path, specs=specs))
        for rows in _run_node(client, data, path).get("sampledHistory") or []:
            for row in _parse_rows(rows):
                if key in row and "_step" in row:
                    values[row["_step"]] = row[key]
    return values


def _last_step(client: Transport, path: RunPath) -> int | None:
    data = client.execute(queries.RUN_HISTORY_KEYS, _variables(path))
    keys = _run_node(client, data, path).get("historyKeys")
    if isinstance(keys, str):
        keys = json.loads(keys)
    last = (keys or {}).get("lastStep")
    return int(last) if isinstance(last, int | float) and math.isfinite(last) else None


def scan_history(
    client: Transport,
    path: RunPath,
    *,
    keys: list[str] | None = None,
    page_size: int = 1000,
    min_step: int | None = None,
    max_step: int | None = None,
) -> Iterator[dict[str, Any]]:
    """See `Run.scan_history`."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    if isinstance(keys, str):
        keys = [keys]
    return _scan(client, path, keys or None, page_size, min_step, max_step)


def _scan(
    client: Transport,
    path: RunPath,
    keys: list[str] | None,
    page_size: int,
    min_step: int | None,
    max_step: int | None,
) -> Iterator[dict[str, Any]]:
    start = 0 if min_step is None else min_step
    if max_step is None:
        last = _last_step(client, path)
        if last is None or last < 0:
            return
        max_step = last + 1
    data_keys = [k for k in dict.fromkeys(keys or []) if k != "_step"]

    def window(lo: int, hi: int) -> list[dict[str, Any]]:
        if keys is None:
            variables = _variables(path, minStep=lo, maxStep=hi, pageSize=page_size)
            data = client.execute(queries.HISTORY_PAGE, variables)
            rows = _parse_rows(_run_node(client, data, path).get("history") or [])
            return sorted((r for r in rows if "_step" in r), key=lambda r: r["_step"])
        # A spec's maxStep is inclusive (W&B's convention), unlike history(maxStep:).
        spec = {"minStep": lo, "maxStep": hi - 1, "samples": page_size}
        specs = [json.dumps({"keys": ["_step", k], **spec}) for k in data_keys or ["_step"]]
        data = client.execute(queries.RUN_SAMPLED_HISTORY, _variables(path, specs=specs))
        sampled = _run_node(client, data, path).get("sampledHistory") or []
        return merge_on_step([_parse_rows(s) for s in sampled])

    # Step windows no wider than `page_size` can hold at most `page_size` rows (steps are
    # unique), so the server never samples them. Empty windows double the next one to cross
    # gaps in sparse steps quickly; a wide window that finds rows is re-read narrowly.
    lo, width = start, page_size
    while lo < max_step:
        hi = min(lo + width, max_step)
        rows = window(lo, hi)
        if rows and width > page_size:
            width = page_size
            continue
        yield from rows
        lo = hi
        width = page_size if rows else width * 2
