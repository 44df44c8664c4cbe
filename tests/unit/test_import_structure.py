"""Import structure: shared/'s packages form no cycle, and no service imports another."""

import ast
import importlib
from collections import defaultdict
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules_under(package: str) -> dict[str, Path]:
    return {module_name(path): path for path in sorted((REPO_ROOT / package).rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved; ``from a import b`` counts as
    ``a.b`` (b may be a module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def unit_of(module: str, root: str) -> str:
    """The package (or top-level module) of ``root`` that ``module`` belongs to."""
    return ".".join(module.split(".")[:2]) if module.startswith(f"{root}.") else root


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.mark.parametrize("module", sorted(modules_under("shared")))
def test_every_shared_module_imports_on_its_own(module: str) -> None:
    importlib.import_module(module)


def test_shared_packages_import_each_other_without_cycles() -> None:
    modules = modules_under("shared")
    units = {unit_of(name, "shared") for name in modules}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        source = unit_of(name, "shared")
        for target in imported_modules(name, path):
            unit = unit_of(target, "shared")
            if target.startswith("shared.") and unit != source and unit in units:
                graph[source].add(unit)
    assert not cycles(graph), f"import cycles between shared's packages: {cycles(graph)}"


def test_shared_imports_no_service_and_no_service_imports_another() -> None:
    offenders = []
    for name, path in modules_under("shared").items():
        for target in imported_modules(name, path):
            if target.split(".")[0] in {"services", "deploy", "tests", "benchmarks"}:
                offenders.append(f"{name} imports {target}")
    for name, path in modules_under("services").items():
        service = unit_of(name, "services")
        for target in imported_modules(name, path):
            if target.startswith("services.") and unit_of(target, "services") != service:
                offenders.append(f"{name} imports {target}")
    assert not offenders
