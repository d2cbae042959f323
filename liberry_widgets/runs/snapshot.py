"""The first page as a plain HTML table: what a host without widget support shows (a saved
notebook on GitHub, nbconvert without widget state)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

__all__ = ["snapshot_table", "view_key"]


def view_key(filters: Mapping[str, Any] | None, order: str) -> str:
    """Which first page a snapshot is: its filters and order."""
    return json.dumps([filters or {}, order], sort_keys=True)


def snapshot_table(path: str, snapshot: Mapping[str, Any]) -> str:
    """A plain HTML table of a snapshot (a `page` reply with its filters and order)."""
    rows = snapshot.get("rows") or []
    columns = [c for c in snapshot.get("columns") or ["name", "state", "created_at"]]
    total = int(snapshot.get("total") or 0)
    head = "".join(f"<th>{html.escape(_label(c))}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get("values", {}).get(column) if "." in column else row.get(column)
            cells.append(f"<td>{html.escape(_cell_text(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    shown = f"1\u2013{len(rows)} of {total:,}" if rows else f"0 of {total:,}"  # en dash
    return (
        f'<div class="liberry-runs-snapshot"><p><b>{html.escape(path)}</b>: showing {shown} '
        f"runs (snapshot; run the notebook for the interactive table)</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def _label(column: str) -> str:
    if column.startswith("config."):
        return column[len("config.") :]
    if column.startswith("summary."):
        return column[len("summary.") :]
    return {"created_at": "created", "job_type": "job type", "heartbeat_at": "heartbeat"}.get(
        column, column
    )


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)[:80]
    return str(value)
