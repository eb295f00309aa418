"""The package's import graph (parsed with ast, lazy imports included): no cycle between modules, and
the composition root (``runner``, and the ``cli`` package above it) is imported by nothing below it.

Run this file as a script to print the graph (module → modules it imports).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "painchain_gh"
ROOT_MODULES = ("painchain_gh.runner", "painchain_gh.cli")  # the composition root
ALLOWED_TO_IMPORT_ROOT = ("painchain_gh.cli", "painchain_gh.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(name: str, modules: set[str]) -> str | None:
    """The package module ``name`` names (``a.b.c`` may be the name ``c`` inside module ``a.b``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    """Every module of the package → the package modules it imports (anywhere in the file)."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                names = [f"{base}.{alias.name}" for alias in node.names] or [base]
            for name in names:
                target = resolve(name, modules)
                if target is not None and target != module and not module.startswith(target + "."):
                    targets.add(target)
        graph[module] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules on it, or None."""
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> list[str] | None:
        if module in visiting:
            return [*visiting[visiting.index(module) :], module]
        if module in done:
            return None
        visiting.append(module)
        for target in sorted(graph.get(module, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(module)
        return None

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return None


def is_root(module: str) -> bool:
    return any(module == root or module.startswith(root + ".") for root in ROOT_MODULES)


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "painchain_gh.sync" in graph and "painchain_gh.cli.app" in graph  # the parser sees the package
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_nothing_below_the_composition_root_imports_it() -> None:
    offenders = {
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        if not any(module == allowed or module.startswith(allowed + ".") for allowed in ALLOWED_TO_IMPORT_ROOT)
        for target in targets
        if is_root(target)
    }
    assert offenders == set()


def test_output_modules_import_no_orchestrator() -> None:
    graph = import_graph()
    orchestrators = {"painchain_gh.sync", "painchain_gh.streams.poll", "painchain_gh.runner"}
    for module in ("painchain_gh.output", "painchain_gh.metrics", "painchain_gh.results"):
        assert graph[module] & orchestrators == set(), module


def test_the_checker_finds_a_cycle_and_a_root_import() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert is_root("painchain_gh.cli.sync") and is_root("painchain_gh.runner") and not is_root("painchain_gh.sync")


if __name__ == "__main__":
    for name, imports in sorted(import_graph().items()):
        targets = sorted(target.removeprefix("painchain_gh.") for target in imports)
        print(f"{name.removeprefix('painchain_gh.')} -> {', '.join(targets) or '-'}")
