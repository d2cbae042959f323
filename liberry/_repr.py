"""Small helpers for `repr`s and notebook HTML tables."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

_STYLE = "border-collapse:collapse;font-size:12px;font-family:var(--jp-code-font-family,monospace)"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;white-space:nowrap"


def human_size(size: int | None) -> str:
    """`1536` → `1.5 kB` (decimal units, like W&B's UI)."""
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # unreachable


def short(value: Any, width: int = 60) -> str:
    """A cell's text, shortened with an ellipsis."""
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def html_table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    caption: str | None = None,
    footer: str | None = None,
) -> str:
    """An escaped, compact HTML table for `_repr_html_`."""
    head = "".join(f'<th style="{_CELL}">{html.escape(c)}</th>' for c in columns)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{html.escape(short(v))}</td>' for v in row) + "</tr>"
        for row in rows
    )
    cap = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    foot = f"<div style='font-size:11px;color:#888'>{html.escape(footer)}</div>" if footer else ""
    table = f"{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody>"
    return f'<table style="{_STYLE}">{table}</table>{foot}'
