"""One run's detail panel and its history chart (mirrors `js/runs/detail.ts`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._base import int_param
from .rows import HIDDEN_SUMMARY, flat, identity

if TYPE_CHECKING:
    from liberry import Run

__all__ = ["chart_reply", "plottable_metrics", "run_details"]


def plottable_metrics(history_keys: Mapping[str, Any]) -> list[str]:
    """The history keys logged as numbers (at least once), not W&B's own (`_step`, ...)."""
    keys = history_keys.get("keys")
    found = [
        name
        for name, entry in (keys.items() if isinstance(keys, Mapping) else ())
        if not name.startswith("_")
        and isinstance(entry, Mapping)
        and any(
            isinstance(tc, Mapping) and tc.get("type") == "number" and tc.get("count", 1)
            for tc in entry.get("typeCounts") or ()
        )
    ]
    return sorted(found, key=str.lower)


def run_details(run: Run) -> dict[str, Any]:
    """What the detail panel shows: identity, notes, flat config and summary, the metrics
    it can plot."""
    return {
        **identity(run),
        "notes": run.notes,
        "url": run.url,
        "config": flat(run.config),
        "summary": flat(run.summary, skip=HIDDEN_SUMMARY),
        "metrics": plottable_metrics(run.history_keys),
        "history_rows": run.history_line_count,
    }


def chart_reply(run: Run, params: Mapping[str, Any]) -> dict[str, Any]:
    """A Vega-Lite spec of the run's history for `metrics` (the first three plottable ones
    by default) against `x`, sampled to `samples` points."""
    raw_metrics = params.get("metrics")
    metrics = [str(m) for m in raw_metrics] if isinstance(raw_metrics, list) else []
    if not metrics:
        metrics = plottable_metrics(run.history_keys)[:3]
    if not metrics:
        return {"spec": None, "metrics": [], "points": 0}
    from ..charts import history_chart  # Altair loads only when a chart is first asked for

    x = str(params.get("x") or "_step")
    samples = max(10, min(2000, int_param(params.get("samples"), 500)))
    rows = run.history(samples=samples, keys=metrics, x_axis=x, pandas=False)
    assert isinstance(rows, list)
    spec = history_chart(rows, metrics, x=x).to_dict()
    points = len(spec.get("data", {}).get("values", []))
    return {"spec": spec, "metrics": metrics, "points": points}
