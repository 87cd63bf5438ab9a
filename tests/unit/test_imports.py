"""The module graph stays a tree of dependencies pointing down: no import cycles among the
runtime's or the infra's modules, and only entry points import the wiring (`aigw.gateway`).

Imports are read from the source (module level; imports inside functions are lazy on purpose
and count too, since a cycle there is still a cycle in the design). `if TYPE_CHECKING:` blocks
are left out of the runtime graph and checked in a second graph that includes them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"aigw": ROOT / "functions" / "aigw", "infra": ROOT / "infra"}
# Entry points: they wire, so they may import the wiring.
ENTRY_POINTS = {"aigw.cli.dev", "aigw.cli.__init__"}


def _module_name(package: str, root: Path, path: Path) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(p for p in parts if p != "__init__") if parts[-1] == "__init__" and len(parts) > 1 else \
        ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, *, typing_too: bool = False) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child) and not typing_too:
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                base = child.module
                if child.level:
                    base = ".".join([*module.split(".")[:-child.level], child.module])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in child.names)
            visit(child)

    visit(tree)
    return found


def graph(*, typing_too: bool = False) -> dict[str, set[str]]:
    modules: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            modules[_module_name(package, root, path)] = path
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        imported = _imports(ast.parse(path.read_text()), name, typing_too=typing_too)
        edges[name] = {m for m in imported if m in modules and m != name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_the_graph_is_read() -> None:
    edges = graph()
    assert "aigw.pipeline.pipeline" in edges and "aigw.routing.router" in edges["aigw.pipeline.pipeline"]


def test_no_import_cycles() -> None:
    assert cycles(graph()) == []


def test_no_cycles_even_through_type_only_imports() -> None:
    """A cycle only the type checker follows is still two modules that need each other."""
    assert cycles(graph(typing_too=True)) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_only_entry_points_import_the_wiring() -> None:
    importers = sorted(m for m, deps in graph().items() if "aigw.gateway" in deps and m not in ENTRY_POINTS)
    assert importers == []
