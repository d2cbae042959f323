"""A report's blocks as plain Python: what W&B's report spec (version 5) says, read.

The spec is Slate-like JSON: `{"blocks": [{"type": "heading", "level": 1, "children":
[{"text": "..."}]}, {"type": "panel-grid", "metadata": {...}}, ...]}`. `read_blocks` turns it
into `Block`s with the text flattened and, for panel grids, the panels and run sets listed;
`raw` keeps the original so nothing is lost. Shared by `liberry.Report` and the server's HTML
page, so both read a spec the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .runset_filters import RunSetQuery, runset_query

__all__ = ["Block", "Panel", "RunSetRef", "read_blocks"]


@dataclass(frozen=True)
class Panel:
    """One chart of a panel grid: its W&B view type, x axis and y metrics."""

    view_type: str
    metrics: list[str] = field(default_factory=list)
    x: str = "_step"
    title: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunSetRef:
    """A panel grid's run set: which project's runs it draws (filters are in `raw`)."""

    name: str
    entity: str | None
    project: str | None
    raw: dict[str, Any] = field(default_factory=dict)

    def query(self) -> RunSetQuery:
        """The run filter and order this run set stands for, as `Api.runs` takes them:
        `api.runs(path, filters=q.filters, order=q.order or "-created_at")`. Raises
        `RunSetFilterError` for a filter with no liberry equivalent."""
        return runset_query(self.raw)


@dataclass(frozen=True)
class Block:
    """One block of a report. `type` is W&B's (`heading`, `paragraph`, `list`,
    `code-block`, `markdown-block`, `panel-grid`, ...); `text` its text, flattened."""

    type: str
    text: str = ""
    level: int | None = None
    items: list[str] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    runsets: list[RunSetRef] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def _text(node: Any) -> str:
    """The text under a Slate node (links and inline marks included)."""
    if isinstance(node, dict):
        own = node.get("text")
        if isinstance(own, str):
            return own
        return "".join(_text(c) for c in node.get("children") or [])
    if isinstance(node, list):
        return "".join(_text(c) for c in node)
    return ""


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _is_padding(block: dict[str, Any]) -> bool:
    # The report tools wrap the blocks a user wrote in empty paragraphs; not content.
    return block.get("type") == "paragraph" and not _text(block).strip()


def _panels(metadata: dict[str, Any]) -> list[Panel]:
    section = metadata.get("panelBankSectionConfig") or {}
    out = []
    for raw in section.get("panels") or []:
        if not isinstance(raw, dict):
            continue
        config = _obj(raw.get("config"))
        metrics = config.get("metrics") or config.get("yAxis") or []
        if isinstance(metrics, str):
            metrics = [metrics]
        out.append(
            Panel(
                view_type=str(raw.get("viewType") or "unknown"),
                metrics=[str(m) for m in metrics if isinstance(m, str | int | float)],
                x=str(config.get("xAxis") or "_step"),
                title=config.get("chartTitle") or config.get("title"),
                config=config,
            )
        )
    return out


def _runsets(metadata: dict[str, Any]) -> list[RunSetRef]:
    out = []
    for raw in metadata.get("runSets") or []:
        if not isinstance(raw, dict):
            continue
        project = _obj(raw.get("project"))
        out.append(
            RunSetRef(
                name=str(raw.get("name") or "Run set"),
                entity=project.get("entityName"),
                project=project.get("name"),
                raw=raw,
            )
        )
    return out


def read_block(raw: dict[str, Any]) -> Block:
    kind = str(raw.get("type") or "unknown")
    if kind == "heading":
        return Block(kind, _text(raw), level=int(raw.get("level") or 1), raw=raw)
    if kind == "list":
        items = [_text(c) for c in raw.get("children") or []]
        return Block(kind, "\n".join(items), items=items, raw=raw)
    if kind == "code-block":
        lines = [_text(c) for c in raw.get("children") or []]
        return Block(kind, "\n".join(lines), raw=raw)
    if kind == "markdown-block":
        return Block(kind, str(raw.get("content") or ""), raw=raw)
    if kind == "latex":
        return Block(kind, str(raw.get("content") or _text(raw)), raw=raw)
    if kind == "panel-grid":
        metadata = _obj(raw.get("metadata"))
        return Block(kind, panels=_panels(metadata), runsets=_runsets(metadata), raw=raw)
    return Block(kind, _text(raw), raw=raw)


def read_blocks(spec: dict[str, Any]) -> list[Block]:
    """The blocks of a report spec, without the empty paragraphs that pad them."""
    raw_blocks = [b for b in spec.get("blocks") or [] if isinstance(b, dict)]
    while raw_blocks and _is_padding(raw_blocks[0]):
        raw_blocks.pop(0)
    while raw_blocks and _is_padding(raw_blocks[-1]):
        raw_blocks.pop()
    return [read_block(b) for b in raw_blocks]
