"""The client's layering, read from the source: every import (top-level and inside functions,
but not under `if TYPE_CHECKING:`) of `liberry/` (the client, not `liberry/server/`) and of
`liberry_widgets/` must point down the layer table below, and no import cycle may exist.

A lazy import inside a function is still a dependency: it only moves the cycle to run time.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("liberry", "liberry_widgets")

#: Each client module's layer, lowest first; a module may import only from its own layer or
#: a lower one. A module missing here fails `test_every_client_module_has_a_layer`.
LAYERS: dict[str, tuple[str, ...]] = {
    # Plain values and helpers that know nothing of the server.
    "base": (
        "liberry._repr",
        "liberry._version",
        "liberry.errors",
        "liberry.filters",
        "liberry.paths",
        "liberry.report_blocks",
        "liberry.run_frame",
        "liberry.run_frame_arrow",
        "liberry.run_values",
        "liberry.runset_filters",
    ),
    # HTTP: sends an `Operation`, retries; `Paginator` walks a connection page by page.
    "transport": ("liberry.operation", "liberry.paging", "liberry.transport"),
    # The GraphQL documents, by name.
    "queries": (
        "liberry.queries",
        "liberry.queries.artifact_writes",
        "liberry.queries.artifacts",
        "liberry.queries.files",
        "liberry.queries.fragments",
        "liberry.queries.history",
        "liberry.queries.projects",
        "liberry.queries.reports",
        "liberry.queries.runs",
        "liberry.queries.sweeps",
        "liberry.queries.viewer",
    ),
    # One module per resource; each holds a `Session`, never the `Api`. Imports among them
    # must stay acyclic (`test_no_import_cycles`); a link upward goes through `Session.links`.
    "resources": (
        "liberry.session",
        "liberry.resource",
        "liberry.bulk_export",
        "liberry.history",
        "liberry.files",
        "liberry.lineage",
        "liberry.artifacts",
        "liberry.run",
        "liberry.runs",
        "liberry.sweeps",
        "liberry.projects",
        "liberry.reports",
        "liberry.tensorboard",
    ),
    # The `wandb.Api`-shaped facade: parses paths, wires the resources.
    "facade": ("liberry.api",),
    "package": ("liberry",),
    # Programs: the command line and the demo data writers.
    "programs": (
        "liberry.accounts_cli",
        "liberry.cli",
        "liberry.demo",
        "liberry.demo_lineage",
        "liberry.demo_sweep",
    ),
    # The widgets ask the Api; nothing in the client imports them.
    "widgets": (
        "liberry_widgets",
        "liberry_widgets._base",
        "liberry_widgets._rpc",
        "liberry_widgets.charts",
        "liberry_widgets.importance",
        "liberry_widgets.lineage",
        "liberry_widgets.runs",
        "liberry_widgets.runs.columns",
        "liberry_widgets.runs.detail",
        "liberry_widgets.runs.paging",
        "liberry_widgets.runs.query",
        "liberry_widgets.runs.query.fields",
        "liberry_widgets.runs.query.lexer",
        "liberry_widgets.runs.query.parser",
        "liberry_widgets.runs.query.text",
        "liberry_widgets.runs.rows",
        "liberry_widgets.runs.snapshot",
        "liberry_widgets.runs.widget",
        "liberry_widgets.sweep",
        "liberry_widgets.sweep_data",
    ),
}
LAYER_OF = {module: i for i, modules in enumerate(LAYERS.values()) for module in modules}
LAYER_NAMES = list(LAYERS)

#: (importer, imported) pairs allowed against the rules, each with its reason.
ALLOWED = {
    ("liberry", "liberry_widgets"): "`liberry.widgets` is an alias that imports the widgets on "
    "first use (`__getattr__` and the import hook in liberry/__init__.py), never at import time",
    ("liberry.cli", "liberry.server"): "`liberry server` and `liberry demo` start the server",
    ("liberry.accounts_cli", "liberry.server"): "`liberry user/team/key` edit the server's "
    "data directory directly",
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def client_files() -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "server" not in path.relative_to(ROOT).parts:
                yield path


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(importer: str, is_package: bool, level: int, module: str | None) -> str:
    if level == 0:
        return module or ""
    base = importer.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, module] if module else base)


def runtime_imports(
    path: Path, importer: str | None = None, *, type_checking: bool = False
) -> set[str]:
    """What `path` (the module `importer`) imports when it runs: every `import` and `from`
    (inside functions too) and every `importlib.import_module("literal")`, skipping
    `if TYPE_CHECKING:` bodies (read those too with `type_checking`). `from pkg import a, b`
    gives `pkg:a` and `pkg:b` (each a module or a name in `pkg`: `import_graph` tells)."""
    importer = importer or module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test) and not type_checking:
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(importer, is_package, node.level, node.module)
            found.update(f"{target}:{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def _edges(importer: str, raw: str, modules: set[str]) -> set[str]:
    """The client modules (or `liberry.server`) one import of `importer` runs.

    Importing `a.b.c` runs `a.b`'s `__init__` too, so that is an edge, unless `importer` is
    inside `a.b` (its `__init__` is already running) or `a.b` is one of the two top-level
    packages: their `__init__` is the public face that re-exports everything, the top of the
    graph rather than a step in it (it is an edge when a name is taken from it).
    """
    module, _, name = raw.partition(":")
    if name and f"{module}.{name}" in modules | {"liberry.server"}:
        module, name = f"{module}.{name}", ""
    if module == "liberry.server" or module.startswith("liberry.server."):
        return {"liberry.server"}
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return set()
    found = {
        parent
        for end in range(2, len(parts) + 1)
        if not importer.startswith((parent := ".".join(parts[:end])) + ".")
    }
    if len(parts) == 1 or name:
        found.add(module)
    return found & modules


def import_graph(*, type_checking: bool = False) -> dict[str, set[str]]:
    """Client module -> the client modules (and `liberry.server`) it imports at run time
    (with `type_checking`, for the type checker too)."""
    files = {module_name(p): p for p in client_files()}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        found = runtime_imports(path, type_checking=type_checking)
        edges = set().union(*(_edges(name, raw, modules) for raw in found))
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := walk(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


GRAPH = import_graph()
#: With the imports only the type checker reads: may point sideways (the resources name each
#: other's types), never up.
TYPED_GRAPH = import_graph(type_checking=True)


def test_every_client_module_has_a_layer() -> None:
    missing = sorted(m for m in GRAPH if m not in LAYER_OF)
    assert not missing, f"add these modules to LAYERS in {__file__}: {missing}"


def test_no_import_cycles() -> None:
    # The allowed exceptions are one-way at run time (the widgets alias is imported on first
    # use, after `liberry` has finished importing), so they are left out of the search.
    graph = {m: {t for t in ts if t != "liberry.server" and (m, t) not in ALLOWED}
             for m, ts in GRAPH.items()}  # fmt: skip
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_point_down_the_layers() -> None:
    upward = []
    for importer, targets in sorted(TYPED_GRAPH.items()):
        for target in sorted(targets):
            if (importer, target) in ALLOWED or target == "liberry.server":
                continue
            if LAYER_OF.get(target, -1) > LAYER_OF.get(importer, len(LAYERS)):
                upward.append(
                    f"{importer} ({LAYER_NAMES[LAYER_OF[importer]]}) imports {target} "
                    f"({LAYER_NAMES[LAYER_OF[target]]})"
                )
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_client_never_imports_the_widgets() -> None:
    found = [
        (m, t)
        for m, ts in GRAPH.items()
        if m.split(".")[0] == "liberry"
        for t in ts
        if t.split(".")[0] == "liberry_widgets" and (m, t.split(".")[0]) not in ALLOWED
    ]
    assert not found, f"liberry/ imports liberry_widgets: {found}"


def test_only_the_programs_import_the_server() -> None:
    found = sorted(
        (m, t)
        for m, ts in GRAPH.items()
        for t in ts
        if t == "liberry.server"
        if (m, t) not in ALLOWED
    )
    assert not found, f"client modules import liberry.server: {found}"


def test_the_checks_see_lazy_imports_and_skip_type_checking(tmp_path: Path) -> None:
    """The parser itself: an import inside a function counts; one under TYPE_CHECKING not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .api import Api\n"
        "def f():\n    from .runs import Runs\n    import importlib\n"
        "    importlib.import_module('liberry_widgets')\n"
    )
    probe = tmp_path / "probe.py"
    probe.write_text(source)
    found = runtime_imports(probe, "liberry.probe")
    assert found >= {"liberry.runs:Runs", "liberry_widgets"}
    assert not any(raw.startswith("liberry.api") for raw in found)
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_importing_the_client_loads_no_widgets() -> None:
    """`import liberry` must not load anywidget/traitlets; `liberry.widgets` loads them."""
    import subprocess
    import sys

    code = (
        "import sys, liberry\n"
        "assert 'liberry_widgets' not in sys.modules, 'widgets loaded at import'\n"
        "assert 'liberry.server' not in sys.modules, 'server loaded at import'\n"
        "assert liberry.widgets.Runs.__name__ == 'Runs'\n"
        "from liberry.widgets import Sweep\n"
        "assert Sweep is liberry.widgets.Sweep\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
