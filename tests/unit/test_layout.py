"""The package's layout rules, read from the source (ast): no import cycles, no unexplained imports
inside functions, ``runtime`` below the SDK and the CLI, and every spec cheap to read.

The import graph has an edge for every import a module runs when it is imported: its top-level
imports, including those under ``if``/``try``/``with`` and in class bodies, but not those inside
functions (they run later, when the function is called) nor under ``if TYPE_CHECKING:``. Importing
``a.b.c`` also imports the packages ``a`` and ``a.b``, so those are edges too (but not the importing
module's own packages, which are already being imported, unless it names them).
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = "aria_actors"
ROOT = Path(__file__).resolve().parents[2] / PACKAGE


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py")) if "__pycache__" not in p.parts}


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_time_nodes(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run when the module is imported (not in functions, not TYPE_CHECKING)."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_nodes(node.body)
            yield from _import_time_nodes(node.orelse)
        elif isinstance(node, ast.ClassDef):
            yield from _import_time_nodes(node.body)
        else:
            for field in ("body", "orelse", "finalbody"):
                yield from _import_time_nodes(getattr(node, field, None) or [])
            for handler in getattr(node, "handlers", None) or []:
                yield from _import_time_nodes(handler.body)
            for case in getattr(node, "cases", None) or []:
                yield from _import_time_nodes(case.body)


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The package modules an import statement imports (with the packages above them)."""
    modules = _modules()
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        # `from pkg import sub` imports the submodule pkg.sub when there is one; pkg itself is named
        # only when a name comes from its __init__
        subs = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
        names = subs if len(subs) == len(node.names) else [base, *subs]
    found: set[str] = set()
    for name in names:
        parts = name.split(".")
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            # the importing module's own packages are already being imported: no edge, unless named
            ancestor = module.startswith(prefix + ".") and prefix != name
            if prefix in modules and prefix != module and not ancestor:
                found.add(prefix)
    return found


@cache
def import_graph() -> dict[str, frozenset[str]]:
    return {
        module: frozenset(t for node in _import_time_nodes(_tree(path).body) for t in _targets(module, path, node))
        for module, path in _modules().items()
    }


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """One cycle (as a path a -> ... -> a) per strongly connected component with a cycle (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for component in components:
        start = min(component)
        # shortest way back to start, inside the component (breadth-first)
        previous: dict[str, str] = {}
        frontier = [start]
        while frontier and start not in previous:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & component):
                    if w not in previous:
                        previous[w] = v
                        nxt.append(w)
            frontier = nxt
        path = [start]
        while (v := previous[path[-1]]) != start:
            path.append(v)
        found.append([start, *reversed(path[1:]), start] if len(path) > 1 else [start, start])
    return found


def test_the_cycle_finder_finds_cycles() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": frozenset({"b"}), "b": frozenset()}) == []


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (top-level imports):\n" + "\n".join(" -> ".join(c) for c in found)


def _comment_lines(source: str) -> set[int]:
    return {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
            if tok.type == tokenize.COMMENT}


def _function_imports(tree: ast.Module) -> Iterator[list[ast.Import | ast.ImportFrom]]:
    """Runs of consecutive import statements inside functions."""
    def walk(node: ast.AST, in_function: bool) -> Iterator[list[ast.Import | ast.ImportFrom]]:
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            run: list[ast.Import | ast.ImportFrom] = []
            for statement in statements:
                if isinstance(statement, ast.Import | ast.ImportFrom):
                    run.append(statement)
                    continue
                if run and inside:
                    yield run
                run = []
                yield from walk(statement, inside)
            if run and inside:
                yield run

    yield from walk(tree, False)


def test_every_import_inside_a_function_says_why() -> None:
    """An import inside a function hides a dependency (and a cycle): each says why it cannot be at the top.

    The reason is a comment on the import, or on the line above it (one comment may cover a run of
    consecutive imports), such as ``# heavy: torch, only the training worker loads it``.
    """
    missing = []
    for path in _modules().values():
        source = path.read_text()
        comments = _comment_lines(source)
        for run in _function_imports(_tree(path)):
            lines = range(run[0].lineno - 1, run[-1].end_lineno + 1)
            if not comments.intersection(lines):
                missing += [f"{path.relative_to(ROOT.parent)}:{node.lineno}" for node in run]
    assert not missing, "imports inside functions without a comment saying why:\n" + "\n".join(missing)


def _all_imports(module: str) -> set[str]:
    """Every package module ``module`` imports anywhere (functions and TYPE_CHECKING included)."""
    path = _modules()[module]
    return {t for node in ast.walk(_tree(path)) if isinstance(node, ast.Import | ast.ImportFrom)
            for t in _targets(module, path, node)}


@pytest.mark.parametrize("above", ["aria_actors.sdk", "aria_actors.cli"])
def test_runtime_does_not_import_the_sdk_or_the_cli(above: str) -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module in _modules() if module.startswith("aria_actors.runtime")
        for target in _all_imports(module) if target == above or target.startswith(above + ".")
    )
    assert not offenders, offenders


def test_each_spec_imports_only_the_runtime_spec() -> None:
    from aria_actors.runtime.registry import SERVICE_MODULES

    for service in SERVICE_MODULES:
        module = f"aria_actors.{service}.spec"
        assert module in _modules(), f"{service} has no spec.py"
        imported = _all_imports(module) - {"aria_actors", f"aria_actors.{service}"}
        assert imported <= {"aria_actors.runtime", "aria_actors.runtime.spec"}, (module, imported)
