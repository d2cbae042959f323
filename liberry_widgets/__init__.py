"""liberry's notebook widgets (anywidget), public as `liberry.widgets`.

    import liberry
    display(liberry.widgets.Runs("entity/project"))
    display(liberry.widgets.Lineage("entity/project/dataset:latest"))
    display(liberry.widgets.Sweep("entity/project/sweep_id"))

Each widget is a module here (`runs/` a package: the run table has the most parts) and a
folder under `js/`, with modules of the same concept named alike on both sides. They share
the request channel (`_rpc.py` / `js/rpc.ts`) and one base per side (`_base.py` /
`js/widget.ts`).
"""

from __future__ import annotations

from .lineage import Lineage
from .runs import Runs
from .sweep import Sweep

__all__ = ["Lineage", "Runs", "Sweep"]
