"""The package's modules import each other without cycles, so that its layers show.

The graph is read from the source with :mod:`ast`, not by importing anything: every import of
an ``oneshot_steel`` module, relative or absolute, at module level or inside a function (a lazy
import that dodges a cycle is still a cycle of the design). Imports under ``if TYPE_CHECKING:``
are left out (they never run), and so is the implicit import of a package's ``__init__`` when
one of its submodules is imported (an ``__init__`` re-exporting its submodules is no cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = "oneshot_steel"

#: Imports allowed to close a cycle: none (lazy imports inside functions count too).
ALLOWED_EDGES: frozenset[tuple[str, str]] = frozenset()


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``)."""
    found = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in ``node``, at any depth, except under ``if TYPE_CHECKING:``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: list[ast.AST] = node.orelse
    else:
        children = list(ast.iter_child_nodes(node))
    for child in children:
        yield from _imports(child)


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports (``ALLOWED_EDGES`` left out)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        here = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = here.split(".")[: len(here.split(".")) - node.level + 1]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                # `from . import x` imports the submodule x; `from .m import f` imports m.
                targets = [module, *(f"{module}.{alias.name}" for alias in node.names)]
            graph[name] |= {
                t for t in targets if t in modules and t != name and (name, t) not in ALLOWED_EDGES
            }
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, e.g. ``a -> b -> a``, and its members."""
    members, start = set(component), component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:  # breadth first: the shortest way back to the start
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                path = [*paths[v], start]
                return f"{' -> '.join(path)} (cycle among {', '.join(component)})"
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return ", ".join(component)  # unreachable for a strongly connected component


def _in_data(module: str) -> bool:
    return module == f"{PACKAGE}.data" or module.startswith(f"{PACKAGE}.data.")


#: (what must be free of cycles, which modules that covers): a cycle through any of them fails.
REQUIREMENTS = [
    pytest.param(("the data package", _in_data), id="data"),
    pytest.param(("the whole package", lambda m: True), id="package"),
]


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_no_import_cycle(requirement: tuple[str, Callable[[str], bool]]) -> None:
    what, covers = requirement
    graph = import_graph()
    bad = [c for c in cycles(graph) if any(covers(m) for m in c)]
    assert not bad, f"import cycles through {what}:\n" + "\n".join(_describe(graph, c) for c in bad)


def test_the_graph_sees_lazy_and_package_imports() -> None:
    graph = import_graph()
    assert "oneshot_steel.data.fetch" in graph["oneshot_steel.cli_data"]  # inside a function
    assert "oneshot_steel.data.sources" in graph["oneshot_steel.data"]  # from .sources import ...
    assert "oneshot_steel.checks.foundations" in graph["oneshot_steel.checks"]  # from . import


def test_cycles_are_found_and_named() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert _describe(graph, ["a", "b", "c"]).startswith("a -> b -> c -> a")
