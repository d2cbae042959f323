"""liberry: explore machine-learning experiments from a notebook.

`liberry.Api` queries a liberry or W&B server (the same wire protocol); `liberry.widgets`
holds the notebook widgets (imported on first use); `liberry.server` is the tracking server.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .api import Api
from .errors import (
    AuthenticationError,
    BadQueryError,
    CommError,
    FilterError,
    LiberryError,
    NotFoundError,
    PermissionDeniedError,
    ServerError,
    ServerUnavailableError,
    UnknownFieldError,
    UsageError,
)
from .files import File, Files
from .projects import Project, Projects
from .runs import Run, Runs
from .sweeps import Sweep, Sweeps

if TYPE_CHECKING:
    import liberry_widgets as widgets

__all__ = [
    "Api",
    "AuthenticationError",
    "BadQueryError",
    "CommError",
    "File",
    "Files",
    "FilterError",
    "LiberryError",
    "NotFoundError",
    "PermissionDeniedError",
    "Project",
    "Projects",
    "Run",
    "Runs",
    "ServerError",
    "ServerUnavailableError",
    "Sweep",
    "Sweeps",
    "UnknownFieldError",
    "UsageError",
    "__version__",
    "widgets",
]


class _WidgetsAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes `import liberry.widgets` / `from liberry.widgets import Runs` load
    `liberry_widgets`, only when asked, so the client never pays for anywidget/traitlets."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname == _WIDGETS else None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module("liberry_widgets")

    def exec_module(self, module: ModuleType) -> None:
        pass  # already executed by its own import


_WIDGETS = f"{__name__}.widgets"
if not any(isinstance(f, _WidgetsAlias) for f in sys.meta_path):
    sys.meta_path.append(_WidgetsAlias())


def __getattr__(name: str) -> Any:
    if name == "widgets":  # `liberry.widgets` as an attribute, on first use
        return importlib.import_module(_WIDGETS)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
