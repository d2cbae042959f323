"""Altair charts for the widgets, sent to the front end as Vega-Lite JSON.

The kernel builds the chart (Altair is the notebook's charting language, and the spec can be
reused outside the widget); the view renders it with vega-embed, loaded only when a chart is
first shown (`js/chart.ts`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import altair as alt

__all__ = ["history_chart", "history_records"]

#: Steps are the usual x axis; these are the alternatives W&B logs with every row.
X_AXES = ("_step", "_runtime", "_timestamp")


def history_records(
    rows: Iterable[Mapping[str, Any]], metrics: Sequence[str], x: str = "_step"
) -> list[dict[str, Any]]:
    """Long-form points `{x, metric, value}`, keeping only finite numbers."""
    points: list[dict[str, Any]] = []
    for row in rows:
        x_value = row.get(x)
        if not _finite(x_value):
            continue
        for metric in metrics:
            value = row.get(metric)
            if _finite(value):
                points.append({x: x_value, "metric": metric, "value": value})
    return points


def history_chart(
    rows: Iterable[Mapping[str, Any]],
    metrics: Sequence[str],
    x: str = "_step",
    title: str | None = None,
) -> alt.Chart:
    """A line per metric against `x` (the run's sampled history), with a shared tooltip."""
    points = history_records(rows, metrics, x)
    x_title = {"_step": "step", "_runtime": "runtime (s)", "_timestamp": "time"}.get(x, x)
    x_type = "temporal" if x == "_timestamp" else "quantitative"
    data = alt.Data(values=points)
    if x == "_timestamp":
        data = alt.Data(values=[{**p, x: p[x] * 1000} for p in points])  # Vega wants ms
    chart = (
        alt.Chart(data)
        .mark_line(point=len(points) <= 40, interpolate="linear")
        .encode(
            x=alt.X(f"{_field(x)}:{x_type[0].upper()}", title=x_title),
            y=alt.Y("value:Q", title=None, scale=alt.Scale(zero=False)),
            color=alt.Color(
                "metric:N",
                title=None,
                legend=alt.Legend(orient="bottom") if len(metrics) > 1 else None,
            ),
            tooltip=[
                alt.Tooltip("metric:N"),
                alt.Tooltip(f"{_field(x)}:{x_type[0].upper()}", title=x_title),
                alt.Tooltip("value:Q", format=".6~g"),
            ],
        )
        .properties(width="container", height=220, background="transparent")
    )
    if title:
        chart = chart.properties(title=title)
    return chart


def _field(name: str) -> str:
    # Vega-Lite reads "." and "[" in field names as paths; metric names like "val/loss" or
    # "eval.acc" must be escaped to stay one field.
    return name.replace("\\", "\\\\").replace(".", "\\.").replace("[", "\\[").replace("]", "\\]")


def _finite(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )
