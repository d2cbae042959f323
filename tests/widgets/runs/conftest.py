"""Helpers for the run table's tests (the fixtures are tests/widgets/conftest.py's)."""

from __future__ import annotations

from typing import Any

import liberry
from liberry_widgets import Runs
from tests.widgets.conftest import ViewClient


def make(seeded: dict[str, Any], api: liberry.Api, **kwargs: Any) -> tuple[Runs, ViewClient]:
    """A `Runs` on the seeded project, and the stand-in for its view."""
    widget = Runs(seeded["path"], api=api, **kwargs)
    return widget, ViewClient(widget)


def names(rows: list[dict[str, Any]]) -> list[str]:
    """The run names of a page's rows."""
    return [r["name"] for r in rows]
