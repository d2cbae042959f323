"""liberry's notebook widgets (anywidget), public as `liberry.widgets`.

    import liberry
    display(liberry.widgets.Runs("entity/project"))
    display(liberry.widgets.Lineage("entity/project/dataset:latest"))
    display(liberry.widgets.Sweep("entity/project/sweep_id"))

Each widget is one module here and one folder under `js/`; they share the request channel
(`_rpc.py` / `js/rpc.ts`) and the base widget (`_base.py`).
"""

from __future__ import annotations

from .lineage import Lineage
from .runs import Runs
from .sweep import Sweep

__all__ = ["Lineage", "Runs", "Sweep"]
